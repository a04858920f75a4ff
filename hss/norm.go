package hss

import (
	"errors"
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
// normHi+2f+l+3 makes the lookup exact: sqBits = 2f + normHi + l + 3 ≤ 2·14+34 = 62 for Frac ≤ 14
// and dim ≤ 2^16 (and Σ < 2^(normHi+1+2f+l) ≤ 2^(sqBits−2) on the range). (It was 2f + max(32, …)
// before: 5 bits more per opened and dealt square at dim 768.)
//
// mode selects the rsqrt's output bits: Frac + RecipExtra (normOut), Frac + NormRawExtra
// (normRaw: NormRaw's), Frac + NormScaleExtra (normScale: NormScale's).
func normParams(fx Fixed, dim int, mode normMode) (sqBits uint, l uint, rs octSpec) {
	l = uint(bits.Len(uint(dim)) - 1)
	sqBits = min(64, 2*fx.Frac+normHi+l+3)
	// The rsqrt's error scales every output of the row (the final norm's
	// scales the logits): a 9-bit mantissa table left tinystories-656k's
	// greedy HSS continuations 8/10 identical to plain, 12 bits 10/10; the
	// cubic mantissa pieces (octave.go) are at 2^-14.
	rs = octSpec{target: octRsqrt, lo: normLo, hi: normHi, inFrac: 2*fx.Frac + l,
		outFrac: fx.Frac + RecipExtra, mulBits: 64}
	switch mode {
	case normRaw:
		rs.outFrac = fx.Frac + NormRawExtra
	case normScale:
		rs.outFrac = fx.Frac + NormScaleExtra(fx)
	}
	return
}

// normMode is what a norm returns: its output (normOut: gain, bias and output truncation applied),
// its raw output d·r (normRaw: NormRaw), or only its row factor r (normScale: NormScale).
type normMode uint8

const (
	normOut normMode = iota
	normRaw
	normScale
)

// NormRawExtra is the number of fractional bits NormRaw's rsqrt has beyond Frac: its output
// d·r has NormRawFrac = 2·Frac + NormRawExtra fractional bits, so a linear layer of it has
// 3·Frac + NormRawExtra and fits a truncation at width 64 below 2^(53 − 3·Frac) (2^11 at Frac
// 14). The rsqrt's mantissa then keeps Frac + 2 bits (2^-16 at Frac 14, 2^-14 at 12), within the
// norms' 2^-9 relative bound.
const NormRawExtra = 9

// NormRawFrac is the number of fractional bits of NormRaw's output.
func NormRawFrac(fx Fixed) uint { return 2*fx.Frac + NormRawExtra }

// NormRawGain is the factor √(dim/2^⌊log2 dim⌋) ∈ [1, √2) by which NormRaw's output falls short of
// the normalised row (the rsqrt reads the row's sum of squares as (σ²+eps)·ρ: normParams): the
// caller folds it, with the norm's gain, into the next linear layer's weights.
func NormRawGain(dim int) float64 {
	return math.Sqrt(float64(dim) / math.Ldexp(1, bits.Len(uint(dim))-1))
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
	registerSeq("layernormscale", "truncsq", "rsqrt.cmp", "rsqrt.lut", "ospl")
	registerSeq("rmsnormscale", "square", "rsqrt.cmp", "rsqrt.lut", "ospl")
	registerSeq("rmsnormresscale", "truncsq", "rsqrt.cmp", "rsqrt.lut", "ospl")
	registerSeq("layernorm", "truncsq", "rsqrt.lm", "rsqrt.sm", "trunc")
	registerSeq("rmsnorm", "square", "rsqrt.lm", "rsqrt.sm", "trunc")
	registerSeq("rmsnormres", "truncsq", "rsqrt.lm", "rsqrt.sm", "trunc")
	registerSeq("layernormraw", "truncsq", "rsqrt.lm", "rsqrt.sm")
	registerSeq("rmsnormraw", "square", "rsqrt.lm", "rsqrt.sm")
	registerSeq("rmsnormresraw", "truncsq", "rsqrt.lm", "rsqrt.sm")
	registerSeq("rsqrt.lm", "rsqrt.cmp", "rsqrt.lut", "trowmul3")
}

// normSplineRows: a norm of at most this many rows (a decode step's) takes its rsqrt from the octave
// spline (spline.go: one round, about 20× the CPU per row of the octave lookup and ~138 KB of
// material per row for both parties, which a 768-wide row's other material is far below); longer
// ones (a prefill's) from the octave lookup (octave.go: two rounds). Shape-only, so the dealer, the
// parties and the cost functions decide alike (normSpline).
const normSplineRows = 1

// normSpline reports whether a norm of rows rows with rsqrt spec rs takes the octave spline: at most
// normSplineRows rows, where the spline applies (a small Frac·dim leaves its lowest octave too few
// input bits: spline.go). Shape-only.
func normSpline(rows int, rs octSpec) bool {
	if rows > normSplineRows {
		return false
	}
	_, err := rs.spline()
	return err == nil
}

// genNormRsqrt is the material of the norm's rsqrt with its row product for rows of lens.
func genNormRsqrt(rng io.Reader, lens []int, rs octSpec) (*seqKey, *seqKey, error) {
	if normSpline(len(lens), rs) {
		return genSplineMul3(rng, "rsqrt", lens, rs, 64)
	}
	return genOctMul3(rng, "rsqrt", lens, rs, 64, xTrunc{})
}

// normRsqrtPart is the cost of the norm's rsqrt with its row product (genNormRsqrt).
func normRsqrtPart(lens []int, rs octSpec) (part, error) {
	if normSpline(len(lens), rs) {
		return splineMul3Part("rsqrt", lens, rs, 64)
	}
	return octMul3Part("rsqrt", lens, rs, 64, xTrunc{})
}

// ResTrunc is the pending truncation of a residual stream z = x + Trunc(t, Frac, Bits) that
// RMSNormRes takes in its first round.
type ResTrunc struct{ Frac, Bits uint }

func (r ResTrunc) check(op string) error {
	if r.Bits < 2 || r.Bits > 64 || r.Frac+2 > r.Bits {
		return fmt.Errorf("hss: %s: residual truncation by %d at width %d", op, r.Frac, r.Bits)
	}
	return nil
}

// normKind is the key kind of a norm: LayerNorm (center), RMSNorm, or RMSNorm of a pending residual;
// raw for NormRaw's, scale for NormScale's.
func normKind(center bool, res *ResTrunc, mode normMode) string {
	k := "rmsnorm"
	switch {
	case center:
		k = "layernorm"
	case res != nil:
		k = "rmsnormres"
	}
	switch mode {
	case normRaw:
		k += "raw"
	case normScale:
		k += "scale"
	}
	return k
}

func genNorm(rng io.Reader, rows, dim int, fx Fixed, center bool, res *ResTrunc, mode normMode) (k0, k1 Key, err error) {
	kind := normKind(center, res, mode)
	op := "gen " + kind
	n, err := checkNorm(op, rows, dim, fx)
	if err != nil {
		return nil, nil, err
	}
	if center && res != nil {
		return nil, nil, fmt.Errorf("hss: %s: LayerNorm of a pending residual", op)
	}
	sqBits, _, rs := normParams(fx, dim, mode)
	var p0, p1 []MarshalKey
	add := func(a, b MarshalKey) { p0, p1 = append(p0, a), append(p1, b) }
	switch {
	case center:
		a, b, err := genTruncSquare(rng, n, rows, normMeanShift, 64, sqBits, true)
		if err != nil {
			return nil, nil, wrapGate(op, err)
		}
		add(a, b)
	case res != nil:
		if err := res.check(op); err != nil {
			return nil, nil, err
		}
		a, b, err := genTruncSquare(rng, n, n, res.Frac, res.Bits, sqBits, false)
		if err != nil {
			return nil, nil, wrapGate(op, err)
		}
		add(a, b)
	default:
		s0, s1, err := GenSquare(rng, n, sqBits)
		if err != nil {
			return nil, nil, wrapGate(op, err)
		}
		add(s0, s1)
	}
	if mode == normScale {
		// The rsqrt alone; its row product is ScaleRows' (GenScaleRows).
		if normSpline(rows, rs) {
			s0, s1, err := genSpline(rng, rows, rs)
			if err != nil {
				return nil, nil, wrapGate(op, err)
			}
			add(s0, s1)
		} else {
			c0, c1, l0, l1, err := genOctLO(rng, "rsqrt", rows, rs)
			if err != nil {
				return nil, nil, wrapGate(op, err)
			}
			add(c0, c1)
			add(l0, l1)
		}
		return newSeqKey(kind, n, p0...), newSeqKey(kind, n, p1...), nil
	}
	r0, r1, err := genNormRsqrt(rng, UniformLens(rows, dim), rs)
	if err != nil {
		return nil, nil, wrapGate(op, err)
	}
	add(r0, r1)
	if mode == normOut {
		u0, u1, err := GenTrunc(rng, n, fx.Frac+rs.outFrac, 64)
		if err != nil {
			return nil, nil, wrapGate(op, err)
		}
		add(u0, u1)
	}
	return newSeqKey(kind, n, p0...), newSeqKey(kind, n, p1...), nil
}

// GenLayerNorm generates material for LayerNorm over rows×dim elements.
func GenLayerNorm(rng io.Reader, rows, dim int, fx Fixed) (k0, k1 Key, err error) {
	return genNorm(rng, rows, dim, fx, true, nil, normOut)
}

// GenRMSNorm generates material for RMSNorm over rows×dim elements.
func GenRMSNorm(rng io.Reader, rows, dim int, fx Fixed) (k0, k1 Key, err error) {
	return genNorm(rng, rows, dim, fx, false, nil, normOut)
}

// GenRMSNormRes generates material for RMSNormRes over rows×dim elements with the residual's
// truncation res.
func GenRMSNormRes(rng io.Reader, rows, dim int, fx Fixed, res ResTrunc) (k0, k1 Key, err error) {
	return genNorm(rng, rows, dim, fx, false, &res, normOut)
}

// GenNormRaw generates material for NormRaw over rows×dim elements: LayerNorm (center) or
// RMSNorm, of a pending residual with truncation res (RMSNorm only; nil for none).
func GenNormRaw(rng io.Reader, rows, dim int, fx Fixed, center bool, res *ResTrunc) (k0, k1 Key, err error) {
	return genNorm(rng, rows, dim, fx, center, res, normRaw)
}

// LayerNorm returns shares of γ ⊙ (x − μ)/√(σ² + eps) + β for every row of x [rows × dim] (Frac
// fractional bits, 8 ≤ Frac ≤ 14), with public gain γ and bias β (len dim, encoded with Frac
// fractional bits; bias may be nil) and μ, σ² the row's mean and (biased) variance.
//
// Range: rows with σ² + eps ∈ [2^-16, 2^14) (at dim 2^l: [2^-16, 2^15)/ρ), |μ| < 2^(30−Frac), dim ≤ 65536,
// |γ_i·(x_i − μ)/σ| < 2^(50−3·Frac) (2^14 at Frac 12, 2^8 at 14: the output's truncation reads
// γ·d·L·O with 3·Frac + 12 fractional bits at width 64).
//
// Construction (the LayerNorm of SIGMA, Gupta et al., PETS 2024, with this package's gates):
// μ = Trunc(Σx·⌊2^32/dim⌉, 32), d = x − μ and d⊙d at width sqBits = 2·Frac + max(32, 18+⌊log2 dim⌋)
// in one round (truncSquare, truncsq.go: the square's masks correlated with the truncation's); the octave lookup reads S = Σd² + eps·dim UNtruncated as
// (σ²+eps)·ρ with 2·Frac+l fractional bits, l = ⌊log2 dim⌋, ρ = dim/2^l ∈ [1,2) (its thresholds
// scaled by 2^l: truncate-reduce, SIGMA and LLAMA, Gupta et al., PETS 2022; see normParams for why
// sqBits suffices although S is correct only mod 2^sqBits), √ρ folded into the public gain; r = 1/√(ρ(σ²+eps))
// (range [2^-16, 2^15)) is the octave lookup's mantissa L and octave factor O (comparisons, then the
// mantissa's lookup: 2 rounds; for one row, a decode step's, the octave spline of spline.go gives L
// and O in 1 round for about 20× the CPU per row: normSplineRows), and d·L·O one three-factor row
// product with L's truncation (1 round,
// 64-bit: evalOctMul3); y = Trunc(γ√ρ ⊙ d·L·O) + β (1 round).
// Rounds 5, 4 for one row (6 before the mean's truncation rode on the squares' round; 9 before the variance's
// truncation was dropped and RowMul3 took the rsqrt's product). Online (both parties, per element): 14
// (square) + 16 (row product) + 16 (trunc) bytes, plus ≈ 110 bytes per row. Dealer: ≈ 31.5 bytes per
// element (party 1's square, m·M and truncation shares), ≈ 4.6 KB per row at dim 4096 and Frac 12 (party
// 0: 2.3 KB; the comparison's DCF key grows with ⌊log2 dim⌋: 3.4 KB per row before), ≈ 138 KB for a
// one-row call (the octave spline's 31 DCF keys per party). Error: |y −
// y_ref| ≤ |γ|·(2^-9·|ŷ| + 2^-Frac/σ) + 2^(1−Frac), ŷ the normalised value (the second term is the
// mean's rounding; the variance is no longer rounded, so the bound now holds down to σ²+eps = 2^-16,
// where it held from 2^-12 before), measured in TestNorms and at the range's ends in
// TestNormRangeEdges.
func (p *Party) LayerNorm(x []uint64, rows, dim int, gain, bias []uint64, eps float64) ([]uint64, error) {
	_, y, _, err := p.norm(x, nil, nil, rows, dim, gain, bias, eps, true, normOut)
	return y, err
}

// RMSNorm returns shares of γ ⊙ x/√(mean(x²) + eps) for every row of x [rows × dim] (Frac
// fractional bits, 8 ≤ Frac ≤ 14) and public gain γ (len dim, Frac fractional bits).
//
// Range: mean(x²) + eps ∈ [2^-16, 2^14), dim as for LayerNorm, |γ_i·x_i/rms| < 2^(50−3·Frac). Construction as
// LayerNorm without the mean (Zhang and Sennrich, 2019, for the function; SIGMA-style gates; the
// rsqrt reads the untruncated sum of squares, RowMul3 takes d·L·O). Rounds 5, 4 for one row (7 before). Online (both parties, per
// element): 14 + 16 + 16 bytes, plus ≈ 94 bytes per row. Dealer: ≈ 27.5 bytes per element, ≈ 4.6 KB
// per row at dim 4096 (≈ 138 KB for a one-row call: the octave spline). Error: |y − y_ref| ≤ 2^-9·|γ·ŷ| + 2^(1−Frac) on the whole range (before: from 2^-12 up).
func (p *Party) RMSNorm(x []uint64, rows, dim int, gain []uint64, eps float64) ([]uint64, error) {
	_, y, _, err := p.norm(x, nil, nil, rows, dim, gain, nil, eps, false, normOut)
	return y, err
}

// RMSNormRes is RMSNorm of a residual stream whose last addition waits for its truncation:
// z = x + Trunc(t, res.Frac, res.Bits) (x with Frac fractional bits, t untruncated, |t| < 2^(Bits−2)).
// It returns shares of z (the residual stream, as Trunc and an addition give it) and of RMSNorm(z),
// with the truncation in the squares' round (truncSquare, truncsq.go): 5 rounds where Trunc then
// RMSNorm take 6. Range and error: RMSNorm's, for z.
func (p *Party) RMSNormRes(x, t []uint64, res ResTrunc, rows, dim int, gain []uint64, eps float64) (z, y []uint64, err error) {
	if len(t) != len(x) {
		return nil, nil, fmt.Errorf("hss: rmsnormres: %d residual and %d pending elements", len(x), len(t))
	}
	z, y, _, err = p.norm(x, t, &res, rows, dim, gain, nil, eps, false, normOut)
	return z, y, err
}

// NormRaw is the norm (LayerNorm if center, else RMSNorm; of the residual x + Trunc(t, res) if res
// is not nil, t then holding the pending addend, RMSNorm only) without its gain, bias and output
// truncation: it returns the norm's input (x, or the residual) and z = d·r with NormRawFrac(Fx) =
// 2·Frac + NormRawExtra fractional bits untruncated, d = x − μ (LayerNorm) or x, r = 1/√(ρ(σ²+eps))
// (ρ: NormRawGain). So γ ⊙ ŷ + β = γ·NormRawGain(dim) ⊙ z/2^NormRawFrac + β, and a linear layer W
// that reads the norm's output can read z instead, with γ·NormRawGain folded into its weights and
// W·β into its bias: one truncation of the layer's output (by NormRawFrac, which the next gate can
// take in its own round: GeLURaw, SiLUMulRaw) replaces the norm's output truncation — 4 rounds (3 for
// one row: the octave spline).
// Range as LayerNorm's and RMSNorm's; error as theirs without the output's truncation (the
// rsqrt's mantissa keeps Frac + 2 bits).
func (p *Party) NormRaw(x, t []uint64, res *ResTrunc, rows, dim int, eps float64, center bool) (in, z []uint64, err error) {
	if res != nil && len(t) != len(x) {
		return nil, nil, fmt.Errorf("hss: normraw: %d residual and %d pending elements", len(x), len(t))
	}
	if center && res != nil {
		return nil, nil, errors.New("hss: normraw: LayerNorm of a pending residual")
	}
	gain := make([]uint64, dim) // unused: the caller folds the gain
	in, z, _, err = p.norm(x, t, res, rows, dim, gain, nil, eps, center, normRaw)
	return in, z, err
}

// norm is LayerNorm (center), RMSNorm, or (res) RMSNorm of x + Trunc(t); it returns the norm's input
// (x, or for res the residual x + Trunc(t)) and its output, or NormRaw's, or (normScale) its d and
// row factor.
func (p *Party) norm(x, t []uint64, res *ResTrunc, rows, dim int, gain, bias []uint64, eps float64, center bool, mode normMode) (in, out []uint64, sc *RowScale, err error) {
	kind := normKind(center, res, mode)
	n, err := checkNorm(kind, rows, dim, p.Fx)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(x) != n {
		return nil, nil, nil, fmt.Errorf("hss: %s: %d elements for shape %dx%d", kind, len(x), rows, dim)
	}
	if len(gain) != dim || (bias != nil && len(bias) != dim) {
		return nil, nil, nil, fmt.Errorf("hss: %s: gain/bias of %d/%d elements for dimension %d", kind, len(gain), len(bias), dim)
	}
	if !(eps >= 0 && eps < 1) {
		return nil, nil, nil, fmt.Errorf("hss: %s: eps %v out of range [0,1)", kind, eps)
	}
	if res != nil {
		if err := res.check(kind); err != nil {
			return nil, nil, nil, err
		}
	}
	q, err := p.sub(kind, n)
	if err != nil {
		return nil, nil, nil, err
	}
	f := p.Fx.Frac
	sqBits, l, rs := normParams(p.Fx, dim, mode)
	own := uint64(1 - p.ID)
	in, d := x, x
	var sq []uint64
	switch {
	case center:
		// d = x − μ, μ = Trunc(Σx·⌊2^32/dim⌉, 32), and d⊙d in one round.
		sums := make([]uint64, rows)
		c := uint64(math.Round(math.Ldexp(1, normMeanShift) / float64(dim)))
		for r := range rows {
			for j := range dim {
				sums[r] += x[r*dim+j]
			}
			sums[r] *= c
		}
		k, err := takeKey[*TruncSqKey](q, "truncsq", n)
		if err != nil {
			return nil, nil, nil, wrapGate(kind, err)
		}
		if d, sq, err = q.truncSquare(k, x, sums, normMeanShift, 64, sqBits, true); err != nil {
			return nil, nil, nil, wrapGate(kind, err)
		}
	case res != nil:
		k, err := takeKey[*TruncSqKey](q, "truncsq", n)
		if err != nil {
			return nil, nil, nil, wrapGate(kind, err)
		}
		if d, sq, err = q.truncSquare(k, x, t, res.Frac, res.Bits, sqBits, false); err != nil {
			return nil, nil, nil, wrapGate(kind, err)
		}
		in = d
	default:
		if sq, err = q.Square(d, sqBits); err != nil {
			return nil, nil, nil, wrapGate(kind, err)
		}
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
	lens := UniformLens(rows, dim)
	if mode == normScale {
		// The row factor alone: its product is ScaleRows'.
		sc := &RowScale{rows: rows}
		if normSpline(rows, rs) {
			sp, err := rs.spline()
			if err != nil {
				return nil, nil, nil, wrapGate(kind, err)
			}
			sk, err := takeKey[*SplineKey](q, "ospl", rows)
			if err != nil {
				return nil, nil, nil, wrapGate(kind, err)
			}
			if sc.lin, sc.fac, err = q.evalSpline(sk, sp, ss); err != nil {
				return nil, nil, nil, wrapGate(kind, err)
			}
			sc.fb, sc.tb = sp.fb, sp.tb
		} else {
			lin, fac, lut, err := q.octLORaw("rsqrt", rs, ss)
			if err != nil {
				return nil, nil, nil, wrapGate(kind, err)
			}
			sc.lin, sc.fac, sc.fb, sc.tb = lin, fac, lut.fb, lut.tbits // kept, not returned to the pool
		}
		if err := finish(kind, q); err != nil {
			return nil, nil, nil, err
		}
		return in, d, sc, nil
	}
	var z []uint64
	if normSpline(rows, rs) {
		z, err = q.evalSplineMul3("rsqrt", rs, ss, d, lens)
	} else {
		z, err = q.evalOctMul3("rsqrt", rs, ss, func() ([]uint64, error) { return d, nil }, lens, xTrunc{})
	}
	if err != nil {
		return nil, nil, nil, wrapGate(kind, err)
	}
	if mode == normRaw {
		if err := finish(kind, q); err != nil {
			return nil, nil, nil, err
		}
		return in, z, nil, nil
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
		return nil, nil, nil, wrapGate(kind, err)
	}
	if bias != nil && p.ID == 0 {
		for r := range rows {
			for j := range dim {
				y[r*dim+j] += bias[j]
			}
		}
	}
	if err := finish(kind, q); err != nil {
		return nil, nil, nil, err
	}
	return in, y, nil, nil
}

// CostNorm is the cost of LayerNorm (center) or RMSNorm on rows×dim elements.
func CostNorm(rows, dim int, fx Fixed, center bool) (Cost, error) {
	st, err := CostNormStages(rows, dim, fx, center)
	return SumStages(st), err
}

// CostRMSNormResStages is CostNormStages for RMSNormRes: the residual's truncation with the
// squares, then RMSNorm's stages.
func CostRMSNormResStages(rows, dim int, fx Fixed, res ResTrunc) ([]Stage, error) {
	if err := res.check("cost rmsnormres"); err != nil {
		return nil, err
	}
	return costNormStages(rows, dim, fx, false, &res, normOut)
}

// CostNormRawStages is the cost of NormRaw (and GenNormRaw's keys) by stage: CostNormStages (or
// CostRMSNormResStages) without the output's truncation.
func CostNormRawStages(rows, dim int, fx Fixed, center bool, res *ResTrunc) ([]Stage, error) {
	if res != nil {
		if err := res.check("cost normraw"); err != nil {
			return nil, err
		}
		if center {
			return nil, errors.New("hss: cost normraw: LayerNorm of a pending residual")
		}
	}
	return costNormStages(rows, dim, fx, center, res, normRaw)
}

// CostNormStages is CostNorm by stage: the mean's truncation (LayerNorm), the squares, the rsqrt's
// stages (on the untruncated sum of squares), the row product and the output's truncation.
func CostNormStages(rows, dim int, fx Fixed, center bool) ([]Stage, error) {
	return costNormStages(rows, dim, fx, center, nil, normOut)
}

func costNormStages(rows, dim int, fx Fixed, center bool, res *ResTrunc, mode normMode) ([]Stage, error) {
	n, err := checkNorm("cost norm", rows, dim, fx)
	if err != nil {
		return nil, err
	}
	sqBits, _, rs := normParams(fx, dim, mode)
	var first part
	switch {
	case center:
		first = part{kind: "truncsq", c: costTruncSquare(n, rows, normMeanShift, 64, sqBits), label: "mean+square"}
	case res != nil:
		first = part{kind: "truncsq", c: costTruncSquare(n, n, res.Frac, res.Bits, sqBits), label: "res+square"}
	default:
		first = part{kind: "square", c: costSquare(n, sqBits)}
	}
	if mode == normScale {
		sc, err := normScaleParts(rows, rs)
		if err != nil {
			return nil, err
		}
		return seqStages(normKind(center, res, mode), append([]part{first}, sc...)...), nil
	}
	rsq, err := normRsqrtPart(UniformLens(rows, dim), rs)
	if err != nil {
		return nil, err
	}
	parts := []part{first, rsq}
	if mode == normOut {
		parts = append(parts, part{kind: "trunc", c: costTrunc(n, fx.Frac+rs.outFrac, 64), label: "out.trunc"})
	}
	return seqStages(normKind(center, res, mode), parts...), nil
}
