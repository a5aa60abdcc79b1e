package kern

// QAddParams are the integer parameters of a quantized ADD or SUB of two
// tensors of one shape, as XNNPACK computes it: each input is scaled by an
// integer multiplier, the sum (with Bias, which holds the rounding and the
// zero points' part) is shifted right once, then offset by the output zero
// point and clamped.
type QAddParams struct {
	Bias, Mul1, Mul2, Shift int32
	OutZP, Lo, Hi           int32
}

// QAdd computes out[i] = clamp((Bias + a[i]*Mul1 + b[i]*Mul2) >> Shift +
// OutZP, Lo, Hi) for the bytes of a and b read as int8 when signed, else as
// uint8. a and b must be at least as long as out.
func QAdd(out, a, b []byte, p *QAddParams, signed bool) {
	a, b = a[:len(out)], b[:len(out)]
	done := 0
	if level != isaGo {
		done = qaddAsm(out, a, b, p, signed)
	}
	qaddGo(out[done:], a[done:], b[done:], p, signed)
}

// One computes one output from input values x and y (the stored int8 or
// uint8 bytes, widened).
func (p *QAddParams) One(x, y int32) int32 {
	return min(max((p.Bias+x*p.Mul1+y*p.Mul2)>>p.Shift+p.OutZP, p.Lo), p.Hi)
}

func qaddGo(out, a, b []byte, p *QAddParams, signed bool) {
	a, b = a[:len(out)], b[:len(out)]
	if signed {
		for i := range out {
			out[i] = byte(p.One(int32(int8(a[i])), int32(int8(b[i]))))
		}
		return
	}
	for i := range out {
		out[i] = byte(p.One(int32(a[i]), int32(b[i])))
	}
}
