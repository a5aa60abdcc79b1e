package tflite

import (
	"fmt"
	"slices"

	"github.com/edgeclass/edgeclass/tflite/internal/kern"
)

// fullyConnected is a prepared FULLY_CONNECTED: out[m] = W * in[m] + bias.
type fullyConnected struct {
	m, k int
	pool *pool

	inF, outF, biasF []float32
	wF               *kern.FWeights
	lo, hi           float32

	in, out []byte
	wQ      *kern.QWeights
	ep      *kern.QEpilogue
	xor     byte
	staging []byte // rows copied to a readable stride when K is not a multiple of 4
}

func prepareFullyConnected(c *opContext) (kernel, error) {
	if err := c.arity(2, 3, 1); err != nil {
		return nil, err
	}
	o, err := options[FullyConnectedOptions](c, true)
	if err != nil {
		return nil, err
	}
	if o.WeightsFormat != 0 {
		return nil, fmt.Errorf("weights format %d is not supported", o.WeightsFormat)
	}
	in, out := c.in(0), c.out(0)
	w, err := c.constInput(1, "weights")
	if err != nil {
		return nil, err
	}
	if len(w.def.Shape) != 2 {
		return nil, fmt.Errorf("weights have shape %v, want [outputs, depth]", w.def.Shape)
	}
	n, k := w.def.Shape[0], w.def.Shape[1]
	if k == 0 || in.n%k != 0 {
		return nil, fmt.Errorf("input of %d elements is not a multiple of the weights' depth %d", in.n, k)
	}
	m := in.n / k
	want := []int{m, n}
	if o.KeepNumDims {
		want = append(slices.Clone(in.def.Shape[:len(in.def.Shape)-1]), n)
		if in.def.Shape[len(in.def.Shape)-1] != k {
			return nil, fmt.Errorf("keep_num_dims: input's last dimension %d is not the depth %d", in.def.Shape[len(in.def.Shape)-1], k)
		}
	}
	if err := checkShape(out, want); err != nil {
		return nil, err
	}
	bias := c.in(2)
	if bias != nil {
		if err := checkShape(bias, []int{n}); err != nil {
			return nil, fmt.Errorf("bias: %w", err)
		}
	}
	fc := &fullyConnected{m: m, k: k, pool: c.pool()}
	if in.def.Type == Float32 {
		if err := checkTypes([]TensorType{Float32}, in, w, out); err != nil {
			return nil, err
		}
		if bias != nil {
			if err := checkTypes([]TensorType{Float32}, bias); err != nil {
				return nil, fmt.Errorf("bias: %w", err)
			}
			fc.biasF = bias.Float32s()
		}
		if fc.lo, fc.hi, err = activationRangeFloat(o.Activation); err != nil {
			return nil, err
		}
		fc.inF, fc.outF = in.Float32s(), out.Float32s()
		v, _ := c.cached(func() (any, error) { return kern.PackF(w.Float32s(), n, k), nil })
		fc.wF = v.(*kern.FWeights)
		return fc, nil
	}
	if err := checkTypes(quantTypes, in, w, out); err != nil {
		return nil, err
	}
	if fc.wQ, fc.ep, err = quantWeights(c, in, w, bias, out, n, k, o.Activation); err != nil {
		return nil, err
	}
	fc.in, fc.out = in.data, out.data
	if in.def.Type == Int8 {
		fc.xor = 0x80
	}
	if fc.wQ.Kp != k {
		fc.staging = make([]byte, m*fc.wQ.Kp)
	}
	return fc, nil
}

func (fc *fullyConnected) eval() {
	if fc.wF == nil && fc.staging != nil {
		kp := fc.wQ.Kp
		for r := 0; r < fc.m; r++ {
			copy(fc.staging[r*kp:], fc.in[r*fc.k:(r+1)*fc.k])
		}
	}
	fc.pool.parallel(fc.m, 4, fc)
}

func (fc *fullyConnected) run(lo, hi, _ int) {
	if fc.wF != nil {
		n := fc.wF.N
		kern.FGemm(hi-lo, fc.inF[lo*fc.k:], fc.k, fc.wF, fc.biasF, fc.lo, fc.hi, fc.outF[lo*n:], n)
		return
	}
	a, lda := fc.in, fc.k
	if fc.staging != nil {
		a, lda = fc.staging, fc.wQ.Kp
	}
	n := fc.wQ.N
	kern.QGemm(hi-lo, a[lo*lda:], lda, fc.xor, fc.wQ, fc.ep, fc.out[lo*n:], n)
}
