package hss

import (
	"fmt"
	"io"

	"github.com/hssee/hssee/kernel"
)

// MatMulPublic returns the local product y = x·wᵀ mod 2^64 of a shared x [m][k] with public weights
// w [n][k] (int64 values stored as uint64), using the installed kernel backend. With x and w both at
// Frac fractional bits, y has 2·Frac.
func MatMulPublic(x []uint64, m, k int, w []uint64, n int) ([]uint64, error) {
	if m < 0 || n < 0 {
		return nil, fmt.Errorf("hss: matmul public: negative shape")
	}
	if _, ok := mulLen(m, n); !ok {
		return nil, fmt.Errorf("hss: matmul public: output %dx%d too large", m, n)
	}
	y := make([]uint64, m*n)
	if err := kernel.RingMatMul(y, x, m, k, w, n); err != nil {
		return nil, wrapGate("matmul public", err)
	}
	return y, nil
}

// GenLinear generates the material of Linear for an [m][n] output: a TruncKey of m·n elements.
func GenLinear(rng io.Reader, m, n int, frac, bits uint) (k0, k1 *TruncKey, err error) {
	l, ok := mulLen(m, n)
	if !ok {
		return nil, nil, fmt.Errorf("hss: gen linear: bad output shape %dx%d", m, n)
	}
	return GenTrunc(rng, l, frac, bits)
}

// Linear computes shares of x·wᵀ + bias for a shared x [m][k] and public fixed-point weights w [n][k]
// and bias [n] (nil for none), all encoded with p.Fx: a local ring matmul (2·Frac fractional bits),
// party 0 adds bias·2^Frac, then one Trunc round at the given opening width (0 means 64). The
// accumulated value Σ x·w must satisfy |·| < 2^(bits−2) in units of 2^−2Frac; the result is within one
// unit of 2^−Frac of the exact product of the encoded operands.
func (p *Party) Linear(x []uint64, m, k int, w []uint64, n int, bias []uint64, bits uint) ([]uint64, error) {
	if err := p.check("linear"); err != nil {
		return nil, err
	}
	if bias != nil && len(bias) != n {
		return nil, fmt.Errorf("hss: linear: bias has %d values, want %d", len(bias), n)
	}
	y, err := MatMulPublic(x, m, k, w, n)
	if err != nil {
		return nil, wrapGate("linear", err)
	}
	if bias != nil && p.ID == 0 {
		for i := range m {
			row := y[i*n : i*n+n]
			for j, b := range bias {
				row[j] += b << p.Fx.Frac
			}
		}
	}
	out, err := p.Trunc(y, p.Fx.Frac, bits)
	if err != nil {
		return nil, wrapGate("linear", err)
	}
	return out, nil
}
