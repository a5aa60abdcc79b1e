package camera

import (
	"image"
	"math"
	"runtime"
	"sync"

	"github.com/edgeclass/edgeclass/internal/parallel"
)

// resampler scales sw x sh pixels to dw x dh with the tent (bilinear)
// kernel that golang.org/x/image/draw's BiLinear uses: when shrinking,
// the kernel widens by the scale factor so every source pixel contributes.
// It works in two separable passes on 16-bit linear-in-value RGB, as
// x/image/draw does, so the results match it within float rounding; its
// weights are computed once per size, its buffers are pooled, and each
// source pixel is converted to RGB once.
type resampler struct {
	dw, dh, sw, sh int
	h, v           taps
	scratch        sync.Pool // *resampleScratch
}

type resampleScratch struct {
	rows [][]float32 // per band: one source row, RGB
	accs [][]float32 // per band: one output row, RGB
	tmp  []float32   // sh rows of dw RGB, after the horizontal pass
	out  []byte      // dw x dh RGB
}

// parallelPixels is the source size from which scale splits its passes
// across CPUs: a 640x480 frame takes milliseconds, far more than starting
// a goroutine.
const parallelPixels = 1 << 16

// taps are, for each output coordinate i, the source coordinates
// first[i] .. first[i]+len(weights of i)-1 and their normalized weights.
type taps struct {
	first []int
	off   []int // weights[off[i]:off[i+1]] belong to output i
	w     []float32
}

func newTaps(dn, sn int) taps {
	scale := float64(sn) / float64(dn)
	half, argScale := 1.0, 1.0
	if scale > 1 {
		half, argScale = scale, 1/scale
	}
	t := taps{first: make([]int, dn), off: make([]int, dn+1)}
	var ws []float64
	for i := 0; i < dn; i++ {
		centre := (float64(i)+0.5)*scale - 0.5
		lo := max(0, int(math.Floor(centre-half)))
		hi := min(sn, int(math.Ceil(centre+half)))
		ws, first, total := ws[:0], -1, 0.0
		for c := lo; c < hi; c++ {
			w := 1 - math.Abs((centre-float64(c))*argScale)
			if w <= 0 {
				if first >= 0 {
					break
				}
				continue
			}
			if first < 0 {
				first = c
			}
			ws = append(ws, w)
			total += w
		}
		if first < 0 { // cannot happen for sn > 0; keep the nearest pixel
			first, ws, total = min(max(0, int(math.Round(centre))), sn-1), append(ws, 1), 1
		}
		t.first[i] = first
		for _, w := range ws {
			t.w = append(t.w, float32(w/total))
		}
		t.off[i+1] = len(t.w)
	}
	return t
}

var resamplers sync.Map // [4]int{dw, dh, sw, sh} -> *resampler

func resamplerFor(dw, dh, sw, sh int) *resampler {
	key := [4]int{dw, dh, sw, sh}
	if r, ok := resamplers.Load(key); ok {
		return r.(*resampler)
	}
	r := &resampler{dw: dw, dh: dh, sw: sw, sh: sh, h: newTaps(dw, sw), v: newTaps(dh, sh)}
	r.scratch.New = func() any {
		return &resampleScratch{tmp: make([]float32, 3*dw*sh), out: make([]byte, 3*dw*dh)}
	}
	actual, _ := resamplers.LoadOrStore(key, r)
	return actual.(*resampler)
}

// scale resamples region sr of img (sr.Dx() x sr.Dy() = sw x sh) and
// calls use with the dw x dh RGB result, which is only valid during the
// call. Large images are split into bands of rows, one per CPU; every
// output value is computed the same way whatever the split.
func (r *resampler) scale(img image.Image, sr image.Rectangle, use func(rgb []byte)) {
	s := r.scratch.Get().(*resampleScratch)
	defer r.scratch.Put(s)
	bands := 1
	if r.sw*r.sh >= parallelPixels {
		bands = min(runtime.GOMAXPROCS(0), r.dh)
	}
	for len(s.rows) < bands {
		s.rows = append(s.rows, make([]float32, 3*r.sw))
		s.accs = append(s.accs, make([]float32, 3*r.dw))
	}
	convert := rowConverter(img)
	dw3 := 3 * r.dw
	parallel.Split(r.sh, bands, func(b, lo, hi int) {
		for y := lo; y < hi; y++ {
			convert(s.rows[b], sr.Min.X, sr.Max.X, sr.Min.Y+y)
			r.horizontal(s.tmp[y*dw3:(y+1)*dw3], s.rows[b])
		}
	})
	parallel.Split(r.dh, bands, func(b, lo, hi int) {
		for y := lo; y < hi; y++ {
			r.vertical(s.out[y*dw3:(y+1)*dw3], s.accs[b], s.tmp, y)
		}
	})
	use(s.out)
}

// vertical computes output row y from the horizontally resampled rows in
// tmp, accumulating in acc.
func (r *resampler) vertical(out []byte, acc, tmp []float32, y int) {
	dw3 := 3 * r.dw
	clear(acc)
	first := r.v.first[y]
	for k, w := range r.v.w[r.v.off[y]:r.v.off[y+1]] {
		src := tmp[(first+k)*dw3 : (first+k+1)*dw3]
		acc := acc[:len(src)]
		for i, v := range src {
			// The conversion keeps arm64 from fusing the multiply
			// and add, so every architecture rounds alike.
			acc[i] += float32(v * w)
		}
	}
	for i, v := range acc {
		// Round to 16 bits, then keep the high byte, as x/image/draw
		// does when it stores into an 8-bit image.
		q := int32(v + 0.5)
		out[i] = uint8(min(max(q, 0), 0xffff) >> 8)
	}
}

func (r *resampler) horizontal(dst, row []float32) {
	for x := 0; x < r.dw; x++ {
		first := r.h.first[x]
		var cr, cg, cb float32
		ws := r.h.w[r.h.off[x]:r.h.off[x+1]]
		src := row[3*first : 3*(first+len(ws))]
		for k, w := range ws {
			p := src[3*k : 3*k+3 : 3*k+3]
			cr += float32(p[0] * w) // unfused, as above
			cg += float32(p[1] * w)
			cb += float32(p[2] * w)
		}
		d := dst[3*x : 3*x+3]
		d[0], d[1], d[2] = cr, cg, cb
	}
}

// rowConverter returns a function writing pixels x0..x1-1 of row y of img
// into dst as 16-bit (0..65535) premultiplied RGB floats, with the fast
// paths x/image/draw has for the image types decoders return.
func rowConverter(img image.Image) func(dst []float32, x0, x1, y int) {
	switch m := img.(type) {
	case *image.YCbCr:
		hs, vs, ok := chromaShifts(m.SubsampleRatio)
		if !ok || m.Rect.Min.X < 0 || m.Rect.Min.Y < 0 {
			break
		}
		return func(dst []float32, x0, x1, y int) {
			yi := (y-m.Rect.Min.Y)*m.YStride - m.Rect.Min.X
			ci := (y>>vs-m.Rect.Min.Y>>vs)*m.CStride - m.Rect.Min.X>>hs
			ys := m.Y[yi+x0 : yi+x1]
			dst = dst[:3*len(ys)]
			for i, yv := range ys {
				c := ci + (x0+i)>>hs
				r, g, b := ycbcrToRGB16(yv, m.Cb[c], m.Cr[c])
				d := dst[3*i : 3*i+3 : 3*i+3]
				d[0], d[1], d[2] = float32(r), float32(g), float32(b)
			}
		}
	case *image.RGBA:
		return func(dst []float32, x0, x1, y int) {
			src := m.Pix[m.PixOffset(x0, y):]
			for i := range x1 - x0 {
				p := src[4*i : 4*i+3]
				d := dst[3*i : 3*i+3]
				d[0], d[1], d[2] = float32(p[0])*0x101, float32(p[1])*0x101, float32(p[2])*0x101
			}
		}
	case *BGR:
		return func(dst []float32, x0, x1, y int) {
			src := m.Pix[m.PixOffset(x0, y):]
			for i := range x1 - x0 {
				p := src[3*i : 3*i+3]
				d := dst[3*i : 3*i+3]
				d[0], d[1], d[2] = float32(p[2])*0x101, float32(p[1])*0x101, float32(p[0])*0x101
			}
		}
	case *image.Gray:
		return func(dst []float32, x0, x1, y int) {
			src := m.Pix[m.PixOffset(x0, y):]
			for i := range x1 - x0 {
				v := float32(src[i]) * 0x101
				d := dst[3*i : 3*i+3]
				d[0], d[1], d[2] = v, v, v
			}
		}
	}
	return func(dst []float32, x0, x1, y int) {
		for x := x0; x < x1; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			d := dst[3*(x-x0) : 3*(x-x0)+3]
			d[0], d[1], d[2] = float32(r), float32(g), float32(b)
		}
	}
}

func chromaShifts(r image.YCbCrSubsampleRatio) (h, v int, ok bool) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return 0, 0, true
	case image.YCbCrSubsampleRatio422:
		return 1, 0, true
	case image.YCbCrSubsampleRatio420:
		return 1, 1, true
	case image.YCbCrSubsampleRatio440:
		return 0, 1, true
	case image.YCbCrSubsampleRatio411:
		return 2, 0, true
	case image.YCbCrSubsampleRatio410:
		return 2, 1, true
	}
	return 0, 0, false
}

// ycbcrToRGB16 converts a JFIF YCbCr pixel to 16-bit RGB with the
// fixed-point constants image/color uses (1.402, 0.344136, 0.714136 and
// 1.772 scaled by 2^16), so results equal color.YCbCr's RGBA method.
func ycbcrToRGB16(y, cb, cr uint8) (r, g, b int32) {
	yy := int32(y) * 0x10101
	cb1, cr1 := int32(cb)-128, int32(cr)-128
	r = clamp16((yy + 91881*cr1) >> 8)
	g = clamp16((yy - 22554*cb1 - 46802*cr1) >> 8)
	b = clamp16((yy + 116130*cb1) >> 8)
	return
}

func clamp16(v int32) int32 { return min(max(v, 0), 0xffff) }
