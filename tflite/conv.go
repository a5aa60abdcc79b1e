package tflite

import (
	"fmt"
	"math"

	"github.com/edgeclass/edgeclass/tflite/internal/kern"
)

// convGeom is the geometry shared by convolutions and pools (NHWC).
type convGeom struct {
	batch, inH, inW, inC int
	outH, outW, outC     int
	kh, kw               int
	sh, sw, dh, dw       int
	padT, padL           int
}

func newConvGeom(in *Tensor, kh, kw, sh, sw, dh, dw int, pad Padding) (convGeom, error) {
	b, h, w, ch, err := rank4(in)
	if err != nil {
		return convGeom{}, err
	}
	g := convGeom{batch: b, inH: h, inW: w, inC: ch, kh: kh, kw: kw, sh: sh, sw: sw, dh: dh, dw: dw}
	if g.outH, g.padT, err = convOutSize(pad, h, kh, sh, dh); err != nil {
		return g, fmt.Errorf("height: %w", err)
	}
	if g.outW, g.padL, err = convOutSize(pad, w, kw, sw, dw); err != nil {
		return g, fmt.Errorf("width: %w", err)
	}
	return g, nil
}

// pointwise reports whether the convolution reads each input pixel once in
// order (1x1 filter, stride 1), so input rows can feed the GEMM directly.
func (g *convGeom) pointwise() bool {
	return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.padT == 0 && g.padL == 0
}

// tapOffsets returns, for every output pixel and filter tap in order, the
// offset of the tap's first channel in an input of n values, or -1 for taps
// in the padding.
func (g *convGeom) tapOffsets(n int) ([]int32, error) {
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("input of %d values is too large", n)
	}
	offs := make([]int32, g.batch*g.outH*g.outW*g.kh*g.kw)
	i := 0
	for b := 0; b < g.batch; b++ {
		for oy := 0; oy < g.outH; oy++ {
			for ox := 0; ox < g.outW; ox++ {
				for ky := 0; ky < g.kh; ky++ {
					iy := oy*g.sh - g.padT + ky*g.dh
					for kx := 0; kx < g.kw; kx++ {
						ix := ox*g.sw - g.padL + kx*g.dw
						offs[i] = -1
						if iy >= 0 && iy < g.inH && ix >= 0 && ix < g.inW {
							offs[i] = int32(((b*g.inH+iy)*g.inW + ix) * g.inC)
						}
						i++
					}
				}
			}
		}
	}
	return offs, nil
}

// convQ is a prepared quantized CONV_2D.
type convQ struct {
	g       convGeom
	in, out []byte
	w       *kern.QWeights
	ep      *kern.QEpilogue
	xor     byte
	taps    *kern.Taps // what im2col gathers, unless direct
	scratch [][]byte   // one im2col buffer per chunk
	pool    *pool
}

// convF is a prepared float CONV_2D.
type convF struct {
	g       convGeom
	in, out []float32
	w       *kern.FWeights
	bias    []float32
	lo, hi  float32
	taps    *kern.Taps // what im2col gathers, unless pointwise
	scratch [][]float32
	pool    *pool
}

func prepareConv(c *opContext) (kernel, error) {
	if err := c.arity(2, 3, 1); err != nil {
		return nil, err
	}
	o, err := options[Conv2DOptions](c, false)
	if err != nil {
		return nil, err
	}
	in, out := c.in(0), c.out(0)
	f, err := c.constInput(1, "filter")
	if err != nil {
		return nil, err
	}
	oc, kh, kw, ic, err := rank4(f)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	g, err := newConvGeom(in, kh, kw, o.StrideH, o.StrideW, o.DilationH, o.DilationW, o.Padding)
	if err != nil {
		return nil, err
	}
	if ic != g.inC {
		return nil, fmt.Errorf("filter has %d input channels, input has %d (grouped convolution is not supported)", ic, g.inC)
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
	if in.def.Type == Float32 {
		return prepareConvF(c, g, in, f, bias, out, o.Activation)
	}
	return prepareConvQ(c, g, in, f, bias, out, o.Activation)
}

func prepareConvF(c *opContext, g convGeom, in, f, bias, out *Tensor, act Activation) (kernel, error) {
	if err := checkTypes([]TensorType{Float32}, in, f, out); err != nil {
		return nil, err
	}
	k := &convF{g: g, in: in.Float32s(), out: out.Float32s(), pool: c.pool()}
	if bias != nil {
		if err := checkTypes([]TensorType{Float32}, bias); err != nil {
			return nil, err
		}
		k.bias = bias.Float32s()
	}
	var err error
	if k.lo, k.hi, err = activationRangeFloat(act); err != nil {
		return nil, err
	}
	kk := g.kh * g.kw * g.inC
	w, err := c.cached(func() (any, error) { return kern.PackF(f.Float32s(), g.outC, kk), nil })
	if err != nil {
		return nil, err
	}
	k.w = w.(*kern.FWeights)
	if !g.pointwise() {
		offs, err := g.tapOffsets(in.n)
		if err != nil {
			return nil, err
		}
		k.taps = kern.NewFTaps(g.kh*g.kw, g.inC, offs, k.in, make([]float32, g.inC))
		k.scratch = make([][]float32, k.pool.n)
		for i := range k.scratch {
			k.scratch[i] = make([]float32, g.outW*kk)
		}
	}
	return k, nil
}

func (k *convF) eval() {
	g := &k.g
	if g.pointwise() {
		k.pool.parallel(g.batch*g.inH*g.inW, 16, (*convFPointwise)(k))
		return
	}
	k.pool.parallel(g.batch*g.outH, 1, k)
}

func (k *convF) run(lo, hi, chunk int) {
	g := &k.g
	kk := g.kh * g.kw * g.inC
	buf := k.scratch[chunk]
	for r := lo; r < hi; r++ {
		kern.Im2colF(r*g.outW, g.outW, k.taps, buf, kk)
		kern.FGemm(g.outW, buf, kk, k.w, k.bias, k.lo, k.hi, k.out[r*g.outW*g.outC:], g.outC)
	}
}

// convFPointwise runs a 1x1 stride-1 float convolution over pixel ranges.
type convFPointwise convF

func (k *convFPointwise) run(lo, hi, _ int) {
	g := &k.g
	kern.FGemm(hi-lo, k.in[lo*g.inC:], g.inC, k.w, k.bias, k.lo, k.hi, k.out[lo*g.outC:], g.outC)
}

// quantWeights turns 8-bit weights [n][k] into the int8 operand of
// kern.QGemm and the epilogue that requantizes its products: the weight zero
// point moves into RowSumMul and the input zero point into the bias.
func quantWeights(c *opContext, in, f, bias, out *Tensor, n, k int, act Activation) (*kern.QWeights, *kern.QEpilogue, error) {
	inQ, outQ, err := inOutQuant(in, out)
	if err != nil {
		return nil, nil, err
	}
	fq := f.def.Quant
	if fq == nil || len(fq.Scale) == 0 {
		return nil, nil, fmt.Errorf("filter %q is not quantized", f.def.Name)
	}
	if len(fq.Scale) != 1 && (len(fq.Scale) != n || fq.Dim != 0) {
		return nil, nil, fmt.Errorf("filter %q: %d scales along dimension %d, want 1 or %d along dimension 0", f.def.Name, len(fq.Scale), fq.Dim, n)
	}
	for _, z := range fq.ZeroPoint[1:] {
		if z != fq.ZeroPoint[0] {
			return nil, nil, fmt.Errorf("filter %q: per-channel zero points must be equal", f.def.Name)
		}
	}
	if bias != nil {
		if err := checkTypes([]TensorType{Int32}, bias); err != nil {
			return nil, nil, fmt.Errorf("bias: %w", err)
		}
	}
	lo, hi, err := activationRangeQuantized(act, out.def.Type, outQ)
	if err != nil {
		return nil, nil, err
	}
	type packed struct {
		w  *kern.QWeights
		ep *kern.QEpilogue
	}
	v, err := c.cached(func() (any, error) {
		// Work in the kernel's domains: activations unsigned (za), weights
		// signed (zb).
		za := inQ.zp
		if in.def.Type == Int8 {
			za += 128
		}
		zb := int32(fq.ZeroPoint[0])
		wq := make([]int8, n*k)
		raw := f.data
		if f.def.Type == Uint8 {
			zb -= 128
			for i := range wq {
				wq[i] = int8(int32(raw[i]) - 128)
			}
		} else {
			for i := range wq {
				wq[i] = int8(raw[i])
			}
		}
		ep := &kern.QEpilogue{
			Bias: make([]int32, n), Scale: make([]float32, n), Mult: make([]int32, n), Shift: make([]int32, n),
			RowSumMul: -zb, OutZP: outQ.zp, Lo: lo, Hi: hi,
		}
		var b []int32
		if bias != nil {
			b = bias.Int32s()
		}
		for o := 0; o < n; o++ {
			var sum int32
			for _, v := range wq[o*k : (o+1)*k] {
				sum += int32(v)
			}
			ep.Bias[o] = int32(k)*za*zb - za*sum
			if b != nil {
				ep.Bias[o] += b[o]
			}
			fs := fq.Scale[0]
			if len(fq.Scale) > 1 {
				fs = fq.Scale[o]
			}
			setScale(ep, o, inQ, fs, outQ)
		}
		return packed{kern.PackQ(wq, n, k), ep}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	p := v.(packed)
	return p.w, c.it.epilogue(p.ep), nil
}

// setScale sets column o's multiplier in both forms: the float32 scale
// XNNPACK computes (in float32 arithmetic) and TFLite's fixed-point one
// (from the same ratio in float64).
func setScale(ep *kern.QEpilogue, o int, in qparams, filterScale float32, out qparams) {
	ep.Scale[o] = float32(in.scale) * filterScale / float32(out.scale)
	r := newRequant(in.scale * float64(filterScale) / out.scale)
	ep.Mult[o], ep.Shift[o] = r.mult, int32(r.shift)
}

func prepareConvQ(c *opContext, g convGeom, in, f, bias, out *Tensor, act Activation) (kernel, error) {
	if err := checkTypes(quantTypes, in, f, out); err != nil {
		return nil, err
	}
	kk := g.kh * g.kw * g.inC
	w, ep, err := quantWeights(c, in, f, bias, out, g.outC, kk, act)
	if err != nil {
		return nil, err
	}
	inQ, _ := perTensor(in)
	k := &convQ{g: g, in: in.data, out: out.data, w: w, ep: ep, pool: c.pool()}
	if in.def.Type == Int8 {
		k.xor = 0x80
	}
	if !k.direct() {
		offs, err := g.tapOffsets(in.n)
		if err != nil {
			return nil, err
		}
		pad := make([]byte, g.inC)
		for i := range pad {
			pad[i] = byte(inQ.zp)
		}
		k.taps = kern.NewQTaps(g.kh*g.kw, g.inC, offs, k.in, pad)
		k.scratch = make([][]byte, k.pool.n)
		for i := range k.scratch {
			k.scratch[i] = make([]byte, g.outW*w.Kp)
		}
	}
	return k, nil
}

// direct reports whether input rows feed the GEMM without im2col: a 1x1
// stride-1 convolution whose channel count the kernel can read as is.
func (k *convQ) direct() bool {
	return k.g.pointwise() && k.g.inC == k.w.Kp
}

func (k *convQ) eval() {
	g := &k.g
	if k.direct() {
		k.pool.parallel(g.batch*g.inH*g.inW, 16, (*convQPointwise)(k))
		return
	}
	k.pool.parallel(g.batch*g.outH, 1, k)
}

func (k *convQ) run(lo, hi, chunk int) {
	g := &k.g
	buf := k.scratch[chunk]
	for r := lo; r < hi; r++ {
		kern.Im2colQ(r*g.outW, g.outW, k.taps, buf, k.w.Kp)
		kern.QGemm(g.outW, buf, k.w.Kp, k.xor, k.w, k.ep, k.out[r*g.outW*g.outC:], g.outC)
	}
}

// convQPointwise runs a direct 1x1 convolution over pixel ranges.
type convQPointwise convQ

func (k *convQPointwise) run(lo, hi, _ int) {
	g := &k.g
	kern.QGemm(hi-lo, k.in[lo*g.inC:], g.inC, k.xor, k.w, k.ep, k.out[lo*g.outC:], g.outC)
}
