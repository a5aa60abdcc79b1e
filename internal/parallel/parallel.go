// Package parallel splits index ranges across goroutines.
package parallel

import "sync"

// Split runs fn on [0, n) cut into at most parts contiguous ranges of
// near-equal size, part numbering them from 0 (for per-part scratch). Part
// 0 runs on the calling goroutine, the others on their own; Split returns
// when all are done. Which indices a part gets depends only on n and parts.
func Split(n, parts int, fn func(part, lo, hi int)) {
	parts = max(1, min(parts, n))
	var wg sync.WaitGroup
	for p := 1; p < parts; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(p, p*n/parts, (p+1)*n/parts)
		}()
	}
	fn(0, 0, n/parts)
	wg.Wait()
}
