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

// packQ16 lays B out as int16 for multiply-add-pairs kernels: panels of pw
// columns, in groups of up to g panels; within a group, for each 2 k, each
// panel's columns in order, each column's 2 values in k order. Columns past
// N are zero.
func packQ16(q *QWeights, pw, g int) []int16 {
	np := (q.N + pw - 1) / pw
	out := make([]int16, np*pw*q.Kp)
	i := 0
	for p0 := 0; p0 < np; p0 += g {
		nv := min(g, np-p0)
		for k := 0; k < q.Kp; k += 2 {
			for c := p0 * pw; c < (p0+nv)*pw; c++ {
				if c < q.N {
					out[i] = int16(q.rows[c*q.Kp+k])
					out[i+1] = int16(q.rows[c*q.Kp+k+1])
				}
				i += 2
			}
		}
	}
	return out
}
