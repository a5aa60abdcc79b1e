package tflite

import "sync"

// ranger is a piece of kernel work over an index range. Kernels implement
// it on pointers to state prepared in advance, so dispatching work to the
// pool does not allocate.
//
// chunk numbers the pieces of one parallel call from 0; no two pieces of a
// call share a number, so kernels use it to pick scratch memory.
type ranger interface {
	run(lo, hi, chunk int)
}

type task struct {
	r             ranger
	lo, hi, chunk int
	wg            *sync.WaitGroup
}

// pool runs ranges on n-1 worker goroutines plus the caller.
type pool struct {
	n    int
	work chan task
	wg   sync.WaitGroup
	once sync.Once
}

func newPool(threads int) *pool {
	if threads < 1 {
		threads = 1
	}
	p := &pool{n: threads}
	if threads > 1 {
		p.work = make(chan task, threads)
		for i := 1; i < threads; i++ {
			go worker(p.work)
		}
	}
	return p
}

func worker(work <-chan task) {
	for t := range work {
		t.r.run(t.lo, t.hi, t.chunk)
		t.wg.Done()
	}
}

func (p *pool) close() {
	p.once.Do(func() {
		if p.work != nil {
			close(p.work)
		}
		p.n = 1
	})
}

// parallel runs r over [0, n) split into at most p.n chunks of at least
// grain indices each, and returns when all are done.
func (p *pool) parallel(n, grain int, r ranger) {
	if grain < 1 {
		grain = 1
	}
	chunks := p.n
	if max := (n + grain - 1) / grain; chunks > max {
		chunks = max
	}
	if chunks <= 1 {
		if n > 0 {
			r.run(0, n, 0)
		}
		return
	}
	step := (n + chunks - 1) / chunks
	chunks = (n + step - 1) / step
	p.wg.Add(chunks - 1)
	for c := 1; c < chunks; c++ {
		p.work <- task{r: r, lo: c * step, hi: min(n, (c+1)*step), chunk: c, wg: &p.wg}
	}
	r.run(0, step, 0)
	p.wg.Wait()
}
