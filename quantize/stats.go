package quantize

import (
	"fmt"
	"math"
)

// Method selects how a tensor's calibrated values become its range.
type Method int

const (
	// MinMax takes the smallest and largest value seen (TensorFlow's
	// converter does this).
	MinMax Method = iota
	// Percentile clips each side at a percentile of its magnitudes, so rare
	// outliers do not stretch the range.
	Percentile
	// MSE picks the clipping range that minimizes the expected squared
	// quantization error (rounding inside the range, clipping outside),
	// computed from the histogram.
	MSE
)

var methodNames = []string{MinMax: "minmax", Percentile: "percentile", MSE: "mse"}

func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return fmt.Sprintf("method(%d)", int(m))
}

// ParseMethod reads "minmax", "percentile" or "mse".
func ParseMethod(s string) (Method, error) {
	for m, n := range methodNames {
		if n == s {
			return Method(m), nil
		}
	}
	return 0, fmt.Errorf("unknown calibration method %q (want minmax, percentile or mse)", s)
}

// histBins is the resolution of the magnitude histograms: at least half of
// them cover the values seen.
const histBins = 2048

// histogram counts magnitudes in [0, top) in equal bins. top doubles, and
// bins merge pairwise, when a larger value arrives, so one pass over the
// calibration set suffices whatever the range.
type histogram struct {
	top  float64
	inv  float64 // histBins / top
	bins []int64
	n    int64
}

func (h *histogram) add(v float64) {
	if v >= h.top {
		h.grow(v)
	}
	b := int(v * h.inv)
	if b >= histBins {
		b = histBins - 1
	}
	h.bins[b]++
	h.n++
}

func (h *histogram) grow(v float64) {
	if h.bins == nil {
		h.bins = make([]int64, histBins)
		_, exp := math.Frexp(v) // v < 2^exp
		h.top = math.Ldexp(1, exp)
		h.inv = histBins / h.top
		return
	}
	for v >= h.top {
		for i := 0; i < histBins/2; i++ {
			h.bins[i] = h.bins[2*i] + h.bins[2*i+1]
		}
		clear(h.bins[histBins/2:])
		h.top *= 2
	}
	h.inv = histBins / h.top
}

// quantile returns the magnitude below which a fraction p of the counted
// values lie (the upper edge of the bin that reaches it).
func (h *histogram) quantile(p float64) float64 {
	if h.n == 0 {
		return 0
	}
	target := p * float64(h.n)
	var acc int64
	for i, c := range h.bins {
		acc += c
		if float64(acc) >= target {
			return float64(i+1) * h.top / histBins
		}
	}
	return h.top
}

// clipError returns the expected squared error of the counted magnitudes
// when values up to bound are rounded to steps of delta and larger ones are
// clipped to bound.
func (h *histogram) clipError(bound, delta float64) float64 {
	var e float64
	round := delta * delta / 12
	w := h.top / histBins
	for i, c := range h.bins {
		if c == 0 {
			continue
		}
		center := (float64(i) + 0.5) * w
		if center <= bound {
			e += float64(c) * round
		} else {
			d := center - bound
			e += float64(c) * d * d
		}
	}
	return e
}

// TensorStats are the statistics of one tensor over a calibration set.
type TensorStats struct {
	Min, Max  float64
	Count     int64 // values seen
	Zeros     int64 // of which exactly 0
	NonFinite int64 // NaN or infinite values (a broken float model)
	pos, neg  histogram
}

func newTensorStats() *TensorStats {
	return &TensorStats{Min: math.Inf(1), Max: math.Inf(-1)}
}

func (s *TensorStats) add(vals []float32) {
	for _, f := range vals {
		v := float64(f)
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			s.NonFinite++
			continue
		case v > 0:
			s.pos.add(v)
		case v < 0:
			s.neg.add(-v)
		default:
			s.Zeros++
		}
		s.Min, s.Max = min(s.Min, v), max(s.Max, v)
	}
	s.Count += int64(len(vals))
}

// Range returns the range a method chooses, before it is widened to hold 0.
// pct is the percentile of the Percentile method (for example 99.99).
func (s *TensorStats) Range(m Method, pct float64) (lo, hi float64) {
	if s.Count == s.NonFinite {
		return 0, 0
	}
	switch m {
	case Percentile:
		p := pct / 100
		return max(-s.neg.quantile(p), s.Min), min(s.pos.quantile(p), s.Max)
	case MSE:
		return s.mseRange()
	}
	return s.Min, s.Max
}

// mseSteps is the number of clipping candidates the MSE method tries.
const mseSteps = 200

// mseRange scales the min/max range by the factor in (0, 1] that gives the
// smallest expected squared error of int8 quantization.
func (s *TensorStats) mseRange() (lo, hi float64) {
	lo, hi = min(s.Min, 0), max(s.Max, 0)
	if hi-lo == 0 {
		return lo, hi
	}
	best, bestErr := 1.0, math.Inf(1)
	for k := mseSteps; k >= 1; k-- {
		a := float64(k) / mseSteps
		delta := a * (hi - lo) / 255
		e := s.pos.clipError(a*hi, delta) + s.neg.clipError(-a*lo, delta)
		if e < bestErr {
			best, bestErr = a, e
		}
	}
	return best * lo, best * hi
}
