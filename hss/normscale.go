package hss

import (
	"fmt"
	"io"
)

// NormScale and ScaleRows: a norm whose row factor r = 1/√(ρ(σ²+eps)) multiplies the outputs of the
// linear layers that read it rather than their input: W·(γ ⊙ d·r) = r·(W·diag(γ)·d), r one value
// per row. The attention's projections (and RoPE, which is linear and per row) then run on the
// norm's input d, untruncated; ScaleRows multiplies their outputs by r with their truncation in the
// same round (truncRowMul3X), and leaves the products untruncated at ScaledFrac fractional bits, which
// the scores' opening truncates (CacheMatMulTrunc). The norm's output truncation round, which a
// norm feeding the scores needed (their truncation's width cannot hold the norm's raw output after a
// linear layer and RoPE), is gone: the row product that was the norm's last round is now the
// projections' truncation as well.
//
// The budget: the scores' truncation needs its input's fractional bits F ≤ 64 − ScoreBits + Frac
// (its width holds the dropped bits and ScoreBits). ScaleRows' output has F = (Frac + s) + (Frac +
// E): the projections truncated to Frac + s bits, r with Frac + E. So s + E ≤ 56 − 3·Frac (14 at
// Frac 14), split evenly (E = NormScaleExtra, at most RecipExtra; s at most 2·Frac − 1, which caps
// it at Frac 8 and 9): at Frac 14, r with 21 fractional bits (a mantissa of at least 14 bits over
// the norm's range) and the projections with 21, where the norm's output had 14. The inputs must
// stay within scaleRange (AttnRange).

// NormScaleExtra is the number of fractional bits beyond Frac of NormScale's row factor.
func NormScaleExtra(fx Fixed) uint { return min(RecipExtra, scaleBudget(fx)/2) }

// scaleBudget is s + E (see the top of this file): 56 − 3·Frac, 0 where Frac > 14.
func scaleBudget(fx Fixed) uint {
	if fx.Frac > 14 {
		return 0
	}
	return 64 - ScoreBits(fx) - fx.Frac
}

// ScaleXFrac is the truncation of ScaleRows' inputs with 3·Frac fractional bits (the projections of
// the norm's input after RoPE) before the row product: they keep Frac + s bits.
func ScaleXFrac(fx Fixed) uint {
	s := min(2*fx.Frac-1, scaleBudget(fx)-NormScaleExtra(fx))
	return 2*fx.Frac - s
}

// ScaledFrac is the number of fractional bits of ScaleRows' outputs.
func ScaledFrac(fx Fixed) uint { return 4*fx.Frac + NormScaleExtra(fx) - ScaleXFrac(fx) }

// AttnRange bounds the attention's projections in real units: W·x̂ (the normalised row's
// projection, without the bias; for q and k after RoPE, whose rotation can grow a component by √2)
// and the bias are each below 2^AttnRange, so |v| < 2^(AttnRange+1) (and |q|, |k| < 2^(AttnRange+1.5):
// RoPE rotates the bias too). The opened widths of ScaleRows (scaleRange) and of e·V's truncation in
// SoftmaxValues (smvX) rest on it; beyond it they wrap and give garbage, not a rounding error. (The
// scores' opening alone allowed 2^(Frac+6), 2^20 at Frac 14, before those gates; real projections
// stay within a few units.)
const AttnRange = 10

// scaleRange bounds ScaleRows' inputs in real units, |x| < 2^scaleRange: the projections of the
// norm's input before its factor r and without their biases, below 2^AttnRange times 1/r < 2^8 on
// the norm's range (σ² + eps < 2^15, ρ < 2). Both are strict, so the bound holds without margin.
const scaleRange = AttnRange + 8

// ScaleIn returns ScaleRows' truncation of inputs with inFrac fractional bits (2·Frac: a linear
// layer's output; 3·Frac: RoPE's) and the width it opens them at (inFrac + scaleRange + 2: they
// must stay below 2^scaleRange in real units); ok is false where the inputs have too few fractional
// bits for ScaledFrac (2·Frac below Frac 12: the caller shifts them to 3·Frac) or inFrac is neither.
func ScaleIn(fx Fixed, inFrac uint) (xfrac, xbits uint, ok bool) {
	if checkScale("scale", fx) != nil || inFrac != 2*fx.Frac && inFrac != 3*fx.Frac || inFrac+ScaleXFrac(fx) <= 3*fx.Frac {
		return 0, 0, false
	}
	return inFrac + ScaleXFrac(fx) - 3*fx.Frac, inFrac + scaleRange + 2, true
}

func checkScale(op string, fx Fixed) error {
	if fx.Frac < 8 || fx.Frac > 14 {
		return fmt.Errorf("hss: %s: frac %d out of range [8,14]", op, fx.Frac)
	}
	return nil
}

// RowScale is NormScale's row factor, per row the rsqrt's untruncated mantissa and its octave factor
// (r = Trunc(lin, fb)·fac), for ScaleRows.
type RowScale struct {
	rows     int
	lin, fac []uint64
	fb, tb   uint
}

// GenNormScale generates material for NormScale over rows×dim elements: LayerNorm (center) or
// RMSNorm, of a pending residual with truncation res (RMSNorm only; nil for none).
func GenNormScale(rng io.Reader, rows, dim int, fx Fixed, center bool, res *ResTrunc) (k0, k1 Key, err error) {
	if err := checkScale("gen normscale", fx); err != nil {
		return nil, nil, err
	}
	return genNorm(rng, rows, dim, fx, center, res, normScale)
}

// NormScale is the norm (LayerNorm if center, else RMSNorm; of the residual x + Trunc(t) with res)
// up to its row factor: it returns the norm's input in (x, or the residual's sum), d (x − μ for
// LayerNorm, else in) and r = 1/√(ρ(σ²+eps)) per row with NormScaleExtra more fractional bits than
// Frac, for ScaleRows. γ·√ρ and β go into the consumers' weights and bias as for NormRaw. Rounds:
// the squares' (with the residual's or the mean's truncation) and the rsqrt's (the octave lookup's 2,
// the spline's 1 for one row). Ranges and errors: NormRaw's, the rsqrt's relative error 2^-14 at
// the lowest octave at Frac 14.
func (p *Party) NormScale(x, t []uint64, res *ResTrunc, rows, dim int, eps float64, center bool) (in, d []uint64, s *RowScale, err error) {
	if err := checkScale("normscale", p.Fx); err != nil {
		return nil, nil, nil, err
	}
	if res != nil && len(t) != len(x) {
		return nil, nil, nil, fmt.Errorf("hss: normscale: %d residual and %d pending elements", len(x), len(t))
	}
	return p.norm(x, t, res, rows, dim, make([]uint64, dim), nil, eps, center, normScale)
}

// CostNormScaleStages is the cost of NormScale (and GenNormScale's keys) by stage.
func CostNormScaleStages(rows, dim int, fx Fixed, center bool, res *ResTrunc) ([]Stage, error) {
	if err := checkScale("cost normscale", fx); err != nil {
		return nil, err
	}
	if res != nil {
		if err := res.check("cost normscale"); err != nil {
			return nil, err
		}
	}
	return costNormStages(rows, dim, fx, center, res, normScale)
}

// normScaleParts is the cost of NormScale's rsqrt by stage: the spline, or the octave lookup's
// comparisons and mantissa lookup.
func normScaleParts(rows int, rs octSpec) ([]part, error) {
	if normSpline(rows, rs) {
		sp, err := rs.spline()
		if err != nil {
			return nil, err
		}
		return []part{{kind: "ospl", c: costSpline(rows, sp), label: "spline"}}, nil
	}
	pr, err := rs.prep()
	if err != nil {
		return nil, err
	}
	return octLOParts("rsqrt", rows, pr), nil
}

// scaleMant is the mantissa's truncation (fb at width tb) of NormScale's factor on rows rows of dim.
func scaleMant(op string, rows, dim int, fx Fixed) (fb, tb uint, err error) {
	if err := checkScale(op, fx); err != nil {
		return 0, 0, err
	}
	_, _, rs := normParams(fx, dim, normScale)
	if normSpline(rows, rs) {
		sp, err := rs.spline()
		if err != nil {
			return 0, 0, fmt.Errorf("hss: %s: %w", op, err)
		}
		return sp.fb, sp.tb, nil
	}
	pr, err := rs.prep()
	if err != nil {
		return 0, 0, fmt.Errorf("hss: %s: %w", op, err)
	}
	return pr.lut.fb, pr.lut.tbits, nil
}

// GenScaleRows generates material for ScaleRows on rows of lens with inFrac fractional bits
// (ScaleIn), by the factor of a NormScale of len(lens) rows of dim.
func GenScaleRows(rng io.Reader, lens []int, dim int, fx Fixed, inFrac uint) (k0, k1 Key, err error) {
	fb, tb, xfrac, xbits, err := scaleShape("gen scalerows", len(lens), dim, fx, inFrac)
	if err != nil {
		return nil, nil, err
	}
	return genTruncRowMul3X(rng, lens, fb, tb, 64, xfrac, xbits)
}

// scaleShape is ScaleRows' truncations: the factor's mantissa (scaleMant) and the inputs' (ScaleIn).
func scaleShape(op string, rows, dim int, fx Fixed, inFrac uint) (fb, tb, xfrac, xbits uint, err error) {
	if fb, tb, err = scaleMant(op, rows, dim, fx); err != nil {
		return 0, 0, 0, 0, err
	}
	xfrac, xbits, ok := ScaleIn(fx, inFrac)
	if !ok {
		return 0, 0, 0, 0, fmt.Errorf("hss: %s: inputs with %d fractional bits at frac %d", op, inFrac, fx.Frac)
	}
	return fb, tb, xfrac, xbits, nil
}

// ScaleRows returns shares of Trunc(x_ij, xfrac)·r_i (x: rows of lens, row after row, inFrac
// fractional bits, |x| < 2^scaleRange in real units; r NormScale's; xfrac from ScaleIn), untruncated
// with ScaledFrac fractional bits, correct mod 2^64: one round (truncRowMul3X), x opened at inFrac +
// scaleRange + 2 bits. Error: x's truncation, one unit of 2^-(ScaledFrac − Frac − NormScaleExtra)
// times r, and r's relative error.
func (p *Party) ScaleRows(s *RowScale, x []uint64, lens []int, inFrac uint) ([]uint64, error) {
	n, err := sumLens("scalerows", lens)
	if err != nil {
		return nil, err
	}
	if s == nil || len(lens) != s.rows || len(x) != n {
		return nil, fmt.Errorf("hss: scalerows: %d rows of %d elements for a factor of %d rows", len(lens), len(x), rowsOf(s))
	}
	xfrac, xbits, ok := ScaleIn(p.Fx, inFrac)
	if !ok {
		return nil, fmt.Errorf("hss: scalerows: inputs with %d fractional bits at frac %d", inFrac, p.Fx.Frac)
	}
	k, err := takeKey[*TruncRowMul3XKey](p, "trowmul3x", n)
	if err != nil {
		return nil, err
	}
	if k.Frac != s.fb || k.TBits != s.tb || k.XFrac != xfrac || k.XBits != xbits || k.Bits != 64 {
		return nil, fmt.Errorf("hss: scalerows: material does not match the gate")
	}
	return p.truncRowMul3X(k, x, s.lin, s.fac, lens)
}

func rowsOf(s *RowScale) int {
	if s == nil {
		return 0
	}
	return s.rows
}

// CostScaleRows is the cost of ScaleRows (and GenScaleRows's keys).
func CostScaleRows(lens []int, dim int, fx Fixed, inFrac uint) (Cost, error) {
	fb, tb, xfrac, xbits, err := scaleShape("cost scalerows", len(lens), dim, fx, inFrac)
	if err != nil {
		return Cost{}, err
	}
	n, err := sumLens("cost scalerows", lens)
	if err != nil {
		return Cost{}, err
	}
	return costTruncRowMul3X(len(lens), n, fb, tb, 64, xfrac, xbits), nil
}
