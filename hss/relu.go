package hss

import (
	"fmt"
	"io"
)

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

func init() {
	registerLUT("drelu")
	registerLUT("relu")
}

// GenDReLU generates material for DReLU on n elements of width bits.
func GenDReLU(rng io.Reader, n int, bits uint) (k0, k1 Key, err error) {
	return genSign(rng, "drelu", n, bits, false)
}

// DReLU returns arithmetic shares (in Z_2^64) of 1{x ≥ 0} for shares x of signed values with
// |x| < 2^(bits−1). Construction: open x + r mod 2^bits and evaluate one DCF on bits−1 bits by the MSB
// rule of Boyle et al. (Eurocrypt 2021, §4, DReLU from DCF). Rounds 1; online 2·bits/8 bytes; dealer
// two DCF keys on bits−1 bits with payload 2 (and party 1's mask shares, bits/8 + 16 bytes; party 0's
// come from a seed); exact.
func (p *Party) DReLU(x []uint64, bits uint) ([]uint64, error) {
	return p.evalSign("drelu", x, bits, false)
}

// GenReLU generates material for ReLU on n elements of width bits.
func GenReLU(rng io.Reader, n int, bits uint) (k0, k1 Key, err error) {
	return genSign(rng, "relu", n, bits, true)
}

// ReLU returns shares of max(x, 0) for |x| < 2^(bits−1), exactly, in one round: the DReLU of DReLU
// with the DCF payload extended by (1−2·msb(r))·r so that x·s = s·(x+r) − s·r is local (the masked
// value is opened at 64 bits). Online 16 bytes; dealer two DCF keys on bits−1 bits, payload 2.
func (p *Party) ReLU(x []uint64, bits uint) ([]uint64, error) {
	return p.evalSign("relu", x, bits, true)
}

// genSign generates the material of the sign lookup kind (DReLU; ReLU with the sign term) on n
// elements of width bits.
func genSign(rng io.Reader, kind string, n int, bits uint, term bool) (k0, k1 Key, err error) {
	if err := checkCmpBits(bits); err != nil {
		return nil, nil, fmt.Errorf("hss: gen %s: %w", kind, err)
	}
	return genLUT(rng, kind, n, reluSpec(bits, term))
}

// evalSign evaluates the sign lookup kind on x of width bits: DReLU's sign shares, or with the sign
// term ReLU's x·sign.
func (p *Party) evalSign(kind string, x []uint64, bits uint, term bool) ([]uint64, error) {
	if err := checkCmpBits(bits); err != nil {
		return nil, fmt.Errorf("hss: %s: %w", kind, err)
	}
	o, err := p.evalLUT(kind, reluSpec(bits, term), x)
	if err != nil {
		return nil, err
	}
	if term {
		return o.xs, nil
	}
	return o.s, nil
}
