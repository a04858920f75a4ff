package hss

import (
	"fmt"
	"io"
)

const (
	smRange = 6 // softmax inputs |x| < 2^6
	// smMaxTol: the comparisons of the softmax's max tree may err between entries within
	// 2^-smMaxTol of each other (maxSpec: part k = Frac − smMaxTol + 1, centred). See maxSpec.
	smMaxTol = 6
)

// maxSpec is the softmax's coarse comparison of differences |d| < 2^(bits−2), bits = smParams's
// maxBits, and its tolerance tol = 2^(k−1) in raw units: the lookup gate's sign term on one part
// k = Frac − smMaxTol + 1, m = bits − k (the exact ReLU is the part k = 0, m = bits). It opens
// d' + r at 64 bits as the exact ReLU does, but its DCF runs on m − 1 bits (13 instead of Frac+8:
// 22 → 13 at Frac 14): it gives s = 1{z ≥ 0} for the stochastically rounded z = ⌊d'/2^k⌋ + c, c ∈
// {0, 1} (|z| ≤ 2^(m−2) + 1, so z fits m bits), of the centred d' = d − 2^(k−1) (maxRows subtracts
// the public 2^(k−1) and adds 2^(k−1)·s back). So s = 1 for d ≥ 2^(k−1), s = 0 for d ≤ −2^(k−1), and
// either in between: b + s·(a − b) is exactly a or b, and it is the smaller one only when a and b
// are less than tol = 2^(k−1) (2^-6) apart. Its tag differs from the exact ReLU's (and carries k and
// bits), so material of one is refused by the other.
//
// Why 2^-6: a row of l entries then loses less than ⌈log2 l⌉·2^-6 to its true maximum (≤ 0.11 at
// 128 columns, 0.19 at 4096), which the public shift of SoftmaxHeads covers; exp's inputs move
// down by at most that much, so the row sum stays ≥ e^-0.19 ≈ 0.83 (inside Reciprocal's [2^-6,
// 2^12)) and exp's absolute errors (its truncation, its clipping below −10) grow by at most
// e^0.19 ≈ 1.2 in the probabilities. 2^-5 would save one more DCF level (12 bits) for twice the
// shift; the clipping's bias, which the shift increases, already matters for long rows of spread
// scores (see Softmax).
func maxSpec(fx Fixed) (spec *lutSpec, tol uint64) {
	bits, _, _ := smParams(fx)
	k := fx.Frac - smMaxTol + 1
	return &lutSpec{parts: []lutPart{{k: k, m: bits - k}}, signTerm: true,
		tag: 1<<62 | 0x6d<<24 | uint64(k)<<8 | uint64(bits)}, 1 << (k - 1)
}

// maxSpecRaw is maxSpec on untruncated scores (2·Frac fractional bits, correct mod 2^ScoreBits: a
// prefill's, SoftmaxValues): the same comparison read at bits shifted by Frac (k = 2·Frac −
// smMaxTol + 1, tolerance 2^-6 as before), opened at ScoreBits bits, so that x·s is correct mod
// 2^ScoreBits, which is all the softmax reads. Its index needs no spare bit: for visible scores
// |x| < 2^6 − 2^-2 (Softmax's range), the centred difference d' = a − b − 2^(k−1) lies in
// (−2^7 + 2^-2, 2^7 − 2^-1), so the rounded index |z| ≤ 2^12 − 15 fits the part's m = 13 bits
// (maxSpec's width keeps one more, for its general range |d| < 2^(bits−2)).
func maxSpecRaw(fx Fixed) (spec *lutSpec, tol uint64) {
	w := ScoreBits(fx)
	k := 2*fx.Frac - smMaxTol + 1
	return &lutSpec{parts: []lutPart{{k: k, m: w - k}}, signTerm: true, width: w,
		tag: 1<<62 | 0x6e<<24 | uint64(k)<<8 | uint64(w)}, 1 << (k - 1)
}

// causalLens returns the number of visible columns of every row: row i sees min(cols, pos0+i+1).
func causalLens(rows, cols, pos0 int) []int {
	lens := make([]int, rows)
	for i := range lens {
		lens[i] = min(cols, pos0+i+1)
	}
	return lens
}

// smParams returns the softmax's widths and its reciprocal's spec. Where it validates (the
// comparisons' width hi + Frac + fb + 2 ≤ 62: Frac ≤ 14), the reciprocal reads the row sums of exp's
// polynomial term untruncated (inFrac = Frac + exp's fb, the truncate-reduce of the norms), so that
// exp's truncation, which the row sums then do not wait for, rides on the reciprocal's comparisons
// (smRide: one round for both).
func smParams(fx Fixed) (maxBits, mulBits uint, rs octSpec) {
	maxBits = fx.Frac + smRange + 3
	mulBits = min(64, 2*fx.Frac+24)
	rs = recipSpec(fx)
	rs.mulBits = mulBits
	if es, err := expSpec(fx); err == nil {
		raw := rs
		raw.inFrac = fx.Frac + es.fb
		if raw.validate() == nil {
			rs = raw
		}
	}
	return
}

// smRide reports whether the softmax's reciprocal reads exp's untruncated row sums (smParams).
func smRide(fx Fixed, rs octSpec) bool { return rs.inFrac != fx.Frac }

func checkSoftmax(op string, rows, cols, pos0 int, fx Fixed) (int, error) {
	n, err := checkShape(op, rows, cols)
	if err != nil {
		return 0, err
	}
	if pos0 < 0 || pos0 > MaxKeyLen {
		return 0, fmt.Errorf("hss: %s: position %d out of range", op, pos0)
	}
	if fx.Frac < 8 || fx.Frac > 20 {
		return 0, fmt.Errorf("hss: %s: frac %d out of range [8,20]", op, fx.Frac)
	}
	return n, nil
}

func init() { registerSeq("softmax", "max", "cmax", "cmaxr", "exp", "recip.lm", "trunc") }

// GenSoftmax generates material for Softmax on scores [rows × cols] with causal offset pos0.
func GenSoftmax(rng io.Reader, rows, cols, pos0 int, fx Fixed) (k0, k1 Key, err error) {
	return GenSoftmaxHeads(rng, 1, rows, cols, pos0, fx)
}

// headLens is causalLens repeated for each of heads stacked score matrices.
func headLens(heads, rows, cols, pos0 int) []int {
	one := causalLens(rows, cols, pos0)
	lens := make([]int, 0, heads*rows)
	for range heads {
		lens = append(lens, one...)
	}
	return lens
}

func checkHeads(op string, heads, rows int) (int, error) {
	if heads < 1 || rows < 0 || heads > MaxKeyLen/max(rows, 1) {
		return 0, fmt.Errorf("hss: %s: %d heads of %d rows", op, heads, rows)
	}
	return heads * rows, nil
}

// GenSoftmaxHeads generates material for SoftmaxHeads.
func GenSoftmaxHeads(rng io.Reader, heads, rows, cols, pos0 int, fx Fixed) (k0, k1 Key, err error) {
	return genSoftmaxHeads(rng, heads, rows, cols, pos0, fx, 0)
}

// GenSoftmaxHeadsRaw generates material for SoftmaxHeadsRaw (untruncated scores opened at width
// bits).
func GenSoftmaxHeadsRaw(rng io.Reader, heads, rows, cols, pos0 int, fx Fixed, bits uint) (k0, k1 Key, err error) {
	if !smCount(rows) || bits == 0 {
		return nil, nil, fmt.Errorf("hss: gen softmax: untruncated scores need one row per head and a width")
	}
	return genSoftmaxHeads(rng, heads, rows, cols, pos0, fx, bits)
}

func genSoftmaxHeads(rng io.Reader, heads, rows, cols, pos0 int, fx Fixed, rawBits uint) (k0, k1 Key, err error) {
	all, err := checkHeads("gen softmax", heads, rows)
	if err != nil {
		return nil, nil, err
	}
	if _, err := checkSoftmax("gen softmax", all, cols, pos0, fx); err != nil {
		return nil, nil, err
	}
	rows = all
	lens := headLens(heads, rows/heads, cols, pos0)
	nv, _ := sumLens("gen softmax", lens)
	_, mulBits, rs := smParams(fx)
	var p0, p1 []MarshalKey
	add := func(a, b MarshalKey) { p0, p1 = append(p0, a), append(p1, b) }
	m0, m1, err := genSoftmaxMax(rng, lens, rows/heads, fx, rawBits)
	if err != nil {
		return nil, nil, wrapGate("gen softmax", err)
	}
	add(m0, m1)
	e0, e1, err := GenExp(rng, nv, fx)
	if err != nil {
		return nil, nil, wrapGate("gen softmax", err)
	}
	add(e0.(*seqKey), e1.(*seqKey))
	r0, r1, err := genOctMul3(rng, "recip", lens, rs, mulBits, xTrunc{})
	if err != nil {
		return nil, nil, wrapGate("gen softmax", err)
	}
	add(r0, r1)
	t0, t1, err := GenTrunc(rng, nv, rs.outFrac, mulBits)
	if err != nil {
		return nil, nil, wrapGate("gen softmax", err)
	}
	add(t0, t1)
	return newSeqKey("softmax", rows*cols, p0...), newSeqKey("softmax", rows*cols, p1...), nil
}

// genSoftmaxMax generates the material of a softmax's row maxima over the visible lengths lens
// (rowsPerHead rows per head): counting on untruncated scores (rawBits > 0), counting, or the tree.
func genSoftmaxMax(rng io.Reader, lens []int, rowsPerHead int, fx Fixed, rawBits uint) (m0, m1 *seqKey, err error) {
	switch {
	case rawBits > 0 && smCount(rowsPerHead):
		return genCountMaxRaw(rng, lens, softmaxCmax(fx), fx.Frac, rawBits)
	case smCount(rowsPerHead):
		return genCountMax(rng, lens, softmaxCmax(fx))
	}
	ms, _ := treeMaxSpec(fx, rawBits)
	return genMaxRows(rng, lens, ms)
}

// treeMaxSpec is the max tree's comparison: on untruncated scores (rawBits > 0) maxSpecRaw, else
// maxSpec.
func treeMaxSpec(fx Fixed, rawBits uint) (*lutSpec, uint64) {
	if rawBits > 0 {
		return maxSpecRaw(fx)
	}
	return maxSpec(fx)
}

// softmaxExpSpec is the lookup of exp on the shifted scores: on untruncated ones (a prefill's raw
// scores, whose max tree leaves them so) expSpecRaw, else expSpec.
func softmaxExpSpec(fx Fixed, rowsPerHead int, rawBits uint) (*lutSpec, error) {
	if rawBits > 0 && !smCount(rowsPerHead) {
		return expSpecRaw(fx)
	}
	return expSpec(fx)
}

// softmaxMaxStages is the cost of genSoftmaxMax's material and its use by stage, with the kind of
// its key.
func softmaxMaxStages(heads, rows, cols, pos0 int, fx Fixed, rawBits uint) ([]Stage, string) {
	switch {
	case rawBits > 0 && smCount(rows):
		return costCountMaxRaw(headLens(heads, rows, cols, pos0), softmaxCmax(fx), fx.Frac, rawBits), "cmaxr"
	case smCount(rows):
		return costCountMax(headLens(heads, rows, cols, pos0), softmaxCmax(fx)), "cmax"
	}
	// The max trees run over the visible entries of every row; all heads have the same rows.
	pairs := maxLevels(causalLens(rows, cols, pos0))
	for i := range pairs {
		pairs[i] *= heads
	}
	ms, _ := treeMaxSpec(fx, rawBits)
	return maxStages(pairs, ms), "max"
}

// Softmax returns shares of the causal softmax of every row of the attention scores x [rows × cols]
// (Frac fractional bits, 8 ≤ Frac ≤ 20): row i attends to its first l_i = min(cols, pos0+i+1)
// columns (query i sits at position pos0+i of a sequence whose keys are the columns); the other
// outputs are exactly 0 and the other inputs are ignored. Inputs: visible scores |x| < 2^6 − 2^-2
// (scaled QKᵀ of real transformers stays well inside); cols ≤ 4096.
//
// Construction (the softmax of SIGMA, Gupta et al., PETS 2024, §5, with a ragged, coarse max tree):
// m = the max of every row over its l_i visible entries only (maxRows: a tournament tree,
// max(a, b) = b + s·(a − b), ⌈log2 l_i⌉ levels for row i, the pairs of all rows of a level in one
// comparison batch); each comparison s is the lookup gate's sign of the stochastically rounded
// ⌊(a − b − 2^-6)/2^-5⌋ (maxSpec: a DCF on 13 bits instead of the exact ReLU's Frac+8), so it
// returns exactly a or b and errs only between entries less than 2^-6 apart: m is an entry of the
// row with max − ⌈log2 l_i⌉·2^-6 < m ≤ max. Softmax is shift-invariant, and m' = m + ⌈log2 l_i⌉·2^-6
// (a public shift) is ≥ max, so x − m' ∈ (−2^7, 0] stays in Exp's range; e = Exp(x − m') on the
// visible entries (a DPF lookup and its truncation); the row sums of exp's untruncated polynomial
// terms (local, ≥ e^-0.19; read with Frac + fb fractional bits, so they do not wait for exp's
// truncation, which rides on the reciprocal's first round: expRecipRide) go through the octave lookup
// of Reciprocal up to its mantissa L and octave factor O (1/Σe = L·O), and p = e·L·O is one
// three-factor row-broadcast product (RowMul3) plus Trunc, at width 2·Frac+24: exp, the reciprocal
// and the product take 5 rounds (7 before exp's truncation rode on the comparisons and RowMul3 took
// the reciprocal's own product).
//
// With one query row per head (a decode step, smCount) the maxima come from counting instead of the
// tree (countMax: a histogram of the scores in buckets of 2^-1 from one DPF per score, and one zero
// test per bucket threshold and row; 2 rounds for any row length), with x* < m' ≤ x* + 1: Exp's
// inputs then lie in (−2^7 − 1/2, 0], and those below −2^7 index outside its window (its opened
// width wraps them to (2^7 − 1/2, 2^7]), where it returns 0 like any input below −10; its absolute
// errors grow by at most e (row sum ≥ e^-1).
//
// Rounds ⌈log2 max_i l_i⌉ + 5 (⌈log2 cols⌉ + 5 when the last row sees every column), 7 by counting
// (at Frac ≤ 14; one more above, where the reciprocal cannot read exp's untruncated sums). Online (both
// parties, per visible entry, Frac 12): 16 (max tree: one comparison per visible entry but one per
// row, so about half of a tree over the full matrix in a prefill) + 17.25 (exp) + 12 (product) + 12
// (trunc) bytes, plus ≈ 43 bytes per row. Dealer: ≈ 0.93 KB (max, at every Frac) + 0.77 KB (exp,
// product, truncation) per visible entry, ≈ 2.4 KB per row (a 128-token prefill of 6 heads at Frac
// 14: 3.02 MB online, 85.5 MB dealer of which 38.0 MB party 0's; with the exact max over the full
// matrix, before party 0's keys were seed-compressed, 3.80 MB and 190 MB). Error: |p − softmax| ≤ 2^-11 (Exp's relative error, ≤ 2^-10, enters as p(1−p)·2^-10·2) +
// Exp's absolute 2^-Frac per entry (stochastic, unbiased truncation: it averages out in the row
// sum) + 2^-10·p (reciprocal) + 2^-12 (truncation), Exp's absolute errors growing by at most e^0.19
// from the shift m' − max: below 2^-8 absolute (measured in the tests). Exp's clipping to 0 below
// −10 adds a bias, the dropped mass (< l_i·e^-10 relative to the row sum, which the shift increases
// by at most e^0.19): negligible for rows of hundreds of entries, but rows of thousands of spread
// scores exceed 2^-8 (4096 scores N(0, 3²): up to 2^-7.0 measured, as with the exact max).
func (p *Party) Softmax(x []uint64, rows, cols, pos0 int) ([]uint64, error) {
	return p.SoftmaxHeads(x, 1, rows, cols, pos0)
}

// SoftmaxHeads is Softmax over heads score matrices [rows × cols] stacked in x ([heads·rows ×
// cols]), each with the same causal offset pos0, in the rounds of one: the attention of every head
// of a layer at once (every level of the max trees is one comparison batch over all heads' rows).
// Costs are those of Softmax on the stacked matrix.
func (p *Party) SoftmaxHeads(x []uint64, heads, rows, cols, pos0 int) ([]uint64, error) {
	return p.softmaxHeads(x, heads, rows, cols, pos0, 0)
}

// SoftmaxHeadsRaw is SoftmaxHeads for one query row per head (a decode step) on untruncated scores
// x (2·Frac fractional bits, correct mod 2^bits: CacheMatMulRaw's products): their truncation shares
// the counting max's first round (countMaxRaw), one round fewer than CacheMatMul's truncation then
// SoftmaxHeads. The same value and error as truncating first.
func (p *Party) SoftmaxHeadsRaw(x []uint64, heads, rows, cols, pos0 int, bits uint) ([]uint64, error) {
	if !smCount(rows) || bits == 0 {
		return nil, fmt.Errorf("hss: softmax: untruncated scores need one row per head and a width")
	}
	return p.softmaxHeads(x, heads, rows, cols, pos0, bits)
}

func (p *Party) softmaxHeads(x []uint64, heads, rows, cols, pos0 int, rawBits uint) ([]uint64, error) {
	n, err := checkSoftmaxCall("softmax", x, heads, rows, cols, pos0, p.Fx)
	if err != nil {
		return nil, err
	}
	q, err := p.sub("softmax", n)
	if err != nil {
		return nil, err
	}
	lens := headLens(heads, rows, cols, pos0)
	_, mulBits, rs := smParams(p.Fx)
	d, err := q.softmaxShift(x, lens, rows, cols, rawBits)
	if err != nil {
		return nil, err
	}
	var prod []uint64
	if smRide(p.Fx, rs) {
		prod, err = q.expRecipRide(d, lens, rs)
	} else {
		prod, err = q.expRecip(d, lens, rs)
	}
	if err != nil {
		return nil, wrapGate("softmax", err)
	}
	pr, err := q.Trunc(prod, rs.outFrac, mulBits)
	if err != nil {
		return nil, wrapGate("softmax", err)
	}
	if err := finish("softmax", q); err != nil {
		return nil, err
	}
	return scatterRows(pr, lens, n, cols), nil
}

// scatterRows places v (row r's lens[r] visible entries, row after row) at the start of each row of
// an n-element matrix of cols columns, zeros elsewhere.
func scatterRows(v []uint64, lens []int, n, cols int) []uint64 {
	out := make([]uint64, n)
	i := 0
	for r, l := range lens {
		copy(out[r*cols:r*cols+l], v[i:i+l])
		i += l
	}
	return out
}

// checkSoftmaxCall checks a softmax on heads stacked score matrices [rows × cols] in x and returns
// the number of scores.
func checkSoftmaxCall(op string, x []uint64, heads, rows, cols, pos0 int, fx Fixed) (int, error) {
	all, err := checkHeads(op, heads, rows)
	if err != nil {
		return 0, err
	}
	n, err := checkSoftmax(op, all, cols, pos0, fx)
	if err != nil {
		return 0, err
	}
	if len(x) != n {
		return 0, fmt.Errorf("hss: %s: %d elements for %d heads of shape %dx%d", op, len(x), heads, rows, cols)
	}
	return n, nil
}

// softmaxShift returns the visible scores of x (row r of the stacked matrices sees lens[r] of its
// cols columns), row after row, each minus its row's maximum (the max trees over rowsPerHead rows per
// head, or counting; with rawBits > 0 the scores are untruncated: countMaxRaw truncates them, the
// trees leave them so, for exp's lookup to read raw: softmaxExpSpec).
func (q *Party) softmaxShift(x []uint64, lens []int, rowsPerHead, cols int, rawBits uint) ([]uint64, error) {
	nv, _ := sumLens("softmax", lens)
	d := make([]uint64, 0, nv)
	for r, l := range lens {
		d = append(d, x[r*cols:r*cols+l]...)
	}
	var m []uint64
	var err error
	if rawBits > 0 && smCount(rowsPerHead) {
		m, d, err = q.countMaxRaw(d, lens, softmaxCmax(q.Fx), q.Fx.Frac, rawBits)
	} else {
		m, err = q.rowMax(d, lens, rowsPerHead, rawBits)
	}
	if err != nil {
		return nil, wrapGate("softmax", err)
	}
	i := 0
	for r, l := range lens {
		for range l {
			d[i] -= m[r]
			i++
		}
	}
	return d, nil
}

// expRecip returns e·L·O for e = Exp(d) and L·O = 1/Σe per row (lens entries each): Exp (2 rounds),
// then the reciprocal with the row product (evalOctMul3, 3 rounds).
func (q *Party) expRecip(d []uint64, lens []int, rs octSpec) ([]uint64, error) {
	e, err := q.Exp(d)
	if err != nil {
		return nil, err
	}
	sums := make([]uint64, len(lens))
	i := 0
	for r, l := range lens {
		for range l {
			sums[r] += e[i]
			i++
		}
	}
	// 1/Σe = L·O (mantissa and octave factor), and e·L·O in one round.
	return q.evalOctMul3("recip", rs, sums, func() ([]uint64, error) { return e, nil }, lens, xTrunc{})
}

// expRecipRide is expRecip in 4 rounds: the reciprocal reads the row sums of exp's untruncated
// polynomial term (rs.inFrac = Frac + fb; the sum of the untruncated terms, which the truncations
// would round entry by entry), so exp's truncation opens in the reciprocal's first round (rider).
func (q *Party) expRecipRide(d []uint64, lens []int, rs octSpec) ([]uint64, error) {
	es, err := expSpec(q.Fx)
	if err != nil {
		return nil, err
	}
	x, err := q.expRide(d, lens, es)
	if err != nil {
		return nil, err
	}
	defer x.close()
	rq, rd := q.riding(0, func() ([]byte, error) { return x.msg, nil })
	return rq.evalOctMul3("recip", rs, x.sums, func() ([]uint64, error) {
		// After the reciprocal's comparisons, which carried exp's truncation.
		return x.open(rd)
	}, lens, xTrunc{})
}

// expRider is exp's lookup on a softmax's shifted scores with its truncation made ready to ride on a
// later gate's opening (rider): the row sums of the untruncated polynomial terms (what the
// reciprocal reads), the masked terms to send (msg) and what finishes the truncation (open).
type expRider struct {
	q       *Party // exp's composite
	es      *lutSpec
	tk      *TruncKey
	lin, u  []uint64
	release func()
	sums    []uint64
	msg     []byte
}

// expRide runs exp's lookup on d (rows of lens entries) and prepares its truncation (see expRider).
func (q *Party) expRide(d []uint64, lens []int, es *lutSpec) (*expRider, error) {
	eq, err := q.sub("exp", len(d))
	if err != nil {
		return nil, err
	}
	o, err := eq.evalLUT("exp.lut", es, d)
	if err != nil {
		return nil, wrapGate("exp", err)
	}
	x := &expRider{q: eq, es: es, lin: o.lin, release: func() {}}
	if x.tk, err = takeKey[*TruncKey](eq, "trunc", len(d)); err != nil {
		x.close()
		return nil, wrapGate("exp", err)
	}
	if err := finish("exp", eq); err != nil {
		x.close()
		return nil, err
	}
	x.sums = make([]uint64, len(lens))
	i := 0
	for r, l := range lens {
		for range l {
			x.sums[r] += o.lin[i]
			i++
		}
	}
	u, release, err := eq.truncMask(x.tk, o.lin, es.fb, es.tbits)
	if err != nil {
		x.close()
		return nil, wrapGate("exp", err)
	}
	x.u, x.release = u, release
	x.msg = PackBits(nil, x.u, es.tbits)
	return x, nil
}

// open finishes exp's truncation from the peer's part of the message rd carried: shares of e.
func (x *expRider) open(rd *rider) ([]uint64, error) {
	if !rd.used {
		return nil, fmt.Errorf("hss: exp: truncation not sent")
	}
	if err := checkPacked(rd.got, len(x.u), x.es.tbits); err != nil {
		return nil, fmt.Errorf("hss: exp: peer message: %w", err)
	}
	return x.q.truncOpen(x.tk, x.u, rd.got, x.es.fb, x.es.tbits, nil), nil
}

// close hands the lookup's and the truncation's buffers back to the pool.
func (x *expRider) close() {
	putWords(x.lin)
	x.release()
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
	return costSoftmaxHeadsStages(heads, rows, cols, pos0, fx, 0)
}

// CostSoftmaxHeadsRawStages is CostSoftmaxHeadsStages for SoftmaxHeadsRaw.
func CostSoftmaxHeadsRawStages(heads, rows, cols, pos0 int, fx Fixed, bits uint) ([]Stage, error) {
	if !smCount(rows) || bits == 0 {
		return nil, fmt.Errorf("hss: cost softmax: untruncated scores need one row per head and a width")
	}
	return costSoftmaxHeadsStages(heads, rows, cols, pos0, fx, bits)
}

func costSoftmaxHeadsStages(heads, rows, cols, pos0 int, fx Fixed, rawBits uint) ([]Stage, error) {
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
	recip, err := octMul3Part("recip", headLens(heads, rows, cols, pos0), rs, mulBits, xTrunc{})
	if err != nil {
		return nil, err
	}
	mx, mk := softmaxMaxStages(heads, rows, cols, pos0, fx, rawBits)
	ex := polyStages("exp", nv, es)
	if smRide(fx, rs) { // exp's truncation rides on the reciprocal's comparisons
		ex[1].Rounds, ex[1].Crit = 0, 0
	}
	return seqStages("softmax",
		part{kind: mk, label: "max", c: SumStages(mx), sub: mx},
		part{kind: "exp", c: SumStages(ex), sub: ex},
		recip,
		part{kind: "trunc", c: costTrunc(nv, rs.outFrac, mulBits)},
	), nil
}

// smCount reports whether the softmax takes its rows' maxima by counting (countMax, 2 rounds) rather
// than with the tournament tree (maxRows, ⌈log2 l⌉ rounds): for one query row per head, a decode
// step. Counting expands a window of 255 DPF outputs per score, ≈ 6× the tree's CPU (measured by
// BenchmarkSoftmaxMax: 6 heads × 128 keys, both parties on 2 cores, 3.2 vs 0.7–1.2 ms for a decode
// step, 145 vs 25 ms for a 128-token prefill), for 5 rounds fewer at 128 keys. A decode step is
// latency-bound (its rounds are most of its time from one cloud region to another), a prefill's
// 128× more scores make it compute-bound at the RTTs of one region, so only decode steps count. The
// choice depends on the shape only, so the dealer and the parties make it alike.
func smCount(rowsPerHead int) bool { return rowsPerHead == 1 }

// rowMax returns shares of m'_r ≥ the maximum of every row (lens[r] entries after those of the rows
// before it) and above it by at most 1 (counting) or ⌈log2 l_r⌉·2^-6 (tree), the shift that keeps
// the inputs of Exp at or below 0 (see SoftmaxHeads).
func (q *Party) rowMax(d []uint64, lens []int, rowsPerHead int, rawBits uint) ([]uint64, error) {
	if smCount(rowsPerHead) {
		return q.countMax(d, lens, softmaxCmax(q.Fx))
	}
	ms, tol := treeMaxSpec(q.Fx, rawBits)
	m, err := q.maxRows(d, lens, ms)
	if err != nil {
		return nil, err
	}
	// m' = m + depth·tol ≥ the row's maximum (party 0 adds the public shift), so d = x − m' ≤ 0.
	if q.ID == 0 {
		for r, l := range lens {
			m[r] += uint64(maxDepth(l)) * tol
		}
	}
	return m, nil
}
