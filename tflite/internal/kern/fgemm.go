package kern

// FWeights are float32 weights B[n][k] packed once for this CPU.
type FWeights struct {
	N, K int
	rows []float32 // row-major, stride K
	// isa is the level the weights were packed for; packed holds its
	// layout (see packF), or is nil for isaGo.
	isa    isa
	packed []float32
	zeros  []float32 // the bias of products without one
}

// PackF packs n rows of k float32 weights (row-major).
func PackF(w []float32, n, k int) *FWeights {
	f := &FWeights{N: n, K: k, rows: append([]float32(nil), w[:n*k]...)}
	if level != isaGo && k > 0 {
		packF(f)
	}
	return f
}

// FGemm computes, for rows m < M and columns n < w.N,
//
//	out[m*ldo+n] = min(max(bias[n] + sum_k A[m*lda+k]*B[n][k], lo), hi)
//
// bias may be nil. Sums may be evaluated in any order (and fused), so
// results agree with the portable version to rounding, not bit for bit.
func FGemm(m int, a []float32, lda int, w *FWeights, bias []float32, lo, hi float32, out []float32, ldo int) {
	if m == 0 {
		return
	}
	_ = a[(m-1)*lda+w.K-1]
	_ = out[(m-1)*ldo+w.N-1]
	if w.isa != isaGo && fgemmAsm(m, a, lda, w, bias, lo, hi, out, ldo) {
		return
	}
	fgemmGo(m, a, lda, w, bias, lo, hi, out, ldo)
}

func fgemmGo(m int, a []float32, lda int, w *FWeights, bias []float32, lo, hi float32, out []float32, ldo int) {
	k := w.K
	for r := 0; r < m; r++ {
		row := a[r*lda : r*lda+k]
		o := out[r*ldo : r*ldo+w.N]
		for n := range o {
			wr := w.rows[n*k : n*k+k]
			var acc float32
			if bias != nil {
				acc = bias[n]
			}
			for i, v := range row {
				acc += v * wr[i]
			}
			o[n] = min(max(acc, lo), hi)
		}
	}
}
