package hss

import (
	"fmt"
	"io"
)

// Fixed-point products: a Beaver product (mul.go, square.go, matmul.go) and the Trunc (trunc.go) that
// rescales its output, both at width bits, carried in one FxKey.

// FxKey is the material of a fixed-point product gate: a product key (*MulKey, *SquareKey or
// *MatMulKey) and the TruncKey that rescales its output. Its kind is the product's kind + "fx".
type FxKey struct {
	Consumable
	Prod  MarshalKey
	Trunc *TruncKey
}

func (k *FxKey) Kind() string {
	if k.Prod == nil {
		return "fx"
	}
	return k.Prod.Kind() + "fx"
}
func (k *FxKey) Len() int {
	if k.Prod == nil {
		return 0
	}
	return k.Prod.Len()
}
func (k *FxKey) Size() int {
	if k.Prod == nil || k.Trunc == nil {
		return 0
	}
	return 1 + len(k.Prod.Kind()) + 4 + k.Prod.Size() + 4 + k.Trunc.Size()
}

func (k *FxKey) MarshalBinary() ([]byte, error) {
	if k.Prod == nil || k.Trunc == nil {
		return nil, fmt.Errorf("hss: fx key: marshal: %w", errKey)
	}
	p, err := k.Prod.MarshalBinary()
	if err != nil {
		return nil, err
	}
	t, err := k.Trunc.MarshalBinary()
	if err != nil {
		return nil, err
	}
	var e Enc
	e.U8(uint8(len(k.Prod.Kind())))
	e.b = append(e.b, k.Prod.Kind()...)
	e.U32(uint32(len(p)))
	e.b = append(e.b, p...)
	e.U32(uint32(len(t)))
	e.b = append(e.b, t...)
	return e.Bytes(), nil
}

func (k *FxKey) UnmarshalBinary(b []byte) error {
	d := NewDec(b)
	kind := string(d.take(int(d.U8())))
	pb := d.take(int(d.U32()))
	tb := d.take(int(d.U32()))
	if err := d.Finish(); err != nil {
		return fmt.Errorf("hss: fx key: %w", err)
	}
	var prod MarshalKey
	var party uint8
	var bits uint
	switch kind {
	case "mul":
		m := new(MulKey)
		if err := m.UnmarshalBinary(pb); err != nil {
			return fmt.Errorf("hss: fx key: %w", err)
		}
		prod, party, bits = m, m.Party, m.Bits
	case "square":
		m := new(SquareKey)
		if err := m.UnmarshalBinary(pb); err != nil {
			return fmt.Errorf("hss: fx key: %w", err)
		}
		prod, party, bits = m, m.Party, m.Bits
	case "matmul":
		m := new(MatMulKey)
		if err := m.UnmarshalBinary(pb); err != nil {
			return fmt.Errorf("hss: fx key: %w", err)
		}
		prod, party, bits = m, m.Party, m.Bits
	default:
		return fmt.Errorf("hss: fx key: product kind %q: %w", kind, errKey)
	}
	t := new(TruncKey)
	if err := t.UnmarshalBinary(tb); err != nil {
		return fmt.Errorf("hss: fx key: %w", err)
	}
	if t.Party != party || t.Bits != bits || t.N != prod.Len() {
		return fmt.Errorf("hss: fx key: truncation does not match product: %w", errKey)
	}
	k.Prod, k.Trunc = prod, t
	return nil
}

// PartyID returns the party (0 or 1) the key belongs to (−1 if empty).
func (k *FxKey) PartyID() int {
	if k.Trunc == nil {
		return -1
	}
	return int(k.Trunc.Party)
}

func init() {
	for _, k := range []string{"mulfx", "squarefx", "matmulfx"} {
		RegisterKey(k, func() MarshalKey { return new(FxKey) })
	}
}

func genFx[P MarshalKey](rng io.Reader, prod func() (P, P, error), n int, frac, bits uint) (k0, k1 *FxKey, err error) {
	p0, p1, err := prod()
	if err != nil {
		return nil, nil, err
	}
	t0, t1, err := GenTrunc(rng, n, frac, bits)
	if err != nil {
		return nil, nil, err
	}
	return &FxKey{Prod: p0, Trunc: t0}, &FxKey{Prod: p1, Trunc: t1}, nil
}

// GenMulFixed generates MulFixed material: a triple and a truncation, both at width bits.
func GenMulFixed(rng io.Reader, n int, frac, bits uint) (k0, k1 *FxKey, err error) {
	return genFx(rng, func() (*MulKey, *MulKey, error) { return GenMul(rng, n, bits) }, n, frac, normBits(bits))
}

// GenSquareFixed generates SquareFixed material.
func GenSquareFixed(rng io.Reader, n int, frac, bits uint) (k0, k1 *FxKey, err error) {
	return genFx(rng, func() (*SquareKey, *SquareKey, error) { return GenSquare(rng, n, bits) }, n, frac, normBits(bits))
}

// GenMatMulFixed generates MatMulFixed material.
func GenMatMulFixed(rng io.Reader, m, k, n int, frac, bits uint) (k0, k1 *FxKey, err error) {
	mn, ok := mulLen(m, n)
	if !ok {
		return nil, nil, fmt.Errorf("hss: gen matmul: bad shape %dx%dx%d", m, k, n)
	}
	return genFx(rng, func() (*MatMulKey, *MatMulKey, error) { return GenMatMul(rng, m, k, n, bits) }, mn, frac, normBits(bits))
}

func takeFx[P Key](p *Party, kind string, n int) (P, *TruncKey, error) {
	var zero P
	k, err := takeKey[*FxKey](p, kind, n)
	if err != nil {
		return zero, nil, err
	}
	prod, ok := k.Prod.(P)
	if !ok || k.Trunc == nil {
		return zero, nil, fmt.Errorf("hss: %s: malformed key", kind)
	}
	return prod, k.Trunc, nil
}

// MulFixed returns shares of the fixed-point product x⊙y (both with p.Fx.Frac fractional bits): a
// Beaver product at width bits followed by Trunc at the same width, two rounds, 3·bits bits sent per
// element and party. Needs |x·y| < 2^(bits−2) in units of 2^−2Frac; error < 1 unit of 2^−Frac
// relative to the exact product of the encoded operands.
func (p *Party) MulFixed(x, y []uint64, bits uint) ([]uint64, error) {
	bits = normBits(bits)
	if err := p.checkElemwise("mulfx", x, y); err != nil {
		return nil, err
	}
	return fxElemwise(p, "mulfx", len(x), bits, func(z []uint64, k *MulKey) error { return p.mulInto(z, k, x, y, bits) })
}

// fxElemwise is the fixed-point elementwise gate op on n elements: it takes the op's key pair, has
// prod write the product shares at width bits into a scratch z with the product key and truncates z.
func fxElemwise[K Key](p *Party, op string, n int, bits uint, prod func(z []uint64, k K) error) ([]uint64, error) {
	k, tk, err := takeFx[K](p, op, n)
	if err != nil {
		return nil, err
	}
	z := getWords(n)
	defer putWords(z)
	if err := prod(z, k); err != nil {
		return nil, wrapGate(op, err)
	}
	return p.truncFx(op, tk, z, bits)
}

func (p *Party) truncFx(op string, tk *TruncKey, z []uint64, bits uint) ([]uint64, error) {
	if tk.N != len(z) {
		return nil, fmt.Errorf("hss: %s: malformed key", op)
	}
	out, err := p.truncWith(tk, z, p.Fx.Frac, bits)
	if err != nil {
		return nil, wrapGate(op, err)
	}
	return out, nil
}

// SquareFixed returns shares of the fixed-point square x⊙x: two rounds, 2·bits bits per element and
// party. Same range and error as MulFixed.
func (p *Party) SquareFixed(x []uint64, bits uint) ([]uint64, error) {
	bits = normBits(bits)
	if err := p.check("squarefx"); err != nil {
		return nil, err
	}
	return fxElemwise(p, "squarefx", len(x), bits, func(z []uint64, k *SquareKey) error { return p.squareInto(z, k, x, bits) })
}

// MatMulFixed returns shares of the fixed-point matrix product X·Y (X [m×k], Y [k×n]): a matrix-triple
// product at width bits, then Trunc; two rounds. Every accumulated dot product must satisfy
// |·| < 2^(bits−2) in units of 2^−2Frac; error < 1 unit of 2^−Frac.
func (p *Party) MatMulFixed(x, y []uint64, m, k, n int, bits uint) ([]uint64, error) {
	bits = normBits(bits)
	mn, err := p.checkMatMul("matmulfx", x, y, m, k, n)
	if err != nil {
		return nil, err
	}
	key, tk, err := takeFx[*MatMulKey](p, "matmulfx", mn)
	if err != nil {
		return nil, err
	}
	z, err := p.matMulWith(key, x, y, m, k, n, bits)
	if err != nil {
		return nil, wrapGate("matmulfx", err)
	}
	return p.truncFx("matmulfx", tk, z, bits)
}

// MatMulTFixed is MatMulFixed with the second operand transposed (yT [n×k]).
func (p *Party) MatMulTFixed(x, yT []uint64, m, k, n int, bits uint) ([]uint64, error) {
	if kn, ok := mulLen(k, n); !ok || len(yT) != kn {
		return nil, fmt.Errorf("hss: matmulfx: operand of %d elements does not fit %dx%d", len(yT), n, k)
	}
	return p.MatMulFixed(x, transpose(yT, n, k), m, k, n, bits)
}

// fxCost composes an FxKey: per party a kind byte and the kind, and two four-byte lengths.
func fxCost(kind string, prod, trunc Cost) Cost {
	f := 1 + len(kind) + 4 + 4
	return prod.Add(trunc).Add(keyCost(f, f))
}

// CostMulFixed is the cost of MulFixed on n elements.
func CostMulFixed(n int, frac, bits uint) (Cost, error) {
	st, err := CostMulFixedStages(n, frac, bits)
	return SumStages(st), err
}

// CostMulFixedStages is CostMulFixed by stage: the product (with the key's framing), its truncation.
func CostMulFixedStages(n int, frac, bits uint) ([]Stage, error) {
	bits = normBits(bits)
	if _, err := CostTrunc(n, frac, bits); err != nil {
		return nil, err
	}
	f := 1 + len("mul") + 4 + 4
	return append(stage("mul", costMul(n, bits).Add(keyCost(f, f))), stage("trunc", costTrunc(n, frac, bits))...), nil
}
