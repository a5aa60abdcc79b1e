package trainer

import (
	"context"
	"sync"
	"sync/atomic"
)

// forEach calls fn(w, i) for i in [0, n) on the given number of
// goroutines (w numbers the goroutine, for per-worker state) and returns when
// all calls are done, or ctx's error once it is cancelled (calls in flight
// finish; no new ones start).
func forEach(ctx context.Context, n, workers int, fn func(w, i int)) error {
	workers = max(1, min(workers, n))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(w, i)
			}
		}(w)
	}
	wg.Wait()
	return ctx.Err()
}
