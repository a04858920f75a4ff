package hss

import (
	"fmt"

	"github.com/hssee/hssee/hss/fss"
)

// Exact costs of the gates, without generating material or touching values: for planning, for the
// cost tables of experiments/costs and for the count-only backend of package secure.
//
// Every Cost* function mirrors its gate's Gen and Eval: the widths each opening is packed at (the
// Transport messages are PackBits of the opened vector, one message per party and round), the
// layout of every key (each key's own Size method is called on a shape-only key, or its closed form
// is used where the key would need per-element slices: lutKey, RowMulKey, seqKey framing), and the
// gate's sequence of sub-gates. The tests in cost_test.go compare each function with a real
// Gen/Eval run; a change to a gate that is not mirrored here fails them.

// Cost is the cost of one gate or of a sequence of gates.
type Cost struct {
	// Online is the number of bytes both parties send together (the sum of the BytesSent of their
	// transports' Stats).
	Online int64 `json:"online_bytes"`
	// Rounds is the number of Exchange calls of each party (the same for both).
	Rounds int64 `json:"rounds"`
	// Dealer is the size of both parties' keys together (Σ Key.Size, what dealer.Dealer.Bytes
	// reports): Dealer0 + Dealer1.
	Dealer int64 `json:"dealer_bytes"`
	// Dealer0 and Dealer1 are the sizes of party 0's and party 1's keys (party 0's are mostly
	// seeds: see the key types).
	Dealer0 int64 `json:"dealer_bytes_party0"`
	Dealer1 int64 `json:"dealer_bytes_party1"`
}

// Add returns c + o.
func (c Cost) Add(o Cost) Cost {
	return Cost{Online: c.Online + o.Online, Rounds: c.Rounds + o.Rounds, Dealer: c.Dealer + o.Dealer,
		Dealer0: c.Dealer0 + o.Dealer0, Dealer1: c.Dealer1 + o.Dealer1}
}

// Scale returns c with every field multiplied by k.
func (c Cost) Scale(k int64) Cost {
	return Cost{Online: c.Online * k, Rounds: c.Rounds * k, Dealer: c.Dealer * k, Dealer0: c.Dealer0 * k,
		Dealer1: c.Dealer1 * k}
}

// Div returns c with every field divided by k (k > 0), each rounded toward zero on its own: a mean
// of costs, whose Dealer may exceed Dealer0 + Dealer1 by one.
func (c Cost) Div(k int64) Cost {
	return Cost{Online: c.Online / k, Rounds: c.Rounds / k, Dealer: c.Dealer / k, Dealer0: c.Dealer0 / k,
		Dealer1: c.Dealer1 / k}
}

// keyCost is the dealer cost of one key per party, of k0 and k1 bytes.
func keyCost(k0, k1 int) Cost {
	return Cost{Dealer: int64(k0 + k1), Dealer0: int64(k0), Dealer1: int64(k1)}
}

// KeyCost is the dealer cost of a pair of keys (k0 party 0's, k1 party 1's), as the Cost functions
// count it.
func KeyCost(k0, k1 Key) Cost { return keyCost(k0.Size(), k1.Size()) }

// open is the cost of one OpenBits/ExchangeBits of n values at width bits: one round, each party
// sending PackedLen(n, bits) bytes.
func open(n int, bits uint) Cost {
	return Cost{Online: 2 * int64(PackedLen(n, bits)), Rounds: 1}
}

// part is one key of a composite (seqKey or FxKey) with its kind; label names it in a stage
// breakdown (the kind if empty) and sub, if set, is its own stages (a composite inside a composite),
// whose costs add up to c.
type part struct {
	kind  string
	c     Cost
	label string
	sub   []Stage
}

// Stage is one step of a gate (a sub-gate, or a group of sub-gates that share their rounds) in a
// cost breakdown: its name, its cost, and Crit, the number of its rounds on the critical path of the
// gate (rounds that cannot overlap with the gate's other stages). Every stage of a gate today opens its
// own rounds after the previous stage's, so Crit equals Rounds; a stage whose openings ride on
// another stage's exchanges would show Rounds > Crit. A gate's stages add up to its Cost (framing
// bytes of composite keys are counted in the stage of the part they frame).
type Stage struct {
	Name string `json:"stage"`
	Cost
	Crit int64 `json:"critical_rounds"`
}

// stage is a single-stage breakdown of c.
func stage(name string, c Cost) []Stage { return []Stage{{Name: name, Cost: c, Crit: c.Rounds}} }

// SumStages is the total cost of a breakdown.
func SumStages(st []Stage) Cost {
	var c Cost
	for _, s := range st {
		c = c.Add(s.Cost)
	}
	return c
}

// seqStages is seqCost by stage: the header bytes go with the first stage, each part's framing with
// its (first) stage; a nested part's stages are named label/stage.
func seqStages(name string, parts ...part) []Stage {
	hdr := keyCost(5, 5)
	if len(parts) == 0 {
		return []Stage{{Name: name, Cost: hdr}}
	}
	var out []Stage
	for i, p := range parts {
		f := 1 + len(p.kind) + 4
		fr := keyCost(f, f)
		if i == 0 {
			fr = fr.Add(hdr)
		}
		label := p.label
		if label == "" {
			label = p.kind
		}
		subs := stage(label, p.c)
		if p.sub != nil {
			subs = make([]Stage, len(p.sub))
			for j, s := range p.sub {
				s.Name = label + "/" + s.Name
				subs[j] = s
			}
		}
		subs[0].Cost = subs[0].Cost.Add(fr)
		out = append(out, subs...)
	}
	return out
}

// seqCost composes a seqKey's parts: 5 header bytes per party and, per part, its kind with a one-byte
// length and a four-byte size.
func seqCost(parts ...part) Cost { return SumStages(seqStages("", parts...)) }

// CostTrunc is the cost of Trunc (and of GenTrunc's keys) on n elements.
func CostTrunc(n int, frac, bits uint) (Cost, error) {
	bits = normBits(bits)
	if err := checkLen("cost trunc", n); err != nil {
		return Cost{}, err
	}
	if bits < 2 || bits > 64 || frac+2 > bits {
		return Cost{}, fmt.Errorf("hss: cost trunc: frac %d and width %d need 2 ≤ frac+2 ≤ width ≤ 64", frac, bits)
	}
	return costTrunc(n, frac, bits), nil
}

func costTrunc(n int, frac, bits uint) Cost {
	k0 := &TruncKey{Party: 0, Frac: frac, Bits: bits, N: n}
	k1 := &TruncKey{Party: 1, Frac: frac, Bits: bits, N: n}
	return open(n, bits).Add(keyCost(k0.Size(), k1.Size()))
}

// CostLinear is the cost of Linear with an [m][n] output (the local product is free).
func CostLinear(m, n int, frac, bits uint) (Cost, error) {
	l, ok := mulLen(m, n)
	if !ok {
		return Cost{}, fmt.Errorf("hss: cost linear: bad output shape %dx%d", m, n)
	}
	return CostTrunc(l, frac, bits)
}

// CostMul is the cost of Mul (untruncated Beaver product) on n elements at width bits.
func CostMul(n int, bits uint) (Cost, error) {
	bits = normBits(bits)
	if err := checkLen("cost mul", n); err != nil {
		return Cost{}, err
	}
	if bits > 64 {
		return Cost{}, fmt.Errorf("hss: cost mul: width %d > 64", bits)
	}
	return costMul(n, bits), nil
}

func costMul(n int, bits uint) Cost {
	return open(2*n, bits).Add(keyCost(vecKeySize(0, bits, n), vecKeySize(1, bits, n)))
}

func costSquare(n int, bits uint) Cost {
	return open(n, bits).Add(keyCost(vecKeySize(0, bits, n), vecKeySize(1, bits, n)))
}

// fxCost composes an FxKey: per party a kind byte and the kind, and two four-byte lengths.
func fxCost(kind string, prod, trunc Cost) Cost {
	f := 1 + len(kind) + 4 + 4
	return prod.Add(trunc).Add(keyCost(f, f))
}

// CostMulFixed is the cost of MulFixed on n elements.
func CostMulFixed(n int, frac, bits uint) (Cost, error) {
	st, err := CostMulFixedStages(n, frac, bits)
	return SumStages(st), err
}

// CostMulFixedStages is CostMulFixed by stage: the product (with the key's framing), its truncation.
func CostMulFixedStages(n int, frac, bits uint) ([]Stage, error) {
	bits = normBits(bits)
	if _, err := CostTrunc(n, frac, bits); err != nil {
		return nil, err
	}
	f := 1 + len("mul") + 4 + 4
	return append(stage("mul", costMul(n, bits).Add(keyCost(f, f))), stage("trunc", costTrunc(n, frac, bits))...), nil
}

func costMatMul(m, k, n int, bits uint) Cost {
	k0 := &MatMulKey{Party: 0, Bits: bits, M: m, K: k, N: n}
	k1 := &MatMulKey{Party: 1, Bits: bits, M: m, K: k, N: n}
	return keyCost(k0.Size(), k1.Size())
}

// CostMatMulBatch is the cost of MatMulBatch on the given shapes: one opening of every product's
// X − A and Y − B together, then one truncation of all outputs.
func CostMatMulBatch(shapes []MatShape, frac, bits uint) (Cost, error) {
	bits = normBits(bits)
	total, err := batchLen("cost matmul batch", shapes)
	if err != nil {
		return Cost{}, err
	}
	if _, err := CostTrunc(total, frac, bits); err != nil {
		return Cost{}, err
	}
	parts := make([]part, 0, len(shapes)+1)
	opened := 0
	for _, s := range shapes {
		parts = append(parts, part{kind: "matmul", c: costMatMul(s.M, s.K, s.N, bits)})
		opened += s.M*s.K + s.K*s.N
	}
	parts = append(parts, part{kind: "trunc", c: costTrunc(total, frac, bits)})
	c := seqCost(parts...)
	return c.Add(open(opened, bits)), nil
}

// costLUT is the cost of one lookup gate (genLUT / evalLUTWith) on n elements: one opening at the
// spec's width; per party the header, party 0's seed or party 1's mask shares (and sign shares), a
// DCF batch when the spec has a sign, and a DPF batch per table part, each with a four-byte length
// and the fss header (lutKeySize on shape-only batches).
func costLUT(n int, spec *lutSpec) Cost {
	var dcf *fss.DCFKeys
	if spec.signTerm || spec.signBit {
		dcf = &fss.DCFKeys{Bits: spec.parts[0].m - 1, P: 2, N: n}
	}
	var dpf0, dpf1 []*fss.DPFKeys
	for _, p := range spec.parts {
		if len(p.tabs) == 0 {
			continue
		}
		// genLUT: party 0's level-Top nodes come from a seed.
		dpf0 = append(dpf0, &fss.DPFKeys{Bits: p.m, Leaf: p.leaf(), Top: p.top(), P: p.payload(), N: n, Seeded: p.top() > 0})
		dpf1 = append(dpf1, &fss.DPFKeys{Bits: p.m, Leaf: p.leaf(), Top: p.top(), P: p.payload(), N: n})
	}
	ob := spec.openBits()
	return open(n, ob).Add(keyCost(lutKeySize(0, n, ob, dcf, dpf0), lutKeySize(1, n, ob, dcf, dpf1)))
}

// costOct is the cost of an octave lookup (genOct / evalOct) on n elements: the thresholds'
// comparison (64-bit opening), the mantissa lookup and the product with the octave factor.
func costOct(kind string, n int, s octSpec) (Cost, error) {
	st, err := octStages(kind, n, s)
	return SumStages(st), err
}

// octStages is costOct by stage.
func octStages(kind string, n int, s octSpec) ([]Stage, error) {
	pr, err := s.prep()
	if err != nil {
		return nil, fmt.Errorf("hss: cost %s: %w", kind, err)
	}
	cmp := costLUT(n, pr.cmp)
	cmp.Online, cmp.Rounds = open(n, 64).Online, 1 // evalThresholds opens at 64 bits
	return seqStages(kind, part{kind: kind + ".cmp", c: cmp, label: "cmp"}, part{kind: kind + ".lut", c: costLUT(n, pr.lut), label: "lut"},
		part{kind: "trunc", c: costTrunc(n, pr.lut.fb, pr.lut.tbits)}, part{kind: "mul", c: costMul(n, normBits(s.mulBits))}), nil
}

// octLOPart is the part of a composite that an octave lookup without its product (genOctLO) is,
// with its stages: the comparison, the mantissa lookup and its truncation.
func octLOPart(kind string, n int, s octSpec) (part, error) {
	pr, err := s.prep()
	if err != nil {
		return part{}, fmt.Errorf("hss: cost %s: %w", kind, err)
	}
	cmp := costLUT(n, pr.cmp)
	cmp.Online, cmp.Rounds = open(n, 64).Online, 1 // evalThresholds opens at 64 bits
	st := seqStages(kind, part{kind: kind + ".cmp", c: cmp, label: "cmp"}, part{kind: kind + ".lut", c: costLUT(n, pr.lut), label: "lut"},
		part{kind: "trunc", c: costTrunc(n, pr.lut.fb, pr.lut.tbits)})
	return part{kind: kind + ".lo", label: kind, c: SumStages(st), sub: st}, nil
}

// costRowMul3 is the cost of RowMul3 on rows rows of n elements in all.
func costRowMul3(rows, n int, bits uint) Cost {
	return open(n+2*rows, bits).Add(keyCost(rowMul3KeySize(0, rows, n, bits), rowMul3KeySize(1, rows, n, bits)))
}

// costRowMul is the cost of RowMul on rows rows of n elements in all.
func costRowMul(rows, n int, bits uint) Cost {
	k0 := 2 + 4 + PackedLen(rows, 32) + 32
	return open(n+rows, bits).Add(keyCost(k0, k0+PackedLen(n, bits)))
}

func costMax(rows, cols int, bits uint) Cost {
	pairs := maxPairs(cols)
	for i := range pairs {
		pairs[i] *= rows
	}
	return costMaxLevels(pairs, reluSpec(bits, true))
}

// costMaxLevels is the cost of maxRows (and genMaxRows's keys) with the given pairs per level
// (maxLevels) and comparison spec: one lookup gate per level.
func costMaxLevels(pairs []int, spec *lutSpec) Cost {
	return SumStages(maxStages(pairs, spec))
}

// maxStages is costMaxLevels by stage: one stage per level of the tree.
func maxStages(pairs []int, spec *lutSpec) []Stage {
	parts := make([]part, 0, len(pairs))
	for _, n := range pairs {
		parts = append(parts, part{kind: "relu", c: costLUT(n, spec)})
	}
	return seqStages("relu", parts...)
}

// CostMax is the cost of Max over rows×cols elements of width bits.
func CostMax(rows, cols int, bits uint) (Cost, error) {
	if _, err := checkShape("cost max", rows, cols); err != nil {
		return Cost{}, err
	}
	if err := checkCmpBits(bits); err != nil {
		return Cost{}, fmt.Errorf("hss: cost max: %w", err)
	}
	return costMax(rows, cols, bits), nil
}

// causalSum is Σ_i min(cols, pos0+i+1) over rows rows (the visible entries of a causal score matrix).
func causalSum(rows, cols, pos0 int) int {
	// Rows i < cols−pos0 see pos0+i+1 columns, the rest all cols.
	k := min(rows, max(cols-pos0, 0))
	return k*(pos0+1) + k*(k-1)/2 + (rows-k)*cols
}

// CostSoftmaxHeads is the cost of SoftmaxHeads on heads stacked causal score matrices [rows × cols]
// at offset pos0 (and of GenSoftmaxHeads's keys).
func CostSoftmaxHeads(heads, rows, cols, pos0 int, fx Fixed) (Cost, error) {
	st, err := CostSoftmaxHeadsStages(heads, rows, cols, pos0, fx)
	return SumStages(st), err
}

// CostSoftmaxHeadsStages is CostSoftmaxHeads by stage: the max tree's levels (max/relu), the exp
// lookup and its truncation, the reciprocal's stages, the row product and its truncation.
func CostSoftmaxHeadsStages(heads, rows, cols, pos0 int, fx Fixed) ([]Stage, error) {
	all, err := checkHeads("cost softmax", heads, rows)
	if err != nil {
		return nil, err
	}
	if _, err := checkSoftmax("cost softmax", all, cols, pos0, fx); err != nil {
		return nil, err
	}
	nv := heads * causalSum(rows, cols, pos0)
	if nv > MaxKeyLen {
		return nil, fmt.Errorf("hss: cost softmax: %d elements exceed %d", nv, MaxKeyLen)
	}
	_, mulBits, rs := smParams(fx)
	es, err := expSpec(fx)
	if err != nil {
		return nil, fmt.Errorf("hss: cost softmax: %w", err)
	}
	recip, err := octLOPart("recip", all, rs)
	if err != nil {
		return nil, err
	}
	// The max trees run over the visible entries of every row; all heads have the same rows.
	pairs := maxLevels(causalLens(rows, cols, pos0))
	for i := range pairs {
		pairs[i] *= heads
	}
	ms, _ := maxSpec(fx)
	mx := maxStages(pairs, ms)
	ex := polyStages("exp", nv, es)
	return seqStages("softmax",
		part{kind: "max", c: SumStages(mx), sub: mx},
		part{kind: "exp", c: SumStages(ex), sub: ex},
		recip,
		part{kind: "rowmul3", c: costRowMul3(all, nv, mulBits)},
		part{kind: "trunc", c: costTrunc(nv, rs.outFrac, mulBits)},
	), nil
}

// CostNorm is the cost of LayerNorm (center) or RMSNorm on rows×dim elements.
func CostNorm(rows, dim int, fx Fixed, center bool) (Cost, error) {
	st, err := CostNormStages(rows, dim, fx, center)
	return SumStages(st), err
}

// CostNormStages is CostNorm by stage: the mean's truncation (LayerNorm), the squares, the rsqrt's
// stages (on the untruncated sum of squares), the row product and the output's truncation.
func CostNormStages(rows, dim int, fx Fixed, center bool) ([]Stage, error) {
	n, err := checkNorm("cost norm", rows, dim, fx)
	if err != nil {
		return nil, err
	}
	sqBits, _, rs := normParams(fx, dim)
	var parts []part
	if center {
		parts = append(parts, part{kind: "trunc", c: costTrunc(rows, normMeanShift, 64), label: "mean.trunc"})
	}
	rsq, err := octLOPart("rsqrt", rows, rs)
	if err != nil {
		return nil, err
	}
	parts = append(parts,
		part{kind: "square", c: costSquare(n, sqBits)},
		rsq,
		part{kind: "rowmul3", c: costRowMul3(rows, n, 64)},
		part{kind: "trunc", c: costTrunc(n, fx.Frac+rs.outFrac, 64), label: "out.trunc"},
	)
	return seqStages("norm", parts...), nil
}

// CostAct is the cost of GeLU (gelu) or SiLU on n elements: the lookup with its sign and the
// truncation of its polynomial term (genAct / act).
func CostAct(n int, fx Fixed, gelu bool) (Cost, error) {
	st, err := CostActStages(n, fx, gelu)
	return SumStages(st), err
}

// CostActStages is CostAct by stage.
func CostActStages(n int, fx Fixed, gelu bool) ([]Stage, error) {
	if err := checkLen("cost act", n); err != nil {
		return nil, err
	}
	spec, kind := siluSpec, "silu"
	if gelu {
		spec, kind = geluSpec, "gelu"
	}
	s, err := spec(fx)
	if err != nil {
		return nil, fmt.Errorf("hss: cost act: %w", err)
	}
	return seqStages(kind, part{kind: kind + ".lut", c: costLUT(n, s.tab), label: "lut"},
		part{kind: "trunc", c: costTrunc(n, s.tab.fb, s.tab.tbits)}), nil
}

// costPolyGate is the cost of a polynomial lookup gate (genPolyGate / evalPolyGate): the lookup, then
// the truncation of its polynomial term.
func costPolyGate(kind string, n int, s *lutSpec) Cost { return SumStages(polyStages(kind, n, s)) }

// polyStages is costPolyGate by stage.
func polyStages(kind string, n int, s *lutSpec) []Stage {
	return seqStages(kind, part{kind: kind + ".lut", c: costLUT(n, s), label: "lut"}, part{kind: "trunc", c: costTrunc(n, s.fb, s.tbits)})
}

// CostExp is the cost of Exp on n elements.
func CostExp(n int, fx Fixed) (Cost, error) {
	s, err := expSpec(fx)
	if err != nil {
		return Cost{}, fmt.Errorf("hss: cost exp: %w", err)
	}
	return costPolyGate("exp", n, s), nil
}
