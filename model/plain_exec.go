package model

import "fmt"

// plainExec is the plain float32 executor behind Runner: Executor[[]float32]
// on the runner's pool, RoPE tables and key/value cache. Values live in the
// runner's arena, which BeginLayer recycles (a layer needs at most
// layerScratch(cfg) values per row); the residual stream is the runner's
// input buffer, updated in place by AddInto. Requests beyond the arena
// (the LM head's logits) are allocated.
type plainExec struct {
	r   *Runner
	off int
}

// layerScratch bounds the values per row that one layer (or the head,
// except its logits) takes from the arena.
func layerScratch(c Config) int {
	return 5*c.Dim + 2*c.KVDim() + 3*c.HiddenDim
}

func (e *plainExec) reset() { e.off = 0 }

func (e *plainExec) take(n int) []float32 {
	if e.off+n > len(e.r.arena) {
		return make([]float32, n)
	}
	b := e.r.arena[e.off : e.off+n : e.off+n]
	e.off += n
	return b
}

func (e *plainExec) BeginLayer(int) error {
	e.off = 0
	return nil
}

func (e *plainExec) Norm(x []float32, n *Norm, rows int) ([]float32, error) {
	c := e.r.cfg
	D := c.Dim
	out := e.take(rows * D)
	for i := 0; i < rows; i++ {
		if c.Arch == ArchGPT2 {
			layerNorm(out[i*D:(i+1)*D], x[i*D:(i+1)*D], n.W, n.B, c.NormEps)
		} else {
			rmsNorm(out[i*D:(i+1)*D], x[i*D:(i+1)*D], n.W, c.NormEps)
		}
	}
	return out, nil
}

func (e *plainExec) Linear(x []float32, l *Linear, rows int) ([]float32, error) {
	y := e.take(rows * l.Out)
	return y, e.r.pool.MatMul(y, x, l.W, l.B, rows, l.Out, l.In)
}

func (e *plainExec) Linears(x []float32, ls [3]*Linear, rows int) ([3][]float32, error) {
	var out [3][]float32
	for i, l := range ls {
		if l != nil {
			var err error
			if out[i], err = e.Linear(x, l, rows); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

func (e *plainExec) AddInto(acc, y []float32) ([]float32, error) {
	if len(acc) != len(y) {
		return nil, fmt.Errorf("%w: add: %d and %d values", ErrShape, len(acc), len(y))
	}
	addInto(acc, y)
	return acc, nil
}

func (e *plainExec) Rope(q, k []float32, rows, pos0 int) ([]float32, []float32, error) {
	c := e.r.cfg
	hd, D, KV := c.HeadDim(), c.Dim, c.KVDim()
	half := hd / 2
	for i := 0; i < rows; i++ {
		p := pos0 + i
		cs, sn := e.r.cos[p*half:(p+1)*half], e.r.sin[p*half:(p+1)*half]
		rotate(q[i*D:(i+1)*D], hd, c.RopeStyle, cs, sn)
		rotate(k[i*KV:(i+1)*KV], hd, c.RopeStyle, cs, sn)
	}
	return q, k, nil
}

func (e *plainExec) Attend(layer int, q, k, v []float32, rows, pos0 int) ([]float32, error) {
	r, c := e.r, e.r.cfg
	KV := c.KVDim()
	off := layer * r.maxSeq * KV
	copy(r.key[off+pos0*KV:off+(pos0+rows)*KV], k)
	copy(r.val[off+pos0*KV:off+(pos0+rows)*KV], v)
	out := e.take(rows * c.Dim)
	// Heads in parallel (see attendPart).
	r.attnPos0, r.attnN = pos0, rows
	r.attnQ, r.attnOut = q, out
	r.attnKey = r.key[off : off+(pos0+rows)*KV]
	r.attnVal = r.val[off : off+(pos0+rows)*KV]
	r.pool.For(rows*c.NHeads, r.attnFn)
	return out, nil
}

func (e *plainExec) Act(x []float32, rows int) ([]float32, error) {
	if e.r.cfg.Arch == ArchGPT2 {
		for i, v := range x {
			x[i] = GeLU(v)
		}
	} else {
		for i, v := range x {
			x[i] = SiLU(v)
		}
	}
	return x, nil
}

func (e *plainExec) Mul(a, b []float32, rows int) ([]float32, error) {
	if len(a) != len(b) {
		return nil, fmt.Errorf("%w: mul: %d and %d values", ErrShape, len(a), len(b))
	}
	b = b[:len(a)]
	for i := range a {
		a[i] *= b[i]
	}
	return a, nil
}

func (e *plainExec) Head(x []float32, rows int) ([]float32, error) {
	c := e.r.cfg
	y := e.take(rows * c.VocabSize)
	return y, e.r.pool.MatMul(y, x, e.r.m.LMHead, nil, rows, c.VocabSize, c.Dim)
}

func (e *plainExec) Rows(x []float32, from, n, cols int) ([]float32, error) {
	return x[from*cols : (from+n)*cols], nil
}

func addInto(x, y []float32) {
	y = y[:len(x)]
	for i := range x {
		x[i] += y[i]
	}
}
