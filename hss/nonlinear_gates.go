package hss

import (
	"fmt"
	"io"
	"math"
	"sync"
)

// Nonlinear gates. Costs are per element; "online" counts the bytes both parties send together,
// "dealer" the key bytes of both parties together (as Key.Size reports them). f is p.Fx.Frac (the
// tables are built for the Fixed passed to Gen, which must equal the parties' Fx).

// ---- activation specs -----------------------------------------------------------------------------

const actRange = 6 // activation inputs |x| < 2^6

func geluTanh(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

func silu(x float64) float64 { return x / (1 + math.Exp(-x)) }

// GeLURef and SiLURef are the float64 references of GeLU (tanh variant) and SiLU.
var (
	GeLURef = geluTanh
	SiLURef = silu
)

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
	if fx.Frac < actStepMin || fx.Frac > polyFrac {
		return nil, fmt.Errorf("frac %d out of range [%d,%d]", fx.Frac, actStepMin, polyFrac)
	}
	k := fx.Frac - polyStep
	pf := min(fx.Frac, polyPF)
	drop := fx.Frac - pf
	fb := polyDeg*pf - 2
	tabs := polyTables(target, sign, polyDeg, k, fx.Frac, drop, fx.Frac, fb, wlo, whi, xmin, xmax)
	return &lutSpec{parts: []lutPart{{k: k, m: m, wlo: wlo, tabs: tabs, deg: polyDeg, drop: drop}}, signTerm: sign,
		tag: polyTag(gate, fx), fb: fb, tbits: fx.Frac + fb + 3}, nil
}

// actPoly is the cubic activation lookup with the correction window |x| ≤ window.
func actPoly(fx Fixed, target func(float64) float64, window float64, gate uint64) (*lutSpec, error) {
	w := int64(window * float64(uint(1)<<polyStep))
	lim := math.Ldexp(1, actRange)
	return polySpec(fx, target, true, -w, w+1, actRange+polyStep+1, -lim, lim, gate)
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

func cachedSpec(name string, fx Fixed, build func(Fixed) (*lutSpec, error)) (*lutSpec, error) {
	key := specKey{name, fx.Frac}
	if v, ok := specCache.Load(key); ok {
		return v.(*lutSpec), nil
	}
	s, err := build(fx)
	if err != nil {
		return nil, err
	}
	v, _ := specCache.LoadOrStore(key, s)
	return v.(*lutSpec), nil
}

// Windows: GeLU − ReLU is below 2^-16 beyond |x| = 4, SiLU − ReLU below 2^-11 beyond |x| = 10.
func geluSpec(fx Fixed) (*lutSpec, error) {
	return cachedSpec("gelu", fx, func(fx Fixed) (*lutSpec, error) { return actPoly(fx, geluTanh, 4, 1) })
}

func siluSpec(fx Fixed) (*lutSpec, error) {
	return cachedSpec("silu", fx, func(fx Fixed) (*lutSpec, error) { return actPoly(fx, silu, 10, 2) })
}

// genLin generates a polynomial lookup gate's composite material: the lookup (kind.lut), then the
// truncation of its polynomial term.
func genLin(rng io.Reader, kind string, n int, fx Fixed, spec func(Fixed) (*lutSpec, error)) (Key, Key, error) {
	s, err := spec(fx)
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen %s: %w", kind, err)
	}
	l0, l1, err := genLUT(rng, kind+".lut", n, s)
	if err != nil {
		return nil, nil, err
	}
	t0, t1, err := GenTrunc(rng, n, s.fb, s.tbits)
	if err != nil {
		return nil, nil, wrapGate("gen "+kind, err)
	}
	return newSeqKey(kind, n, l0, t0), newSeqKey(kind, n, l1, t1), nil
}

// evalLinGate runs a polynomial lookup gate: round 1 the lookup, round 2 the truncation of
// Σ_j C_j·d'^j; it returns the truncated term and the lookup's outputs (for the sign term).
func (p *Party) evalLinGate(kind string, x []uint64, spec func(Fixed) (*lutSpec, error)) ([]uint64, *lutOut, error) {
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
	t, err := q.Trunc(o.lin, s.fb, s.tbits)
	if err != nil {
		return nil, nil, wrapGate(kind, err)
	}
	if err := finish(kind, q); err != nil {
		return nil, nil, err
	}
	return t, o, nil
}

func (p *Party) act(kind string, x []uint64, spec func(Fixed) (*lutSpec, error)) ([]uint64, error) {
	t, o, err := p.evalLinGate(kind, x, spec)
	if err != nil {
		return nil, err
	}
	for i := range t {
		t[i] += o.xs[i]
	}
	return t, nil
}

// GenGeLU generates material for GeLU on n elements.
func GenGeLU(rng io.Reader, n int, fx Fixed) (k0, k1 Key, err error) {
	return genLin(rng, "gelu", n, fx, geluSpec)
}

// GeLU returns shares of GeLU(x) (tanh variant, Hendrycks–Gimpel) for shares x with 8 ≤ Frac ≤ 20
// fractional bits.
//
// Construction (SIGMA, Gupta et al., PETS 2024: GeLU as ReLU minus a small correction, here a
// piecewise-cubic one): GeLU(x) = x·1{z ≥ 0} + Σ_j C_j,z·d'^j, z the masked, stochastically rounded
// index ⌊x/2^-1⌉ on 8 bits and d' the offset x − z/2 at 2^-12 resolution. Round 1 opens x̂ = x + r
// (64 bits); the sign s = 1{z ≥ 0} and s·x come from a DCF on 7 bits (Boyle et al., Eurocrypt 2021,
// DReLU by the MSB rule, payload also yielding s·r), the cubic from one DPF window |z| ≤ 8 with
// payload (1, ρ, ρ², ρ³) (polyTables, fss.EvalWindowPolyBatch), so Σ_j C_j·(u − ρ)^j is local.
// Round 2 truncates it (34 extra fractional bits) with Trunc. Outside the window the correction is
// 0, so the tails are exactly ReLU (|GeLU − ReLU| < 2^-16 there).
//
// Rounds: 2. Online: 16 + 2·(Frac+37)/8 bytes (28.25 at Frac 12, 28.75 at 14). Dealer: DCF keys on
// 7 bits with payload 2, DPF keys on 8 bits with payload 4 and 3 early-terminated levels (Boyle et
// al., CCS 2016) and a Trunc key, ≈ 1.28 KB for both parties. Error: the cubic's fit over the two
// index steps z can stand for (2^-11.0, Chebyshev interpolation), the coarsened offset (slope ·
// 2^-12) and the truncation < 2^-Frac: measured 2^-10.7 at Frac 12. Input range |x| < 2^6 − 2^-1
// (larger inputs wrap).
// Eval cost: a window of 17 positions (3–4 leaves of 16 AES blocks and ~10 tree nodes), one 7-bit
// DCF path and a truncation.
func (p *Party) GeLU(x []uint64) ([]uint64, error) { return p.act("gelu", x, geluSpec) }

// GenSiLU generates material for SiLU on n elements.
func GenSiLU(rng io.Reader, n int, fx Fixed) (k0, k1 Key, err error) {
	return genLin(rng, "silu", n, fx, siluSpec)
}

// SiLU returns shares of SiLU(x) = x·σ(x) with the construction of GeLU and window |z| ≤ 20, i.e.
// |x| ≤ 10 (|SiLU − ReLU| < 2^-11 beyond). Rounds 2; online as GeLU (28.25 bytes at Frac 12);
// dealer ≈ 1.28 KB; error: fit 2^-12.6, plus slope · 2^-12 and 2^-Frac (measured 2^-11.2 at Frac 12,
// tails included); input range |x| < 2^6 − 2^-1. Eval cost: a window of 41 positions (6–7 leaves of
// 16 AES blocks, ~16 tree nodes), one 7-bit DCF path and a truncation. (The piecewise-linear lookup
// it replaces needed step 2^-4 and a window of 321 for a 2^-11 fit, ~2.5× the time.)
func (p *Party) SiLU(x []uint64) ([]uint64, error) { return p.act("silu", x, siluSpec) }

// reluSpec: exact sign on bits-wide inputs (k = 0), no table.
func reluSpec(bits uint, term bool) *lutSpec {
	return &lutSpec{parts: []lutPart{{k: 0, m: bits}}, signTerm: term, signBit: !term, tag: uint64(bits)}
}

func checkCmpBits(bits uint) error {
	if bits < 2 || bits > 63 {
		return fmt.Errorf("width %d out of range [2,63]", bits)
	}
	return nil
}

// GenDReLU generates material for DReLU on n elements of width bits.
func GenDReLU(rng io.Reader, n int, bits uint) (k0, k1 Key, err error) {
	if err := checkCmpBits(bits); err != nil {
		return nil, nil, fmt.Errorf("hss: gen drelu: %w", err)
	}
	return genLUT(rng, "drelu", n, reluSpec(bits, false))
}

// DReLU returns arithmetic shares (in Z_2^64) of 1{x ≥ 0} for shares x of signed values with
// |x| < 2^(bits−1). Construction: open x + r mod 2^bits and evaluate one DCF on bits−1 bits by the MSB
// rule of Boyle et al. (Eurocrypt 2021, §4, DReLU from DCF). Rounds 1; online 2·bits/8 bytes; dealer
// two DCF keys on bits−1 bits with payload 2 (+16 bytes of mask shares); exact.
func (p *Party) DReLU(x []uint64, bits uint) ([]uint64, error) {
	if err := checkCmpBits(bits); err != nil {
		return nil, fmt.Errorf("hss: drelu: %w", err)
	}
	o, err := p.evalLUT("drelu", reluSpec(bits, false), x)
	if err != nil {
		return nil, err
	}
	return o.s, nil
}

// GenReLU generates material for ReLU on n elements of width bits.
func GenReLU(rng io.Reader, n int, bits uint) (k0, k1 Key, err error) {
	if err := checkCmpBits(bits); err != nil {
		return nil, nil, fmt.Errorf("hss: gen relu: %w", err)
	}
	return genLUT(rng, "relu", n, reluSpec(bits, true))
}

// ReLU returns shares of max(x, 0) for |x| < 2^(bits−1), exactly, in one round: the DReLU of DReLU
// with the DCF payload extended by (1−2·msb(r))·r so that x·s = s·(x+r) − s·r is local (the masked
// value is opened at 64 bits). Online 16 bytes; dealer two DCF keys on bits−1 bits, payload 2.
func (p *Party) ReLU(x []uint64, bits uint) ([]uint64, error) {
	if err := checkCmpBits(bits); err != nil {
		return nil, fmt.Errorf("hss: relu: %w", err)
	}
	o, err := p.evalLUT("relu", reluSpec(bits, true), x)
	if err != nil {
		return nil, err
	}
	return o.xs, nil
}

// ---- exp --------------------------------------------------------------------------------------------

const (
	expRange = 7  // inputs x ∈ (−2^7, 0]
	expLow   = 10 // exp(x) = 0 below −10 (e^-10 < 2^-14)
)

func expSpec(fx Fixed) (*lutSpec, error) { return cachedSpec("exp", fx, buildExpSpec) }

func buildExpSpec(fx Fixed) (*lutSpec, error) {
	wlo := int64(-expLow << polyStep)
	return polySpec(fx, math.Exp, false, wlo, 2, expRange+polyStep+1, -math.Ldexp(1, expRange), math.Ldexp(1, -8), 3)
}

// GenExp generates material for Exp on n elements.
func GenExp(rng io.Reader, n int, fx Fixed) (k0, k1 Key, err error) {
	return genLin(rng, "exp", n, fx, expSpec)
}

// Exp returns shares of e^x for shares x ≤ 0 (softmax logits minus the row maximum).
//
// Construction: a piecewise-cubic lookup (as in GeLU, without the sign term) on the masked,
// stochastically rounded index z = ⌊x/2^-1⌉ (9 bits): one DPF window z ∈ [−20, 1] with payload
// (1, ρ, ρ², ρ³) gives Σ_j C_j,z·d'^j locally (SIGMA, PETS 2024, LUT-based exponential, here with
// cubic pieces), entries 0 below −10 (clipping); round 2 truncates it.
// Rounds 2; online 2·(Frac+8)/8 + 2·(Frac+37)/8 bytes (17.25 at Frac 12); dealer a DPF key on 9 bits with
// payload 4 and 3 early-terminated levels plus a Trunc key (≈ 770 bytes for both parties); error ≤
// e^x·2^-11.4 (the cubic's fit, relative) + e^x·2^-12 (coarsened offset) + 2^-Frac (truncation,
// stochastic and unbiased), and ≤ 2^-14 + 2^-Frac for x < −10; measured 2^-11.4 at Frac 12. Input
// range (−2^7, 2^-8]. Eval cost: a window of 22 positions (3–4 leaves) and a truncation.
func (p *Party) Exp(x []uint64) ([]uint64, error) {
	t, _, err := p.evalLinGate("exp", x, expSpec)
	return t, err
}
