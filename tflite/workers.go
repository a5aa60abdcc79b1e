package tflite

import (
	"sync"
	"sync/atomic"
	"time"
)

// ranger is a piece of kernel work over an index range. Kernels implement
// it on pointers to state prepared in advance, so dispatching work to the
// pool does not allocate.
//
// chunk numbers the pieces of one parallel call from 0; no two pieces of a
// call share a number, so kernels use it to pick scratch memory.
type ranger interface {
	run(lo, hi, chunk int)
}

// pool runs ranges on n-1 worker goroutines plus the caller.
//
// A MobileNet runs some sixty operators of a few tens of microseconds each,
// so handing work over must cost far less than waking a sleeping goroutine
// (tens of microseconds). Workers therefore spin for a short while after
// each job, watching a generation counter, before they block on a channel;
// the caller likewise spins for the last chunks before it blocks. That is
// how XNNPACK's thread pool keeps threads useful on small operators.
type pool struct {
	n int

	// The current job, written by the caller before it publishes claim.
	r    ranger
	size int
	step int

	// claim packs the job's generation (high 32 bits), its number of
	// chunks (16 bits) and the next chunk to hand out (low 16 bits). A
	// worker owns a chunk only by moving claim forward with a CAS, which
	// also proves the job is still the current one: so job fields are
	// never read while the caller rewrites them for the next job.
	claim   atomic.Uint64
	gen     atomic.Uint32 // the current job's generation, watched by idle workers
	pending atomic.Int64  // chunks not finished
	closed  atomic.Bool

	wake     []chan struct{} // one per worker: a token after each job starts
	finished chan struct{}   // a token when the last chunk ends
	once     sync.Once
}

// spinTime is how long idle workers (and the waiting caller) spin before
// they sleep. It outlasts the serial operators at the end of a classifier
// (MobileNetV2's 1-pixel convolution to 1001 classes, RESHAPE and SOFTMAX
// take about 80 us), so that back-to-back invokes (calibration, eval,
// benchmarks) find the workers awake: at 50 us they slept, and waking them
// made the first two operators no faster on 2 threads than on one.
const spinTime = 200 * time.Microsecond

func newPool(threads int) *pool {
	p := &pool{n: max(1, threads), finished: make(chan struct{}, 1)}
	for i := 1; i < p.n; i++ {
		ch := make(chan struct{}, 1)
		p.wake = append(p.wake, ch)
		go p.worker(ch)
	}
	return p
}

func (p *pool) worker(wake <-chan struct{}) {
	seen := uint32(0)
	for {
		g := p.gen.Load()
		if g == seen {
			g = p.waitJob(seen, wake)
		}
		if p.closed.Load() {
			return
		}
		seen = g
		p.work(g)
	}
}

// waitJob spins until the generation moves past seen, then sleeps.
func (p *pool) waitJob(seen uint32, wake <-chan struct{}) uint32 {
	deadline := time.Now().Add(spinTime)
	for i := 0; ; i++ {
		if g := p.gen.Load(); g != seen || p.closed.Load() {
			return g
		}
		if i%64 == 63 && time.Now().After(deadline) {
			break
		}
	}
	for {
		<-wake
		if g := p.gen.Load(); g != seen || p.closed.Load() {
			return g
		}
	}
}

// work claims and runs chunks of job g until none is left.
func (p *pool) work(g uint32) {
	for {
		v := p.claim.Load()
		if uint32(v>>32) != g || v&0xffff >= (v>>16)&0xffff {
			return // another job, or no chunk left
		}
		if !p.claim.CompareAndSwap(v, v+1) {
			continue
		}
		p.runChunk(int(v & 0xffff))
	}
}

// runChunk runs chunk c of the current job and signals the caller when it
// was the last one.
func (p *pool) runChunk(c int) {
	lo := c * p.step
	p.r.run(lo, min(p.size, lo+p.step), c)
	if p.pending.Add(-1) == 0 {
		select {
		case p.finished <- struct{}{}:
		default:
		}
	}
}

func (p *pool) close() {
	p.once.Do(func() {
		p.closed.Store(true)
		for _, ch := range p.wake {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	})
}

// parallel runs r over [0, n) split into at most p.n chunks of at least
// grain indices each, and returns when all are done.
func (p *pool) parallel(n, grain int, r ranger) {
	if grain < 1 {
		grain = 1
	}
	chunks := min(p.n, (n+grain-1)/grain)
	if chunks <= 1 || p.closed.Load() {
		if n > 0 {
			r.run(0, n, 0)
		}
		return
	}
	step := (n + chunks - 1) / chunks
	chunks = (n + step - 1) / step
	// Every chunk of the previous job is done, so no worker can claim one
	// of it or read these fields any more.
	p.r, p.size, p.step = r, n, step
	p.pending.Store(int64(chunks))
	g := p.gen.Load() + 1
	// The caller keeps chunk 0 and workers claim from chunk 1 on, so each
	// thread tends to get the same part of every operator: the rows it
	// writes are the rows the next operator reads, still in its own cache.
	p.claim.Store(uint64(g)<<32 | uint64(chunks)<<16 | 1)
	p.gen.Store(g)
	for _, ch := range p.wake {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	p.runChunk(0)
	p.work(g)
	// Wait for the other chunks, so the next call can reuse the job fields.
	deadline := time.Now().Add(spinTime)
	for i := 0; p.pending.Load() > 0; i++ {
		if i%64 == 63 && time.Now().After(deadline) {
			for p.pending.Load() > 0 {
				<-p.finished
			}
			break
		}
	}
	select { // drop a token left by this job
	case <-p.finished:
	default:
	}
}
