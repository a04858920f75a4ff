package hss

import (
	"fmt"
	"io"
	"math"
	"unsafe"

	"github.com/hssee/hssee/kernel"
)

// MatMulPublic returns the local product y = x·wᵀ mod 2^64 of a shared x [m][k] with public weights
// w [n][k] (int64 values stored as uint64), using the installed kernel backend. With x and w both at
// Frac fractional bits, y has 2·Frac.
func MatMulPublic(x []uint64, m, k int, w []uint64, n int) ([]uint64, error) {
	return publicProduct(m, n, func(y []uint64) error { return kernel.RingMatMul(y, x, m, k, w, n) })
}

// MatMulPublicW32 is MatMulPublic with the public weights stored as int32 (see EncodeW32): each
// weight is sign-extended to 64 bits in the kernel, so y is exactly MatMulPublic's on the widened
// weights, while the weights take half the memory (and half the traffic that bounds decode).
func MatMulPublicW32(x []uint64, m, k int, w []int32, n int) ([]uint64, error) {
	return publicProduct(m, n, func(y []uint64) error { return kernel.RingMatMulW32(y, x, m, k, w, n) })
}

// publicProduct returns a new [m][n] output y of a public-weight product that matmul computes.
func publicProduct(m, n int, matmul func(y []uint64) error) ([]uint64, error) {
	l, err := publicOut(m, n)
	if err != nil {
		return nil, err
	}
	y := make([]uint64, l)
	if err := matmul(y); err != nil {
		return nil, wrapGate("matmul public", err)
	}
	return y, nil
}

// publicOut checks the output shape [m][n] of a public-weight product and returns its length.
func publicOut(m, n int) (int, error) {
	if m < 0 || n < 0 {
		return 0, fmt.Errorf("hss: matmul public: negative shape")
	}
	l, ok := mulLen(m, n)
	if !ok {
		return 0, fmt.Errorf("hss: matmul public: output %dx%d too large", m, n)
	}
	return l, nil
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

// CostLinear is the cost of Linear with an [m][n] output (the local product is free).
func CostLinear(m, n int, frac, bits uint) (Cost, error) {
	l, ok := mulLen(m, n)
	if !ok {
		return Cost{}, fmt.Errorf("hss: cost linear: bad output shape %dx%d", m, n)
	}
	return CostTrunc(l, frac, bits)
}

// Linear computes shares of x·wᵀ + bias for a shared x [m][k] and public fixed-point weights w [n][k]
// and bias [n] (nil for none), all encoded with p.Fx: a local ring matmul (2·Frac fractional bits),
// party 0 adds bias·2^Frac, then one Trunc round at the given opening width (0 means 64). The
// accumulated value Σ x·w must satisfy |·| < 2^(bits−2) in units of 2^−2Frac; the result is within one
// unit of 2^−Frac of the exact product of the encoded operands.
func (p *Party) Linear(x []uint64, m, k int, w []uint64, n int, bias []uint64, bits uint) ([]uint64, error) {
	return p.linear(m, n, bias, bits, func(y []uint64) error { return kernel.RingMatMul(y, x, m, k, w, n) })
}

// LinearW32 is Linear with the public weights stored as int32 (see EncodeW32; the bias stays a ring
// element): same result, same material, half the weight bytes read.
func (p *Party) LinearW32(x []uint64, m, k int, w []int32, n int, bias []uint64, bits uint) ([]uint64, error) {
	return p.linear(m, n, bias, bits, func(y []uint64) error { return kernel.RingMatMulW32(y, x, m, k, w, n) })
}

// LinearW32Raw is LinearW32 on an untruncated x with Frac + extra fractional bits, correct mod 2^64:
// a product (extra = Frac, such as Mul's output) or a norm's raw output (extra = NormRawFrac − Frac,
// the norm's gain folded into w). The local product has 2·Frac + extra fractional bits, party 0 adds
// bias·2^(Frac+extra), and one Trunc by Frac + extra at width 64 brings it back to Frac bits
// (material: GenLinear(m, n, Frac+extra, 64)). The input's own truncation round is saved
// (truncate-reduce, SIGMA, PETS 2024), and the result is at least as precise (one rounding instead
// of two). Range: |x·wᵀ + bias| < 2^(62−2·Frac−extra) in real units (2^20 for a product at Frac 14).
func (p *Party) LinearW32Raw(x []uint64, m, k int, w []int32, n int, bias []uint64, extra uint) ([]uint64, error) {
	if extra < 1 || 2*p.Fx.Frac+extra > 62 {
		return nil, fmt.Errorf("hss: linear: input with %d extra fractional bits out of range", extra)
	}
	if bias != nil {
		sh := make([]uint64, len(bias))
		for i, b := range bias {
			sh[i] = b << extra
		}
		bias = sh
	}
	return p.linearFrac(m, n, bias, p.Fx.Frac+extra, 64, func(y []uint64) error { return kernel.RingMatMulW32(y, x, m, k, w, n) })
}

func (p *Party) linear(m, n int, bias []uint64, bits uint, matmul func(y []uint64) error) ([]uint64, error) {
	return p.linearFrac(m, n, bias, p.Fx.Frac, bits, matmul)
}

func (p *Party) linearFrac(m, n int, bias []uint64, frac, bits uint, matmul func(y []uint64) error) ([]uint64, error) {
	if err := p.check("linear"); err != nil {
		return nil, err
	}
	if bias != nil && len(bias) != n {
		return nil, fmt.Errorf("hss: linear: bias has %d values, want %d", len(bias), n)
	}
	l, err := publicOut(m, n)
	if err != nil {
		return nil, wrapGate("linear", err)
	}
	y := getWords(l)
	if err := matmul(y); err != nil {
		recycle(y)
		return nil, wrapGate("linear", wrapGate("matmul public", err))
	}
	p.addBias(y, m, bias)
	out, err := p.Trunc(y, frac, bits)
	recycle(y, out)
	if err != nil {
		return nil, wrapGate("linear", err)
	}
	return out, nil
}

// addBias adds bias·2^Frac to every row of y [m][len(bias)] (party 0 only; nil bias: nothing).
func (p *Party) addBias(y []uint64, m int, bias []uint64) {
	if bias == nil || p.ID != 0 {
		return
	}
	n := len(bias)
	for i := range m {
		row := y[i*n : i*n+n]
		for j, b := range bias {
			row[j] += b << p.Fx.Frac
		}
	}
}

// LayerW32 is one layer of LinearsW32: public weights W [Out][k] as int32 (see EncodeW32) and an
// optional bias [Out] (nil for none), Frac fractional bits.
type LayerW32 struct {
	Out  int
	W    []int32
	Bias []uint64
}

// LinearsW32 is LinearW32 for several layers of the same input x [m][k], truncated in one round:
// it consumes one Trunc key of m·Σ Out elements (GenTrunc, the layers' outputs in order) and returns
// each layer's shares [m][Out]. With one layer it is exactly LinearW32 (whose key is the same
// GenLinear = GenTrunc of m·Out elements).
func (p *Party) LinearsW32(x []uint64, m, k int, ls []LayerW32, bits uint) ([][]uint64, error) {
	if err := p.check("linear"); err != nil {
		return nil, err
	}
	total := 0
	for i, l := range ls {
		if l.Bias != nil && len(l.Bias) != l.Out {
			return nil, fmt.Errorf("hss: linear: layer %d: bias has %d values, want %d", i, len(l.Bias), l.Out)
		}
		n, err := publicOut(m, l.Out)
		if err == nil && total+n > MaxKeyLen {
			err = fmt.Errorf("hss: matmul public: %d outputs in all exceed %d", total+n, MaxKeyLen)
		}
		if err != nil {
			return nil, wrapGate("linear", err)
		}
		total += n
	}
	// The layers' products go straight into one pooled buffer, the input of the one truncation.
	y := getWords(total)
	off := 0
	for _, l := range ls {
		n := m * l.Out
		if err := kernel.RingMatMulW32(y[off:off+n], x, m, k, l.W, l.Out); err != nil {
			recycle(y)
			return nil, wrapGate("linear", wrapGate("matmul public", err))
		}
		p.addBias(y[off:off+n], m, l.Bias)
		off += n
	}
	t, err := p.Trunc(y, p.Fx.Frac, bits)
	recycle(y, t)
	if err != nil {
		return nil, wrapGate("linear", err)
	}
	out := make([][]uint64, len(ls))
	off = 0
	for i, l := range ls {
		n := m * l.Out
		out[i], off = t[off:off+n:off+n], off+n
	}
	return out, nil
}

// recycle hands b (from getWords) back to the word pools unless it overlaps one of outs: results
// handed to the caller must never be reused (a gate that returned its input's memory would otherwise
// see it overwritten by the next call).
func recycle(b []uint64, outs ...[]uint64) {
	for _, o := range outs {
		if overlap(b, o) {
			return
		}
	}
	putWords(b)
}

// overlap reports whether a and b share memory (over their capacities).
func overlap(a, b []uint64) bool {
	if cap(a) == 0 || cap(b) == 0 {
		return false
	}
	a0 := uintptr(unsafe.Pointer(unsafe.SliceData(a)))
	b0 := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return a0 < b0+uintptr(cap(b))*8 && b0 < a0+uintptr(cap(a))*8
}
