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
	actStep  = 8 // index step h = 2^-8
	actRange = 6 // inputs |x| < 2^6
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

func actSpec(fx Fixed, target func(float64) float64, window float64) (*lutSpec, error) {
	if fx.Frac < actStep || fx.Frac > 40 {
		return nil, fmt.Errorf("frac %d out of range [%d,40]", fx.Frac, actStep)
	}
	k := fx.Frac - actStep
	m := uint(actRange + actStep + 1)
	w := int64(window * (1 << actStep))
	lim := math.Ldexp(1, actRange)
	tab := tableFor(target, true, k, fx.Frac, fx.Frac, -w, w+1, -lim, lim)
	return &lutSpec{parts: []lutPart{{k: k, m: m, wlo: -w, tabs: [][]uint64{tab}}}, signTerm: true, tag: uint64(fx.Frac)}, nil
}

// specCache holds the tables of the activation and exp specs (building one samples the target
// 64 times per entry), keyed by name and Frac.
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

func geluSpec(fx Fixed) (*lutSpec, error) {
	return cachedSpec("gelu", fx, func(fx Fixed) (*lutSpec, error) { return actSpec(fx, geluTanh, 4) })
}

func siluSpec(fx Fixed) (*lutSpec, error) {
	return cachedSpec("silu", fx, func(fx Fixed) (*lutSpec, error) { return actSpec(fx, silu, 11) })
}

func genAct(rng io.Reader, kind string, n int, fx Fixed, spec func(Fixed) (*lutSpec, error)) (Key, Key, error) {
	s, err := spec(fx)
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen %s: %w", kind, err)
	}
	k0, k1, err := genLUT(rng, kind, n, s)
	if err != nil {
		return nil, nil, err
	}
	return k0, k1, nil
}

func (p *Party) act(kind string, x []uint64, spec func(Fixed) (*lutSpec, error)) ([]uint64, error) {
	s, err := spec(p.Fx)
	if err != nil {
		return nil, fmt.Errorf("hss: %s: %w", kind, err)
	}
	o, err := p.evalLUT(kind, s, x)
	if err != nil {
		return nil, err
	}
	for i := range o.xs {
		o.xs[i] += o.tabs[0][i]
	}
	return o.xs, nil
}

// GenGeLU generates material for GeLU on n elements.
func GenGeLU(rng io.Reader, n int, fx Fixed) (k0, k1 Key, err error) {
	return genAct(rng, "gelu", n, fx, geluSpec)
}

// GeLU returns shares of GeLU(x) (tanh variant, Hendrycks–Gimpel) for shares x with Frac ≥ 8
// fractional bits.
//
// Construction: GeLU(x) = x·1{z ≥ 0} + T(z), z the masked, stochastically rounded index ⌊x/2^-8⌉ on 15
// bits; the sign by a DCF (Boyle et al., Eurocrypt 2021, DReLU via the MSB rule, with payload that
// also yields s·r, so x·s needs no multiplication) and T by a DPF lookup on the window |z| ≤ 4·2^8
// (SIGMA, Gupta et al., PETS 2024, where GeLU is ReLU minus a lookup of the difference). Outside the
// window T = 0, so the tails are exactly ReLU (|GeLU − ReLU| < 2^-13 there).
//
// Rounds: 1. Online: 16 bytes (8 per party). Dealer: two keys of a DCF on 14 bits with payload 2
// plus a DPF on 15 bits with 4 early-terminated levels (Boyle et al., CCS 2016), ≈ 1.66 KB
// together. Error: at most half the oscillation of GeLU − x·1{x≥0} over 2·2^-8, ≤ 2^-9 +
// 2^-(Frac+1). Input range |x| < 2^6 − 2^-8 (larger inputs wrap).
// Eval cost: a window of 2049 table positions per element, ≈ 1300 AES blocks hashed in batches
// (fss.EvalWindowDot), plus one 14-bit DCF path.
func (p *Party) GeLU(x []uint64) ([]uint64, error) { return p.act("gelu", x, geluSpec) }

// GenSiLU generates material for SiLU on n elements.
func GenSiLU(rng io.Reader, n int, fx Fixed) (k0, k1 Key, err error) {
	return genAct(rng, "silu", n, fx, siluSpec)
}

// SiLU returns shares of SiLU(x) = x·σ(x) with the construction of GeLU and window |z| ≤ 11·2^8
// (SiLU − ReLU is below 2^-12 beyond |x| = 11). Rounds 1; online 16 bytes; dealer ≈ 1.66 KB; error
// ≤ 2^-9 + 2^-(Frac+1); input range |x| < 2^6 − 2^-8. Eval cost: a window of 5633 table positions
// per element (≈ 3550 batched AES blocks).
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
	expStep  = 8  // h = 2^-8
	expRange = 7  // inputs x ∈ (−2^7, 0]
	expLow   = 10 // exp(x) = 0 below −10 (e^-10 < 2^-14)
)

func expSpec(fx Fixed) (*lutSpec, error) { return cachedSpec("exp", fx, buildExpSpec) }

func buildExpSpec(fx Fixed) (*lutSpec, error) {
	if fx.Frac < expStep || fx.Frac > 40 {
		return nil, fmt.Errorf("frac %d out of range [%d,40]", fx.Frac, expStep)
	}
	k := fx.Frac - expStep
	wlo := int64(-expLow << expStep)
	tab := tableFor(math.Exp, false, k, fx.Frac, fx.Frac, wlo, 2, -math.Ldexp(1, expRange), 0)
	return &lutSpec{parts: []lutPart{{k: k, m: expRange + expStep + 1, wlo: wlo, tabs: [][]uint64{tab}}}, tag: uint64(fx.Frac)}, nil
}

// GenExp generates material for Exp on n elements.
func GenExp(rng io.Reader, n int, fx Fixed) (k0, k1 Key, err error) {
	s, err := expSpec(fx)
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen exp: %w", err)
	}
	return genLUT(rng, "exp", n, s)
}

// Exp returns shares of e^x for shares x ≤ 0 (softmax logits minus the row maximum).
//
// Construction: one DPF lookup on the masked, stochastically rounded index ⌊x/2^-8⌉ (16 bits), window
// z ∈ [−10·2^8, 1] (SIGMA, PETS 2024, LUT-based exponential), entries 0 below −10 (clipping).
// Rounds 1; online 2·(Frac−8+16)/8 bytes (5 bytes at Frac 12); dealer two DPF keys on 16 bits with 4 early-terminated levels
// (≈ 690 bytes); error ≤ e^x·(e^(2^-8)−1)+2^-(Frac+1) (relative 2^-8) and ≤ 2^-14 for x < −10.
// Input range (−2^7, 2^-8]. Eval cost: a window of 2562 table positions per element (≈ 1620 batched AES blocks).
func (p *Party) Exp(x []uint64) ([]uint64, error) {
	s, err := expSpec(p.Fx)
	if err != nil {
		return nil, fmt.Errorf("hss: exp: %w", err)
	}
	o, err := p.evalLUT("exp", s, x)
	if err != nil {
		return nil, err
	}
	return o.tabs[0], nil
}
