package quantize

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestActivationParamsHoldZeroAndTheRange(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1000; i++ {
		lo, hi := (r.Float64()*2-1)*10, (r.Float64()*2-1)*10
		if lo > hi {
			lo, hi = hi, lo
		}
		p := activationParams(lo, hi)
		if !(p.scale > 0) || p.zp < -128 || p.zp > 127 {
			t.Fatalf("[%g, %g]: scale %g, zero point %d", lo, hi, p.scale, p.zp)
		}
		if got := p.quantize(0); float64(got) != float64(p.zp) {
			t.Fatalf("[%g, %g]: 0 quantizes to %d, not the zero point %d", lo, hi, got, p.zp)
		}
		blo, bhi := p.bounds()
		// The nudged range covers the asked one within half a step.
		if blo > min(lo, 0)+p.scale/2 || bhi < max(hi, 0)-p.scale/2 {
			t.Fatalf("[%g, %g]: represented range [%g, %g] misses it", lo, hi, blo, bhi)
		}
		if w := (max(hi, 0) - min(lo, 0)) / 255; w > 0 && math.Abs(p.scale-w) > 1e-12 {
			t.Fatalf("[%g, %g]: scale %g, want %g", lo, hi, p.scale, w)
		}
	}
	if p := activationParams(0, 0); !(p.scale > 0) {
		t.Errorf("an all-zero tensor gets scale %g", p.scale)
	}
	if p := activationParams(0, 6); p.zp != -128 {
		t.Errorf("[0, 6] has zero point %d, want -128", p.zp)
	}
}

func TestSymmetricWeightsPerChannel(t *testing.T) {
	// Two channels of three weights, channel-major (CONV_2D's axis 0);
	// channel 1 is all zeros.
	w := []float32{0.5, -1.27, 0.01, 0, 0, 0}
	q, scales := symmetricWeights(w, 2, func(i int) int { return i / 3 }, nil, 1)
	if math.Abs(scales[0]-0.01) > 1e-9 {
		t.Errorf("channel 0 scale %g, want 0.01 (1.27 / 127)", scales[0])
	}
	if want := []int8{50, -127, 1, 0, 0, 0}; string(int8Bytes(q)) != string(int8Bytes(want)) {
		t.Errorf("quantized %v, want %v", q, want)
	}
	if !(scales[1] > 0) {
		t.Errorf("all-zero channel has scale %g", scales[1])
	}
	// A bias too large for int32 at scale inScale*weightScale raises the
	// weight scale.
	bias := []float32{1e6, 0}
	_, scales = symmetricWeights(w, 2, func(i int) int { return i / 3 }, bias, 1e-6)
	qb, err := quantizeBias(bias, 1e-6, scales)
	if err != nil {
		t.Fatal(err)
	}
	if qb[0] > maxBias || scales[0] <= 0.01 {
		t.Errorf("bias quantized to %d with weight scale %g; want it within %d", qb[0], scales[0], maxBias)
	}
}

func TestQuantizeBias(t *testing.T) {
	q, err := quantizeBias([]float32{0.5, -0.25}, 0.5, []float64{0.01, 0.02})
	if err != nil {
		t.Fatal(err)
	}
	if q[0] != 100 || q[1] != -25 {
		t.Errorf("got %v, want [100 -25]", q)
	}
	if _, err := quantizeBias([]float32{1e30}, 1e-3, []float64{1e-3}); err == nil {
		t.Error("a bias beyond int32 is accepted")
	}
}
