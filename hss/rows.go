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

// GenMax generates material for Max over rows×cols elements of width bits.
func GenMax(rng io.Reader, rows, cols int, bits uint) (k0, k1 Key, err error) {
	a, b, err := genMax(rng, rows, cols, bits)
	if err != nil {
		return nil, nil, err
	}
	return a, b, nil
}

func genMax(rng io.Reader, rows, cols int, bits uint) (k0, k1 *seqKey, err error) {
	if _, err := checkShape("gen max", rows, cols); err != nil {
		return nil, nil, err
	}
	if err := checkCmpBits(bits); err != nil {
		return nil, nil, fmt.Errorf("hss: gen max: %w", err)
	}
	var p0, p1 []MarshalKey
	for _, pairs := range maxPairs(cols) {
		a, b, err := genLUT(rng, "relu", rows*pairs, reluSpec(bits, true))
		if err != nil {
			return nil, nil, wrapGate("gen max", err)
		}
		p0, p1 = append(p0, a), append(p1, b)
	}
	return newSeqKey("max", rows, p0...), newSeqKey("max", rows, p1...), nil
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
	q, err := p.sub("max", rows)
	if err != nil {
		return nil, err
	}
	cur, c := append([]uint64(nil), x...), cols
	for c > 1 {
		pairs, nc := c/2, c-c/2
		d := make([]uint64, rows*pairs)
		for r := range rows {
			for t := range pairs {
				d[r*pairs+t] = cur[r*c+2*t] - cur[r*c+2*t+1]
			}
		}
		rl, err := q.ReLU(d, bits)
		if err != nil {
			return nil, wrapGate("max", err)
		}
		next := make([]uint64, rows*nc)
		for r := range rows {
			for t := range pairs {
				next[r*nc+t] = cur[r*c+2*t+1] + rl[r*pairs+t]
			}
			if c%2 == 1 {
				next[r*nc+pairs] = cur[r*c+c-1]
			}
		}
		cur, c = next, nc
	}
	if err := finish("max", q); err != nil {
		return nil, err
	}
	return cur, nil
}

// ---- softmax ----------------------------------------------------------------------------------------

const (
	smRange = 6 // softmax inputs |x| < 2^6
)

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
	maxBits, mulBits, rs := smParams(fx)
	var p0, p1 []MarshalKey
	add := func(a, b MarshalKey) { p0, p1 = append(p0, a), append(p1, b) }
	m0, m1, err := genMax(rng, rows, cols, maxBits)
	if err != nil {
		return nil, nil, wrapGate("gen softmax", err)
	}
	add(m0, m1)
	e0, e1, err := GenExp(rng, nv, fx)
	if err != nil {
		return nil, nil, wrapGate("gen softmax", err)
	}
	add(e0.(*seqKey), e1.(*seqKey))
	r0, r1, err := genOct(rng, "recip", rows, rs)
	if err != nil {
		return nil, nil, wrapGate("gen softmax", err)
	}
	add(r0, r1)
	w0, w1, err := GenRowMul(rng, lens, mulBits)
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
// (Frac fractional bits, 8 ≤ Frac ≤ 20): row i attends to its first min(cols, pos0+i+1) columns
// (query i sits at position pos0+i of a sequence whose keys are the columns); the other outputs are
// exactly 0. Inputs: visible scores |x| < 2^6 (scaled QKᵀ of real transformers stays well inside);
// cols ≤ 4096.
//
// Construction (the softmax of SIGMA, Gupta et al., PETS 2024, §5): masked entries are replaced by
// the public −2^6; m = Max over the row (ReLU tree); e = Exp(x − m) on the visible entries
// (piecewise-linear DPF lookup and its truncation, 2 rounds); the row sums (local) go through
// Reciprocal (octave lookup, 3 rounds), and p = e·(1/Σe) is one row-broadcast Beaver product plus
// Trunc (2 rounds), at width 2·Frac+24.
// Rounds ⌈log2 cols⌉ + 7. Online (both parties, per visible entry, Frac 12): ≈ 16 (max tree, per
// element of the full matrix) + 11.25 (exp) + 12 (product) + 12 (trunc) bytes, plus ≈ 59 bytes per
// row. Dealer: ≈ 1.4 KB (max) + 0.6 KB (exp) per element, ≈ 2.2 KB per row. Error: |p − softmax| ≤
// 2^-11 (Exp's relative 2^-10 enters as p(1−p)·2^-10·2) + Exp's absolute 2^-Frac + 2^-15 per entry
// (stochastic, unbiased truncation: it averages out in the row sum) + 2^-10·p (reciprocal) +
// 2^-12 (truncation),
// below 2^-8 absolute (measured in the tests).
func (p *Party) Softmax(x []uint64, rows, cols, pos0 int) ([]uint64, error) {
	return p.SoftmaxHeads(x, 1, rows, cols, pos0)
}

// SoftmaxHeads is Softmax over heads score matrices [rows × cols] stacked
// in x ([heads·rows × cols]), each with the same causal offset pos0, in the
// rounds of one: the attention of every head of a layer at once. Costs are
// those of Softmax on the stacked matrix.
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
	maxBits, mulBits, rs := smParams(p.Fx)
	// Masked scores become the public −2^6, below every visible score.
	filled := append([]uint64(nil), x...)
	low := uint64(0)
	if p.ID == 0 {
		low = -(uint64(1) << (p.Fx.Frac + smRange))
	}
	for r, l := range lens {
		for j := l; j < cols; j++ {
			filled[r*cols+j] = low
		}
	}
	m, err := q.Max(filled, rows, cols, maxBits)
	if err != nil {
		return nil, wrapGate("softmax", err)
	}
	d := make([]uint64, 0, nv)
	for r, l := range lens {
		for j := range l {
			d = append(d, x[r*cols+j]-m[r])
		}
	}
	e, err := q.Exp(d)
	if err != nil {
		return nil, wrapGate("softmax", err)
	}
	sums := make([]uint64, rows)
	i := 0
	for r, l := range lens {
		for range l {
			sums[r] += e[i]
			i++
		}
	}
	inv, err := q.evalOct("recip", rs, sums)
	if err != nil {
		return nil, wrapGate("softmax", err)
	}
	prod, err := q.RowMul(e, inv, lens, mulBits)
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

// normParams: squares at width sqBits, the variance's fractional bits 2f, ⌊log2 dim⌋, the rsqrt spec.
func normParams(fx Fixed, dim int) (sqBits uint, l uint, rs octSpec) {
	sqBits = min(64, 2*fx.Frac+32)
	l = uint(bits.Len(uint(dim)) - 1)
	// 12 mantissa bits (relative error 2^-12, not rsqrt's 2^-10): a norm
	// needs one rsqrt per row, and its error scales every output of the row
	// (the final norm's scales the logits; 9 bits left tinystories-656k's
	// greedy HSS continuations 8/10 identical to plain, 12 bits 10/10).
	rs = octSpec{target: octRsqrt, lo: normLo, hi: normHi, mbits: 12, inFrac: 2 * fx.Frac,
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
	sqBits, l, rs := normParams(fx, dim)
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
	t0, t1, err := GenTrunc(rng, rows, l, sqBits)
	if err != nil {
		return nil, nil, wrapGate(op, err)
	}
	add(t0, t1)
	r0, r1, err := genOct(rng, "rsqrt", rows, rs)
	if err != nil {
		return nil, nil, wrapGate(op, err)
	}
	add(r0, r1)
	lens := make([]int, rows)
	for i := range lens {
		lens[i] = dim
	}
	w0, w1, err := GenRowMul(rng, lens, 64)
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
// Range: rows with σ² + eps ∈ [2^-12, 2^14) (the bound below; down to 2^-16 with a larger error from
// the variance's rounding), |μ| < 2^18, dim ≤ 65536, |γ_i·(x_i − μ)/σ| < 2^13.
//
// Construction (the LayerNorm of SIGMA, Gupta et al., PETS 2024, with this package's gates):
// μ = Trunc(Σx·⌊2^32/dim⌉, 32) (1 round); d = x − μ; Σd² from Square at width 2·Frac+32 (1 round);
// T = Trunc(Σd² + eps·dim, ⌊log2 dim⌋) (1 round) is (σ²+eps)·ρ with 2·Frac fractional bits, ρ =
// dim/2^⌊log2 dim⌋ ∈ [1,2), and √ρ is folded into the public gain; r = 1/√T by the octave lookup
// (range [2^-16, 2^15), 3 rounds); y = Trunc(γ√ρ ⊙ RowMul(d, r)) + β (2 rounds, 64-bit).
// Rounds 8. Online (both parties, per element): 14 (square) + 16 (row product) + 16 (trunc) bytes,
// plus ≈ 101 bytes per row. Dealer: ≈ 27.5 bytes per element (party 1's triple and truncation
// shares), ≈ 3.4 KB per row. Error: |y − y_ref| ≤ |γ|·(2^-9·|ŷ| + 2^-Frac/σ) + 2^(1−Frac), ŷ the
// normalised value (the second term is the mean's rounding), measured in the tests.
func (p *Party) LayerNorm(x []uint64, rows, dim int, gain, bias []uint64, eps float64) ([]uint64, error) {
	return p.norm("layernorm", x, rows, dim, gain, bias, eps, true)
}

// RMSNorm returns shares of γ ⊙ x/√(mean(x²) + eps) for every row of x [rows × dim] (Frac
// fractional bits, 8 ≤ Frac ≤ 14) and public gain γ (len dim, Frac fractional bits).
//
// Range: mean(x²) + eps ∈ [2^-12, 2^14) (down to 2^-16 with a larger error), dim as for
// LayerNorm, |γ_i·x_i/rms| < 2^13. Construction as LayerNorm without the mean (Zhang and Sennrich,
// 2019, for the function; SIGMA-style gates). Rounds 7. Online (both parties, per element): 14 + 16 +
// 16 bytes, plus ≈ 85 bytes per row. Dealer: ≈ 27.5 bytes per element, ≈ 3.4 KB per row. Error:
// |y − y_ref| ≤ 2^-9·|γ·ŷ| + 2^(1−Frac).
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
	tv, err := q.Trunc(ss, l, sqBits)
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	rr, err := q.evalOct("rsqrt", rs, tv)
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	lens := make([]int, rows)
	for i := range lens {
		lens[i] = dim
	}
	z, err := q.RowMul(d, rr, lens, 64)
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
