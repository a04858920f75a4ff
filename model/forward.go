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

	// Activations for one chunk, row-major.
	x, xb, xb2, q []float32 // [maxChunk][Dim]
	hb, hb2       []float32 // [maxChunk][HiddenDim]
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
		xb:     make([]float32, chunk*c.Dim),
		xb2:    make([]float32, chunk*c.Dim),
		q:      make([]float32, chunk*c.Dim),
		hb:     make([]float32, chunk*c.HiddenDim),
		hb2:    make([]float32, chunk*c.HiddenDim),
		key:    make([]float32, cacheLen),
		val:    make([]float32, cacheLen),
		att:    make([]float32, pool.Threads()*maxSeq),
		logits: make([]float32, c.VocabSize),
	}
	if c.Arch == ArchLlama {
		r.cos, r.sin = ropeTable(maxSeq, c.HeadDim(), c.RopeTheta)
	}
	r.attnFn = r.attendPart
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
		if err := r.layers(ids[:n]); err != nil {
			return nil, err
		}
		if n == len(ids) {
			if err := r.head(r.logits, n-1, 1); err != nil {
				return nil, err
			}
		}
		r.pos += n
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
		if err := r.layers(ids[done : done+n]); err != nil {
			return nil, err
		}
		if err := r.head(flat[done*V:(done+n)*V], 0, n); err != nil {
			return nil, err
		}
		r.pos += n
		done += n
	}
	return rows, nil
}

// head writes the logits of chunk rows [from, from+n) into out ([n][Vocab]).
func (r *Runner) head(out []float32, from, n int) error {
	c, m := r.cfg, r.m
	D := c.Dim
	for i := from; i < from+n; i++ {
		r.norm(r.xb[i*D:(i+1)*D], r.x[i*D:(i+1)*D], m.FinalNorm)
	}
	return r.pool.MatMul(out, r.xb[from*D:(from+n)*D], m.LMHead, nil, n, c.VocabSize, D)
}

func (r *Runner) norm(out, x []float32, n Norm) {
	if r.cfg.Arch == ArchGPT2 {
		layerNorm(out, x, n.W, n.B, r.cfg.NormEps)
	} else {
		rmsNorm(out, x, n.W, r.cfg.NormEps)
	}
}

// layers embeds ids (at positions r.pos…) into r.x and runs every block,
// filling the cache. The ids have been checked.
func (r *Runner) layers(ids []int) error {
	c, m := r.cfg, r.m
	n, pos0 := len(ids), r.pos
	D, H, KV, hd := c.Dim, c.HiddenDim, c.KVDim(), c.HeadDim()
	gpt := c.Arch == ArchGPT2
	x, xb, xb2, q := r.x[:n*D], r.xb[:n*D], r.xb2[:n*D], r.q[:n*D]
	hb, hb2 := r.hb[:n*H], r.hb2[:n*H]

	for i, id := range ids {
		copy(x[i*D:(i+1)*D], m.Embed[id*D:(id+1)*D])
		if gpt {
			p := m.Pos[(pos0+i)*D : (pos0+i+1)*D]
			xr := x[i*D : (i+1)*D]
			for j := range xr {
				xr[j] += p[j]
			}
		}
	}
	for l := range m.Layers {
		L := &m.Layers[l]
		for i := 0; i < n; i++ {
			r.norm(xb[i*D:(i+1)*D], x[i*D:(i+1)*D], L.AttnNorm)
		}
		cacheOff := l * r.maxSeq * KV
		kc := r.key[cacheOff+pos0*KV : cacheOff+(pos0+n)*KV]
		vc := r.val[cacheOff+pos0*KV : cacheOff+(pos0+n)*KV]
		if err := r.linear(q, xb, L.Wq, n); err != nil {
			return err
		}
		if err := r.linear(kc, xb, L.Wk, n); err != nil {
			return err
		}
		if err := r.linear(vc, xb, L.Wv, n); err != nil {
			return err
		}
		if !gpt {
			half := hd / 2
			for i := 0; i < n; i++ {
				p := pos0 + i
				cs, sn := r.cos[p*half:(p+1)*half], r.sin[p*half:(p+1)*half]
				rotate(q[i*D:(i+1)*D], hd, c.RopeStyle, cs, sn)
				rotate(kc[i*KV:(i+1)*KV], hd, c.RopeStyle, cs, sn)
			}
		}
		// Attention over the cache, heads in parallel.
		r.attnPos0, r.attnN = pos0, n
		r.attnQ, r.attnOut = q, xb2
		r.attnKey = r.key[cacheOff : cacheOff+(pos0+n)*KV]
		r.attnVal = r.val[cacheOff : cacheOff+(pos0+n)*KV]
		r.pool.For(n*c.NHeads, r.attnFn)
		if err := r.linear(xb, xb2, L.Wo, n); err != nil {
			return err
		}
		addInto(x, xb)

		for i := 0; i < n; i++ {
			r.norm(xb[i*D:(i+1)*D], x[i*D:(i+1)*D], L.FFNNorm)
		}
		if err := r.linear(hb, xb, L.W1, n); err != nil {
			return err
		}
		if gpt {
			for i, v := range hb {
				hb[i] = GeLU(v)
			}
		} else {
			if err := r.linear(hb2, xb, L.W3, n); err != nil {
				return err
			}
			for i, v := range hb {
				hb[i] = SiLU(v) * hb2[i]
			}
		}
		if err := r.linear(xb, hb, L.W2, n); err != nil {
			return err
		}
		addInto(x, xb)
	}
	return nil
}

func (r *Runner) linear(y, x []float32, l Linear, n int) error {
	return r.pool.MatMul(y, x, l.W, l.B, n, l.Out, l.In)
}

func addInto(x, y []float32) {
	y = y[:len(x)]
	for i := range x {
		x[i] += y[i]
	}
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
