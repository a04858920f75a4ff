package hss

import (
	"fmt"
	"io"
	"math"
	"math/bits"
)

// Row gates: reductions and normalisations over the rows of a shared [rows × cols] tensor (row-major),
// composed from Trunc, Square, ReLU, Exp, the octave lookups (Reciprocal/Rsqrt) and row-broadcast
// products. Their material is one composite key holding the parts in the order they are consumed.

func checkShape(op string, rows, cols int) (int, error) {
	n, ok := mulLen(rows, cols)
	if !ok || cols < 1 {
		return 0, fmt.Errorf("hss: %s: shape %dx%d out of range", op, rows, cols)
	}
	return n, nil
}

// maxPairs returns, per level of the max tree over rows of cols entries, the number of pairs.
func maxPairs(cols int) []int {
	var out []int
	for c := cols; c > 1; c -= c / 2 {
		out = append(out, c/2)
	}
	return out
}

// maxLevels returns, per level of the ragged max trees over rows of lens[r] ≥ 1 entries, the number
// of pairs of all rows together: at level ℓ a row of l entries holds c = ⌈l/2^ℓ⌉ of them and
// contributes ⌊c/2⌋ pairs (an odd last entry is carried to the next level). There are
// ⌈log2 max(lens)⌉ levels; a row of l entries takes part in the first maxDepth(l).
func maxLevels(lens []int) []int {
	var out []int
	for _, l := range lens {
		for lv := range maxDepth(l) {
			c := (l-1)>>lv + 1 // ⌈l/2^lv⌉
			if lv == len(out) {
				out = append(out, 0)
			}
			out[lv] += c / 2
		}
	}
	return out
}

// maxDepth is the depth ⌈log2 l⌉ of the max tree over l ≥ 1 entries: the number of comparisons the
// winner of the row goes through at most.
func maxDepth(l int) int { return bits.Len(uint(l - 1)) }

func uniformLens(rows, cols int) []int {
	lens := make([]int, rows)
	for i := range lens {
		lens[i] = cols
	}
	return lens
}

func checkMaxLens(op string, lens []int) (int, error) {
	n, err := sumLens(op, lens)
	if err != nil {
		return 0, err
	}
	for _, l := range lens {
		if l < 1 {
			return 0, fmt.Errorf("hss: %s: row of %d entries", op, l)
		}
	}
	return n, nil
}

// GenMax generates material for Max over rows×cols elements of width bits.
func GenMax(rng io.Reader, rows, cols int, bits uint) (k0, k1 Key, err error) {
	if _, err := checkShape("gen max", rows, cols); err != nil {
		return nil, nil, err
	}
	if err := checkCmpBits(bits); err != nil {
		return nil, nil, fmt.Errorf("hss: gen max: %w", err)
	}
	a, b, err := genMaxRows(rng, uniformLens(rows, cols), reluSpec(bits, true))
	if err != nil {
		return nil, nil, err
	}
	return a, b, nil
}

// genMaxRows generates material for maxRows on rows of lens entries with comparison spec: one
// "relu" lookup key per level, over the pairs of all rows.
func genMaxRows(rng io.Reader, lens []int, spec *lutSpec) (k0, k1 *seqKey, err error) {
	if _, err := checkMaxLens("gen max", lens); err != nil {
		return nil, nil, err
	}
	var p0, p1 []MarshalKey
	for _, pairs := range maxLevels(lens) {
		a, b, err := genLUT(rng, "relu", pairs, spec)
		if err != nil {
			return nil, nil, wrapGate("gen max", err)
		}
		p0, p1 = append(p0, a), append(p1, b)
	}
	return newSeqKey("max", len(lens), p0...), newSeqKey("max", len(lens), p1...), nil
}

// Max returns shares of the maximum of every row of x [rows × cols], for signed entries with
// |x| < 2^(bits−2) (so that differences fit the comparison width bits).
//
// Construction: a tournament tree, max(a, b) = b + ReLU(a − b), with the one-round exact ReLU of
// this package (a DCF by the MSB rule of Boyle et al., Eurocrypt 2021, whose payload also yields the
// product with the difference); the tree structure is that of SIGMA's softmax (Gupta et al., PETS
// 2024) and CrypTen. Rounds ⌈log2 cols⌉ (depth of the tree: 6 for cols ≤ 64, 7 for 128; this is the
// only gate whose rounds grow with its shape). Online (both parties): 16 bytes per comparison,
// cols−1 comparisons per row, i.e. ≈ 16 bytes per input element. Dealer: two DCF keys on bits−1 bits
// with payload 2 per comparison (≈ 1.5 KB at bits 21). Exact.
func (p *Party) Max(x []uint64, rows, cols int, bits uint) ([]uint64, error) {
	n, err := checkShape("max", rows, cols)
	if err != nil {
		return nil, err
	}
	if len(x) != n {
		return nil, fmt.Errorf("hss: max: %d elements for shape %dx%d", len(x), rows, cols)
	}
	if err := checkCmpBits(bits); err != nil {
		return nil, fmt.Errorf("hss: max: %w", err)
	}
	return p.maxRows(x, uniformLens(rows, cols), reluSpec(bits, true))
}

// maxRows is Max over ragged rows: x holds row r's lens[r] ≥ 1 entries after those of the rows
// before it. Each level compares the pairs (2t, 2t+1) of every row that still has c > 1 entries,
// carrying an odd last one, with one lookup gate (spec, a sign term: max(a, b) = b + s·(a − b)) over
// all rows' pairs: ⌈log2 max(lens)⌉ rounds. With the exact ReLU spec the result is the maximum; with
// a coarse one (maxSpec) it is the entry of the row that its comparisons picked (see SoftmaxHeads).
func (p *Party) maxRows(x []uint64, lens []int, spec *lutSpec) ([]uint64, error) {
	n, err := checkMaxLens("max", lens)
	if err != nil {
		return nil, err
	}
	if len(x) != n {
		return nil, fmt.Errorf("hss: max: %d elements for rows of %d in all", len(x), n)
	}
	q, err := p.sub("max", len(lens))
	if err != nil {
		return nil, err
	}
	cur := append([]uint64(nil), x...)
	cnt := append([]int(nil), lens...) // entries of every row at this level
	// A coarse comparison (k > 0) runs on the centred d' = a − b − 2^(k−1) (see maxSpec); party 0
	// subtracts the public constant.
	half := uint64(1) << spec.parts[0].k >> 1
	center := uint64(0)
	if p.ID == 0 {
		center = half
	}
	for _, pairs := range maxLevels(lens) {
		d := make([]uint64, 0, pairs)
		off := 0
		for _, c := range cnt {
			for t := range c / 2 {
				d = append(d, cur[off+2*t]-cur[off+2*t+1]-center)
			}
			off += c
		}
		rl, err := q.evalLUT("relu", spec, d)
		if err != nil {
			return nil, wrapGate("max", err)
		}
		if half != 0 { // s·(a − b) = s·d' + 2^(k−1)·s
			for i := range rl.xs {
				rl.xs[i] += half * rl.s[i]
			}
		}
		// Compact in place: row r's new entries start where its old ones did in the new layout, so
		// writes never overtake reads (the new offset is at most the old one).
		off, noff, i := 0, 0, 0
		for r, c := range cnt {
			for t := range c / 2 {
				cur[noff+t] = cur[off+2*t+1] + rl.xs[i]
				i++
			}
			if c%2 == 1 {
				cur[noff+c/2] = cur[off+c-1]
			}
			nc := c - c/2
			off, noff, cnt[r] = off+c, noff+nc, nc
		}
		cur = cur[:noff]
	}
	if err := finish("max", q); err != nil {
		return nil, err
	}
	return cur, nil
}

// ---- softmax ----------------------------------------------------------------------------------------

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

// causalLens returns the number of visible columns of every row: row i sees min(cols, pos0+i+1).
func causalLens(rows, cols, pos0 int) []int {
	lens := make([]int, rows)
	for i := range lens {
		lens[i] = min(cols, pos0+i+1)
	}
	return lens
}

func smParams(fx Fixed) (maxBits, mulBits uint, rs octSpec) {
	maxBits = fx.Frac + smRange + 3
	mulBits = min(64, 2*fx.Frac+24)
	rs = recipSpec(fx)
	rs.mulBits = mulBits
	return
}

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
	ms, _ := maxSpec(fx)
	m0, m1, err := genMaxRows(rng, lens, ms)
	if err != nil {
		return nil, nil, wrapGate("gen softmax", err)
	}
	add(m0, m1)
	e0, e1, err := GenExp(rng, nv, fx)
	if err != nil {
		return nil, nil, wrapGate("gen softmax", err)
	}
	add(e0.(*seqKey), e1.(*seqKey))
	r0, r1, err := genOctLO(rng, "recip", rows, rs)
	if err != nil {
		return nil, nil, wrapGate("gen softmax", err)
	}
	add(r0, r1)
	w0, w1, err := GenRowMul3(rng, lens, mulBits)
	if err != nil {
		return nil, nil, wrapGate("gen softmax", err)
	}
	add(w0, w1)
	t0, t1, err := GenTrunc(rng, nv, rs.outFrac, mulBits)
	if err != nil {
		return nil, nil, wrapGate("gen softmax", err)
	}
	add(t0, t1)
	return newSeqKey("softmax", rows*cols, p0...), newSeqKey("softmax", rows*cols, p1...), nil
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
// visible entries (a DPF lookup and its truncation, 2 rounds); the row sums (local, ≥ e^-0.19) go
// through the octave lookup of Reciprocal up to its mantissa L and octave factor O (3 rounds; 1/Σe =
// L·O), and p = e·L·O is one three-factor row-broadcast product (RowMul3) plus Trunc (2 rounds), at
// width 2·Frac+24: the reciprocal's own product L·O is not taken apart (one round fewer than
// before, the same value, so the same error).
//
// Rounds ⌈log2 max_i l_i⌉ + 7 (⌈log2 cols⌉ + 7 when the last row sees every column; + 8 before
// RowMul3). Online (both
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
	all, err := checkHeads("softmax", heads, rows)
	if err != nil {
		return nil, err
	}
	n, err := checkSoftmax("softmax", all, cols, pos0, p.Fx)
	if err != nil {
		return nil, err
	}
	if len(x) != n {
		return nil, fmt.Errorf("hss: softmax: %d elements for %d heads of shape %dx%d", len(x), heads, rows, cols)
	}
	q, err := p.sub("softmax", n)
	if err != nil {
		return nil, err
	}
	lens := headLens(heads, rows, cols, pos0)
	rows = all
	nv, _ := sumLens("softmax", lens)
	_, mulBits, rs := smParams(p.Fx)
	// The visible scores, row after row: the max trees, then exp, run on them only.
	d := make([]uint64, 0, nv)
	for r, l := range lens {
		d = append(d, x[r*cols:r*cols+l]...)
	}
	ms, tol := maxSpec(p.Fx)
	m, err := q.maxRows(d, lens, ms)
	if err != nil {
		return nil, wrapGate("softmax", err)
	}
	// m' = m + depth·tol ≥ the row's maximum (party 0 adds the public shift), so d = x − m' ≤ 0.
	i := 0
	for r, l := range lens {
		if p.ID == 0 {
			m[r] += uint64(maxDepth(l)) * tol
		}
		for range l {
			d[i] -= m[r]
			i++
		}
	}
	e, err := q.Exp(d)
	if err != nil {
		return nil, wrapGate("softmax", err)
	}
	sums := make([]uint64, rows)
	i = 0
	for r, l := range lens {
		for range l {
			sums[r] += e[i]
			i++
		}
	}
	// 1/Σe = L·O (mantissa and octave factor), and e·L·O in one round.
	invL, invO, err := q.evalOctLO("recip", rs, sums)
	if err != nil {
		return nil, wrapGate("softmax", err)
	}
	prod, err := q.RowMul3(e, invL, invO, lens, mulBits)
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
	out := make([]uint64, n)
	i = 0
	for r, l := range lens {
		for j := range l {
			out[r*cols+j] = pr[i]
			i++
		}
	}
	return out, nil
}

// ---- LayerNorm and RMSNorm --------------------------------------------------------------------------

const (
	normMeanShift = 32 // precision of 1/dim in the mean
	normLo        = -16
	normHi        = 15
)

// normParams: squares at width sqBits, l = ⌊log2 dim⌋, the rsqrt spec. The rsqrt reads the sum of
// squares Σ = (σ²+eps)·dim with 2f fractional bits untruncated, as (σ²+eps)·ρ with 2f+l fractional
// bits (ρ = dim/2^l ∈ [1,2)): its thresholds and index are those of the range [2^normLo, 2^normHi)
// scaled by 2^l (the truncate-reduce of SIGMA, Gupta et al., PETS 2024, and LLAMA, Gupta et al.,
// PETS 2022: read the untruncated masked value at shifted bits). The squares, and so Σ, are correct
// only mod 2^sqBits: the octave lookup's comparisons read Σ mod 2^cmpBits (cmpBits = normHi+2f+l+2)
// and its mantissa lookup w mod 2^(normHi+2f+l+3) (w = Σ_j b_j·Σ·2^(E−e_j) + …, so the unknown
// multiple of 2^sqBits in Σ's shares only adds multiples of 2^sqBits to w), so sqBits ≥
// normHi+2f+l+3 makes the lookup exact: sqBits = 2f + max(32, normHi+l+3) ≤ 2·14+34 = 62 for
// Frac ≤ 14 and dim ≤ 2^16 (and Σ < 2^(normHi+1+2f+l) ≤ 2^(sqBits−2) on the range).
func normParams(fx Fixed, dim int) (sqBits uint, l uint, rs octSpec) {
	l = uint(bits.Len(uint(dim)) - 1)
	sqBits = min(64, 2*fx.Frac+max(32, normHi+l+3))
	// The rsqrt's error scales every output of the row (the final norm's
	// scales the logits): a 9-bit mantissa table left tinystories-656k's
	// greedy HSS continuations 8/10 identical to plain, 12 bits 10/10; the
	// cubic mantissa pieces (octave.go) are at 2^-14.
	rs = octSpec{target: octRsqrt, lo: normLo, hi: normHi, inFrac: 2*fx.Frac + l,
		outFrac: fx.Frac + RecipExtra, mulBits: 64}
	return
}

func checkNorm(op string, rows, dim int, fx Fixed) (int, error) {
	n, err := checkShape(op, rows, dim)
	if err != nil {
		return 0, err
	}
	if dim > 1<<16 {
		return 0, fmt.Errorf("hss: %s: dimension %d above 65536", op, dim)
	}
	if fx.Frac < 8 || fx.Frac > 14 {
		return 0, fmt.Errorf("hss: %s: frac %d out of range [8,14]", op, fx.Frac)
	}
	return n, nil
}

func genNorm(rng io.Reader, kind string, rows, dim int, fx Fixed, center bool) (k0, k1 Key, err error) {
	op := "gen " + kind
	n, err := checkNorm(op, rows, dim, fx)
	if err != nil {
		return nil, nil, err
	}
	sqBits, _, rs := normParams(fx, dim)
	var p0, p1 []MarshalKey
	add := func(a, b MarshalKey) { p0, p1 = append(p0, a), append(p1, b) }
	if center {
		a, b, err := GenTrunc(rng, rows, normMeanShift, 64)
		if err != nil {
			return nil, nil, wrapGate(op, err)
		}
		add(a, b)
	}
	s0, s1, err := GenSquare(rng, n, sqBits)
	if err != nil {
		return nil, nil, wrapGate(op, err)
	}
	add(s0, s1)
	r0, r1, err := genOctLO(rng, "rsqrt", rows, rs)
	if err != nil {
		return nil, nil, wrapGate(op, err)
	}
	add(r0, r1)
	lens := make([]int, rows)
	for i := range lens {
		lens[i] = dim
	}
	w0, w1, err := GenRowMul3(rng, lens, 64)
	if err != nil {
		return nil, nil, wrapGate(op, err)
	}
	add(w0, w1)
	u0, u1, err := GenTrunc(rng, n, fx.Frac+rs.outFrac, 64)
	if err != nil {
		return nil, nil, wrapGate(op, err)
	}
	add(u0, u1)
	return newSeqKey(kind, n, p0...), newSeqKey(kind, n, p1...), nil
}

// GenLayerNorm generates material for LayerNorm over rows×dim elements.
func GenLayerNorm(rng io.Reader, rows, dim int, fx Fixed) (k0, k1 Key, err error) {
	return genNorm(rng, "layernorm", rows, dim, fx, true)
}

// GenRMSNorm generates material for RMSNorm over rows×dim elements.
func GenRMSNorm(rng io.Reader, rows, dim int, fx Fixed) (k0, k1 Key, err error) {
	return genNorm(rng, "rmsnorm", rows, dim, fx, false)
}

// LayerNorm returns shares of γ ⊙ (x − μ)/√(σ² + eps) + β for every row of x [rows × dim] (Frac
// fractional bits, 8 ≤ Frac ≤ 14), with public gain γ and bias β (len dim, encoded with Frac
// fractional bits; bias may be nil) and μ, σ² the row's mean and (biased) variance.
//
// Range: rows with σ² + eps ∈ [2^-16, 2^14) (at dim 2^l: [2^-16, 2^15)/ρ), |μ| < 2^18, dim ≤ 65536,
// |γ_i·(x_i − μ)/σ| < 2^13.
//
// Construction (the LayerNorm of SIGMA, Gupta et al., PETS 2024, with this package's gates):
// μ = Trunc(Σx·⌊2^32/dim⌉, 32) (1 round); d = x − μ; Σd² from Square at width sqBits = 2·Frac +
// max(32, 18+⌊log2 dim⌋) (1 round); the octave lookup reads S = Σd² + eps·dim UNtruncated as
// (σ²+eps)·ρ with 2·Frac+l fractional bits, l = ⌊log2 dim⌋, ρ = dim/2^l ∈ [1,2) (its thresholds
// scaled by 2^l: truncate-reduce, SIGMA and LLAMA, Gupta et al., PETS 2022; see normParams for why
// sqBits suffices although S is correct only mod 2^sqBits), √ρ folded into the public gain; r = 1/√(ρ(σ²+eps))
// (range [2^-16, 2^15): the octave lookup up to its mantissa L and octave factor O, r = L·O, 3
// rounds); y = Trunc(γ√ρ ⊙ RowMul3(d, L, O)) + β (2 rounds, 64-bit: the three-factor row product
// takes d·L·O in one round, the same value as RowMul(d, L·O)).
// Rounds 7 (9 before the variance's truncation was dropped and RowMul3 took the rsqrt's product). Online (both parties, per element): 14
// (square) + 16 (row product) + 16 (trunc) bytes, plus ≈ 110 bytes per row. Dealer: ≈ 27.5 bytes per
// element (party 1's triple and truncation shares), ≈ 4.6 KB per row at dim 4096 and Frac 12 (party
// 0: 2.3 KB; the comparison's DCF key grows with ⌊log2 dim⌋: 3.4 KB per row before). Error: |y −
// y_ref| ≤ |γ|·(2^-9·|ŷ| + 2^-Frac/σ) + 2^(1−Frac), ŷ the normalised value (the second term is the
// mean's rounding; the variance is no longer rounded, so the bound now holds down to σ²+eps = 2^-16,
// where it held from 2^-12 before), measured in TestNorms and at the range's ends in
// TestNormRangeEdges.
func (p *Party) LayerNorm(x []uint64, rows, dim int, gain, bias []uint64, eps float64) ([]uint64, error) {
	return p.norm("layernorm", x, rows, dim, gain, bias, eps, true)
}

// RMSNorm returns shares of γ ⊙ x/√(mean(x²) + eps) for every row of x [rows × dim] (Frac
// fractional bits, 8 ≤ Frac ≤ 14) and public gain γ (len dim, Frac fractional bits).
//
// Range: mean(x²) + eps ∈ [2^-16, 2^14), dim as for LayerNorm, |γ_i·x_i/rms| < 2^13. Construction as
// LayerNorm without the mean (Zhang and Sennrich, 2019, for the function; SIGMA-style gates; the
// rsqrt reads the untruncated sum of squares, RowMul3 takes d·L·O). Rounds 6 (8 before). Online (both parties, per
// element): 14 + 16 + 16 bytes, plus ≈ 94 bytes per row. Dealer: ≈ 27.5 bytes per element, ≈ 4.6 KB
// per row at dim 4096. Error: |y − y_ref| ≤ 2^-9·|γ·ŷ| + 2^(1−Frac) on the whole range (before: from 2^-12 up).
func (p *Party) RMSNorm(x []uint64, rows, dim int, gain []uint64, eps float64) ([]uint64, error) {
	return p.norm("rmsnorm", x, rows, dim, gain, nil, eps, false)
}

func (p *Party) norm(kind string, x []uint64, rows, dim int, gain, bias []uint64, eps float64, center bool) ([]uint64, error) {
	n, err := checkNorm(kind, rows, dim, p.Fx)
	if err != nil {
		return nil, err
	}
	if len(x) != n {
		return nil, fmt.Errorf("hss: %s: %d elements for shape %dx%d", kind, len(x), rows, dim)
	}
	if len(gain) != dim || (bias != nil && len(bias) != dim) {
		return nil, fmt.Errorf("hss: %s: gain/bias of %d/%d elements for dimension %d", kind, len(gain), len(bias), dim)
	}
	if !(eps >= 0 && eps < 1) {
		return nil, fmt.Errorf("hss: %s: eps %v out of range [0,1)", kind, eps)
	}
	q, err := p.sub(kind, n)
	if err != nil {
		return nil, err
	}
	f := p.Fx.Frac
	sqBits, l, rs := normParams(p.Fx, dim)
	own := uint64(1 - p.ID)
	d := x
	if center {
		sums := make([]uint64, rows)
		for r := range rows {
			for j := range dim {
				sums[r] += x[r*dim+j]
			}
			sums[r] *= uint64(math.Round(math.Ldexp(1, normMeanShift) / float64(dim)))
		}
		mu, err := q.Trunc(sums, normMeanShift, 64)
		if err != nil {
			return nil, wrapGate(kind, err)
		}
		d = make([]uint64, n)
		for r := range rows {
			for j := range dim {
				d[r*dim+j] = x[r*dim+j] - mu[r]
			}
		}
	}
	sq, err := q.Square(d, sqBits)
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	epsRaw := own * uint64(math.Round(math.Ldexp(eps*float64(dim), int(2*f))))
	ss := make([]uint64, rows)
	for r := range rows {
		ss[r] = epsRaw
		for j := range dim {
			ss[r] += sq[r*dim+j]
		}
	}
	// r = 1/√ = L·O (mantissa and octave factor; Σ read untruncated: see normParams), and d·L·O in
	// one round.
	rl, ro, err := q.evalOctLO("rsqrt", rs, ss)
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	lens := make([]int, rows)
	for i := range lens {
		lens[i] = dim
	}
	z, err := q.RowMul3(d, rl, ro, lens, 64)
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	sr := math.Sqrt(float64(dim) / math.Ldexp(1, int(l)))
	g := make([]uint64, dim)
	for j := range g {
		g[j] = uint64(int64(math.Round(float64(int64(gain[j])) * sr)))
	}
	for r := range rows {
		for j := range dim {
			z[r*dim+j] *= g[j]
		}
	}
	y, err := q.Trunc(z, f+rs.outFrac, 64)
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	if bias != nil && p.ID == 0 {
		for r := range rows {
			for j := range dim {
				y[r*dim+j] += bias[j]
			}
		}
	}
	if err := finish(kind, q); err != nil {
		return nil, err
	}
	return y, nil
}
