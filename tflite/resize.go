package tflite

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/edgeclass/edgeclass/tflite/internal/kern"
)

// resize is a prepared RESIZE_BILINEAR or RESIZE_NEAREST_NEIGHBOR. The
// source coordinates of every output row and column are computed once.
type resize struct {
	batch, inH, inW, c, outH, outW int
	bilinear                       bool
	ys, xs                         []axisSample
	in, out                        []float32
	qin, qout                      []byte
	signed                         bool
}

// axisSample is where one output coordinate reads: between i0 and i1 with
// weight frac on i1 (bilinear, also as the Q11 fixed-point fracQ), or at i0
// (nearest).
type axisSample struct {
	i0, i1 int
	frac   float32
	fracQ  int32
}

func prepareResize(c *opContext) (kernel, error) {
	if err := c.arity(2, 2, 1); err != nil {
		return nil, err
	}
	o, err := options[ResizeOptions](c, true)
	if err != nil {
		return nil, err
	}
	if o.AlignCorners && o.HalfPixelCenters {
		return nil, fmt.Errorf("align_corners and half_pixel_centers cannot both be set")
	}
	in, out := c.in(0), c.out(0)
	if err := checkTypes(floatOrQuant, in, out); err != nil {
		return nil, err
	}
	b, h, w, ch, err := rank4(in)
	if err != nil {
		return nil, err
	}
	if h < 1 || w < 1 {
		return nil, fmt.Errorf("input shape %v has no pixels to sample", in.def.Shape)
	}
	size, err := constInts(c, 1, "size")
	if err != nil {
		return nil, err
	}
	if len(size) != 2 || size[0] < 1 || size[1] < 1 {
		return nil, fmt.Errorf("size %v must be two positive values", size)
	}
	if err := checkShape(out, []int{b, size[0], size[1], ch}); err != nil {
		return nil, err
	}
	if isQuant(in) {
		if err := sameQuant(in, out); err != nil {
			return nil, err
		}
	}
	k := &resize{batch: b, inH: h, inW: w, c: ch, outH: size[0], outW: size[1], bilinear: c.op.Op == OpResizeBilinear}
	if k.bilinear {
		k.ys, k.xs = bilinearSamples(h, k.outH, o), bilinearSamples(w, k.outW, o)
	} else {
		k.ys, k.xs = nearestSamples(h, k.outH, o), nearestSamples(w, k.outW, o)
	}
	if in.def.Type == Float32 {
		k.in, k.out = in.Float32s(), out.Float32s()
	} else {
		k.qin, k.qout, k.signed = in.data, out.data, in.def.Type == Int8
	}
	return k, nil
}

// nearestSamples follows TFLite's RESIZE_NEAREST_NEIGHBOR.
func nearestSamples(in, out int, o *ResizeOptions) []axisSample {
	scale := float32(in) / float32(out)
	if o.AlignCorners && out > 1 {
		scale = float32(in-1) / float32(out-1)
	}
	s := make([]axisSample, out)
	for i := range s {
		v := float32(i) * scale
		if o.HalfPixelCenters {
			v = (float32(i) + 0.5) * scale
		}
		var idx int
		if o.AlignCorners {
			idx = int(roundHalfAway(v))
		} else {
			idx = int(math.Floor(float64(v)))
		}
		s[i] = axisSample{i0: min(idx, in-1)}
	}
	return s
}

// bilinearSamples follows XNNPACK, which runs RESIZE_BILINEAR in Google's
// runtime: source coordinates in float32, clamped into the input with half
// pixel centers, and weights also rounded to Q11 for 8-bit data.
func bilinearSamples(in, out int, o *ResizeOptions) []axisSample {
	adjust := 0
	if o.AlignCorners && out != 1 {
		adjust = 1
	}
	// The conversions round each product, as XNNPACK does, where Go could
	// otherwise fuse multiply and add.
	scale := float32(in-adjust) / float32(out-adjust)
	offset := float32(0.5*scale) - 0.5
	s := make([]axisSample, out)
	for i := range s {
		v := float32(float32(i) * scale)
		if o.HalfPixelCenters {
			v = min(max(v+offset, 0), float32(in-1))
		}
		i0 := int(v)
		frac := v - float32(i0)
		s[i] = axisSample{i0: i0, i1: min(i0+1, in-1), frac: frac, fracQ: int32(math.RoundToEven(float64(frac * 2048)))}
	}
	return s
}

func (k *resize) eval() {
	for b := 0; b < k.batch; b++ {
		for y, sy := range k.ys {
			for x, sx := range k.xs {
				o := ((b*k.outH+y)*k.outW + x) * k.c
				p00 := ((b*k.inH+sy.i0)*k.inW + sx.i0) * k.c
				if !k.bilinear {
					if k.in != nil {
						copy(k.out[o:o+k.c], k.in[p00:p00+k.c])
					} else {
						copy(k.qout[o:o+k.c], k.qin[p00:p00+k.c])
					}
					continue
				}
				p01 := ((b*k.inH+sy.i0)*k.inW + sx.i1) * k.c
				p10 := ((b*k.inH+sy.i1)*k.inW + sx.i0) * k.c
				p11 := ((b*k.inH+sy.i1)*k.inW + sx.i1) * k.c
				if k.in != nil {
					k.blendFloat(k.out[o:o+k.c], p00, p01, p10, p11, sx.frac, sy.frac)
				} else {
					k.blendQuant(k.qout[o:o+k.c], p00, p01, p10, p11, sx.fracQ, sy.fracQ)
				}
			}
		}
	}
}

// blendFloat interpolates along x, then y, in XNNPACK's order of float32
// operations (the conversions keep Go from fusing them into FMAs).
func (k *resize) blendFloat(out []float32, p00, p01, p10, p11 int, fx, fy float32) {
	for ch := range out {
		tl, tr, bl, br := k.in[p00+ch], k.in[p01+ch], k.in[p10+ch], k.in[p11+ch]
		t := tl + float32((tr-tl)*fx)
		b := bl + float32((br-bl)*fx)
		out[ch] = t + float32((b-t)*fy)
	}
}

// blendQuant is XNNPACK's 8-bit interpolation: Q11 weights, Q22 sums,
// rounded half up.
func (k *resize) blendQuant(out []byte, p00, p01, p10, p11 int, fx, fy int32) {
	v := func(p int) int32 {
		if k.signed {
			return int32(int8(k.qin[p]))
		}
		return int32(k.qin[p])
	}
	for ch := range out {
		tl, tr, bl, br := v(p00+ch), v(p01+ch), v(p10+ch), v(p11+ch)
		t := tl<<11 + (tr-tl)*fx
		b := bl<<11 + (br-bl)*fx
		out[ch] = byte((t<<11 + (b-t)*fy + 1<<21) >> 22)
	}
}

// l2norm is a prepared L2_NORMALIZATION over the last dimension. Google's
// runtime runs TFLite's own kernels for it (XNNPACK has none); 8-bit
// outputs have the fixed scale 1/128.
type l2norm struct {
	rows, n   int
	in, out   []float32
	qin, qout []byte
	signed    bool
	inZP      int32
}

func prepareL2Norm(c *opContext) (kernel, error) {
	in, out, err := c.unaryIO()
	if err != nil {
		return nil, err
	}
	if len(in.def.Shape) == 0 || in.def.Shape[len(in.def.Shape)-1] == 0 {
		return nil, fmt.Errorf("input shape %v has no last dimension", in.def.Shape)
	}
	k := &l2norm{n: in.def.Shape[len(in.def.Shape)-1]}
	k.rows = in.n / k.n
	if in.def.Type == Float32 {
		k.in, k.out = in.Float32s(), out.Float32s()
		return k, nil
	}
	inQ, outQ, err := inOutQuant(in, out)
	if err != nil {
		return nil, err
	}
	want := qparams{scale: float64(float32(1.0 / 128))}
	if out.def.Type == Uint8 {
		want.zp = 128
	}
	if outQ != want {
		return nil, fmt.Errorf("output quantization is %v, TFLite requires scale 1/128 and zero point %d", outQ, want.zp)
	}
	k.qin, k.qout, k.signed, k.inZP = in.data, out.data, in.def.Type == Int8, inQ.zp
	return k, nil
}

func (k *l2norm) eval() {
	for r := 0; r < k.rows; r++ {
		if k.in != nil {
			k.rowFloat(k.in[r*k.n:(r+1)*k.n], k.out[r*k.n:(r+1)*k.n])
		} else {
			k.rowQuant(k.qin[r*k.n:(r+1)*k.n], k.qout[r*k.n:(r+1)*k.n])
		}
	}
}

// rowFloat divides by the float32 norm, at least 1e-6, as TFLite does.
func (k *l2norm) rowFloat(in, out []float32) {
	var ss float32
	for _, v := range in {
		ss += float32(v * v)
	}
	norm := max(float32(math.Sqrt(float64(ss))), 1e-6)
	for i, v := range in {
		out[i] = v / norm
	}
}

// rowQuant multiplies by TFLite's fixed-point inverse square root of the
// sum of squares.
func (k *l2norm) rowQuant(in, out []byte) {
	val := func(b byte) int32 {
		if k.signed {
			return int32(int8(b)) - k.inZP
		}
		return int32(b) - k.inZP
	}
	var ss int32
	for _, b := range in {
		ss += val(b) * val(b)
	}
	mult, shift := invSqrtMultiplier(ss)
	for i, b := range in {
		if k.signed {
			out[i] = byte(clamp32(kern.Requantize(val(b), mult, int32(shift+7)), -128, 127))
		} else {
			out[i] = byte(clamp32(128+roundingShiftRight(roundingDoublingHighMul(128*val(b), mult), -shift), 0, 255))
		}
	}
}

// invSqrtMultiplier returns 1/sqrt(x) as a Q31 multiplier and a left shift
// (<= 0), by TFLite's fixed-point Newton-Raphson iteration
// (GetInvSqrtQuantizedMultiplierExp).
func invSqrtMultiplier(x int32) (mult int32, shift int) {
	if x <= 1 {
		return math.MaxInt32, 0
	}
	shift = 11
	for x >= 1<<29 {
		x /= 4
		shift++
	}
	pairs := (bits.LeadingZeros32(uint32(x))-1)/2 - 1
	shift -= pairs
	x <<= 2 * pairs
	// Fixed point with 3 integer bits: 1.0 is 2^28.
	half := roundingShiftRight(x>>1, 1)
	const halfThree = 1<<28 + 1<<27
	v := int32(1 << 28)
	for range 5 {
		v3 := saturatingShiftLeft(roundingDoublingHighMul(roundingDoublingHighMul(v, v), v), 6)
		v = saturatingShiftLeft(roundingDoublingHighMul(halfThree, v)-roundingDoublingHighMul(half, v3), 3)
	}
	mult = roundingDoublingHighMul(v, 1518500250) // times sqrt(2)/2 in Q31
	if shift < 0 {
		mult <<= -shift
		shift = 0
	}
	return mult, -shift
}

// roundingDoublingHighMul is gemmlowp's SaturatingRoundingDoublingHighMul.
func roundingDoublingHighMul(a, b int32) int32 {
	if a == math.MinInt32 && b == math.MinInt32 {
		return math.MaxInt32
	}
	ab := int64(a) * int64(b)
	nudge := int64(1 << 30)
	if ab < 0 {
		nudge = 1 - 1<<30
	}
	return int32((ab + nudge) / (1 << 31))
}

// roundingShiftRight divides by 2^e, rounding ties away from zero.
func roundingShiftRight(x int32, e int) int32 {
	mask := int32(1)<<e - 1
	threshold := mask >> 1
	if x < 0 {
		threshold++
	}
	r := x >> e
	if x&mask > threshold {
		r++
	}
	return r
}

// saturatingShiftLeft multiplies by 2^e, saturating.
func saturatingShiftLeft(x int32, e int) int32 {
	return int32(min(max(int64(x)<<e, math.MinInt32), math.MaxInt32))
}
