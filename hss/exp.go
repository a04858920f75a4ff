package hss

import (
	"fmt"
	"io"
	"math"
)

const (
	expRange = 7  // inputs x ∈ (−2^7, 0]
	expLow   = 10 // exp(x) = 0 below −10 (e^-10 < 2^-14)
)

func expSpec(fx Fixed) (*lutSpec, error) { return cachedSpec("exp", fx, buildExpSpec) }

func buildExpSpec(fx Fixed) (*lutSpec, error) {
	wlo := int64(-expLow << polyStep)
	return polySpec(fx, math.Exp, false, wlo, 2, expRange+polyStep+1, -math.Ldexp(1, expRange), math.Ldexp(1, -8), 3)
}

// expSpecRaw is exp's lookup on an untruncated input (2·Frac fractional bits, correct mod
// 2^ScoreBits: a prefill's scores minus their raw maximum, SoftmaxValues): the same tables read at
// bits shifted by Frac; it opens ScoreBits bits.
func expSpecRaw(fx Fixed) (*lutSpec, error) { return cachedSpec("expraw", fx, buildExpSpecRaw) }

func buildExpSpecRaw(fx Fixed) (*lutSpec, error) {
	wlo := int64(-expLow << polyStep)
	return polySpecIn(fx, fx.Frac, math.Exp, false, wlo, 2, expRange+polyStep+1, -math.Ldexp(1, expRange), math.Ldexp(1, -8), 3)
}

func init() {
	registerLUT("exp.lut")
	registerSeq("exp", "exp.lut", "trunc")
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

// CostExp is the cost of Exp on n elements.
func CostExp(n int, fx Fixed) (Cost, error) {
	s, err := expSpec(fx)
	if err != nil {
		return Cost{}, fmt.Errorf("hss: cost exp: %w", err)
	}
	return costPolyGate("exp", n, s), nil
}
