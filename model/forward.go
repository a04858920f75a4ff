package model

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/hssee/hssee/kernel/f32"
)

// maxChunk is how many positions a Runner pushes through each layer at once
// during batched prefill; longer inputs are processed chunk by chunk.
const maxChunk = 128

// ErrContext is wrapped by Runner errors for inputs that would run past the
// runner's sequence capacity.
var ErrContext = errors.New("model: context full")

// ErrTokenRange is wrapped by Runner errors for token ids outside the
// vocabulary.
var ErrTokenRange = errors.New("model: token id out of range")

// Runner is the plain executor: a float32 CPU forward pass over a Model with
// preallocated run state and a key/value cache, in the style of llama2.c's
// run.c (Karpathy, 2023) but batched: the tokens of a call go through every
// layer together as a matrix, with causal attention over cache and chunk.
//
// A Runner is not safe for concurrent use. It keeps a pool of worker
// goroutines; Close releases them (they are also released when the Runner
// becomes unreachable).
type Runner struct {
	m      *Model
	cfg    Config
	maxSeq int
	pos    int
	pool   *f32.Pool

	// Input activations of one chunk [maxChunk][Dim], and scratch for the
	// values of one layer (see plainExec).
	x     []float32
	arena []float32
	// KV cache, [NLayers][maxSeq][KVDim] each.
	key, val []float32
	att      []float32 // [threads][maxSeq] attention scratch
	logits   []float32 // [VocabSize]
	cos, sin []float32 // RoPE table [maxSeq][HeadDim/2] (LLaMA)

	// Arguments of the parallel attention body, set before each call.
	attnFn           func(part, lo, hi int)
	attnPos0         int
	attnN            int
	attnQ, attnOut   []float32
	attnKey, attnVal []float32

	exec plainExec
}

// NewRunner checks m and returns a runner for up to maxSeq positions
// (maxSeq <= 0 means the model's context length), sharing work across
// runtime.GOMAXPROCS(0) threads.
func NewRunner(m *Model, maxSeq int) (*Runner, error) {
	return NewRunnerThreads(m, maxSeq, 0)
}

// NewRunnerThreads is NewRunner with an explicit thread count (<= 0 means
// runtime.GOMAXPROCS(0)).
func NewRunnerThreads(m *Model, maxSeq, threads int) (*Runner, error) {
	if m == nil {
		return nil, errors.New("model: new runner: nil model")
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("model: new runner: %w", err)
	}
	c := m.Config
	if maxSeq <= 0 {
		maxSeq = c.MaxSeqLen
	}
	if maxSeq > c.MaxSeqLen {
		return nil, fmt.Errorf("%w: new runner: max seq %d exceeds the model's context %d", ErrContext, maxSeq, c.MaxSeqLen)
	}
	pool := f32.NewPool(threads)
	chunk := min(maxChunk, maxSeq)
	cacheLen := c.NLayers * maxSeq * c.KVDim()
	r := &Runner{
		m: m, cfg: c, maxSeq: maxSeq, pool: pool,
		x:      make([]float32, chunk*c.Dim),
		arena:  make([]float32, chunk*layerScratch(c)),
		key:    make([]float32, cacheLen),
		val:    make([]float32, cacheLen),
		att:    make([]float32, pool.Threads()*maxSeq),
		logits: make([]float32, c.VocabSize),
	}
	if c.Arch == ArchLlama {
		r.cos, r.sin = ropeTable(maxSeq, c.HeadDim(), c.RopeTheta)
	}
	r.attnFn = r.attendPart
	r.exec = plainExec{r: r}
	runtime.AddCleanup(r, func(p *f32.Pool) { p.Close() }, pool)
	return r, nil
}

// Close stops the runner's worker goroutines; the runner keeps working,
// single-threaded.
func (r *Runner) Close() { r.pool.Close() }

// Pos is the number of positions in the cache (the position of the next
// token).
func (r *Runner) Pos() int { return r.pos }

// MaxSeq is the runner's capacity in positions.
func (r *Runner) MaxSeq() int { return r.maxSeq }

// Reset empties the cache.
func (r *Runner) Reset() { r.pos = 0 }

// Config is the configuration of the runner's model.
func (r *Runner) Config() Config { return r.cfg }

func (r *Runner) check(op string, ids []int) error {
	if len(ids) == 0 {
		return fmt.Errorf("model: %s: no tokens", op)
	}
	if len(ids) > r.maxSeq-r.pos {
		return fmt.Errorf("%w: %s: %d tokens at position %d exceed capacity %d", ErrContext, op, len(ids), r.pos, r.maxSeq)
	}
	for i, id := range ids {
		if id < 0 || id >= r.cfg.VocabSize {
			return fmt.Errorf("%w: %s: token at index %d not in [0, %d)", ErrTokenRange, op, i, r.cfg.VocabSize)
		}
	}
	return nil
}

// Forward appends ids at the current position and returns the logits
// predicting the token after the last one. The slice is owned by the runner
// and valid until its next call. On error the runner is unchanged.
func (r *Runner) Forward(ids []int) ([]float32, error) {
	if err := r.check("forward", ids); err != nil {
		return nil, err
	}
	for len(ids) > 0 {
		n := min(len(ids), maxChunk)
		logits, err := r.chunk(ids[:n], true)
		if err != nil {
			return nil, err
		}
		copy(r.logits, logits)
		ids = ids[n:]
	}
	return r.logits, nil
}

// ForwardAll appends ids at the current position and returns the logits
// after every one of them (teacher forcing): row i predicts the token after
// ids[i]. The rows share one freshly allocated array.
func (r *Runner) ForwardAll(ids []int) ([][]float32, error) {
	if err := r.check("forward all", ids); err != nil {
		return nil, err
	}
	V := r.cfg.VocabSize
	flat := make([]float32, len(ids)*V)
	rows := make([][]float32, len(ids))
	for i := range rows {
		rows[i] = flat[i*V : (i+1)*V : (i+1)*V]
	}
	done := 0
	for done < len(ids) {
		n := min(len(ids)-done, maxChunk)
		logits, err := r.chunk(ids[done:done+n], false)
		if err != nil {
			return nil, err
		}
		copy(flat[done*V:(done+n)*V], logits)
		done += n
	}
	return rows, nil
}

// chunk embeds ids (at most maxChunk, checked) at r.pos and runs them
// through Forward with the plain executor, returning the logits of the last
// row (last) or of every row. They alias the runner's scratch.
func (r *Runner) chunk(ids []int, last bool) ([]float32, error) {
	n := len(ids)
	x := r.x[:n*r.cfg.Dim]
	if err := r.m.EmbedInto(x, ids, r.pos); err != nil {
		return nil, err
	}
	r.exec.reset()
	logits, err := Forward[[]float32](&r.exec, r.m, x, n, r.pos, last)
	if err != nil {
		return nil, fmt.Errorf("model: forward: %w", err)
	}
	r.pos += n
	return logits, nil
}

// attendPart runs attention tasks [lo, hi); task t is head t/n, row t%n, so
// each thread gets whole heads and an even share of long and short rows.
func (r *Runner) attendPart(part, lo, hi int) {
	c := r.cfg
	att := r.att[part*r.maxSeq : (part+1)*r.maxSeq]
	for t := lo; t < hi; t++ {
		attendOne(r.attnOut, r.attnQ, r.attnKey, r.attnVal, att, t%r.attnN, t/r.attnN,
			r.attnPos0, c.NHeads, c.NKVHeads, c.HeadDim())
	}
}
