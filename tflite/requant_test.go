package tflite

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeclass/edgeclass/internal/testenv"
)

// invokeWith runs model data on inputs with the given requantization and
// returns every operator output, kept apart.
func invokeWith(t *testing.T, data []byte, inputs [][]byte, rq Requantization) (*Model, [][]byte) {
	t.Helper()
	m, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewInterpreter(m, &Options{Requantization: rq, KeepIntermediates: true})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for i, in := range inputs {
		if err := it.Input(i).CopyFrom(in); err != nil {
			t.Fatal(err)
		}
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	var outs [][]byte
	for _, op := range m.Main().Operators {
		outs = append(outs, append([]byte(nil), it.Tensor(op.Outputs[0]).Bytes()...))
	}
	return m, outs
}

// unitDiffs counts the 8-bit values of a and b (of type typ) that differ
// and returns the largest difference.
func unitDiffs(typ TensorType, a, b []byte) (differ, largest int) {
	for i := range a {
		x, y := int(a[i]), int(b[i])
		if typ == Int8 {
			x, y = int(int8(a[i])), int(int8(b[i]))
		}
		if d := max(x-y, y-x); d > 0 {
			differ++
			largest = max(largest, d)
		}
	}
	return differ, largest
}

// TestRequantizeFixedPoint compares TFLite's reference fixed-point
// requantization with the default float one. On single quantized
// operators (the oracle suite's models) they may differ by one unit only;
// through a whole MobileNet the differences compound.
func TestRequantizeFixedPoint(t *testing.T) {
	values, differ := 0, 0
	for _, c := range oracleCases() {
		if c.typ != Uint8 && c.typ != Int8 {
			continue
		}
		data, ins, _, _ := buildCase(t, c)
		m, float := invokeWith(t, data, ins, RequantizeFloat)
		_, fixed := invokeWith(t, data, ins, RequantizeFixedPoint)
		for i, op := range m.Main().Operators {
			typ := m.Main().Tensors[op.Outputs[0]].Type
			if typ != Uint8 && typ != Int8 {
				continue
			}
			d, largest := unitDiffs(typ, float[i], fixed[i])
			if largest > 1 {
				t.Errorf("%s: operator %d (%s): fixed-point and float requantization differ by %d units", c.name, i, op.Op, largest)
			}
			values += len(float[i])
			differ += d
		}
	}
	if values == 0 {
		t.Fatal("no quantized operator outputs compared")
	}
	t.Logf("single operators: %d of %d quantized values (%.2f%%) differ by one unit", differ, values, 100*float64(differ)/float64(values))

	path := testenv.TestData(t, "models/mobilenet_v2_1.0_224_quant.tflite")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]byte, 224*224*3)
	for i := range in {
		in[i] = byte(i * 7)
	}
	m, float := invokeWith(t, data, [][]byte{in}, RequantizeFloat)
	_, fixed := invokeWith(t, data, [][]byte{in}, RequantizeFixedPoint)
	last := len(m.Main().Operators) - 1
	var lines string
	for _, i := range []int{0, last / 2, last - 1, last} {
		typ := m.Main().Tensors[m.Main().Operators[i].Outputs[0]].Type
		d, largest := unitDiffs(typ, float[i], fixed[i])
		lines += fmt.Sprintf("\n  operator %2d %-18s %5.2f%% of values differ, by up to %d", i, m.Main().Operators[i].Op, 100*float64(d)/float64(len(float[i])), largest)
	}
	t.Logf("%s:%s", filepath.Base(path), lines)
}
