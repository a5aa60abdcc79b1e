package quantize

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestHistogramQuantileFollowsTheData(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var h histogram
	var vals []float64
	// Growing magnitudes make the histogram double its range many times.
	for i := 0; i < 20000; i++ {
		v := r.ExpFloat64() * float64(1+i/1000)
		vals = append(vals, v)
		h.add(v)
	}
	slices.Sort(vals)
	bin := h.top / histBins
	if bin > 2*vals[len(vals)-1]/histBins {
		t.Errorf("bins of %g for values up to %g: the range grew too far", bin, vals[len(vals)-1])
	}
	below := func(x float64) float64 {
		n, _ := slices.BinarySearch(vals, math.Nextafter(x, math.Inf(1)))
		return float64(n) / float64(len(vals))
	}
	for _, p := range []float64{0.5, 0.9, 0.99, 0.999} {
		// The answer is the upper edge of the bin where the fraction p is
		// reached.
		got := h.quantile(p)
		if below(got) < p || below(got-bin) > p {
			t.Errorf("quantile %g = %g: %g of the values lie below it, %g below one bin less", p, got, below(got), below(got-bin))
		}
	}
}

func TestRangeMethods(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	s := newTensorStats()
	vals := make([]float32, 100000)
	for i := range vals {
		vals[i] = float32(r.NormFloat64())
	}
	vals[0], vals[1] = 40, -30 // rare outliers
	s.add(vals)
	lo, hi := s.Range(MinMax, 0)
	if lo != -30 || hi != 40 {
		t.Errorf("minmax [%g, %g], want [-30, 40]", lo, hi)
	}
	plo, phi := s.Range(Percentile, 99.9)
	if phi > 4 || plo < -4 || phi < 2.5 || plo > -2.5 {
		t.Errorf("percentile 99.9 [%g, %g], want about ±3.3 (outliers clipped)", plo, phi)
	}
	// MSE minimizes the squared error of quantizing the data: on heavy
	// tails it must beat min/max, measured on the data itself.
	lap := newTensorStats()
	for i := range vals {
		vals[i] = float32(r.ExpFloat64() - r.ExpFloat64()) // Laplace
	}
	lap.add(vals)
	mse := func(lo, hi float64) float64 {
		p := activationParams(lo, hi)
		var e float64
		for _, v := range vals {
			d := float64(v) - p.scale*float64(int32(p.quantize(float64(v)))-p.zp)
			e += d * d
		}
		return e / float64(len(vals))
	}
	mm, ms := mse(lap.Range(MinMax, 0)), mse(lap.Range(MSE, 0))
	best := mm
	for a := 0.05; a < 1; a += 0.01 {
		best = min(best, mse(a*lap.Min, a*lap.Max))
	}
	if !(ms < 0.95*mm) || ms > 1.03*best {
		t.Errorf("on Laplace data the mse range has error %g; min/max %g, best scaled range %g", ms, mm, best)
	}
	// On bounded data without outliers the robust methods keep the range.
	u := newTensorStats()
	for i := range vals {
		vals[i] = r.Float32() * 6
	}
	u.add(vals)
	if _, hi := u.Range(MSE, 0); hi < 5.5 {
		t.Errorf("mse on uniform [0, 6] gives hi %g", hi)
	}
	if _, hi := u.Range(Percentile, 99.99); hi < 5.9 {
		t.Errorf("percentile on uniform [0, 6] gives hi %g", hi)
	}
}

func TestCounts(t *testing.T) {
	s := newTensorStats()
	s.add([]float32{1, 10, 3, 20})
	s.add([]float32{5, 30, 0, -4})
	s.add([]float32{2, float32(math.NaN()), float32(math.Inf(1))})
	if s.Count != 11 || s.Zeros != 1 || s.NonFinite != 2 || s.Min != -4 || s.Max != 30 {
		t.Errorf("count %d zeros %d non-finite %d range [%g, %g]", s.Count, s.Zeros, s.NonFinite, s.Min, s.Max)
	}
}

func TestParseMethod(t *testing.T) {
	for _, m := range []Method{MinMax, Percentile, MSE} {
		if got, err := ParseMethod(m.String()); err != nil || got != m {
			t.Errorf("ParseMethod(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMethod("kl"); err == nil {
		t.Error("unknown method accepted")
	}
}
