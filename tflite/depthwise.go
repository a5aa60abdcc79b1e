package tflite

import (
	"fmt"

	"github.com/edgeclass/edgeclass/tflite/internal/kern"
)

// depthwise is a prepared DEPTHWISE_CONV_2D, float or quantized.
type depthwise struct {
	g     convGeom
	mult  int     // depth multiplier: output channel o reads input channel o/mult
	offs  []int32 // input offset of each tap of each output pixel, -1 for padding
	taps  *kern.Taps
	pool  *pool
	quant bool

	// float
	inF, outF, wF, biasF []float32
	wFP                  *kern.FDWWeights
	lo, hi               float32

	// quantized
	in, out []byte
	w       *kern.QDWWeights
	ep      *kern.QEpilogue
	pad     []byte
	xor     byte
}

func prepareDepthwise(c *opContext) (kernel, error) {
	if err := c.arity(2, 3, 1); err != nil {
		return nil, err
	}
	o, err := options[DepthwiseConv2DOptions](c, false)
	if err != nil {
		return nil, err
	}
	in, out := c.in(0), c.out(0)
	f, err := c.constInput(1, "filter")
	if err != nil {
		return nil, err
	}
	one, kh, kw, oc, err := rank4(f)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	if one != 1 {
		return nil, fmt.Errorf("filter shape %v: first dimension must be 1", f.def.Shape)
	}
	g, err := newConvGeom(in, kh, kw, o.StrideH, o.StrideW, o.DilationH, o.DilationW, o.Padding)
	if err != nil {
		return nil, err
	}
	if g.inC == 0 || oc%g.inC != 0 {
		return nil, fmt.Errorf("filter has %d channels, not a multiple of the input's %d", oc, g.inC)
	}
	g.outC = oc
	if err := checkShape(out, []int{g.batch, g.outH, g.outW, oc}); err != nil {
		return nil, err
	}
	bias := c.in(2)
	if bias != nil {
		if err := checkShape(bias, []int{oc}); err != nil {
			return nil, fmt.Errorf("bias: %w", err)
		}
	}
	k := &depthwise{g: g, mult: oc / g.inC, pool: c.pool()}
	if k.offs, err = g.tapOffsets(in.n); err != nil {
		return nil, err
	}
	if in.def.Type == Float32 {
		if err := checkTypes([]TensorType{Float32}, in, f, out); err != nil {
			return nil, err
		}
		k.inF, k.outF, k.wF = in.Float32s(), out.Float32s(), f.Float32s()
		if bias != nil {
			if err := checkTypes([]TensorType{Float32}, bias); err != nil {
				return nil, fmt.Errorf("bias: %w", err)
			}
			k.biasF = bias.Float32s()
		}
		if k.lo, k.hi, err = activationRangeFloat(o.Activation); err != nil {
			return nil, err
		}
		if k.mult == 1 {
			w, _ := c.cached(func() (any, error) { return kern.PackFDW(k.wF, oc, kh*kw), nil })
			k.wFP = w.(*kern.FDWWeights)
			k.taps = kern.NewFTaps(kh*kw, oc, k.offs, k.inF, make([]float32, oc))
		}
		return k, nil
	}
	return k, k.prepareQuant(c, in, f, bias, out, o.Activation)
}

func (k *depthwise) prepareQuant(c *opContext, in, f, bias, out *Tensor, act Activation) error {
	if err := checkTypes(quantTypes, in, f, out); err != nil {
		return err
	}
	if bias != nil {
		if err := checkTypes([]TensorType{Int32}, bias); err != nil {
			return fmt.Errorf("bias: %w", err)
		}
	}
	inQ, outQ, err := inOutQuant(in, out)
	if err != nil {
		return err
	}
	g := &k.g
	fq := f.def.Quant
	if fq == nil || len(fq.Scale) == 0 {
		return fmt.Errorf("filter %q is not quantized", f.def.Name)
	}
	if len(fq.Scale) != 1 && (len(fq.Scale) != g.outC || fq.Dim != 3) {
		return fmt.Errorf("filter %q: %d scales along dimension %d, want 1 or %d along dimension 3", f.def.Name, len(fq.Scale), fq.Dim, g.outC)
	}
	lo, hi, err := activationRangeQuantized(act, out.def.Type, outQ)
	if err != nil {
		return err
	}
	za := inQ.zp
	if in.def.Type == Int8 {
		za += 128
		k.xor = 0x80
	}
	type packed struct {
		w  *kern.QDWWeights
		ep *kern.QEpilogue
	}
	v, err := c.cached(func() (any, error) {
		n, t := g.outC, g.kh*g.kw
		wq := make([]int16, t*n)
		ep := &kern.QEpilogue{Bias: make([]int32, n), Scale: make([]float32, n), Mult: make([]int32, n), Shift: make([]int32, n),
			OutZP: outQ.zp, Lo: lo, Hi: hi}
		at := func(q []int64, o int) int64 {
			if len(q) == 1 {
				return q[0]
			}
			return q[o]
		}
		for o := 0; o < n; o++ {
			zb := int32(at(fq.ZeroPoint, o))
			var sum int32
			for i := 0; i < t; i++ {
				raw := int32(f.data[i*n+o])
				if f.def.Type == Int8 {
					raw = int32(int8(f.data[i*n+o]))
				}
				wq[i*n+o] = int16(raw - zb)
				sum += raw - zb
			}
			ep.Bias[o] = -za * sum
			if bias != nil {
				ep.Bias[o] += bias.Int32s()[o]
			}
			fs := fq.Scale[0]
			if len(fq.Scale) > 1 {
				fs = fq.Scale[o]
			}
			setScale(ep, o, inQ, fs, outQ)
		}
		return packed{kern.PackQDW(wq, n, t), ep}, nil
	})
	if err != nil {
		return err
	}
	p := v.(packed)
	k.quant, k.in, k.out, k.w, k.ep = true, in.data, out.data, p.w, c.it.epilogue(p.ep)
	k.pad = make([]byte, g.inC)
	for i := range k.pad {
		k.pad[i] = byte(inQ.zp)
	}
	if k.mult == 1 {
		k.taps = kern.NewQTaps(g.kh*g.kw, g.inC, k.offs, k.in, k.pad)
	}
	return nil
}

// eval splits the output pixels (not rows, which split 7x7 maps 4:3).
func (k *depthwise) eval() { k.pool.parallel(k.g.batch*k.g.outH*k.g.outW, 8, k) }

// run computes output pixels [p0, end).
func (k *depthwise) run(p0, end, _ int) {
	g := &k.g
	npix := end - p0
	switch {
	case k.mult != 1:
		k.runMultiplier(p0, npix)
	case k.quant:
		kern.QDepthwise(p0, npix, k.taps, k.xor, k.w, k.ep, k.out[p0*g.outC:], g.outC)
	default:
		kern.FDepthwise(p0, npix, k.taps, k.wFP, k.biasF, k.lo, k.hi, k.outF[p0*g.outC:], g.outC)
	}
}

// runMultiplier computes npix output pixels from p0 when the depth
// multiplier is not 1 (rare; plain loops).
func (k *depthwise) runMultiplier(p0, npix int) {
	g := &k.g
	t := g.kh * g.kw
	for p := p0; p < p0+npix; p++ {
		offs := k.offs[p*t : (p+1)*t]
		for o := 0; o < g.outC; o++ {
			ic := o / k.mult
			idx := p*g.outC + o
			if k.quant {
				acc := k.ep.Bias[o]
				for t, off := range offs {
					v := k.pad[ic]
					if off >= 0 {
						v = k.in[int(off)+ic]
					}
					acc += int32(v^k.xor) * int32(k.w.W[t*g.outC+o])
				}
				k.out[idx] = k.ep.Output(acc, o)
				continue
			}
			var acc float32
			if k.biasF != nil {
				acc = k.biasF[o]
			}
			for t, off := range offs {
				if off >= 0 {
					acc += k.inF[int(off)+ic] * k.wF[t*g.outC+o]
				}
			}
			k.outF[idx] = clampf(acc, k.lo, k.hi)
		}
	}
}
