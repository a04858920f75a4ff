package hss

import (
	"fmt"
	"io"
	"math"
	"math/bits"
)

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

func init() {
	registerSeq("layernorm", "trunc", "square", "rsqrt.lm")
	registerSeq("rmsnorm", "trunc", "square", "rsqrt.lm")
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
	lens := make([]int, rows)
	for i := range lens {
		lens[i] = dim
	}
	r0, r1, err := genOctMul3(rng, "rsqrt", lens, rs, 64)
	if err != nil {
		return nil, nil, wrapGate(op, err)
	}
	add(r0, r1)
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
	// r = 1/√ = L·O (mantissa and octave factor; Σ read untruncated: see normParams), and d·L·O
	// with L's truncation in one round (evalOctMul3).
	lens := make([]int, rows)
	for i := range lens {
		lens[i] = dim
	}
	z, err := q.evalOctMul3("rsqrt", rs, ss, d, lens)
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
	lens := make([]int, rows)
	for i := range lens {
		lens[i] = dim
	}
	rsq, err := octMul3Part("rsqrt", lens, rs, 64)
	if err != nil {
		return nil, err
	}
	parts = append(parts,
		part{kind: "square", c: costSquare(n, sqBits)},
		rsq,
		part{kind: "trunc", c: costTrunc(n, fx.Frac+rs.outFrac, 64), label: "out.trunc"},
	)
	return seqStages("norm", parts...), nil
}
