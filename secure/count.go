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
	OpRope              // RoPE's truncation of q and k, fused with the q, k, v projections' (Backend.TruncWide)
	OpAttn              // attention products Q·Kᵀ and P·V against the caches (CacheMatMul)
	OpSoftmax           // causal softmax of all heads
	OpNorm              // RMSNorm / LayerNorm
	OpAct               // SiLU / GeLU
	OpMul               // elementwise products (SwiGLU's gate·up, untruncated: W2 truncates)
	NumOps
)

var opNames = [NumOps]string{"linear", "head", "rope", "attention", "softmax", "norm", "act", "mul"}

func (o Op) String() string {
	if o < 0 || o >= NumOps {
		return fmt.Sprintf("op(%d)", int(o))
	}
	return opNames[o]
}

// Breakdown is the cost of a forward pass, in total, per Op and per gate stage.
type Breakdown struct {
	Total hss.Cost
	Ops   [NumOps]hss.Cost
	// Stages is the cost per Op and stage of its gate (hss.Stage: a sub-gate such as a norm's
	// squares or its rsqrt's comparison), summed over the pass, in the order of first use. They add
	// up to Ops and Total; the sum of their Crit is the pass's critical path (its rounds, while every
	// stage opens after the previous one).
	Stages []StageCost
	index  map[string]int
}

// StageCost is the cost of one stage of one Op's gates over a pass: Calls gates ran it.
type StageCost struct {
	Op    Op    `json:"-"`
	Calls int64 `json:"calls"`
	hss.Stage
}

// Key names the stage in a breakdown: op/stage.
func (s StageCost) Key() string { return s.Op.String() + "/" + s.Name }

func (b *Breakdown) add(op Op, c hss.Cost) {
	b.Ops[op] = b.Ops[op].Add(c)
	b.Total = b.Total.Add(c)
}

// addStage adds calls runs of stage s of op (negative calls and cost remove them).
func (b *Breakdown) addStage(op Op, s hss.Stage, calls int64) {
	k := op.String() + "/" + s.Name
	if b.index == nil {
		b.index = map[string]int{}
	}
	i, ok := b.index[k]
	if !ok {
		i = len(b.Stages)
		b.index[k] = i
		b.Stages = append(b.Stages, StageCost{Op: op, Stage: hss.Stage{Name: s.Name}})
	}
	e := &b.Stages[i]
	e.Calls += calls
	e.Cost = e.Cost.Add(s.Cost)
	e.Crit += s.Crit
}

// dropEmpty removes the stages that no call ran (the linear layers'
// truncation when the head was the only one left: Count moves it to OpHead).
func (b *Breakdown) dropEmpty() {
	kept := b.Stages[:0]
	b.index = map[string]int{}
	for _, s := range b.Stages {
		if s.Calls == 0 && s.Cost == (hss.Cost{}) {
			continue
		}
		b.index[s.Op.String()+"/"+s.Name] = len(kept)
		kept = append(kept, s)
	}
	b.Stages = kept
}

// addStages adds one call of a gate of op with the given stages.
func (b *Breakdown) addStages(op Op, st []hss.Stage) {
	for _, s := range st {
		b.addStage(op, s, 1)
	}
}

// one is the single-stage breakdown of a gate of cost c.
func one(name string, c hss.Cost) []hss.Stage {
	return []hss.Stage{{Name: name, Cost: c, Crit: c.Rounds}}
}

// prefix names every stage pre/name.
func prefix(pre string, st []hss.Stage) []hss.Stage {
	for i := range st {
		st[i].Name = pre + "/" + st[i].Name
	}
	return st
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
// Party and Dealer backends at the same hss.Params (handed over by
// NewExec), from the hss.Cost* functions, without generating material:
// online bytes of both parties, rounds, and both parties' key bytes. Counting is proportional to the
// number of steps, not to their sizes.
//
// The Counter cannot tell the LM head from another Linear; Count files
// the last Linear of each pass (the head, always the last step of
// model.Forward) under OpHead.
type Counter struct {
	params
	Cost         Breakdown
	last         []hss.Stage // the latest Linear's stages
	kRows, vRows []int       // cache lengths per layer
}

func (c *Counter) Values() bool { return false }

func (c *Counter) count(op Op, cost hss.Cost, err error) error {
	return c.countStages(op, one("trunc", cost), err)
}

func (c *Counter) countStages(op Op, st []hss.Stage, err error) error {
	if err != nil {
		return fmt.Errorf("secure: count: %w", err)
	}
	c.Cost.add(op, hss.SumStages(st))
	c.Cost.addStages(op, st)
	return nil
}

func (c *Counter) Linear(x Tensor, w *EncLinear) (Tensor, error) {
	frac, bits := c.prm.Frac, c.prm.Width
	if x.Raw {
		frac, bits = c.prm.Frac+x.extraBits(c.prm.Frac), 64
	}
	cost, err := hss.CostLinear(x.Rows, w.Out, frac, bits)
	c.last = one("trunc", cost)
	return Tensor{Rows: x.Rows, Cols: w.Out}, c.count(OpLinear, cost, err)
}

func (c *Counter) Linears(x Tensor, ws []*EncLinear) ([]Tensor, error) {
	out := make([]Tensor, len(ws))
	total := 0
	for i, w := range ws {
		out[i] = Tensor{Rows: x.Rows, Cols: w.Out}
		total += x.Rows * w.Out
	}
	cost, err := hss.CostTrunc(total, c.prm.Frac, c.prm.Width)
	return out, c.count(OpLinear, cost, err)
}

func (c *Counter) LinearsRaw(x Tensor, ws []*EncLinear) ([]Tensor, error) {
	return linearShapes(x, ws), nil
}

// Settle is a Linears group's truncation (OpLinear).
func (c *Counter) Settle(x Tensor) (Tensor, error) {
	cost, err := hss.CostTrunc(x.Rows*x.Cols, c.prm.Frac, c.prm.Width)
	return Tensor{Rows: x.Rows, Cols: x.Cols}, c.count(OpLinear, cost, err)
}

// TruncWide is the fused truncation of the projections q, k, v and RoPE (OpRope), or (frac other
// than 2·Frac) the truncation of linear layers of a norm's raw output (OpLinear).
func (c *Counter) TruncWide(x Tensor, frac uint) (Tensor, error) {
	cost, err := hss.CostTrunc(x.Rows*x.Cols, frac, 64)
	if frac != 2*c.prm.Frac {
		return Tensor{Rows: x.Rows, Cols: x.Cols}, c.countStages(OpLinear, one("normraw.trunc", cost), err)
	}
	return Tensor{Rows: x.Rows, Cols: x.Cols}, c.countStages(OpRope, one("qkv+rope.trunc", cost), err)
}

func (c *Counter) Trunc(x Tensor) (Tensor, error) {
	cost, err := hss.CostTrunc(x.Rows*x.Cols, c.prm.Frac, c.prm.Width)
	return Tensor{Rows: x.Rows, Cols: x.Cols}, c.count(OpRope, cost, err)
}

func (c *Counter) Mul(x, y Tensor) (Tensor, error) {
	cost, err := hss.CostMul(x.Rows*x.Cols, 64)
	return Tensor{Rows: x.Rows, Cols: x.Cols, Raw: true}, c.countStages(OpMul, one("mul", cost), err)
}

// scoreCall is one attention step's shapes in the counter: the key caches' widths ks and lengths ts
// before the step (all t), the new rows add and the products.
type scoreCall struct {
	ks, ts []int
	t, add int
	prods  []hss.CacheProd
}

func (c *Counter) scores(layer int, qs, newK []Tensor, group int) (scoreCall, error) {
	prods, err := cacheProds(qs, newK, group)
	if err != nil {
		return scoreCall{}, err
	}
	for len(c.kRows) <= layer {
		c.kRows = append(c.kRows, 0)
	}
	sc := scoreCall{t: c.kRows[layer], add: newK[0].Rows, ks: make([]int, len(newK)), ts: make([]int, len(newK)), prods: prods}
	for i := range sc.ks {
		sc.ks[i], sc.ts[i] = newK[0].Cols, sc.t
	}
	return sc, nil
}

// scoreOutputs advances layer's key cache past a counted step and returns the scores' shapes.
func (c *Counter) scoreOutputs(layer int, sc scoreCall, qs []Tensor, width uint) []Tensor {
	c.kRows[layer] = sc.t + sc.add
	out := make([]Tensor, len(qs))
	for h, x := range qs {
		out[h] = Tensor{Rows: x.Rows, Cols: sc.t + sc.add, width: width}
	}
	return out
}

func (c *Counter) AttendScores(layer int, qs, newK []Tensor, group int) ([]Tensor, error) {
	sc, err := c.scores(layer, qs, newK, group)
	if err != nil {
		return nil, err
	}
	st, err := hss.CostCacheMatMulRawStages(sc.ks, sc.ts, sc.add, sc.prods, c.prm.Frac, c.prm.Width)
	if err := c.countStages(OpAttn, prefix("qk", st), err); err != nil {
		return nil, err
	}
	return c.scoreOutputs(layer, sc, qs, c.prm.Width), nil
}

func (c *Counter) AttendScoresTrunc(layer int, qs, newK []Tensor, v Tensor, group int, frac uint) ([]Tensor, Tensor, error) {
	sc, err := c.scores(layer, qs, newK, group)
	if err != nil {
		return nil, Tensor{}, err
	}
	bits := hss.ScoreBits(c.prm.Fixed())
	st, err := hss.CostCacheMatMulTruncStages(sc.ks, sc.ts, sc.add, sc.prods, v.Rows*v.Cols, frac, bits, c.prm.Fixed(), true)
	if err := c.countStages(OpAttn, prefix("qkv+qk", st), err); err != nil {
		return nil, Tensor{}, err
	}
	return c.scoreOutputs(layer, sc, qs, bits), Tensor{Rows: v.Rows, Cols: v.Cols}, nil
}

func (c *Counter) Truncate(pos int) {
	for _, rs := range [][]int{c.kRows, c.vRows} {
		for i := range rs {
			rs[i] = min(rs[i], max(pos, 0))
		}
	}
}

func (c *Counter) SoftmaxValues(layer int, x Tensor, heads, pos0 int, newV []Tensor, group int) ([]Tensor, error) {
	rows, rawBits, err := c.smvArgs(x, heads, newV)
	if err != nil {
		return nil, err
	}
	for len(c.vRows) <= layer {
		c.vRows = append(c.vRows, 0)
	}
	k := newV[0].Cols
	ks, before := make([]int, len(newV)), make([]int, len(newV))
	for i := range ks {
		ks[i], before[i] = k, c.vRows[layer]
	}
	st, err := hss.CostSoftmaxValuesStages(heads, rows, pos0, c.prm.Fixed(), rawBits, ks, before, group)
	if err := c.countStages(OpSoftmax, st, err); err != nil {
		return nil, err
	}
	c.vRows[layer] += rows
	out := make([]Tensor, heads)
	for h := range out {
		out[h] = Tensor{Rows: rows, Cols: k}
	}
	return out, nil
}

func (c *Counter) NormRes(x, _ Tensor, shift uint, _ *EncNorm, _ float64) (Tensor, Tensor, error) {
	st, err := hss.CostRMSNormResStages(x.Rows, x.Cols, c.prm.Fixed(), c.resTrunc(shift))
	y := Tensor{Rows: x.Rows, Cols: x.Cols}
	return y, y, c.countStages(OpNorm, prefix("rmsnorm", st), err)
}

func (c *Counter) NormRaw(x Tensor, t *Tensor, shift uint, _ float64, center bool) (Tensor, Tensor, error) {
	var res *hss.ResTrunc
	if t != nil {
		r := c.resTrunc(shift)
		res = &r
	}
	st, err := hss.CostNormRawStages(x.Rows, x.Cols, c.prm.Fixed(), center, res)
	kind := "rmsnorm"
	if center {
		kind = "layernorm"
	}
	return x, c.normRawOut(x, nil), c.countStages(OpNorm, prefix(kind, st), err)
}

func (c *Counter) NormScale(x Tensor, t *Tensor, shift uint, _ float64) (Tensor, *Scale, error) {
	var res *hss.ResTrunc
	if t != nil {
		r := c.resTrunc(shift)
		res = &r
	}
	st, err := hss.CostNormScaleStages(x.Rows, x.Cols, c.prm.Fixed(), false, res)
	return x, &Scale{Rows: x.Rows, Dim: x.Cols}, c.countStages(OpNorm, prefix("rmsnorm", st), err)
}

func (c *Counter) ScaleRows(x Tensor, s *Scale, _ []uint64, inFrac uint) (Tensor, error) {
	if s == nil || x.Rows != s.Rows {
		return Tensor{}, fmt.Errorf("secure: scale rows: %d rows for the factor of %d rows", x.Rows, scaleRows(s))
	}
	cost, err := hss.CostScaleRows(hss.UniformLens(x.Rows, x.Cols), s.Dim, c.prm.Fixed(), inFrac)
	return Tensor{Rows: x.Rows, Cols: x.Cols}, c.countStages(OpNorm, one("rmsnorm/scale", cost), err)
}

func (c *Counter) Norm(x Tensor, _ *EncNorm, _ float64, center bool) (Tensor, error) {
	st, err := hss.CostNormStages(x.Rows, x.Cols, c.prm.Fixed(), center)
	kind := "rmsnorm"
	if center {
		kind = "layernorm"
	}
	return Tensor{Rows: x.Rows, Cols: x.Cols}, c.countStages(OpNorm, prefix(kind, st), err)
}

func (c *Counter) Act(x Tensor, gelu bool) (Tensor, error) {
	st, err := hss.CostActStages(x.Rows*x.Cols, c.prm.Fixed(), gelu)
	kind := "silu"
	if gelu {
		kind = "gelu"
	}
	return Tensor{Rows: x.Rows, Cols: x.Cols}, c.countStages(OpAct, prefix(kind, st), err)
}

func (c *Counter) SiLUMul(g, _ Tensor) (Tensor, error) {
	st, err := hss.CostSiLUMulStages(g.Rows*g.Cols, c.prm.Fixed())
	return Tensor{Rows: g.Rows, Cols: g.Cols, Raw: true}, c.countStages(OpAct, prefix("silumul", st), err)
}

func (c *Counter) GeLURaw(x Tensor, frac uint) (Tensor, error) {
	st, err := hss.CostGeLURawStages(x.Rows*x.Cols, c.prm.Fixed(), frac, c.rawWidth(frac))
	return Tensor{Rows: x.Rows, Cols: x.Cols}, c.countStages(OpAct, prefix("gelur", st), err)
}

func (c *Counter) SiLUMulRaw(g, _ Tensor, frac uint) (Tensor, error) {
	st, err := hss.CostSiLUMulRawStages(g.Rows*g.Cols, c.prm.Fixed(), frac, c.rawWidth(frac))
	return Tensor{Rows: g.Rows, Cols: g.Cols, Raw: true}, c.countStages(OpAct, prefix("silumulr", st), err)
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
	Params  hss.Params
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
		for _, s := range d.Stages {
			b.addStage(s.Op, s.Stage, s.Calls)
		}
	}
	b.Total = b.Total.Div(n)
	for o := range b.Ops {
		b.Ops[o] = b.Ops[o].Div(n)
	}
	for i := range b.Stages {
		s := &b.Stages[i]
		s.Calls, s.Cost, s.Crit = s.Calls/n, s.Cost.Div(n), s.Crit/n
	}
	return b
}

// Count returns the exact costs of a prefill of prompt tokens and of
// decode single-token steps after it, at parameters prm, as the
// Party and Dealer backends would incur them (see Counter): it runs
// model.Forward over a weightless model (ShapeModel) with an Exec on a
// Counter. It takes time proportional to the number of layers and steps
// and no memory proportional to the model's weights or keys.
func Count(cfg model.Config, prm hss.Params, prompt, decode int) (CountResult, error) {
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
	ctr := &Counter{}
	e, err := NewExec(cfg, prm, nil, ctr, prompt+decode)
	if err != nil {
		return CountResult{}, err
	}
	pass := func(rows, pos0 int) (Breakdown, error) {
		ctr.Cost, ctr.last = Breakdown{}, nil
		if _, err := model.Forward[Tensor](e, m, Tensor{Rows: rows, Cols: cfg.Dim}, rows, pos0, true); err != nil {
			return Breakdown{}, fmt.Errorf("secure: count: %w", err)
		}
		b := ctr.Cost
		last := hss.SumStages(ctr.last)
		b.Ops[OpLinear] = b.Ops[OpLinear].Add(last.Scale(-1))
		b.Ops[OpHead] = b.Ops[OpHead].Add(last)
		for _, s := range ctr.last {
			b.addStage(OpHead, s, 1)
			s.Cost, s.Crit = s.Cost.Scale(-1), -s.Crit
			b.addStage(OpLinear, s, -1)
		}
		b.dropEmpty()
		return b, nil
	}
	res := CountResult{Config: cfg, Params: prm, Prompt: prompt}
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
