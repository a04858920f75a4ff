package hss

import (
	"fmt"
	"io"
	"math"
	"sync"
)

// Cubic lookups: the coefficient tables of a lookup's polynomial parts (polyTables, fitted at Chebyshev
// nodes), their parameters, and the polynomial lookup gate (one lookup, then the truncation of its
// polynomial term) that Exp is; the activations (act.go) and the octave lookups (octave.go) use the
// same tables.

// polyTables builds the deg+1 coefficient tables of a polynomial part for indices z ∈ [wlo, whi)
// with index step h = 2^(k−inFrac), dropping drop low offset bits: on x ∈ [(z−1)h − e, (z+1)h + e)
// (clipped to [xmin, xmax]; e = 2^(drop−inFrac) covers the dropped bits) the target g (target(x) −
// x·1{z ≥ 0} with sign) is interpolated at the Chebyshev nodes of that interval by a polynomial in
// t = x − z·h; in the offset d' (units 2^(drop−inFrac)) its coefficient j is encoded with
// F − j·(inFrac−drop) fractional bits, F = outFrac + fb, so that Σ_j C_j·d'^j ≈ g·2^F. C_0 is then
// set to the midpoint of the range of g minus the encoded higher terms over the interval, so the
// error is half the oscillation of the residual (the fit's error, measured in the tests, plus the
// rounding of the higher coefficients).
func polyTables(target func(float64) float64, sign bool, deg int, k, inFrac, drop, outFrac, fb uint, wlo, whi int64, xmin, xmax float64) ([][]uint64, float64) {
	return polyTablesZ(func(z int64) (func(float64) float64, float64, float64) {
		if !sign || z < 0 {
			return target, xmin, xmax
		}
		return func(x float64) float64 { return target(x) - x }, xmin, xmax
	}, deg, k, inFrac, drop, outFrac, fb, wlo, whi)
}

// polyTablesZ is polyTables with the target and its input range [xmin, xmax] chosen per index z
// (the octave lookups fit each class's mantissa function on its own range). It also returns the
// tables' peak: the largest |g| at the fitted points plus the largest fit error, which bounds what
// the pieces evaluate to in real units.
func polyTablesZ(fz func(z int64) (g func(float64) float64, xmin, xmax float64), deg int, k, inFrac, drop, outFrac, fb uint, wlo, whi int64) ([][]uint64, float64) {
	h := math.Ldexp(1, int(k)-int(inFrac))
	e := math.Ldexp(1, int(drop)-int(inFrac))
	pf := int(inFrac - drop)
	f := int(outFrac + fb)
	tabs := make([][]uint64, deg+1)
	for j := range tabs {
		tabs[j] = make([]uint64, whi-wlo)
	}
	const samples = 256
	var peak float64
	for z := wlo; z < whi; z++ {
		g, xmin, xmax := fz(z)
		c := float64(z) * h
		a, b := math.Max(c-h-e, xmin), math.Min(c+h+e, xmax)
		if a >= b {
			a = math.Min(math.Max(c, xmin), xmax)
			b = a
		}
		// Interpolate in τ = (x − c)/s, s the interval's half width, at the Chebyshev nodes.
		mid, s := (a+b)/2, math.Max((b-a)/2, 1e-300)
		coef := chebFit(g, mid, s, deg) // in powers of (x − mid)
		// Re-centre at c: powers of t = x − c, with x − mid = t + (c − mid).
		coef = shiftPoly(coef, c-mid)
		raw := make([]float64, deg+1)
		for j := 1; j <= deg; j++ {
			raw[j] = math.Round(math.Ldexp(coef[j], f-j*pf))
		}
		lo, hi, gmax := math.Inf(1), math.Inf(-1), 0.0
		for q := 0; q <= samples; q++ {
			x := a + (b-a)*float64(q)/samples
			t := (x - c) * math.Ldexp(1, pf) // d' in its units
			v := 0.0
			for j := deg; j >= 1; j-- {
				v = (v + math.Ldexp(raw[j], -f)) * t
			}
			r := g(x) - v
			lo, hi = math.Min(lo, r), math.Max(hi, r)
			gmax = math.Max(gmax, math.Abs(g(x)))
		}
		raw[0] = math.Round(math.Ldexp((lo+hi)/2, f))
		peak = math.Max(peak, gmax+math.Abs(hi-lo)/2) // this piece's values within its fit error
		for j := range tabs {
			tabs[j][z-wlo] = uint64(int64(raw[j]))
		}
	}
	return tabs, peak
}

// chebFit returns the coefficients (powers of x − mid) of the degree-deg polynomial interpolating g
// at the Chebyshev nodes of [mid − s, mid + s].
func chebFit(g func(float64) float64, mid, s float64, deg int) []float64 {
	n := deg + 1
	// Vandermonde system in τ ∈ [−1, 1], solved by Gaussian elimination with partial pivoting.
	a := make([][]float64, n)
	for i := range a {
		tau := math.Cos(math.Pi * (float64(i) + 0.5) / float64(n))
		a[i] = make([]float64, n+1)
		p := 1.0
		for j := range n {
			a[i][j] = p
			p *= tau
		}
		a[i][n] = g(mid + s*tau)
	}
	for col := range n {
		piv := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[piv][col]) {
				piv = r
			}
		}
		a[col], a[piv] = a[piv], a[col]
		for r := range n {
			if r == col {
				continue
			}
			m := a[r][col] / a[col][col]
			for j := col; j <= n; j++ {
				a[r][j] -= m * a[col][j]
			}
		}
	}
	out := make([]float64, n)
	for j := range n {
		out[j] = a[j][n] / a[j][j] / math.Pow(s, float64(j)) // τ^j = (x − mid)^j / s^j
	}
	return out
}

// shiftPoly rewrites Σ_j c_j·y^j with y = t + δ as a polynomial in t.
func shiftPoly(c []float64, delta float64) []float64 {
	out := make([]float64, len(c))
	for j, cj := range c {
		// (t + δ)^j = Σ_i binom(j, i)·t^i·δ^(j−i)
		b := 1.0
		for i := 0; i <= j; i++ {
			out[i] += cj * b * math.Pow(delta, float64(j-i))
			b = b * float64(j-i) / float64(i+1)
		}
	}
	return out
}

// Cubic lookups (polyTables): index step 2^-polyStep, offsets at 2^-polyPF resolution.
const (
	polyDeg  = 3
	polyStep = 1
	polyPF   = 12
	polyFrac = 20 // the largest Frac they support (F = 3·12 + Frac − 2 and the truncation width Frac + 37 stay within 64 bits)
)

// polyTag identifies the parameters of a cubic lookup's tables.
func polyTag(gate uint64, fx Fixed) uint64 {
	return 3<<62 | gate<<16 | uint64(polyDeg)<<12 | uint64(polyStep)<<8 | uint64(fx.Frac)
}

// polySpec is the cubic lookup for target (sign: minus the ReLU part x·1{z ≥ 0}) on the index window
// z ∈ [wlo, whi) of step 2^-polyStep and index width m, fitted on [xmin, xmax].
func polySpec(fx Fixed, target func(float64) float64, sign bool, wlo, whi int64, m uint, xmin, xmax float64, gate uint64) (*lutSpec, error) {
	return polySpecIn(fx, 0, target, sign, wlo, whi, m, xmin, xmax, gate)
}

// polySpecIn is polySpec on an untruncated input with Frac + in fractional bits (read at bits
// shifted by in: the truncate-reduce of SIGMA, Gupta et al., PETS 2024); the output keeps Frac.
func polySpecIn(fx Fixed, in uint, target func(float64) float64, sign bool, wlo, whi int64, m uint, xmin, xmax float64, gate uint64) (*lutSpec, error) {
	if fx.Frac < actStepMin || fx.Frac > polyFrac {
		return nil, fmt.Errorf("frac %d out of range [%d,%d]", fx.Frac, actStepMin, polyFrac)
	}
	if in > 0 && (sign || fx.Frac+in-polyStep+m > 64) {
		return nil, fmt.Errorf("input with %d extra fractional bits out of range", in)
	}
	k := fx.Frac - polyStep + in
	pf := min(fx.Frac, polyPF)
	drop := fx.Frac - pf + in
	fb := polyDeg*pf - 2
	tabs, peak := polyTables(target, sign, polyDeg, k, fx.Frac+in, drop, fx.Frac, fb, wlo, whi, xmin, xmax)
	return &lutSpec{parts: []lutPart{{k: k, m: m, wlo: wlo, tabs: tabs, deg: polyDeg, drop: drop}}, signTerm: sign,
		tag: polyTag(gate, fx) | uint64(in)<<32, fb: fb, tbits: fx.Frac + fb + peakBits(peak)}, nil
}

// peakBits is the truncation's headroom above Frac + fb for a polynomial term of peak |T| (real
// units; polyTablesZ): Trunc needs |t| < 2^(tbits−2), so 2 + ⌈log2 peak⌉ (with a 2^-10 relative
// margin for the evaluation's rounding), at least 1. Exp (peak e^(2^-8)) keeps 3; GeLU's and SiLU's
// corrections (peaks about 0.35 and 0.31: T = f − x·s within half an index step of the sign
// change) take 1, two bits fewer per opened term and per DPF payload word.
func peakBits(peak float64) uint {
	return uint(max(1, 2+int(math.Ceil(math.Log2(peak*(1+1.0/1024))))))
}

// actStepMin is the smallest Frac the lookups support (their index resolution is 2^-8 or coarser).
const actStepMin = 8

// specCache holds the tables of the activation and exp specs (building one samples the target
// 256 times per entry), keyed by name and Frac.
var specCache sync.Map

type specKey struct {
	name string
	frac uint
}

func cachedSpec[S any](name string, fx Fixed, build func(Fixed) (S, error)) (S, error) {
	key := specKey{name, fx.Frac}
	if v, ok := specCache.Load(key); ok {
		return v.(S), nil
	}
	s, err := build(fx)
	if err != nil {
		return s, err
	}
	v, _ := specCache.LoadOrStore(key, s)
	return v.(S), nil
}

// genPolyGate generates a polynomial lookup gate's composite material: the lookup (kind.lut), then
// the truncation of its polynomial term.
func genPolyGate(rng io.Reader, kind string, n int, fx Fixed, spec func(Fixed) (*lutSpec, error)) (Key, Key, error) {
	return genStaged(rng, kind, n, fx, spec, func(s *lutSpec) (MarshalKey, MarshalKey, error) {
		return genLUT(rng, kind+".lut", n, s)
	}, GenTrunc)
}

// genStaged generates the composite material of a lookup gate kind on n elements: first's keys for
// the lookup s = spec(fx), then trunc's keys for the truncation of its polynomial term (by s.fb at
// width s.tbits).
func genStaged[T MarshalKey](rng io.Reader, kind string, n int, fx Fixed, spec func(Fixed) (*lutSpec, error),
	first func(s *lutSpec) (MarshalKey, MarshalKey, error), trunc func(io.Reader, int, uint, uint) (T, T, error)) (Key, Key, error) {
	s, err := spec(fx)
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen %s: %w", kind, err)
	}
	a0, a1, err := first(s)
	if err != nil {
		return nil, nil, err
	}
	t0, t1, err := trunc(rng, n, s.fb, s.tbits)
	if err != nil {
		return nil, nil, wrapGate("gen "+kind, err)
	}
	return newSeqKey(kind, n, a0, t0), newSeqKey(kind, n, a1, t1), nil
}

// evalPolyGate runs a polynomial lookup gate: round 1 the lookup, round 2 the truncation of
// Σ_j C_j·d'^j.
func (p *Party) evalPolyGate(kind string, x []uint64, spec func(Fixed) (*lutSpec, error)) ([]uint64, error) {
	t, _, err := p.evalPolyGateSign(kind, x, spec)
	return t, err
}

// evalPolyGateSign is evalPolyGate that also returns the lookup's sign product x·s (the
// activations', act.go; nil where the table has no sign).
func (p *Party) evalPolyGateSign(kind string, x []uint64, spec func(Fixed) (*lutSpec, error)) (t, xs []uint64, err error) {
	s, err := spec(p.Fx)
	if err != nil {
		return nil, nil, fmt.Errorf("hss: %s: %w", kind, err)
	}
	q, err := p.sub(kind, len(x))
	if err != nil {
		return nil, nil, err
	}
	o, err := q.evalLUT(kind+".lut", s, x)
	if err != nil {
		return nil, nil, wrapGate(kind, err)
	}
	t, err = q.truncPoly(o, s)
	if err != nil {
		return nil, nil, wrapGate(kind, err)
	}
	if err := finish(kind, q); err != nil {
		return nil, nil, err
	}
	return t, o.xs, nil
}

// costPolyGate is the cost of a polynomial lookup gate (genPolyGate / evalPolyGate): the lookup, then
// the truncation of its polynomial term.
func costPolyGate(kind string, n int, s *lutSpec) Cost { return SumStages(polyStages(kind, n, s)) }

// polyStages is costPolyGate by stage.
func polyStages(kind string, n int, s *lutSpec) []Stage {
	return seqStages(kind, part{kind: kind + ".lut", c: costLUT(n, s), label: "lut"}, part{kind: "trunc", c: costTrunc(n, s.fb, s.tbits)})
}
