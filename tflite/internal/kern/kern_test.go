package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// forLevels runs f once per instruction-set level this CPU has, with new
// weights packed for that level.
func forLevels(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	defer func(l isa) { level = l }(level)
	for _, l := range levels {
		level = l
		t.Run(l.String(), f)
	}
}

func TestLevels(t *testing.T) {
	if levels[0] != isaGo || level != levels[len(levels)-1] {
		t.Fatalf("levels %v, level %v", levels, level)
	}
	t.Logf("levels: %v", levels)
}

// qCase is a random QGemm problem.
type qCase struct {
	m, n, k, lda, ldo int
	xor               byte
	a                 []byte
	w                 []int8
	ep                QEpilogue
}

func (c qCase) String() string {
	return fmt.Sprintf("m=%d n=%d k=%d lda=%d ldo=%d xor=%#x rowSumMul=%d out=%d [%d,%d]",
		c.m, c.n, c.k, c.lda, c.ldo, c.xor, c.ep.RowSumMul, c.ep.OutZP, c.ep.Lo, c.ep.Hi)
}

func randQCase(rng *rand.Rand, m, n, k int) qCase {
	kp := (k + 3) &^ 3
	c := qCase{m: m, n: n, k: k, lda: kp + 4*rng.IntN(3), ldo: n + rng.IntN(5)}
	if rng.IntN(2) == 0 {
		c.xor = 0x80
	}
	c.a = randBytes(rng, (m-1)*c.lda+kp)
	c.w = make([]int8, n*k)
	for i := range c.w {
		c.w[i] = int8(rng.Uint32())
	}
	ep := &c.ep
	ep.Bias = make([]int32, n)
	ep.Scale = make([]float32, n)
	// Scales that spread the accumulators over about the output range.
	typical := float32(1 / (64 * math.Sqrt(float64(k)) * 128))
	for i := range ep.Bias {
		ep.Bias[i] = rng.Int32N(1<<20) - 1<<19
		ep.Scale[i] = typical * (0.25 + rng.Float32()*4)
	}
	switch rng.IntN(4) {
	case 0:
		ep.RowSumMul = rng.Int32N(511) - 255
	case 1:
		// Extremes: saturating conversions, NaN, wrapping sums.
		for i := range ep.Scale {
			switch rng.IntN(6) {
			case 0:
				ep.Scale[i] = 1e10
			case 1:
				ep.Scale[i] = -1e10
			case 2:
				ep.Scale[i] = float32(math.NaN())
			case 3:
				ep.Scale[i] = float32(math.Inf(1))
			case 4:
				ep.Bias[i] = math.MaxInt32 - rng.Int32N(1000)
				ep.Scale[i] = 1
			}
		}
		ep.RowSumMul = rng.Int32()
	}
	if rng.IntN(4) > 0 { // else 0, which alone tells apart saturating high and low
		ep.OutZP = rng.Int32N(256) - 128
	}
	switch rng.IntN(3) {
	case 0:
		ep.Lo, ep.Hi = 0, 255
	case 1:
		ep.Lo, ep.Hi = -128, 127
	default:
		ep.Lo = rng.Int32N(200) - 100
		ep.Hi = ep.Lo + rng.Int32N(40)
	}
	return c
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// run computes the case with the kernels of the current level, into an
// output buffer that starts as a copy of sentinel.
func (c *qCase) run(w *QWeights, sentinel []byte) []byte {
	out := append([]byte(nil), sentinel...)
	QGemm(c.m, c.a, c.lda, c.xor, w, &c.ep, out, c.ldo)
	return out
}

func TestQGemm(t *testing.T) {
	forLevels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		shapes := [][3]int{{1, 1, 1}, {1, 1001, 1280}, {7, 16, 3}, {6, 64, 4}, {13, 24, 27}, {300, 40, 8}, {250, 160, 96}, {1, 17, 5}}
		for i := 0; i < 400; i++ {
			shapes = append(shapes, [3]int{1 + rng.IntN(20), 1 + rng.IntN(100), 1 + rng.IntN(80)})
		}
		for _, s := range shapes {
			c := randQCase(rng, s[0], s[1], s[2])
			w := PackQ(c.w, c.n, c.k)
			sentinel := randBytes(rng, (c.m-1)*c.ldo+c.n+8)
			want := append([]byte(nil), sentinel...)
			qgemmGo(c.m, c.a, c.lda, c.xor, w, &c.ep, want, c.ldo)
			got := c.run(w, sentinel)
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("%v: byte %d (row %d col %d) is %d, want %d", c, i, i/c.ldo, i%c.ldo, got[i], want[i])
			}
			// The fixed-point path must agree too (it may stay in Go).
			fixed := c
			fixed.ep.Scale = nil
			fixed.ep.Mult, fixed.ep.Shift = make([]int32, c.n), make([]int32, c.n)
			for i := range fixed.ep.Mult {
				fixed.ep.Mult[i], fixed.ep.Shift[i] = 1<<30+rng.Int32N(1<<30), -rng.Int32N(12)
			}
			want = append(want[:0], sentinel...)
			qgemmGo(c.m, c.a, c.lda, c.xor, w, &fixed.ep, want, c.ldo)
			if i := firstDiff(fixed.run(w, sentinel), want); i >= 0 {
				t.Fatalf("fixed-point %v: byte %d differs", c, i)
			}
		}
	})
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}
