package kern

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// gemmShapes are matrix products of MobileNet layers: rows (pixels),
// columns (output channels) and depth.
var gemmShapes = []struct {
	name    string
	m, n, k int
}{
	{"conv3x3s2-112x112x32", 112, 32, 27},
	{"expand-112x112-16to96", 12544 / 4, 96, 16},
	{"expand-56x56-24to144", 3136, 144, 24},
	{"project-56x56-144to24", 3136, 24, 144},
	{"expand-28x28-32to192", 784, 192, 32},
	{"project-14x14-384to64", 196, 64, 384},
	{"pointwise-14x14-128to128", 196, 128, 128},
	{"conv-7x7-320to1280", 49, 1280, 320},
	{"fc-1280to1001", 1, 1001, 1280},
}

// forBenchLevels runs f per level, with weights packed for it.
func forBenchLevels(b *testing.B, f func(b *testing.B)) {
	defer func(l isa) { level = l }(level)
	for _, l := range levels {
		level = l
		b.Run(l.String(), f)
	}
}

// loopGMACs runs f in b.Loop and reports GMAC/s of wall time and, where
// the OS tells, of the thread's CPU time, which a busy machine distorts
// less.
func loopGMACs(b *testing.B, macs int, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, ok := threadCPU()
	for b.Loop() {
		f()
	}
	total := float64(macs) * float64(b.N) / 1e9
	b.ReportMetric(total/b.Elapsed().Seconds(), "GMAC/s")
	if cpu1, ok1 := threadCPU(); ok && ok1 && cpu1 > cpu0 {
		b.ReportMetric(total/(cpu1-cpu0).Seconds(), "cpu-GMAC/s")
	}
}

func BenchmarkQGemm(b *testing.B) {
	for _, s := range gemmShapes {
		b.Run(s.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, 4))
			c := randQCase(rng, s.m, s.n, s.k)
			c.ep.RowSumMul = 7 // real uint8 models have weight zero points
			c.xor = 0
			out := make([]byte, (c.m-1)*c.ldo+c.n)
			forBenchLevels(b, func(b *testing.B) {
				w := PackQ(c.w, c.n, c.k)
				loopGMACs(b, s.m*s.n*s.k, func() { QGemm(c.m, c.a, c.lda, c.xor, w, &c.ep, out, c.ldo) })
			})
		})
	}
}

// dwShapes are depthwise 3x3 layers of MobileNets: one output row of
// width pixels of c channels, reading an input of the same size.
var dwShapes = []struct{ width, c int }{{112, 8}, {112, 32}, {56, 144}, {28, 192}, {14, 576}, {7, 960}}

// rowOffs are the tap offsets of output row 1 of a 3x3 stride-1 padded
// depthwise convolution on a 3-row input of width pixels and c channels.
func rowOffs(width, c int) []int32 {
	offs := make([]int32, width*9)
	for x := 0; x < width; x++ {
		for ky := 0; ky < 3; ky++ {
			for kx := 0; kx < 3; kx++ {
				ix, off := x+kx-1, int32(-1)
				if ix >= 0 && ix < width {
					off = int32((ky*width + ix) * c)
				}
				offs[x*9+ky*3+kx] = off
			}
		}
	}
	return offs
}

func BenchmarkQDepthwise(b *testing.B) {
	for _, s := range dwShapes {
		b.Run(fmt.Sprintf("%dx%d", s.width, s.c), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(7, 8))
			in := randBytes(rng, 3*s.width*s.c)
			pad := make([]byte, s.c)
			wq := make([]int16, 9*s.c)
			for i := range wq {
				wq[i] = int16(rng.IntN(255) - 127)
			}
			ep := randQCase(rng, 1, s.c, 9).ep
			taps := NewQTaps(9, s.c, rowOffs(s.width, s.c), in, pad)
			out := make([]byte, s.width*s.c)
			forBenchLevels(b, func(b *testing.B) {
				w := PackQDW(wq, s.c, 9)
				loopGMACs(b, s.width*s.c*9, func() { QDepthwise(0, s.width, taps, 0, w, &ep, out, s.c) })
			})
		})
	}
}

func BenchmarkFGemm(b *testing.B) {
	for _, s := range gemmShapes {
		b.Run(s.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, 4))
			a, wf, bias := randFloats(rng, s.m*s.k), randFloats(rng, s.n*s.k), randFloats(rng, s.n)
			out := make([]float32, s.m*s.n)
			forBenchLevels(b, func(b *testing.B) {
				w := PackF(wf, s.n, s.k)
				loopGMACs(b, s.m*s.n*s.k, func() { FGemm(s.m, a, s.k, w, bias, 0, 6, out, s.n) })
			})
		})
	}
}

func BenchmarkFDepthwise(b *testing.B) {
	for _, s := range dwShapes {
		b.Run(fmt.Sprintf("%dx%d", s.width, s.c), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(7, 8))
			in, wf, bias := randFloats(rng, 3*s.width*s.c), randFloats(rng, 9*s.c), randFloats(rng, s.c)
			pad := make([]float32, s.c)
			taps := NewFTaps(9, s.c, rowOffs(s.width, s.c), in, pad)
			out := make([]float32, s.width*s.c)
			forBenchLevels(b, func(b *testing.B) {
				w := PackFDW(wf, s.c, 9)
				loopGMACs(b, s.width*s.c*9, func() { FDepthwise(0, s.width, taps, w, bias, 0, 6, out, s.c) })
			})
		})
	}
}
