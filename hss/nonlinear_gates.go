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

// actSpecs is an activation's lookup: one gate on x whose sign s = 1{z ≥ 0} of the index z =
// ⌊x/2^-polyStep⌉ (with x·s, a DCF) and cubic table of T(x) = target(x) − x·s (a DPF window z ∈
// [−window·2^polyStep − 1, window·2^polyStep]) both read the one opening of x̂.
type actSpecs struct{ tab *lutSpec }

// actPoly builds the activation's lookup; gate numbers the tags.
func actPoly(fx Fixed, target func(float64) float64, window float64, gate uint64) (*actSpecs, error) {
	w := int64(window * float64(uint(1)<<polyStep))
	m := uint(actRange + polyStep + 1)
	lim := math.Ldexp(1, actRange)
	tab, err := polySpec(fx, target, true, -w-1, w+1, m, -lim, lim, gate)
	if err != nil {
		return nil, err
	}
	return &actSpecs{tab: tab}, nil
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

// Windows: GeLU − ReLU is below 2^-16 beyond |x| = 4, SiLU − ReLU below 2^-11 beyond |x| = 10.
func geluSpec(fx Fixed) (*actSpecs, error) {
	return cachedSpec("gelu", fx, func(fx Fixed) (*actSpecs, error) { return actPoly(fx, geluTanh, 4, 1) })
}

func siluSpec(fx Fixed) (*actSpecs, error) {
	return cachedSpec("silu", fx, func(fx Fixed) (*actSpecs, error) { return actPoly(fx, silu, 10, 2) })
}

// genAct generates an activation's composite material: the lookup with its sign (kind.lut) and the
// truncation of its polynomial term.
func genAct(rng io.Reader, kind string, n int, fx Fixed, spec func(Fixed) (*actSpecs, error)) (Key, Key, error) {
	s, err := spec(fx)
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen %s: %w", kind, err)
	}
	l0, l1, err := genLUT(rng, kind+".lut", n, s.tab)
	if err != nil {
		return nil, nil, err
	}
	t0, t1, err := GenTrunc(rng, n, s.tab.fb, s.tab.tbits)
	if err != nil {
		return nil, nil, wrapGate("gen "+kind, err)
	}
	return newSeqKey(kind, n, l0, t0), newSeqKey(kind, n, l1, t1), nil
}

// genPolyGate generates a polynomial lookup gate's composite material: the lookup (kind.lut), then
// the truncation of its polynomial term.
func genPolyGate(rng io.Reader, kind string, n int, fx Fixed, spec func(Fixed) (*lutSpec, error)) (Key, Key, error) {
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

// evalPolyGate runs a polynomial lookup gate: round 1 the lookup, round 2 the truncation of
// Σ_j C_j·d'^j.
func (p *Party) evalPolyGate(kind string, x []uint64, spec func(Fixed) (*lutSpec, error)) ([]uint64, error) {
	s, err := spec(p.Fx)
	if err != nil {
		return nil, fmt.Errorf("hss: %s: %w", kind, err)
	}
	q, err := p.sub(kind, len(x))
	if err != nil {
		return nil, err
	}
	o, err := q.evalLUT(kind+".lut", s, x)
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	t, err := q.truncPoly(o, s)
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	if err := finish(kind, q); err != nil {
		return nil, err
	}
	return t, nil
}

// act evaluates an activation f = ReLU + g with g even (GeLU, SiLU), by f(x) = x·s + T(x·(2s − 1))
// with T(y) = f(y) − y: the identity f(−y) = f(y) − y makes this exact for either value of s, so
// the sign may be the coarse s = 1{⌊x/2^-polyStep⌉ ≥ 0} (round 1, a DCF with the product x·s), and
// it only has to keep y = ±x above −2^-polyStep, where T is small: the table (round 2) then covers
// y ∈ [−2^-polyStep, window] instead of x ∈ [−window, window]. Round 3 truncates T.
func (p *Party) act(kind string, x []uint64, spec func(Fixed) (*actSpecs, error)) ([]uint64, error) {
	s, err := spec(p.Fx)
	if err != nil {
		return nil, fmt.Errorf("hss: %s: %w", kind, err)
	}
	q, err := p.sub(kind, len(x))
	if err != nil {
		return nil, err
	}
	o, err := q.evalLUT(kind+".lut", s.tab, x)
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	xs := o.xs
	t, err := q.truncPoly(o, s.tab)
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	if err := finish(kind, q); err != nil {
		return nil, err
	}
	for i := range t {
		t[i] += xs[i]
	}
	return t, nil
}

// GenGeLU generates material for GeLU on n elements.
func GenGeLU(rng io.Reader, n int, fx Fixed) (k0, k1 Key, err error) {
	return genAct(rng, "gelu", n, fx, geluSpec)
}

// GeLU returns shares of GeLU(x) (tanh variant, Hendrycks–Gimpel) for shares x with 8 ≤ Frac ≤ 20
// fractional bits.
//
// Construction (SIGMA, Gupta et al., PETS 2024: GeLU as ReLU plus a small correction, here a
// piecewise-cubic one), GeLU(x) = x·s + T(x) with T(x) = GeLU(x) − x·s, in ONE lookup: round 1 opens
// x̂ = x + r (64 bits); s = 1{z ≥ 0} for the masked, stochastically rounded index z = ⌊x/2^-1⌉ on 8
// bits, and s·x, come from a DCF on 7 bits (Boyle et al., Eurocrypt 2021, DReLU by the MSB rule,
// payload also yielding s·r), and one DPF window z ∈ [−9, 8] on the same index, with payload (1, ρ,
// ρ², ρ³), gives the cubic Σ_j C_j,z·d'^j of T in the offset d' (at 2^-12) locally (polyTables with
// the sign term: the table subtracts x exactly where the DCF's coarse sign says z ≥ 0, so the two
// agree whatever the rounding of z; fss.EvalWindowPolyBatch). Round 2 truncates it (34 extra
// fractional bits). Beyond the window T is 0, so the tails are exactly ReLU (|GeLU − ReLU| < 2^-16
// there). (Before, the table read |x| from a second opening, y = x·(2s−1), to halve the window: 3
// rounds.)
//
// Rounds: 2. Online: 16 + 2·(Frac+37)/8 bytes (28.25 at Frac 12). Dealer: a DCF key on 7 bits with
// payload 2, a DPF key on 8 bits with payload 4 and 3 early-terminated levels (Boyle et al., CCS
// 2016) and a Trunc key, ≈ 1.26 KB for both parties (party 0: its DCF key and correction words; its
// masks, its DPF's top nodes and its truncation shares come from seeds).
// Error: the cubic's fit over the two index steps z can stand for (2^-11.0, Chebyshev
// interpolation), the coarsened offset (slope · 2^-12) and the truncation < 2^-Frac: measured
// 2^-10.7 at Frac 12 (2^-10.4 with the two lookups). Input range |x| < 2^6 − 2^-1 (larger inputs
// wrap). Eval cost: a 7-bit DCF path, a window of 18 positions and a truncation.
func (p *Party) GeLU(x []uint64) ([]uint64, error) { return p.act("gelu", x, geluSpec) }

// GenSiLU generates material for SiLU on n elements.
func GenSiLU(rng io.Reader, n int, fx Fixed) (k0, k1 Key, err error) {
	return genAct(rng, "silu", n, fx, siluSpec)
}

// SiLU returns shares of SiLU(x) = x·σ(x) with the construction of GeLU and the window z ∈ [−21,
// 20], i.e. |x| ≤ 10 (|SiLU − ReLU| < 2^-11 beyond). Rounds 2; online as GeLU (28.25 bytes at Frac
// 12); dealer ≈ 1.26 KB; error: fit 2^-12.6, plus slope · 2^-12 and 2^-Frac (measured 2^-11.2 at
// Frac 12, tails included); input range |x| < 2^6 − 2^-1. Eval cost: a 7-bit DCF path, a window of 42
// positions and a truncation (about 10% more time than the 3-round form, whose table read |x| from a
// second opening with a window of 22; the piecewise-linear lookup before it needed step 2^-4 and a
// window of 321 for a 2^-11 fit).
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
// two DCF keys on bits−1 bits with payload 2 (and party 1's mask shares, bits/8 + 16 bytes; party 0's
// come from a seed); exact.
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
	return genPolyGate(rng, "exp", n, fx, expSpec)
}

// Exp returns shares of e^x for shares x ≤ 0 (softmax logits minus the row maximum).
//
// Construction: a piecewise-cubic lookup (as in GeLU, without the sign term) on the masked,
// stochastically rounded index z = ⌊x/2^-1⌉ (9 bits): one DPF window z ∈ [−20, 1] with payload
// (1, ρ, ρ², ρ³) gives Σ_j C_j,z·d'^j locally (SIGMA, PETS 2024, LUT-based exponential, here with
// cubic pieces), entries 0 below −10 (clipping); round 2 truncates it.
// Rounds 2; online 2·(Frac+8)/8 + 2·(Frac+37)/8 bytes (17.25 at Frac 12); dealer a DPF key on 9 bits with
// payload 4 and 3 early-terminated levels plus a Trunc key (≈ 755 bytes for both parties, 305 of them
// party 0's); error ≤
// e^x·2^-11.4 (the cubic's fit, relative) + e^x·2^-12 (coarsened offset) + 2^-Frac (truncation,
// stochastic and unbiased), and ≤ 2^-14 + 2^-Frac for x < −10; measured 2^-11.4 at Frac 12. Input
// range (−2^7, 2^-8]. Eval cost: a window of 22 positions (3–4 leaves) and a truncation.
func (p *Party) Exp(x []uint64) ([]uint64, error) {
	return p.evalPolyGate("exp", x, expSpec)
}
