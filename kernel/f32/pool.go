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
// the calling goroutine. Dispatch allocates nothing: each worker has one task
// slot, and hand-off spins briefly on atomics (a decode step issues dozens of
// short matrix products back to back) before falling back to blocking on a
// channel, so an idle pool costs no CPU.
//
// A Pool is safe for concurrent use; concurrent calls are serialised.
type Pool struct {
	mu      sync.Mutex
	threads int
	workers []*worker
	closed  bool
}

// spinFor bounds how long a worker (or a waiting caller) busy-waits before
// parking.
const spinFor = 50 * time.Microsecond

const (
	taskMatMul = iota + 1
	taskFor
)

type task struct {
	kind       int
	y, x, w, b []float32
	n, out, in int
	lo, hi     int
	part       int
	fn         func(part, lo, hi int)
}

func (t *task) run() {
	switch t.kind {
	case taskMatMul:
		matmulCols(t.y, t.x, t.w, t.b, t.n, t.out, t.in, t.lo, t.hi)
	case taskFor:
		t.fn(t.part, t.lo, t.hi)
	}
}

type worker struct {
	_        [64]byte // keep the hot atomics of neighbouring workers apart
	posted   atomic.Uint64
	done     atomic.Uint64
	sleeping atomic.Bool
	waiting  atomic.Bool
	quit     atomic.Bool
	wake     chan struct{}
	finished chan struct{}
	t        task
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
	p := &Pool{threads: threads}
	for i := 1; i < threads; i++ {
		w := &worker{wake: make(chan struct{}, 1), finished: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		go w.loop()
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
	for _, w := range p.workers {
		w.quit.Store(true)
		w.posted.Add(1)
		w.signal(w.wake)
	}
	p.workers = nil
}

func (w *worker) signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (w *worker) loop() {
	var last uint64
	for {
		last = w.waitPosted(last)
		if w.quit.Load() {
			return
		}
		w.t.run()
		w.done.Store(last)
		if w.waiting.Load() {
			w.signal(w.finished)
		}
	}
}

// waitPosted returns the next posted sequence number after last.
func (w *worker) waitPosted(last uint64) uint64 {
	if s, ok := spinUntil(func() (uint64, bool) { s := w.posted.Load(); return s, s != last }); ok {
		return s
	}
	for {
		w.sleeping.Store(true)
		if s := w.posted.Load(); s != last {
			w.sleeping.Store(false)
			return s
		}
		<-w.wake
		w.sleeping.Store(false)
		if s := w.posted.Load(); s != last {
			return s
		}
	}
}

// post hands t to the worker and returns its sequence number.
func (w *worker) post(t task) uint64 {
	w.t = t
	s := w.posted.Add(1)
	if w.sleeping.Load() {
		w.signal(w.wake)
	}
	return s
}

// await blocks until the task numbered s has finished.
func (w *worker) await(s uint64) {
	if _, ok := spinUntil(func() (uint64, bool) { return 0, w.done.Load() == s }); ok {
		return
	}
	for {
		w.waiting.Store(true)
		if w.done.Load() == s {
			w.waiting.Store(false)
			return
		}
		<-w.finished
		w.waiting.Store(false)
		if w.done.Load() == s {
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

// minPartFlops is the least work (multiply-adds) worth giving one thread.
const minPartFlops = 1 << 14

// MatMul sets y[i][o] = Σ_k x[i][k]·w[o][k] (+ b[o]) for i < n, o < out,
// with y [n][out], x [n][in], w [out][in] and b [out] or nil, all row-major.
// Output columns are split across the pool's threads.
func (p *Pool) MatMul(y, x, w, b []float32, n, out, in int) error {
	if err := checkMatMul(y, x, w, b, n, out, in); err != nil {
		return err
	}
	if n == 0 || out == 0 {
		return nil
	}
	// Parts of whole 4-row weight blocks.
	blocks := (out + 3) / 4
	parts := min(p.threads, blocks, max(1, n*out*in/minPartFlops))
	if parts <= 1 {
		matmulCols(y, x, w, b, n, out, in, 0, out)
		return nil
	}
	per := (blocks + parts - 1) / parts * 4
	p.run(parts, func(i int) task {
		lo := min(i*per, out)
		return task{kind: taskMatMul, y: y, x: x, w: w, b: b, n: n, out: out, in: in, lo: lo, hi: min(lo+per, out)}
	})
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

// For splits [0, n) into at most Threads() contiguous ranges and calls
// fn(part, lo, hi) once per range, concurrently; part numbers are distinct
// and below Threads(), so fn may index per-thread scratch space with them.
// fn should be a value built once (not a fresh closure per call) to keep the
// call allocation-free.
func (p *Pool) For(n int, fn func(part, lo, hi int)) {
	if n <= 0 {
		return
	}
	parts := min(p.threads, n)
	if parts <= 1 {
		fn(0, 0, n)
		return
	}
	per := (n + parts - 1) / parts
	p.run(parts, func(i int) task {
		lo := min(i*per, n)
		return task{kind: taskFor, fn: fn, part: i, lo: lo, hi: min(lo+per, n)}
	})
}

// run executes mk(0) on the caller and mk(1..parts-1) on workers.
func (p *Pool) run(parts int, mk func(i int) task) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.workers) < parts-1 {
		for i := 0; i < parts; i++ {
			t := mk(i)
			t.run()
		}
		return
	}
	var seqs [maxThreads]uint64
	for i := 1; i < parts; i++ {
		seqs[i] = p.workers[i-1].post(mk(i))
	}
	t := mk(0)
	t.run()
	for i := 1; i < parts; i++ {
		p.workers[i-1].await(seqs[i])
	}
}
