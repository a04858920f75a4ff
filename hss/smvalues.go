package hss

import (
	"fmt"
	"io"
)

// SoftmaxValues: the attention's softmax and its product with the values, normalised after the
// product: softmax(x)·V = (e·V)/Σe with e = exp(x − max) (the deferred normalisation of FlashAttention,
// Dao et al., NeurIPS 2022). The products e·V need only e, so their Beaver opening (a CacheMatMul
// against the value caches) rides on the reciprocal's mantissa lookup (rider), and the normalisation
// is the reciprocal's own row product on e·V (evalOctMul3, K values per row instead of the row's
// visible scores) with e·V's truncation by Frac in the same round (truncRowMul3X, opened at smvX's
// width: the value rows within AttnRange): after exp's lookup, 3 rounds (exp's truncation with the
// reciprocal's comparisons, the lookup with the products' opening, the row product with both
// truncations) where Softmax then the values' product take 5. The outputs stay untruncated, with
// SMVFrac = Frac + G + 12 fractional bits (the reciprocal keeps 12 mantissa bits, outFrac = G + 12, G
// its largest octave shift): the next linear layer (the attention's output projection) reads them
// raw, and its truncation, by SMVFrac at width 64, is the residual stream's (in the next norm's
// squares round). That layer's outputs (W_o·y + b) must therefore stay below 2^(62 − Frac − SMVFrac)
// in real units: 2^11 at Frac 14, 2^15 at Frac 12. (Before, e·V·L·O with 2·Frac + G + 12 fractional
// bits was truncated in a round of its own, which limited the outputs themselves to 2^11 at Frac 14.)

// smvSpec is SoftmaxValues' reciprocal: the softmax's (reading exp's untruncated row sums) with 12
// mantissa bits and its product at width 64; ok is false where the softmax cannot read the sums
// untruncated (Frac > 14).
func smvSpec(fx Fixed) (rs octSpec, ok bool) {
	_, _, rs = smParams(fx)
	if !smRide(fx, rs) {
		return rs, false
	}
	rs.outFrac, rs.mulBits = uint(rs.g()+12), 64
	return rs, rs.validate() == nil
}

// checkRawBits checks the width of untruncated scores: a decode step's (one row per head: the
// counting max truncates them) at least Frac + the histogram's bits, as countMaxRaw checks; a
// prefill's (the max tree and exp read them raw, maxSpecRaw and expSpecRaw at ScoreBits) at least
// ScoreBits, at most 64.
func checkRawBits(op string, rows int, rawBits uint, fx Fixed) error {
	if rawBits == 0 || smCount(rows) {
		return nil
	}
	if rawBits < ScoreBits(fx) || rawBits > 64 {
		return fmt.Errorf("hss: %s: untruncated scores at width %d, need [%d, 64]", op, rawBits, ScoreBits(fx))
	}
	return nil
}

func init() { registerSeq("smv", "max", "cmax", "cmaxr", "exp", "recip.lmx", "cachemm") }

// smvX is the truncation of e·V (2·Frac fractional bits) in SoftmaxValues' row product: by Frac, so
// the product z = Trunc(e·V)·L·O has SMVFrac fractional bits, opened at 2·Frac + AttnRange + 16 bits:
// |e·V| ≤ Σe·max|v| < 2^12·2^(AttnRange+1) in real units (rows of at most smMaxCols = 4096 columns,
// which smvShape checks; e ≤ e^(2^-8) with its rounding, hence one bit of margin; the value rows
// within AttnRange, bias included).
func smvX(fx Fixed) xTrunc { return xTrunc{frac: fx.Frac, bits: 2*fx.Frac + AttnRange + 16} }

// smMaxCols is the most columns (visible keys) a SoftmaxValues row may have: smvX's width rests on it.
const smMaxCols = 4096

// SMVFrac is the number of fractional bits of SoftmaxValues' untruncated outputs: Frac (e·V
// truncated) plus the reciprocal's outFrac (G + 12).
func SMVFrac(fx Fixed) uint {
	rs, _ := smvSpec(fx)
	return 2*fx.Frac - smvX(fx).frac + rs.outFrac
}

// smvShape checks a SoftmaxValues call: heads score matrices [rows × cols] (cols = pos0 + rows), value
// caches of widths ks (one per KV head, heads = group·len(ks)), and returns the products (head h
// against cache h/group) and the per-row output lengths. The callers check that every cache holds
// pos0 rows (checkSMVCaches).
func smvShape(op string, heads, rows, cols, pos0 int, fx Fixed, ks []int, group int) (prods []CacheProd, lensK []int, rs octSpec, err error) {
	if _, err := checkHeads(op, heads, rows); err != nil {
		return nil, nil, rs, err
	}
	if _, err := checkSoftmax(op, heads*rows, cols, pos0, fx); err != nil {
		return nil, nil, rs, err
	}
	if cols > smMaxCols {
		return nil, nil, rs, fmt.Errorf("hss: %s: %d columns, at most %d", op, cols, smMaxCols)
	}
	if len(ks) == 0 || group < 1 || heads != group*len(ks) || cols != pos0+rows {
		return nil, nil, rs, fmt.Errorf("hss: %s: %d heads for %d value caches of group %d, %d columns at %d+%d", op, heads, len(ks), group, cols, pos0, rows)
	}
	rs, ok := smvSpec(fx)
	if !ok {
		return nil, nil, rs, fmt.Errorf("hss: %s: frac %d above 14", op, fx.Frac)
	}
	prods = make([]CacheProd, heads)
	for h := range prods {
		prods[h] = CacheProd{Cache: h / group, M: rows, Values: true}
		for range rows {
			lensK = append(lensK, ks[h/group])
		}
	}
	return prods, lensK, rs, nil
}

// checkSMVCaches checks that every value cache holds pos0 rows before a step.
func checkSMVCaches(op string, rowsOf func(i int) int, n, pos0 int) error {
	for i := range n {
		if r := rowsOf(i); r != pos0 {
			return fmt.Errorf("hss: %s: value cache %d holds %d rows, the step starts at %d", op, i, r, pos0)
		}
	}
	return nil
}

// GenSoftmaxValues appends rows new rows to each dealer value cache and generates material for
// SoftmaxValues on heads score matrices [rows × pos0+rows] (untruncated, correct mod 2^rawBits, when
// rawBits > 0: checkRawBits).
func GenSoftmaxValues(rng io.Reader, heads, rows, pos0 int, fx Fixed, rawBits uint, caches []*DealerCache, group int) (k0, k1 Key, err error) {
	const op = "gen smv"
	ks := make([]int, len(caches))
	for i, c := range caches {
		if c == nil || c.K <= 0 {
			return nil, nil, fmt.Errorf("hss: %s: malformed cache %d", op, i)
		}
		ks[i] = c.K
	}
	cols := pos0 + rows
	prods, lensK, rs, err := smvShape(op, heads, rows, cols, pos0, fx, ks, group)
	if err != nil {
		return nil, nil, err
	}
	if err := checkSMVCaches(op, func(i int) int { return caches[i].Rows }, len(caches), pos0); err != nil {
		return nil, nil, err
	}
	if err := checkRawBits(op, rows, rawBits, fx); err != nil {
		return nil, nil, err
	}
	lens := headLens(heads, rows, cols, pos0)
	nv, _ := sumLens(op, lens)
	var p0, p1 []MarshalKey
	add := func(a, b MarshalKey, err error) error {
		p0, p1 = append(p0, a), append(p1, b)
		return err
	}
	m0, m1, err := genSoftmaxMax(rng, lens, rows, fx, rawBits)
	if err := add(m0, m1, err); err != nil {
		return nil, nil, wrapGate(op, err)
	}
	e0, e1, err := genPolyGate(rng, "exp", nv, fx, func(fx Fixed) (*lutSpec, error) { return softmaxExpSpec(fx, rows, rawBits) })
	if err != nil {
		return nil, nil, wrapGate(op, err)
	}
	r0, r1, err := genOctMul3(rng, "recip", lensK, rs, rs.mulBits, smvX(fx))
	if err := add(e0.(*seqKey), e1.(*seqKey), nil); err != nil || add(r0, r1, err) != nil {
		return nil, nil, wrapGate(op, err)
	}
	c0, c1, err := GenCacheMatMulRaw(rng, caches, rows, prods, 64)
	if err := add(c0, c1, err); err != nil {
		return nil, nil, wrapGate(op, err)
	}
	return newSeqKey("smv", heads*rows*cols, p0...), newSeqKey("smv", heads*rows*cols, p1...), nil
}

// SoftmaxValues returns, for heads stacked score matrices x [heads·rows × cols] (causal at pos0, cols
// = pos0+rows; untruncated with 2·Frac fractional bits, correct mod 2^rawBits, when rawBits > 0: a
// decode step's counting max truncates them, a prefill's max tree and exp read them raw), every
// head's softmax(x_h)·V_{h/group} [rows × K] (untruncated, SMVFrac fractional bits), appending
// newRows[g] (rows × K shares) to value cache g first (see the top of this file). Rounds: the max's
// (tree or counting), exp's lookup, then 3. Error: Softmax's relative errors on each output (the
// reciprocal at 2^-11 relative) plus e·V's truncation, one unit of 2^-Frac before the division by the
// row sum (≥ 1); the next linear layer's outputs must stay below 2^(62 − Frac − SMVFrac) (see the top
// of this file).
func (p *Party) SoftmaxValues(x []uint64, heads, rows, cols, pos0 int, rawBits uint, caches []*MaskedCache, newRows [][]uint64, group int) ([][]uint64, error) {
	const op = "smv"
	n, err := checkSoftmaxCall(op, x, heads, rows, cols, pos0, p.Fx)
	if err != nil {
		return nil, err
	}
	ks := make([]int, len(caches))
	for i, c := range caches {
		if c == nil || c.K <= 0 {
			return nil, fmt.Errorf("hss: %s: malformed cache %d", op, i)
		}
		ks[i] = c.K
	}
	prods, lensK, rs, err := smvShape(op, heads, rows, cols, pos0, p.Fx, ks, group)
	if err != nil {
		return nil, err
	}
	if err := checkSMVCaches(op, func(i int) int { return caches[i].Rows }, len(caches), pos0); err != nil {
		return nil, err
	}
	if len(newRows) != len(caches) {
		return nil, fmt.Errorf("hss: %s: %d row sets for %d value caches", op, len(newRows), len(caches))
	}
	for i, r := range newRows {
		if len(r) != rows*ks[i] {
			return nil, fmt.Errorf("hss: %s: %d new values for cache %d, want %d", op, len(r), i, rows*ks[i])
		}
	}
	if err := checkRawBits(op, rows, rawBits, p.Fx); err != nil {
		return nil, err
	}
	q, err := p.sub(op, n)
	if err != nil {
		return nil, err
	}
	lens := headLens(heads, rows, cols, pos0)
	d, err := q.softmaxShift(x, lens, rows, cols, rawBits)
	if err != nil {
		return nil, err
	}
	// Exp's lookup; its truncation rides on the reciprocal's comparisons (rider 1), the products'
	// opening on its lookup (rider 2, made once exp's truncation is open).
	es, err := softmaxExpSpec(q.Fx, rows, rawBits)
	if err != nil {
		return nil, err
	}
	ex, err := q.expRide(d, lens, es)
	if err != nil {
		return nil, err
	}
	defer ex.close()
	q1, r1 := q.riding(0, func() ([]byte, error) { return ex.msg, nil })
	var cc *cacheCall
	q2, r2 := q1.riding(1, func() ([]byte, error) {
		ev, err := ex.open(r1)
		if err != nil {
			return nil, err
		}
		e := scatterRows(ev, lens, n, cols)
		xs := make([][]uint64, heads)
		for h := range xs {
			xs[h] = e[h*rows*cols : (h+1)*rows*cols]
		}
		if cc, err = q.cachePrepare(op, caches, newRows, xs, prods, 64); err != nil {
			return nil, err
		}
		return PackBits(nil, cc.send, 64), nil
	})
	prod, err := q2.evalOctMul3("recip", rs, ex.sums, func() ([]uint64, error) {
		if cc == nil || !r2.used {
			return nil, fmt.Errorf("hss: %s: the products' opening was not sent", op)
		}
		opened := make([]uint64, len(cc.send))
		if err := checkPacked(r2.got, len(opened), 64); err != nil {
			return nil, fmt.Errorf("hss: %s: peer message: %w", op, err)
		}
		unpackAddInto(opened, r2.got, 64, cc.send)
		recycle(cc.send)
		ev, err := q.cacheFinish(cc, opened, nil)
		if err != nil {
			return nil, err
		}
		x := make([]uint64, 0, len(ev)*rows*ks[0])
		for _, v := range ev {
			x = append(x, v...)
		}
		return x, nil
	}, lensK, smvX(p.Fx))
	if err != nil {
		return nil, wrapGate(op, err)
	}
	if err := finish(op, q); err != nil {
		return nil, err
	}
	return splitLens(prod, lensPerHead(heads, rows, ks, group)), nil
}

// lensPerHead is every head's output length, rows·K of its cache.
func lensPerHead(heads, rows int, ks []int, group int) []int {
	out := make([]int, heads)
	for h := range out {
		out[h] = rows * ks[h/group]
	}
	return out
}

// CostSoftmaxValuesStages is the cost of SoftmaxValues (and GenSoftmaxValues's keys) by stage, for
// value caches of widths ks holding cacheRows rows before the call.
func CostSoftmaxValuesStages(heads, rows, pos0 int, fx Fixed, rawBits uint, ks, cacheRows []int, group int) ([]Stage, error) {
	const op = "cost smv"
	cols := pos0 + rows
	prods, lensK, rs, err := smvShape(op, heads, rows, cols, pos0, fx, ks, group)
	if err != nil {
		return nil, err
	}
	if len(cacheRows) != len(ks) {
		return nil, fmt.Errorf("hss: %s: %d lengths for %d caches", op, len(cacheRows), len(ks))
	}
	if err := checkRawBits(op, rows, rawBits, fx); err != nil {
		return nil, err
	}
	lens := headLens(heads, rows, cols, pos0)
	nv, _ := sumLens(op, lens)
	es, err := softmaxExpSpec(fx, rows, rawBits)
	if err != nil {
		return nil, err
	}
	mx, mk := softmaxMaxStages(heads, rows, cols, pos0, fx, rawBits)
	ex := polyStages("exp", nv, es)
	ex[1].Rounds, ex[1].Crit = 0, 0 // rides on the reciprocal's comparisons
	recip, err := octMul3Part("recip", lensK, rs, rs.mulBits, smvX(fx))
	if err != nil {
		return nil, err
	}
	cm, err := CostCacheMatMulStages(ks, cacheRows, rows, prods, fx.Frac, 64)
	if err != nil {
		return nil, err
	}
	cmc := cm[0].Cost
	cmc.Rounds = 0 // rides on the reciprocal's lookup
	return seqStages("smv",
		part{kind: mk, label: "max", c: SumStages(mx), sub: mx},
		part{kind: "exp", c: SumStages(ex), sub: ex},
		recip,
		part{kind: "cachemm", c: cmc, label: "ev"},
	), nil
}
