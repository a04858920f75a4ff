package hss

import (
	"fmt"
	"io"
	"math"
)

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
	// The polynomial term is read only by its truncation (at tbits): its DPF outputs are needed mod
	// 2^tbits, so their final correction words are stored at tbits bits (−52 bytes per element and
	// party at Frac 14).
	tab.payW = tab.tbits
	return &actSpecs{tab: tab}, nil
}

// Windows: GeLU − ReLU is below 2^-16 beyond |x| = 4, SiLU − ReLU below 2^-11 beyond |x| = 10.
func geluSpec(fx Fixed) (*actSpecs, error) {
	return cachedSpec("gelu", fx, func(fx Fixed) (*actSpecs, error) { return actPoly(fx, geluTanh, 4, 1) })
}

func siluSpec(fx Fixed) (*actSpecs, error) {
	return cachedSpec("silu", fx, func(fx Fixed) (*actSpecs, error) { return actPoly(fx, silu, 10, 2) })
}

func init() {
	registerLUT("gelu.lut")
	registerLUT("silu.lut")
	registerSeq("gelu", "gelu.lut", "trunc")
	registerSeq("silu", "silu.lut", "trunc")
}

// genAct generates an activation's composite material: the lookup with its sign (kind.lut) and the
// truncation of its polynomial term.
func genAct(rng io.Reader, kind string, n int, fx Fixed, spec func(Fixed) (*actSpecs, error)) (Key, Key, error) {
	return genPolyGate(rng, kind, n, fx, actTable(spec))
}

// actTable is an activation's spec as its lookup's table.
func actTable(spec func(Fixed) (*actSpecs, error)) func(Fixed) (*lutSpec, error) {
	return func(fx Fixed) (*lutSpec, error) {
		s, err := spec(fx)
		if err != nil {
			return nil, err
		}
		return s.tab, nil
	}
}

// act evaluates an activation f = ReLU + g (GeLU, SiLU) as f(x) = x·s + T(x), T(x) = f(x) − x·s for
// the coarse sign s = 1{⌊x/2^-polyStep⌉ ≥ 0} of the lookup's own index: round 1 opens x masked, and
// the one lookup gives x·s (a DCF with the product) and T's cubic (a DPF window on the same index,
// covering both signs); round 2 truncates T.
func (p *Party) act(kind string, x []uint64, spec func(Fixed) (*actSpecs, error)) ([]uint64, error) {
	t, xs, err := p.evalPolyGateSign(kind, x, actTable(spec))
	if err != nil {
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
// Rounds: 2. Online: 16 + 2·(Frac+35)/8 bytes (27.75 at Frac 12: the term opens at Frac + fb + 1
// bits, peakBits). Dealer: a DCF key on 7 bits with payload 2, a DPF key on 8 bits with payload 4
// and 2 early-terminated levels (Boyle et al., CCS 2016) and a Trunc key, ≈ 970 bytes for both
// parties at Frac 12 (party 0: its DCF key, correction words and the DPF's level-Top nodes; its
// masks and truncation shares come from seeds, as party 1's DPF top nodes do).
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
// 20], i.e. |x| ≤ 10 (|SiLU − ReLU| < 2^-11 beyond). Rounds 2; online as GeLU (27.75 bytes at Frac
// 12); dealer ≈ 1.26 KB; error: fit 2^-12.6, plus slope · 2^-12 and 2^-Frac (measured 2^-11.2 at
// Frac 12, tails included); input range |x| < 2^6 − 2^-1. Eval cost: a 7-bit DCF path, a window of 42
// positions and a truncation (about 10% more time than the 3-round form, whose table read |x| from a
// second opening with a window of 22; the piecewise-linear lookup before it needed step 2^-4 and a
// window of 321 for a 2^-11 fit).
func (p *Party) SiLU(x []uint64) ([]uint64, error) { return p.act("silu", x, siluSpec) }

// CostAct is the cost of GeLU (gelu) or SiLU on n elements: the lookup with its sign and the
// truncation of its polynomial term (genAct / act).
func CostAct(n int, fx Fixed, gelu bool) (Cost, error) {
	st, err := CostActStages(n, fx, gelu)
	return SumStages(st), err
}

// CostActStages is CostAct by stage.
func CostActStages(n int, fx Fixed, gelu bool) ([]Stage, error) {
	if err := checkLen("cost act", n); err != nil {
		return nil, err
	}
	spec, kind := siluSpec, "silu"
	if gelu {
		spec, kind = geluSpec, "gelu"
	}
	s, err := spec(fx)
	if err != nil {
		return nil, fmt.Errorf("hss: cost act: %w", err)
	}
	return seqStages(kind, part{kind: kind + ".lut", c: costLUT(n, s.tab), label: "lut"},
		part{kind: "trunc", c: costTrunc(n, s.tab.fb, s.tab.tbits)}), nil
}
