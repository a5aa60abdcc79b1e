//go:build !purego && (amd64 || arm64)

package kern

// packPanels lays B (n rows of k values, row-major) out for the matrix
// product kernels: panels of pw columns, in groups of up to g panels;
// within a group, for each kg k, each panel's columns in order, each
// column's kg values in k order. Columns past n are zero; k is a multiple
// of kg.
func packPanels[D, S int8 | int16 | float32](rows []S, n, k, pw, g, kg int) []D {
	np := (n + pw - 1) / pw
	out := make([]D, np*pw*k)
	i := 0
	for p0 := 0; p0 < np; p0 += g {
		nv := min(g, np-p0)
		for k0 := 0; k0 < k; k0 += kg {
			for c := p0 * pw; c < (p0+nv)*pw; c++ {
				if c < n {
					for j, v := range rows[c*k+k0 : c*k+k0+kg] {
						out[i+j] = D(v)
					}
				}
				i += kg
			}
		}
	}
	return out
}

// packQ8 lays B out for byte dot-product kernels: packPanels with groups
// of 4 k.
func packQ8(q *QWeights, pw, g int) []int8 {
	return packPanels[int8](q.rows, q.N, q.Kp, pw, g, 4)
}

// packQ16 lays B out as int16 for multiply-add kernels.
func packQ16(q *QWeights, pw, g, kg int) []int16 {
	return packPanels[int16](q.rows, q.N, q.Kp, pw, g, kg)
}

// packQDWPairs lays depthwise weights of channels [c0, c1) out for
// multiply-add-pairs kernels: blocks of cb channels; in each block, for
// each pair of taps (the last one paired with zeros when T is odd), two
// vectors of cb/2 int16 pairs, where lane d of vector h holds channel
// lane(d, h) of the block. Channels past c1 are zero.
func packQDWPairs(q *QDWWeights, c0, c1, cb int, lane func(d, h int) int) []int16 {
	nb, np := (c1-c0+cb-1)/cb, (q.T+1)/2
	out := make([]int16, nb*np*2*cb)
	i := 0
	for b := 0; b < nb; b++ {
		for j := 0; j < np; j++ {
			for h := 0; h < 2; h++ {
				for d := 0; d < cb/2; d++ {
					c := c0 + b*cb + lane(d, h)
					for t := 2 * j; t < 2*j+2; t++ {
						if c < c1 && t < q.T {
							out[i] = q.W[t*q.C+c]
						}
						i++
					}
				}
			}
		}
	}
	return out
}

// packF32 lays B out for broadcast-and-multiply kernels: packPanels one
// k at a time.
func packF32(f *FWeights, pw, g int) []float32 {
	return packPanels[float32](f.rows, f.N, f.K, pw, g, 1)
}
