// Package kern holds the engine's hot loops: matrix products with fused
// requantization for convolutions and fully connected layers, depthwise
// convolutions, and the im2col gather. Each has a portable Go version that
// defines the result; assembly versions must match it exactly (float ones
// to rounding, as they sum in another order), and the tests compare them.
//
// The assembly is chosen at run time by CPU features (see isa.go): on
// amd64 AVX-512 with VNNI or AVX2, on arm64 NEON with or without the
// dot-product extension. Weights are packed once, for the level of the
// CPU, by PackQ, PackF, PackQDW and PackFDW; asm.go passes operands to the
// kernels; kern_amd64.go and kern_arm64.go hold the packers and kernel
// choice; the purego tag and other architectures keep the Go versions.
package kern

import "math"

// QWeights are int8 weights B[n][k] (N output channels, K taps each) packed
// once for the kernels of this CPU.
type QWeights struct {
	N, K int
	// Kp is K rounded up to a multiple of 4; rows of A must be readable up
	// to Kp bytes (the bytes past K are ignored).
	Kp int
	// rows holds B row-major with stride Kp, zero-padded.
	rows []int8
	// isa is the level the weights were packed for; packed, packed16 and
	// colFix hold its layout (see packQ), or are nil for isaGo.
	isa      isa
	packed   []int8
	packed16 []int16
	colFix   []int32
}

// PackQ packs n rows of k int8 weights (row-major).
func PackQ(w []int8, n, k int) *QWeights {
	kp := (k + 3) &^ 3
	q := &QWeights{N: n, K: k, Kp: kp, rows: make([]int8, n*kp)}
	for i := 0; i < n; i++ {
		copy(q.rows[i*kp:i*kp+k], w[i*k:(i+1)*k])
	}
	if level != isaGo && kp > 0 {
		packQ(q)
	}
	return q
}

// QEpilogue turns int32 accumulators into 8-bit outputs with TFLite's
// fixed-point requantization.
type QEpilogue struct {
	// Bias[n] is added to the product of column n. It folds the real bias
	// and the zero-point terms that do not depend on the row.
	Bias []int32
	// Scale holds per-column float multipliers. When set, results are
	// rounded as XNNPACK (Google's default CPU runtime) rounds them: the
	// float32 product of the accumulator and the scale, to nearest even.
	Scale []float32
	// Mult and Shift are per-column fixed-point multipliers, used when Scale
	// is nil: TFLite's reference double rounding (see Requantize).
	Mult  []int32
	Shift []int32
	// RowSumMul multiplies the sum of each row of A (after XOR) and is added
	// to every column; it carries a nonzero weight zero point.
	RowSumMul int32
	// OutZP is added after scaling; results are clamped to [Lo, Hi] and
	// stored as their low byte (uint8 or int8).
	OutZP, Lo, Hi int32
}

// QGemm computes, for rows m < M and columns n < w.N,
//
//	acc = sum_k a(m,k)*B[n][k] + Bias[n] + RowSumMul*sum_k a(m,k)
//	out[m*ldo+n] = ep.Output(acc, n)
//
// where a(m,k) = A[m*lda+k] XOR xor, read as unsigned. xor is 0x80 when A
// holds int8 values (making them unsigned with an offset of 128) and 0 when
// A holds uint8. Rows of A must have Kp readable bytes.
func QGemm(m int, a []byte, lda int, xor byte, w *QWeights, ep *QEpilogue, out []byte, ldo int) {
	if m == 0 {
		return
	}
	_ = a[(m-1)*lda+w.Kp-1]
	_ = out[(m-1)*ldo+w.N-1]
	if w.isa != isaGo && qgemmAsm(m, a, lda, xor, w, ep, out, ldo) {
		return
	}
	qgemmGo(m, a, lda, xor, w, ep, out, ldo)
}

func qgemmGo(m int, a []byte, lda int, xor byte, w *QWeights, ep *QEpilogue, out []byte, ldo int) {
	k := w.K
	for r := 0; r < m; r++ {
		row := a[r*lda : r*lda+k]
		var rowSum int32
		if ep.RowSumMul != 0 {
			for _, v := range row {
				rowSum += int32(v ^ xor)
			}
		}
		o := out[r*ldo : r*ldo+w.N]
		for n := range o {
			wr := w.rows[n*w.Kp : n*w.Kp+k]
			var acc int32
			for i, v := range row {
				acc += int32(v^xor) * int32(wr[i])
			}
			acc += ep.Bias[n] + ep.RowSumMul*rowSum
			o[n] = ep.Output(acc, n)
		}
	}
}

// Output requantizes the accumulator of column n and clamps it to
// min(max(v, Lo), Hi), in int32 arithmetic that wraps.
func (ep *QEpilogue) Output(acc int32, n int) byte {
	var v int32
	if ep.Scale != nil {
		v = RoundEven(float32(acc)*ep.Scale[n]) + ep.OutZP
	} else {
		v = Requantize(acc, ep.Mult[n], ep.Shift[n]) + ep.OutZP
	}
	return byte(min(max(v, ep.Lo), ep.Hi))
}

// RoundEven rounds to the nearest integer, ties to even (the default
// rounding of SIMD float-to-int conversions), saturating to int32.
func RoundEven(f float32) int32 {
	r := math.RoundToEven(float64(f))
	if r >= math.MaxInt32 {
		return math.MaxInt32
	}
	if r <= math.MinInt32 || r != r {
		return math.MinInt32
	}
	return int32(r)
}

// Requantize multiplies x by the fixed-point multiplier mult*2^(shift-31)
// with TFLite's double rounding: a rounding doubling high multiply, then a
// rounding (half away from zero) right shift.
func Requantize(x, mult, shift int32) int32 {
	left, right := int32(0), int32(0)
	if shift > 0 {
		left = shift
	} else {
		right = -shift
	}
	x <<= left
	// The rounding doubling high multiply of gemmlowp, written as one
	// floor shift: (a*b + 2^30) >> 31 equals its nudge-and-truncate form.
	var hi int32
	if x == -1<<31 && mult == -1<<31 {
		hi = 1<<31 - 1
	} else {
		hi = int32((int64(x)*int64(mult) + 1<<30) >> 31)
	}
	if right == 0 {
		return hi
	}
	mask := int32(1)<<right - 1
	rem := hi & mask
	threshold := mask >> 1
	if hi < 0 {
		threshold++
	}
	r := hi >> right
	if rem > threshold {
		r++
	}
	return r
}
