package secure

import (
	"errors"
	"fmt"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
)

// Op is a class of backend steps in a cost breakdown.
type Op int

const (
	OpLinear  Op = iota // linear layers (Q/K/V, O, FFN): their truncation round
	OpHead              // the LM head (a Linear)
	OpRope              // RoPE's truncation of q and k (Backend.Trunc)
	OpAttn              // attention products Q·Kᵀ and P·V against the caches (CacheMatMul)
	OpSoftmax           // causal softmax of all heads
	OpNorm              // RMSNorm / LayerNorm
	OpAct               // SiLU / GeLU
	OpMul               // elementwise products (SwiGLU's gate·up)
	NumOps
)

var opNames = [NumOps]string{"linear", "head", "rope", "attention", "softmax", "norm", "act", "mul"}

func (o Op) String() string {
	if o < 0 || o >= NumOps {
		return fmt.Sprintf("op(%d)", int(o))
	}
	return opNames[o]
}

// Breakdown is the cost of a forward pass, in total and per Op.
type Breakdown struct {
	Total hss.Cost
	Ops   [NumOps]hss.Cost
}

func (b *Breakdown) add(op Op, c hss.Cost) {
	b.Ops[op] = b.Ops[op].Add(c)
	b.Total = b.Total.Add(c)
}

// Map returns the per-Op costs keyed by the Op names (for JSON).
func (b Breakdown) Map() map[string]hss.Cost {
	m := make(map[string]hss.Cost, NumOps)
	for o := range NumOps {
		m[o.String()] = b.Ops[o]
	}
	return m
}

// Counter is a count-only Backend: on shapes only (Values false, like
// Dealer) it adds to Cost the exact costs every step would have on the
// Party and Dealer backends (same widths, Fx.Frac), from the hss.Cost*
// functions, without generating material: online bytes of both parties,
// rounds, and both parties' key bytes. Counting is proportional to the
// number of steps, not to their sizes.
//
// The Counter cannot tell the LM head from another Linear; Count files
// the last Linear of each pass (the head, always the last step of
// model.Forward) under OpHead.
type Counter struct {
	Fx           hss.Fixed
	Cost         Breakdown
	last         hss.Cost // the latest Linear's cost
	kRows, vRows []int    // cache lengths per layer
}

func (c *Counter) Values() bool { return false }

func (c *Counter) count(op Op, cost hss.Cost, err error) error {
	if err != nil {
		return fmt.Errorf("secure: count: %w", err)
	}
	c.Cost.add(op, cost)
	return nil
}

func (c *Counter) Linear(x Tensor, w *EncLinear) (Tensor, error) {
	cost, err := hss.CostLinear(x.Rows, w.Out, c.Fx.Frac, width)
	c.last = cost
	return Tensor{Rows: x.Rows, Cols: w.Out}, c.count(OpLinear, cost, err)
}

func (c *Counter) Linears(x Tensor, ws []*EncLinear) ([]Tensor, error) {
	out := make([]Tensor, len(ws))
	total := 0
	for i, w := range ws {
		out[i] = Tensor{Rows: x.Rows, Cols: w.Out}
		total += x.Rows * w.Out
	}
	cost, err := hss.CostTrunc(total, c.Fx.Frac, width)
	return out, c.count(OpLinear, cost, err)
}

func (c *Counter) Trunc(x Tensor) (Tensor, error) {
	cost, err := hss.CostTrunc(x.Rows*x.Cols, c.Fx.Frac, width)
	return Tensor{Rows: x.Rows, Cols: x.Cols}, c.count(OpRope, cost, err)
}

func (c *Counter) Mul(x, y Tensor) (Tensor, error) {
	cost, err := hss.CostMulFixed(x.Rows*x.Cols, c.Fx.Frac, width)
	return Tensor{Rows: x.Rows, Cols: x.Cols}, c.count(OpMul, cost, err)
}

func (c *Counter) attend(rows *[]int, layer int, xs, add []Tensor, group int, values bool) ([]Tensor, error) {
	if len(add) == 0 || len(xs) != len(add)*group {
		return nil, fmt.Errorf("secure: attention: %d heads for %d caches of group %d", len(xs), len(add), group)
	}
	for len(*rows) <= layer {
		*rows = append(*rows, 0)
	}
	k, t := add[0].Cols, (*rows)[layer]
	ks, ts := make([]int, len(add)), make([]int, len(add))
	for i := range ks {
		ks[i], ts[i] = k, t
	}
	prods, err := cacheProds(xs, group, values)
	if err != nil {
		return nil, err
	}
	cost, err := hss.CostCacheMatMul(ks, ts, add[0].Rows, prods, c.Fx.Frac, width)
	if err != nil {
		return nil, c.count(OpAttn, cost, err)
	}
	(*rows)[layer] = t + add[0].Rows
	out := make([]Tensor, len(xs))
	for h, x := range xs {
		cols := t + add[0].Rows
		if values {
			cols = k
		}
		out[h] = Tensor{Rows: x.Rows, Cols: cols}
	}
	return out, c.count(OpAttn, cost, nil)
}

func (c *Counter) AttendScores(layer int, qs, newK []Tensor, group int) ([]Tensor, error) {
	return c.attend(&c.kRows, layer, qs, newK, group, false)
}

func (c *Counter) AttendValues(layer int, ps, newV []Tensor, group int) ([]Tensor, error) {
	return c.attend(&c.vRows, layer, ps, newV, group, true)
}

func (c *Counter) Truncate(pos int) {
	for _, rs := range [][]int{c.kRows, c.vRows} {
		for i := range rs {
			rs[i] = min(rs[i], max(pos, 0))
		}
	}
}

func (c *Counter) Softmax(x Tensor, heads, pos0 int) (Tensor, error) {
	if heads < 1 || x.Rows%heads != 0 {
		return Tensor{}, fmt.Errorf("secure: softmax: %d rows for %d heads", x.Rows, heads)
	}
	cost, err := hss.CostSoftmaxHeads(heads, x.Rows/heads, x.Cols, pos0, c.Fx)
	return Tensor{Rows: x.Rows, Cols: x.Cols}, c.count(OpSoftmax, cost, err)
}

func (c *Counter) Norm(x Tensor, _ *EncNorm, _ float64, center bool) (Tensor, error) {
	cost, err := hss.CostNorm(x.Rows, x.Cols, c.Fx, center)
	return Tensor{Rows: x.Rows, Cols: x.Cols}, c.count(OpNorm, cost, err)
}

func (c *Counter) Act(x Tensor, gelu bool) (Tensor, error) {
	cost, err := hss.CostAct(x.Rows*x.Cols, c.Fx, gelu)
	return Tensor{Rows: x.Rows, Cols: x.Cols}, c.count(OpAct, cost, err)
}

var _ Backend = (*Counter)(nil)

// ShapeModel returns a weightless model of config cfg for the shape-only
// backends (Dealer, Counter): its layers carry the linear layers' shapes
// (Out, In), every weight slice is nil. model.Forward only passes pointers
// to its parts to the executor, and an Exec over a backend without values
// reads nothing of a layer but Linear.Out and Linear.In. It must not be
// given to an executor that needs weights (the plain Runner, EncodeWeights).
func ShapeModel(cfg model.Config) (*model.Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("secure: %w", err)
	}
	D, H, KV := cfg.Dim, cfg.HiddenDim, cfg.KVDim()
	m := &model.Model{Config: cfg, Layers: make([]model.Layer, cfg.NLayers)}
	for i := range m.Layers {
		L := &m.Layers[i]
		L.Wq = model.Linear{Out: D, In: D}
		L.Wk = model.Linear{Out: KV, In: D}
		L.Wv = model.Linear{Out: KV, In: D}
		L.Wo = model.Linear{Out: D, In: D}
		L.W1 = model.Linear{Out: H, In: D}
		L.W2 = model.Linear{Out: D, In: H}
		if cfg.Arch == model.ArchLlama {
			L.W3 = model.Linear{Out: H, In: D}
		}
	}
	return m, nil
}

// CountResult holds the exact costs of HSS inference with one model
// config: the prefill of Prompt tokens (one forward pass, logits of the
// last position) and each of Decode single-token passes after it (step i
// at position Prompt+i).
type CountResult struct {
	Config  model.Config
	Fx      hss.Fixed
	Prompt  int
	Prefill Breakdown
	Decode  []Breakdown
}

// DecodeMean is the mean cost of a decoded token over the decode steps
// (rounded down; zero without steps).
func (r CountResult) DecodeMean() Breakdown {
	var b Breakdown
	n := int64(len(r.Decode))
	if n == 0 {
		return b
	}
	for _, d := range r.Decode {
		for o := range NumOps {
			b.add(o, d.Ops[o])
		}
	}
	b.Total = b.Total.Div(n)
	for o := range b.Ops {
		b.Ops[o] = b.Ops[o].Div(n)
	}
	return b
}

// Count returns the exact costs of a prefill of prompt tokens and of
// decode single-token steps after it, with fixed-point encoding fx, as the
// Party and Dealer backends would incur them (see Counter): it runs
// model.Forward over a weightless model (ShapeModel) with an Exec on a
// Counter. It takes time proportional to the number of layers and steps
// and no memory proportional to the model's weights or keys.
func Count(cfg model.Config, fx hss.Fixed, prompt, decode int) (CountResult, error) {
	if prompt < 1 || decode < 0 {
		return CountResult{}, errors.New("secure: count: need at least one prompt token and no negative decode steps")
	}
	if prompt+decode > cfg.MaxSeqLen {
		return CountResult{}, fmt.Errorf("secure: count: %d+%d positions exceed the context %d", prompt, decode, cfg.MaxSeqLen)
	}
	m, err := ShapeModel(cfg)
	if err != nil {
		return CountResult{}, err
	}
	ctr := &Counter{Fx: fx}
	e, err := NewExec(cfg, fx, nil, ctr, prompt+decode)
	if err != nil {
		return CountResult{}, err
	}
	pass := func(rows, pos0 int) (Breakdown, error) {
		ctr.Cost, ctr.last = Breakdown{}, hss.Cost{}
		if _, err := model.Forward[Tensor](e, m, Tensor{Rows: rows, Cols: cfg.Dim}, rows, pos0, true); err != nil {
			return Breakdown{}, fmt.Errorf("secure: count: %w", err)
		}
		b := ctr.Cost
		b.Ops[OpLinear] = b.Ops[OpLinear].Add(ctr.last.Scale(-1))
		b.Ops[OpHead] = b.Ops[OpHead].Add(ctr.last)
		return b, nil
	}
	res := CountResult{Config: cfg, Fx: fx, Prompt: prompt}
	if res.Prefill, err = pass(prompt, 0); err != nil {
		return res, err
	}
	for i := range decode {
		b, err := pass(1, prompt+i)
		if err != nil {
			return res, err
		}
		res.Decode = append(res.Decode, b)
	}
	return res, nil
}
