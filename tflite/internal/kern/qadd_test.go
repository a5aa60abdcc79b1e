package kern

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// The assembly QAdd equals the portable one, for every length (the asm
// does multiples of 16, Go the rest), both input types, and parameters
// from tiny multipliers to ones that make the int32 sums wrap.
func TestQAddMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	forLevels(t, func(t *testing.T) {
		for trial := 0; trial < 300; trial++ {
			n := rng.IntN(100)
			if trial%10 == 0 {
				n = 1000 + rng.IntN(100)
			}
			a, b := randBytes(rng, n), randBytes(rng, n)
			shift := 10 + rng.Int32N(21)
			p := &QAddParams{
				Mul1: rng.Int32N(1<<21) - 1<<20, Mul2: rng.Int32N(1<<21) - 1<<20,
				Shift: shift, OutZP: rng.Int32N(256) - 128,
			}
			p.Bias = 1<<(shift-1) - p.Mul1*(rng.Int32N(256)-128) - p.Mul2*(rng.Int32N(256)-128)
			p.Lo, p.Hi = -128, 127
			signed := rng.IntN(2) == 0
			if !signed {
				p.Lo, p.Hi = 0, 255
			}
			if rng.IntN(4) == 0 { // a fused activation narrows the range
				p.Lo += rng.Int32N(64)
				p.Hi -= rng.Int32N(64)
			}
			if trial%50 == 0 { // sums that wrap around int32
				p.Mul1, p.Mul2, p.Bias = 1<<30, 1<<30-1, 1<<30
			}
			got, want := make([]byte, n), make([]byte, n)
			QAdd(got, a, b, p, signed)
			qaddGo(want, a, b, p, signed)
			if !bytes.Equal(got, want) {
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("n=%d signed=%v %+v: element %d is %d, want %d (a %d b %d)", n, signed, *p, i, got[i], want[i], a[i], b[i])
					}
				}
			}
		}
	})
}

func BenchmarkQAdd(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	const n = 56 * 56 * 24 // MobileNetV2's first residual ADD
	x, y, out := randBytes(rng, n), randBytes(rng, n), make([]byte, n)
	p := &QAddParams{Bias: 1 << 19, Mul1: 1 << 19, Mul2: 3 << 18, Shift: 20, OutZP: 3, Lo: 0, Hi: 255}
	forBenchLevels(b, func(b *testing.B) {
		b.SetBytes(n)
		for b.Loop() {
			QAdd(out, x, y, p, false)
		}
	})
}
