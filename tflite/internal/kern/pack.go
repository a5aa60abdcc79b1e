//go:build !purego && (amd64 || arm64)

package kern

// packQ8 lays B out for byte dot-product kernels: panels of pw columns,
// in groups of up to g panels; within a group, for each 4 k, each panel's
// columns in order, each column's 4 bytes in k order. Columns past N are
// zero.
func packQ8(q *QWeights, pw, g int) []int8 {
	np := (q.N + pw - 1) / pw
	out := make([]int8, np*pw*q.Kp)
	i := 0
	for p0 := 0; p0 < np; p0 += g {
		nv := min(g, np-p0)
		for k := 0; k < q.Kp; k += 4 {
			for c := p0 * pw; c < (p0+nv)*pw; c++ {
				if c < q.N {
					copy(out[i:i+4], q.rows[c*q.Kp+k:])
				}
				i += 4
			}
		}
	}
	return out
}

// packQ16 lays B out as int16: panels of pw columns, in groups of up to g
// panels; within a group, for each kg k, each panel's columns in order,
// each column's kg values in k order. Columns past N are zero.
func packQ16(q *QWeights, pw, g, kg int) []int16 {
	np := (q.N + pw - 1) / pw
	out := make([]int16, np*pw*q.Kp)
	i := 0
	for p0 := 0; p0 < np; p0 += g {
		nv := min(g, np-p0)
		for k := 0; k < q.Kp; k += kg {
			for c := p0 * pw; c < (p0+nv)*pw; c++ {
				for j := 0; j < kg; j++ {
					if c < q.N {
						out[i] = int16(q.rows[c*q.Kp+k+j])
					}
					i++
				}
			}
		}
	}
	return out
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

// packF32 lays B out for broadcast-and-multiply kernels: panels of pw
// columns, in groups of up to g panels; within a group, for each k, each
// panel's columns in order. Columns past N are zero.
func packF32(f *FWeights, pw, g int) []float32 {
	np := (f.N + pw - 1) / pw
	out := make([]float32, np*pw*f.K)
	i := 0
	for p0 := 0; p0 < np; p0 += g {
		nv := min(g, np-p0)
		for k := 0; k < f.K; k++ {
			for c := p0 * pw; c < (p0+nv)*pw; c++ {
				if c < f.N {
					out[i] = f.rows[c*f.K+k]
				}
				i++
			}
		}
	}
	return out
}
