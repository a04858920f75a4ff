package fss

import (
	"runtime"
	"sync"
)

// Worker holds one goroutine's PRG state and scratch space; it is not safe for concurrent use.
type Worker struct {
	h   *hasher
	buf []uint64
	// window expansion: two alternating levels of seeds and control bits, and the leaf blocks
	lv   [2][]block
	lt   [2][]uint64
	lb   []block
	cur  int
	ws   []winState // batched window expansion: per-element state
	nls  []int      // and its elements' numbers of leaves (hashLeaves)
	pad  []uint64   // and its padded tables
	pts  []uint64   // EvalPoints: points, control-bit words, replicated seed and final word
	keys []int      // EvalPoints: key indices (portable path)
}

// level returns buffer which (0: current, 1: next) of the window expansion with room for n nodes.
func (w *Worker) level(which, n int) ([]block, []uint64) {
	j := w.cur ^ which
	if cap(w.lv[j]) < n {
		w.lv[j], w.lt[j] = make([]block, n, 2*n), make([]uint64, n, 2*n)
	}
	return w.lv[j][:n], w.lt[j][:n]
}

func (w *Worker) swap() { w.cur ^= 1 }

func (w *Worker) leafBlocks(n int) []block {
	if cap(w.lb) < n {
		w.lb = make([]block, n, 2*n)
	}
	return w.lb[:n]
}

// NewWorker returns a fresh worker.
func NewWorker() *Worker { return &Worker{h: newHasher()} }

func (w *Worker) scratch(n int) []uint64 {
	if cap(w.buf) < n {
		w.buf = make([]uint64, n)
	}
	return w.buf[:n]
}

// workers recycles ParallelFor's workers, so that their buffers (window levels and leaves) are not
// regrown on every call.
var workers = sync.Pool{New: func() any { return NewWorker() }}

func getWorker() *Worker { return workers.Get().(*Worker) }

// minChunk is the smallest number of elements worth a goroutine.
const minChunk = 64

// ParallelFor splits [0, n) into contiguous chunks and runs f on each with its own Worker, using up
// to GOMAXPROCS goroutines. It returns when all chunks are done.
func ParallelFor(n int, f func(w *Worker, lo, hi int)) { ParallelForGrain(n, minChunk, f) }

// ParallelForGrain is ParallelFor with at most ⌈n/grain⌉ chunks (a smaller grain for elements that
// each cost much, such as a whole row of DCF walks).
func ParallelForGrain(n, grain int, f func(w *Worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	g := runtime.GOMAXPROCS(0)
	if c := (n + grain - 1) / grain; c < g {
		g = c
	}
	if g <= 1 {
		w := getWorker()
		f(w, 0, n)
		workers.Put(w)
		return
	}
	var wg sync.WaitGroup
	step := (n + g - 1) / g
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			w := getWorker()
			f(w, lo, hi)
			workers.Put(w)
		}(lo, hi)
	}
	wg.Wait()
}
