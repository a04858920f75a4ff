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

const (
	linStep  = 4  // index step h = 2^-4 of the piecewise-linear lookups
	linFrac  = 10 // fb: extra fractional bits of their offset and slope tables, truncated away
	actRange = 6  // inputs |x| < 2^6
	// siluStep: SiLU's index step 2^-siluStep. 3 (fit error 2^-9, window 161, ~2x faster) meets
	// the 2^-8 bound but costs the tinystories end-to-end test a greedy continuation (9/10 instead
	// of 10/10), so SiLU keeps GeLU's 2^-4.
	siluStep = 4
)

func geluTanh(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

func silu(x float64) float64 { return x / (1 + math.Exp(-x)) }

// GeLURef and SiLURef are the float64 references of GeLU (tanh variant) and SiLU.
var (
	GeLURef = geluTanh
	SiLURef = silu
)

// linTag identifies the parameters of a linear lookup's tables (the gate, Frac and the step).
func linTag(gate uint64, step uint, fx Fixed) uint64 {
	return 2<<62 | gate<<16 | uint64(step)<<8 | uint64(fx.Frac)
}

// actSpec: index step 2^-step, correction window |x| ≤ window.
func actSpec(fx Fixed, target func(float64) float64, window float64, step uint, gate uint64) (*lutSpec, error) {
	if fx.Frac < actStepMin || fx.Frac > 40 {
		return nil, fmt.Errorf("frac %d out of range [%d,40]", fx.Frac, actStepMin)
	}
	k := fx.Frac - step
	m := actRange + step + 1
	w := int64(window * float64(uint(1)<<step))
	lim := math.Ldexp(1, actRange)
	ta, tb := linTables(target, true, k, fx.Frac, fx.Frac, linFrac, -w, w+1, -lim, lim)
	return &lutSpec{parts: []lutPart{{k: k, m: m, wlo: -w, tabs: [][]uint64{ta, tb}, deg: 1}}, signTerm: true,
		tag: linTag(gate, step, fx), fb: linFrac, tbits: linTruncBits(fx)}, nil
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

// linTruncBits is the width at which the linear lookups' second round truncates A + B·d (|v| <
// 2^(bits−2) with a margin for outputs up to 2 in magnitude).
func linTruncBits(fx Fixed) uint { return fx.Frac + linFrac + 3 }

// genLin generates a linear lookup gate's composite material: the lookup (kind.lut), then the
// truncation of its linear term.
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

// evalLin runs a linear lookup gate: round 1 the lookup, round 2 the truncation of A + B·d; it
// returns the truncated linear term and the lookup's outputs (for the sign term).
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

// GeLU returns shares of GeLU(x) (tanh variant, Hendrycks–Gimpel) for shares x with Frac ≥ 8
// fractional bits.
//
// Construction (SIGMA, Gupta et al., PETS 2024: GeLU as ReLU minus a small correction, here a
// piecewise-linear one): GeLU(x) = x·1{z ≥ 0} + A_z + B_z·d, z the masked, stochastically rounded
// index ⌊x/2^-4⌉ on 11 bits and d = x − z·2^-4 the offset. Round 1 opens x̂ = x + r (64 bits); the
// sign s = 1{z ≥ 0} and s·x come from a DCF (Boyle et al., Eurocrypt 2021, DReLU by the MSB rule,
// payload also yielding s·r), A_z, B_z and B_z·(r mod 2^(Frac−4)) from one DPF window |z| ≤ 4·2^4
// with payload (1, r mod 2^(Frac−4)) (linTables, evalLin), so A + B·d is local. Round 2 truncates A
// + B·d (10 extra fractional bits) with Trunc. Outside the window the correction is 0, so the tails
// are exactly ReLU (|GeLU − ReLU| < 2^-16 there).
//
// Rounds: 2. Online: 16 + 2·(Frac+13)/8 bytes (22.25 at Frac 12). Dealer: DCF keys on 10 bits with
// payload 2, DPF keys on 11 bits with payload 2 and 3 early-terminated levels (Boyle et al., CCS
// 2016) and a Trunc key, ≈ 1.39 KB for both parties. Error: the linear fit over the two index steps
// z can stand for, ≤ (2^-3)²·max|GeLU”|/16 ≈ 2^-10.3, plus the slope's rounding 2^-15 and the
// truncation < 2^-Frac: ≤ 2^-9.5 at Frac 12 (measured 2^-10.6). Input range |x| < 2^6 − 2^-4
// (larger inputs wrap).
// Eval cost: a window of 129 positions with payload 2 (≈ 17 leaves, 150 AES blocks), one 10-bit DCF
// path and a truncation.
func (p *Party) GeLU(x []uint64) ([]uint64, error) { return p.act("gelu", x, geluSpec) }

// GenSiLU generates material for SiLU on n elements.
func GenSiLU(rng io.Reader, n int, fx Fixed) (k0, k1 Key, err error) {
	return genLin(rng, "silu", n, fx, siluSpec)
}

// SiLU returns shares of SiLU(x) = x·σ(x) with the construction of GeLU and window |z| ≤ 10·2^4
// (|SiLU − ReLU| < 2^-11 beyond |x| = 10). Rounds 2; online 16 + 2·(Frac+13)/8 bytes (22.25 at
// Frac 12); dealer ≈ 1.32 KB; error ≤ (2^-3)²·max|SiLU”|/16 = 2^-11 + 2^-15 + 2^-Frac (≤ 2^-10.4
// at Frac 12, measured 2^-10.5) and 2^-11 beyond the window; input range |x| < 2^6 − 2^-4. Eval
// cost: a window of 321 positions with payload 2 (≈ 41 leaves, 340 AES blocks), one 10-bit DCF path
// and a truncation.
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
	if polyDeg > 1 {
		wlo := int64(-expLow << polyStep)
		return polySpec(fx, math.Exp, false, wlo, 2, expRange+polyStep+1, -math.Ldexp(1, expRange), math.Ldexp(1, -8), 3)
	}
	if fx.Frac < actStepMin || fx.Frac > 40 {
		return nil, fmt.Errorf("frac %d out of range [%d,40]", fx.Frac, actStepMin)
	}
	k := fx.Frac - linStep
	wlo := int64(-expLow << linStep)
	ta, tb := linTables(math.Exp, false, k, fx.Frac, fx.Frac, linFrac, wlo, 2, -math.Ldexp(1, expRange), math.Ldexp(1, -8))
	return &lutSpec{parts: []lutPart{{k: k, m: expRange + linStep + 1, wlo: wlo, tabs: [][]uint64{ta, tb}, deg: 1}},
		tag: linTag(3, linStep, fx), fb: linFrac, tbits: linTruncBits(fx)}, nil
}

// GenExp generates material for Exp on n elements.
func GenExp(rng io.Reader, n int, fx Fixed) (k0, k1 Key, err error) {
	return genLin(rng, "exp", n, fx, expSpec)
}

// Exp returns shares of e^x for shares x ≤ 0 (softmax logits minus the row maximum).
//
// Construction: a piecewise-linear lookup (as in GeLU, without the sign term) on the masked,
// stochastically rounded index z = ⌊x/2^-4⌉ (12 bits): one DPF window z ∈ [−10·2^4, 1] with
// payload (1, r mod 2^(Frac−4)) gives A_z + B_z·d locally (SIGMA, PETS 2024, LUT-based
// exponential, here with linear pieces), entries 0 below −10 (clipping); round 2 truncates it.
// Rounds 2; online 2·(Frac+8)/8 + 2·(Frac+13)/8 bytes (11.25 at Frac 12); dealer two DPF keys on
// 12 bits with payload 2 and 3 early-terminated levels plus a Trunc key (≈ 700 bytes); error ≤
// e^x·2^-10 (the linear fit over 2·2^-4, relative) + 2^-15 (slope rounding) + 2^-Frac
// (truncation, stochastic and unbiased), and ≤ 2^-14 + 2^-Frac for x < −10. Input range
// (−2^7, 2^-8]. Eval cost: a window of 162 positions with payload 2 (≈ 21 leaves, 190 AES blocks)
// and a truncation.
func (p *Party) Exp(x []uint64) ([]uint64, error) {
	t, _, err := p.evalLinGate("exp", x, expSpec)
	return t, err
}
