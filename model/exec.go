package model

import "fmt"

// Executor is what the forward pass needs from whoever runs it, on
// activations of type T (row-major [rows][cols], one row per position):
// the plain float32 Runner, the dealer (shapes only: it produces every
// gate's correlated randomness in consumption order) and a party (secret
// shares, with the peer). Weights are public to every executor and passed
// by pointer into the model, so an executor may cache an encoding of them.
// The executor knows the model's Config (norm and activation kinds, RoPE).
//
// An executor's methods may return values that alias its scratch space:
// BeginLayer(l) declares that nothing produced before it is used again
// except the residual stream, which Forward keeps only through AddInto.
type Executor[T any] interface {
	// BeginLayer starts layer l (l == NLayers: the final norm and head).
	BeginLayer(l int) error
	// Norm is the model's normalisation (RMSNorm or LayerNorm) of each row
	// of x [rows][Dim] with gains (and bias) n.
	Norm(x T, n *Norm, rows int) (T, error)
	// Linear is x·Wᵀ + b for x [rows][l.In].
	Linear(x T, l *Linear, rows int) (T, error)
	// Linears is Linear for up to three layers on the same input (nil
	// entries are skipped): Q, K, V or gate and up, which a secure executor
	// finishes in one round.
	Linears(x T, ls [3]*Linear, rows int) ([3]T, error)
	// AddInto adds y into acc (same shape) and returns acc.
	AddInto(acc, y T) (T, error)
	// Rope applies rotary position embeddings to every head of the queries
	// q [rows][Dim] and keys k [rows][KVDim]; row i is at position pos0+i.
	// It may work in place.
	Rope(q, k T, rows, pos0 int) (T, T, error)
	// Attend appends k and v [rows][KVDim] to layer's cache at pos0 and
	// returns causal attention softmax(q·kᵀ/√HeadDim)·v for q [rows][Dim]
	// over every cached position up to each row's own.
	Attend(layer int, q, k, v T, rows, pos0 int) (T, error)
	// Act is the model's activation (SiLU or tanh-GeLU) of x [rows][HiddenDim].
	Act(x T, rows int) (T, error)
	// Mul is the elementwise product of a and b [rows][HiddenDim].
	Mul(a, b T, rows int) (T, error)
	// Rows returns rows [from, from+n) of x [·][cols].
	Rows(x T, from, n, cols int) (T, error)
	// Head is the LM head: x [rows][Dim] times LMHeadᵀ, [rows][VocabSize].
	Head(x T, rows int) (T, error)
}

// Forward runs every layer of m on the input activations x [rows][Dim]
// (token embeddings, plus learned positions for GPT-2: see EmbedInto) for
// positions pos0 … pos0+rows−1, then the final norm and the LM head, and
// returns the logits: of the last row only when last is true, else of every
// row ([rows][VocabSize]). It is the one definition of the transformer that
// every executor runs.
func Forward[T any](e Executor[T], m *Model, x T, rows, pos0 int, last bool) (T, error) {
	c := m.Config
	f := &fwd[T]{e: e}
	for l := range m.Layers {
		L := &m.Layers[l]
		f.begin(l)
		h := f.norm(x, &L.AttnNorm, rows)
		qkv := f.linears(h, [3]*Linear{&L.Wq, &L.Wk, &L.Wv}, rows)
		q, k, v := qkv[0], qkv[1], qkv[2]
		if c.Arch == ArchLlama {
			q, k = f.rope(q, k, rows, pos0)
		}
		a := f.attend(l, q, k, v, rows, pos0)
		x = f.addInto(x, f.linear(a, &L.Wo, rows))

		h = f.norm(x, &L.FFNNorm, rows)
		var g T
		if c.Arch == ArchLlama {
			gu := f.linears(h, [3]*Linear{&L.W1, &L.W3}, rows)
			g = f.mul(f.act(gu[0], rows), gu[1], rows)
		} else {
			g = f.act(f.linear(h, &L.W1, rows), rows)
		}
		x = f.addInto(x, f.linear(g, &L.W2, rows))
	}
	f.begin(len(m.Layers))
	if last && rows > 1 {
		x, rows = f.rows(x, rows-1, 1, c.Dim), 1
	}
	out := f.head(f.norm(x, &m.FinalNorm, rows), rows)
	return out, f.err
}

// EmbedInto writes the input activations of ids at positions pos0… into x
// [len(ids)][Dim]: embedding rows, plus learned positions for GPT-2. The
// ids must be in range.
func (m *Model) EmbedInto(x []float32, ids []int, pos0 int) error {
	D := m.Config.Dim
	if len(x) != len(ids)*D {
		return fmt.Errorf("%w: embed: output of %d values for %d ids", ErrShape, len(x), len(ids))
	}
	if m.Pos != nil && pos0+len(ids) > m.Config.MaxSeqLen {
		return fmt.Errorf("%w: embed: positions %d…%d beyond the context", ErrContext, pos0, pos0+len(ids)-1)
	}
	for i, id := range ids {
		if id < 0 || id >= m.Config.VocabSize {
			return fmt.Errorf("%w: embed: token at index %d", ErrTokenRange, i)
		}
		xr := x[i*D : (i+1)*D]
		copy(xr, m.Embed[id*D:(id+1)*D])
		if m.Pos != nil {
			for j, p := range m.Pos[(pos0+i)*D : (pos0+i+1)*D] {
				xr[j] += p
			}
		}
	}
	return nil
}

// fwd threads the first error through Forward so the pass reads like the
// model it computes: after an error every step is skipped.
type fwd[T any] struct {
	e   Executor[T]
	err error
}

func (f *fwd[T]) do(op string, fn func() (T, error)) T {
	var zero T
	if f.err != nil {
		return zero
	}
	v, err := fn()
	if err != nil {
		f.err = fmt.Errorf("%s: %w", op, err)
		return zero
	}
	return v
}

func (f *fwd[T]) begin(l int) {
	if f.err == nil {
		if err := f.e.BeginLayer(l); err != nil {
			f.err = fmt.Errorf("layer %d: %w", l, err)
		}
	}
}

func (f *fwd[T]) norm(x T, n *Norm, rows int) T {
	return f.do("norm", func() (T, error) { return f.e.Norm(x, n, rows) })
}

func (f *fwd[T]) linear(x T, l *Linear, rows int) T {
	return f.do("linear", func() (T, error) { return f.e.Linear(x, l, rows) })
}

func (f *fwd[T]) addInto(acc, y T) T {
	return f.do("add", func() (T, error) { return f.e.AddInto(acc, y) })
}

func (f *fwd[T]) linears(x T, ls [3]*Linear, rows int) [3]T {
	var zero [3]T
	if f.err != nil {
		return zero
	}
	out, err := f.e.Linears(x, ls, rows)
	if err != nil {
		f.err = fmt.Errorf("linear: %w", err)
		return zero
	}
	return out
}

func (f *fwd[T]) rope(q, k T, rows, pos0 int) (T, T) {
	var zero T
	if f.err != nil {
		return zero, zero
	}
	q, k, err := f.e.Rope(q, k, rows, pos0)
	if err != nil {
		f.err = fmt.Errorf("rope: %w", err)
		return zero, zero
	}
	return q, k
}

func (f *fwd[T]) attend(l int, q, k, v T, rows, pos0 int) T {
	return f.do("attention", func() (T, error) { return f.e.Attend(l, q, k, v, rows, pos0) })
}

func (f *fwd[T]) act(x T, rows int) T {
	return f.do("activation", func() (T, error) { return f.e.Act(x, rows) })
}

func (f *fwd[T]) mul(a, b T, rows int) T {
	return f.do("mul", func() (T, error) { return f.e.Mul(a, b, rows) })
}

func (f *fwd[T]) head(x T, rows int) T {
	return f.do("head", func() (T, error) { return f.e.Head(x, rows) })
}

func (f *fwd[T]) rows(x T, from, n, cols int) T {
	return f.do("rows", func() (T, error) { return f.e.Rows(x, from, n, cols) })
}
