package f32

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool runs kernels across a fixed set of persistent worker goroutines plus
// the calling goroutine. Each call is cut into chunks that the participants
// claim from an atomic counter, so a thread that the operating system
// deschedules (the machine is often shared) delays only the chunk it holds,
// not a fixed half of the work. Dispatch allocates nothing and spins
// briefly on atomics (a decode step issues dozens of short products back to
// back) before parking on a channel, so an idle pool costs no CPU.
//
// A Pool is safe for concurrent use; concurrent calls are serialised.
type Pool struct {
	mu      sync.Mutex // serialises callers
	threads int
	workers []*worker
	closed  bool        // guarded by mu
	quit    atomic.Bool // closed, for the workers

	// posted is odd while the caller rewrites job, even once it is
	// published; workers read job only inside an active section that
	// started while posted held the job's (even) number.
	// The hot atomics sit on separate cache lines: workers poll posted
	// while chunks are being claimed and finished.
	_        [64]byte
	posted   atomic.Uint64
	_        [56]byte
	active   atomic.Int64
	_        [56]byte
	next     atomic.Int64 // next chunk to claim
	_        [56]byte
	done     atomic.Int64 // chunks finished
	_        [56]byte
	waiting  atomic.Bool // the caller is parked on finished
	job      task
	finished chan struct{}
}

// spinFor bounds how long a worker (or a waiting caller) busy-waits before
// parking.
const spinFor = 50 * time.Microsecond

const (
	taskMatMul = iota + 1
	taskFor
)

// task is one call: total items (matmul output columns, or For indices) cut
// into chunks of size grain.
type task struct {
	kind         int
	y, x, w, b   []float32
	n, out, in   int
	total, grain int64
	chunks       int64
	fn           func(part, lo, hi int)
}

type worker struct {
	_        [64]byte // keep neighbouring workers' flags on separate lines
	sleeping atomic.Bool
	wake     chan struct{}
	_        [64]byte
}

// maxThreads caps a pool's size.
const maxThreads = 64

// NewPool starts a pool that runs work on threads goroutines (the caller's
// plus threads-1 workers). threads <= 0 means runtime.GOMAXPROCS(0); at most
// 64 threads are used.
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	threads = min(threads, maxThreads)
	p := &Pool{threads: threads, finished: make(chan struct{}, 1)}
	for i := 1; i < threads; i++ {
		w := &worker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		go p.loop(w, i)
	}
	return p
}

// Threads is the number of goroutines that share each call's work.
func (p *Pool) Threads() int { return p.threads }

// Close stops the workers. Later calls run serially on the caller.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.quit.Store(true)
	p.posted.Add(2)
	for _, w := range p.workers {
		signal(w.wake)
	}
	p.workers = nil
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (p *Pool) loop(w *worker, part int) {
	var last uint64
	for {
		s := p.waitPosted(w, last)
		if p.quit.Load() {
			return
		}
		last = s
		p.active.Add(1)
		if p.posted.Load() == s {
			p.work(part)
		}
		p.active.Add(-1)
	}
}

// waitPosted returns the next published job number after last.
func (p *Pool) waitPosted(w *worker, last uint64) uint64 {
	ready := func() (uint64, bool) {
		s := p.posted.Load()
		return s, s != last && s&1 == 0
	}
	if s, ok := spinUntil(ready); ok {
		return s
	}
	for {
		w.sleeping.Store(true)
		if s, ok := ready(); ok {
			w.sleeping.Store(false)
			return s
		}
		<-w.wake
		w.sleeping.Store(false)
		if s, ok := ready(); ok {
			return s
		}
	}
}

// work claims and runs chunks of the current job until none are left.
func (p *Pool) work(part int) {
	t := &p.job
	for {
		c := p.next.Add(1) - 1
		if c >= t.chunks {
			return
		}
		lo := c * t.grain
		hi := min(lo+t.grain, t.total)
		switch t.kind {
		case taskMatMul:
			matmulCols(t.y, t.x, t.w, t.b, t.n, t.out, t.in, int(lo), int(hi))
		case taskFor:
			t.fn(part, int(lo), int(hi))
		}
		if p.done.Add(1) == t.chunks && p.waiting.Load() {
			signal(p.finished)
		}
	}
}

// run publishes t, works on it, and returns when every chunk is done.
func (p *Pool) run(t task) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Once every chunk is done no worker can claim another, so nothing
	// reads the job's data any more: drop it, so that the pool (reachable
	// from its goroutines) does not keep the caller's buffers or closure,
	// and through them the caller, alive.
	defer func() {
		j := &p.job
		j.y, j.x, j.w, j.b, j.fn = nil, nil, nil, nil, nil
	}()
	p.posted.Add(1) // odd: job is being rewritten
	if _, ok := spinUntil(func() (uint64, bool) { return 0, p.active.Load() == 0 }); !ok {
		for p.active.Load() != 0 {
			runtime.Gosched()
		}
	}
	p.job = t
	p.next.Store(0)
	p.done.Store(0)
	p.posted.Add(1) // even: published
	if p.closed {
		p.work(0)
		return
	}
	for _, w := range p.workers {
		if w.sleeping.Load() {
			signal(w.wake)
		}
	}
	p.work(0)
	finished := func() (uint64, bool) { return 0, p.done.Load() == t.chunks }
	if _, ok := spinUntil(finished); ok {
		return
	}
	for {
		p.waiting.Store(true)
		if _, ok := finished(); ok {
			p.waiting.Store(false)
			return
		}
		<-p.finished
		p.waiting.Store(false)
		if _, ok := finished(); ok {
			return
		}
	}
}

// spinUntil polls cond for up to spinFor, yielding the processor now and
// then so an oversubscribed machine still makes progress.
func spinUntil(cond func() (uint64, bool)) (uint64, bool) {
	var start time.Time
	for i := 0; ; i++ {
		if s, ok := cond(); ok {
			return s, true
		}
		if i&255 == 255 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > spinFor {
				return 0, false
			}
			runtime.Gosched()
		}
	}
}

// ErrShape is wrapped by the errors of MatMul for inconsistent sizes.
var ErrShape = errors.New("f32: bad shape")

// chunkFlops is the work (multiply-adds) of one claimable chunk: small
// enough to balance two threads on a 288-wide matrix-vector product, large
// enough that claiming costs nothing.
const chunkFlops = 1 << 14

// MatMul sets y[i][o] = Σ_k x[i][k]·w[o][k] (+ b[o]) for i < n, o < out,
// with y [n][out], x [n][in], w [out][in] and b [out] or nil, all row-major.
// Output columns are shared among the pool's threads in chunks of whole
// 4-row weight blocks.
func (p *Pool) MatMul(y, x, w, b []float32, n, out, in int) error {
	if err := checkMatMul(y, x, w, b, n, out, in); err != nil {
		return err
	}
	if n == 0 || out == 0 {
		return nil
	}
	work := int64(n) * int64(out) * int64(in)
	if p.threads <= 1 || work < 2*chunkFlops {
		matmulCols(y, x, w, b, n, out, in, 0, out)
		return nil
	}
	grain := (chunkFlops/(int64(n)*int64(in)) + 3) &^ 3
	grain = max(grain, 4)
	// At least a few chunks per thread; never more than needed.
	if c := int64(out) / (2 * int64(p.threads)); grain > c {
		grain = max(4, c&^3)
	}
	p.run(task{kind: taskMatMul, y: y, x: x, w: w, b: b, n: n, out: out, in: in,
		total: int64(out), grain: grain, chunks: (int64(out) + grain - 1) / grain})
	return nil
}

// MatMul is Pool.MatMul on the calling goroutine only.
func MatMul(y, x, w, b []float32, n, out, in int) error {
	if err := checkMatMul(y, x, w, b, n, out, in); err != nil {
		return err
	}
	if n > 0 && out > 0 {
		matmulCols(y, x, w, b, n, out, in, 0, out)
	}
	return nil
}

func checkMatMul(y, x, w, b []float32, n, out, in int) error {
	switch {
	case n < 0 || out < 0 || in <= 0:
		return fmt.Errorf("%w: matmul: n=%d out=%d in=%d", ErrShape, n, out, in)
	case n > len(x)/in || len(x) < n*in:
		return fmt.Errorf("%w: matmul: x has %d elements, want %d×%d", ErrShape, len(x), n, in)
	case out > len(w)/in || len(w) < out*in:
		return fmt.Errorf("%w: matmul: w has %d elements, want %d×%d", ErrShape, len(w), out, in)
	case out > 0 && (n > len(y)/out || len(y) < n*out):
		return fmt.Errorf("%w: matmul: y has %d elements, want %d×%d", ErrShape, len(y), n, out)
	case b != nil && len(b) < out:
		return fmt.Errorf("%w: matmul: bias has %d elements, want %d", ErrShape, len(b), out)
	}
	return nil
}

// For calls fn(part, lo, hi) over disjoint ranges that cover [0, n),
// concurrently on the pool's threads. part (below Threads()) names the
// calling thread: one part may get several ranges, one after another, but
// never two at once, so fn may use per-part scratch space. fn should be a
// value built once (not a fresh closure per call) to keep the call
// allocation-free.
func (p *Pool) For(n int, fn func(part, lo, hi int)) {
	if n <= 0 {
		return
	}
	if p.threads <= 1 || n == 1 {
		fn(0, 0, n)
		return
	}
	grain := max(1, int64(n)/(8*int64(p.threads)))
	p.run(task{kind: taskFor, fn: fn, total: int64(n), grain: grain, chunks: (int64(n) + grain - 1) / grain})
}
