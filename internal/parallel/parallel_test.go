package parallel

import (
	"sync"
	"testing"
)

func TestSplitCoversEachIndexOnce(t *testing.T) {
	for _, c := range []struct{ n, parts, want int }{{0, 4, 1}, {1, 4, 1}, {7, 2, 2}, {100, 3, 3}, {5, 0, 1}} {
		seen := make([]int, c.n)
		used := map[int]bool{}
		var mu sync.Mutex
		Split(c.n, c.parts, func(part, lo, hi int) {
			mu.Lock()
			defer mu.Unlock()
			if used[part] {
				t.Errorf("n=%d parts=%d: part %d ran twice", c.n, c.parts, part)
			}
			used[part] = true
			for i := lo; i < hi; i++ {
				seen[i]++
			}
		})
		for i, k := range seen {
			if k != 1 {
				t.Errorf("n=%d parts=%d: index %d ran %d times", c.n, c.parts, i, k)
			}
		}
		if len(used) != c.want {
			t.Errorf("n=%d parts=%d: %d parts ran, want %d", c.n, c.parts, len(used), c.want)
		}
	}
}
