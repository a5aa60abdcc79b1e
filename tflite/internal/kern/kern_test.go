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
		// Beside tails, {13, 300, 1100} runs over column chunks (see
		// chunkCols).
		shapes := [][3]int{{1, 1, 1}, {1, 1001, 1280}, {7, 16, 3}, {6, 64, 4}, {13, 24, 27}, {300, 40, 8}, {250, 160, 96}, {1, 17, 5}, {13, 300, 1100}}
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

// randOffs returns npix pixels of t tap offsets into an input of n values,
// each padded (-1) with probability 1/5, and room for c channels.
func randOffs(rng *rand.Rand, npix, t, n, c int) []int32 {
	offs := make([]int32, npix*t)
	for i := range offs {
		offs[i] = -1
		if rng.IntN(5) > 0 {
			offs[i] = int32(rng.IntN(n - c + 1))
		}
	}
	return offs
}

// randDWShape returns the shape of depthwise case i: c channels, nt taps
// (every tenth case 3x3, every tenth 5x5 or more), npix pixels after p0
// skipped ones, and an output row stride ldo >= c.
func randDWShape(rng *rand.Rand, i int) (c, nt, npix, p0, ldo int) {
	c, nt, npix, p0 = 1+rng.IntN(100), 1+rng.IntN(12), 1+rng.IntN(8), rng.IntN(3)
	switch i % 10 {
	case 0:
		nt = 9
	case 1:
		nt = 25 + rng.IntN(30)
	}
	return c, nt, npix, p0, c + rng.IntN(4)
}

func TestQDepthwise(t *testing.T) {
	forLevels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for i := 0; i < 600; i++ {
			c, nt, npix, p0, ldo := randDWShape(rng, i)
			in := randBytes(rng, c+rng.IntN(300))
			pad := randBytes(rng, c)
			taps := NewQTaps(nt, c, randOffs(rng, p0+npix, nt, len(in), c), in, pad)
			wq := make([]int16, nt*c)
			for j := range wq {
				wq[j] = int16(rng.Uint32())
				if i%2 == 0 {
					wq[j] = int16(rng.IntN(511) - 255)
				}
			}
			qc := randQCase(rng, 1, c, nt)
			ep := &qc.ep
			xor := [...]byte{0, 0x80, 0x80, 0x3c}[rng.IntN(4)]
			w := PackQDW(wq, c, nt)
			sentinel := randBytes(rng, (npix-1)*ldo+c+5)
			want := append([]byte(nil), sentinel...)
			qdwGo(npix, in, taps.offs[p0*nt:], pad, xor, w, ep, want, ldo, 0)
			got := append([]byte(nil), sentinel...)
			QDepthwise(p0, npix, taps, xor, w, ep, got, ldo)
			if j := firstDiff(got, want); j >= 0 {
				t.Fatalf("c=%d taps=%d npix=%d ldo=%d xor=%#x: byte %d (pixel %d channel %d) is %d, want %d",
					c, nt, npix, ldo, xor, j, j/ldo, j%ldo, got[j], want[j])
			}
		}
	})
}

func randFloats(rng *rand.Rand, n int) []float32 {
	f := make([]float32, n)
	for i := range f {
		f[i] = rng.Float32()*2 - 1
	}
	return f
}

// closeTo reports whether got is want up to the rounding of a sum whose
// terms add up to mag in absolute value, NaN matching NaN.
func closeTo(got, want, mag float32) bool {
	if got != got || want != want {
		return got != got && want != want
	}
	return math.Abs(float64(got-want)) <= 1e-5*float64(mag)+1e-30
}

// fRange returns clamp bounds: none, ReLU6-like or narrow.
func fRange(rng *rand.Rand) (lo, hi float32) {
	switch rng.IntN(3) {
	case 0:
		return float32(math.Inf(-1)), float32(math.Inf(1))
	case 1:
		return 0, 6
	}
	lo = rng.Float32() - 0.5
	return lo, lo + rng.Float32()*0.2
}

func TestFGemm(t *testing.T) {
	forLevels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		shapes := [][3]int{{1, 1, 1}, {1, 1001, 256}, {13, 8, 27}, {300, 40, 8}, {7, 64, 3}, {9, 200, 700}}
		for i := 0; i < 300; i++ {
			shapes = append(shapes, [3]int{1 + rng.IntN(20), 1 + rng.IntN(100), 1 + rng.IntN(80)})
		}
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			lda, ldo := k+rng.IntN(3), n+rng.IntN(3)
			a, wf := randFloats(rng, (m-1)*lda+k), randFloats(rng, n*k)
			var bias []float32
			if rng.IntN(3) > 0 {
				bias = randFloats(rng, n)
			}
			lo, hi := fRange(rng)
			w := PackF(wf, n, k)
			sentinel := randFloats(rng, (m-1)*ldo+n+3)
			want := append([]float32(nil), sentinel...)
			fgemmGo(m, a, lda, w, bias, lo, hi, want, ldo)
			got := append([]float32(nil), sentinel...)
			FGemm(m, a, lda, w, bias, lo, hi, got, ldo)
			for i := range got {
				r, c := i/ldo, i%ldo
				mag := float32(0)
				if c < n && r < m {
					for j := 0; j < k; j++ {
						mag += float32(math.Abs(float64(a[r*lda+j] * wf[c*k+j])))
					}
				}
				if !closeTo(got[i], want[i], mag) {
					t.Fatalf("m=%d n=%d k=%d lda=%d ldo=%d bias=%v [%g,%g]: value %d (row %d col %d) is %g, want %g",
						m, n, k, lda, ldo, bias != nil, lo, hi, i, r, c, got[i], want[i])
				}
			}
		}
	})
}

func TestFDepthwise(t *testing.T) {
	forLevels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for i := 0; i < 600; i++ {
			c, nt, npix, p0, ldo := randDWShape(rng, i)
			in := randFloats(rng, c+rng.IntN(300))
			pad := make([]float32, c)
			taps := NewFTaps(nt, c, randOffs(rng, p0+npix, nt, len(in), c), in, pad)
			w := PackFDW(randFloats(rng, nt*c), c, nt)
			var bias []float32
			if rng.IntN(3) > 0 {
				bias = randFloats(rng, c)
			}
			lo, hi := fRange(rng)
			sentinel := randFloats(rng, (npix-1)*ldo+c+3)
			offs := taps.offs[p0*nt:]
			want := append([]float32(nil), sentinel...)
			fdwGo(npix, in, offs, pad, w, bias, lo, hi, want, ldo, 0)
			got := append([]float32(nil), sentinel...)
			FDepthwise(p0, npix, taps, w, bias, lo, hi, got, ldo)
			for j := range got {
				p, ch := j/ldo, j%ldo
				mag := float32(0)
				if p < npix && ch < c {
					for tp := 0; tp < nt; tp++ {
						if off := offs[p*nt+tp]; off >= 0 {
							mag += float32(math.Abs(float64(in[int(off)+ch] * w.W[tp*c+ch])))
						}
					}
				}
				if !closeTo(got[j], want[j], mag) {
					t.Fatalf("c=%d taps=%d npix=%d ldo=%d bias=%v [%g,%g]: value %d (pixel %d channel %d) is %g, want %g",
						c, nt, npix, ldo, bias != nil, lo, hi, j, p, ch, got[j], want[j])
				}
			}
		}
	})
}

func TestIm2col(t *testing.T) {
	forLevels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(13, 14))
		for i := 0; i < 300; i++ {
			c, nt, npix, p0 := 1+rng.IntN(70), 1+rng.IntN(12), 1+rng.IntN(6), rng.IntN(3)
			ldd := nt*c + rng.IntN(5)
			in, pad := randBytes(rng, c+rng.IntN(300)), randBytes(rng, c)
			fin, fpad := randFloats(rng, len(in)), randFloats(rng, c)
			offs := randOffs(rng, p0+npix, nt, len(in), c)
			sentinel := randBytes(rng, (npix-1)*ldd+nt*c+3)
			got, want := append([]byte(nil), sentinel...), append([]byte(nil), sentinel...)
			fsentinel := randFloats(rng, len(sentinel))
			fgot, fwant := append([]float32(nil), fsentinel...), append([]float32(nil), fsentinel...)
			for p := 0; p < npix; p++ {
				for j := 0; j < nt; j++ {
					off := offs[(p0+p)*nt+j]
					for ch := 0; ch < c; ch++ {
						v, f := pad[ch], fpad[ch]
						if off >= 0 {
							v, f = in[int(off)+ch], fin[int(off)+ch]
						}
						want[p*ldd+j*c+ch], fwant[p*ldd+j*c+ch] = v, f
					}
				}
			}
			Im2colQ(p0, npix, NewQTaps(nt, c, offs, in, pad), got, ldd)
			Im2colF(p0, npix, NewFTaps(nt, c, offs, fin, fpad), fgot, ldd)
			if j := firstDiff(got, want); j >= 0 {
				t.Fatalf("c=%d taps=%d npix=%d ldd=%d: byte %d is %d, want %d", c, nt, npix, ldd, j, got[j], want[j])
			}
			for j := range fgot {
				if fgot[j] != fwant[j] {
					t.Fatalf("c=%d taps=%d npix=%d ldd=%d: float %d is %g, want %g", c, nt, npix, ldd, j, fgot[j], fwant[j])
				}
			}
		}
	})
}

// TestNoAllocs checks that the kernels allocate nothing per call, so an
// Invoke does not either.
func TestNoAllocs(t *testing.T) {
	forLevels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(15, 16))
		c := randQCase(rng, 20, 40, 30)
		c.ep.RowSumMul = 3
		qw := PackQ(c.w, c.n, c.k)
		out := make([]byte, (c.m-1)*c.ldo+c.n)
		a, fw := randFloats(rng, 20*30), PackF(randFloats(rng, 40*30), 40, 30)
		fout := make([]float32, 20*40)
		in, pad, fin, fpad := randBytes(rng, 200), make([]byte, 24), randFloats(rng, 200), make([]float32, 24)
		offs := randOffs(rng, 5, 9, 200, 24)
		qt, ft := NewQTaps(9, 24, offs, in, pad), NewFTaps(9, 24, offs, fin, fpad)
		qdw, fdw := PackQDW(make([]int16, 9*24), 24, 9), PackFDW(randFloats(rng, 9*24), 24, 9)
		ep := randQCase(rng, 1, 24, 9).ep
		cols, fcols := make([]byte, 5*9*24), make([]float32, 5*9*24)
		for name, f := range map[string]func(){
			"QGemm":      func() { QGemm(c.m, c.a, c.lda, c.xor, qw, &c.ep, out, c.ldo) },
			"FGemm":      func() { FGemm(20, a, 30, fw, nil, 0, 6, fout, 40) },
			"QDepthwise": func() { QDepthwise(0, 5, qt, 0x80, qdw, &ep, out, 24) },
			"FDepthwise": func() { FDepthwise(0, 5, ft, fdw, nil, 0, 6, fout, 24) },
			"Im2colQ":    func() { Im2colQ(0, 5, qt, cols, 9*24) },
			"Im2colF":    func() { Im2colF(0, 5, ft, fcols, 9*24) },
		} {
			if n := testing.AllocsPerRun(10, f); n != 0 {
				t.Errorf("%s allocates %v times per call", name, n)
			}
		}
	})
}
