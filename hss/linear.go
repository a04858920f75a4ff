package hss

import (
	"fmt"
	"io"
	"math"

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

// MatMulPublicW32 is MatMulPublic with the public weights stored as int32 (see EncodeW32): each
// weight is sign-extended to 64 bits in the kernel, so y is exactly MatMulPublic's on the widened
// weights, while the weights take half the memory (and half the traffic that bounds decode).
func MatMulPublicW32(x []uint64, m, k int, w []int32, n int) ([]uint64, error) {
	if m < 0 || n < 0 {
		return nil, fmt.Errorf("hss: matmul public: negative shape")
	}
	if _, ok := mulLen(m, n); !ok {
		return nil, fmt.Errorf("hss: matmul public: output %dx%d too large", m, n)
	}
	y := make([]uint64, m*n)
	if err := kernel.RingMatMulW32(y, x, m, k, w, n); err != nil {
		return nil, wrapGate("matmul public", err)
	}
	return y, nil
}

// EncodeW32 returns round(x·2^Frac) as an int32, the storage of public weights for MatMulPublicW32
// and LinearW32, or an error if x is not finite or the encoding does not fit in 32 bits
// (|x| ≥ 2^(31−Frac), up to rounding: |x| < 131072 at Frac 14).
func (f Fixed) EncodeW32(x float64) (int32, error) {
	v := math.Round(math.Ldexp(x, int(f.Frac)))
	if v != v || v < math.MinInt32 || v > math.MaxInt32 {
		return 0, fmt.Errorf("hss: fixed: weight %g does not fit in int32 at %d fractional bits (|w| must be below 2^%d = %g)",
			x, f.Frac, 31-int(f.Frac), math.Ldexp(1, 31-int(f.Frac)))
	}
	return int32(v), nil
}

// EncodeVecW32 encodes every element of xs with EncodeW32 into a new slice; the error names the
// first element that does not fit.
func (f Fixed) EncodeVecW32(xs []float64) ([]int32, error) {
	out := make([]int32, len(xs))
	for i, x := range xs {
		v, err := f.EncodeW32(x)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
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
	return p.linear(m, n, bias, bits, func() ([]uint64, error) { return MatMulPublic(x, m, k, w, n) })
}

// LinearW32 is Linear with the public weights stored as int32 (see EncodeW32; the bias stays a ring
// element): same result, same material, half the weight bytes read.
func (p *Party) LinearW32(x []uint64, m, k int, w []int32, n int, bias []uint64, bits uint) ([]uint64, error) {
	return p.linear(m, n, bias, bits, func() ([]uint64, error) { return MatMulPublicW32(x, m, k, w, n) })
}

func (p *Party) linear(m, n int, bias []uint64, bits uint, matmul func() ([]uint64, error)) ([]uint64, error) {
	if err := p.check("linear"); err != nil {
		return nil, err
	}
	if bias != nil && len(bias) != n {
		return nil, fmt.Errorf("hss: linear: bias has %d values, want %d", len(bias), n)
	}
	y, err := matmul()
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
