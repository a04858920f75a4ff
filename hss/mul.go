package hss

import (
	"fmt"
	"io"
)

// Beaver products (Beaver, "Efficient Multiparty Protocols Using Circuit Randomization", CRYPTO 1991):
// to multiply shared x and y with a triple (a, b, c = ab) the parties open e = x − a and d = y − b in
// one round and set z = c + e·b + d·a + e·d (the public e·d added by party 0). The square gate needs
// only (a, c = a²) and opens e alone: x² = c + 2e·a + e². Matrix triples (Mohassel and Zhang, SecureML,
// S&P 2017) open E = X − A and F = Y − B once for the whole matrix product.
//
// Every product can run at a reduced width ℓ = bits: the triple lives in Z_2^ℓ, the opened values are
// sent with ℓ bits, and the output shares are correct mod 2^ℓ only. That is exactly what a following
// Trunc at the same width needs (it reads its input mod 2^ℓ), which the fixed-point gates (MulFixed,
// SquareFixed, MatMulFixed) exploit: product then Trunc, two rounds, both at width ℓ.
//
// This file holds the elementwise product (Mul); the square is in square.go, the matrix product in
// matmul.go, the fixed-point variants in mulfx.go.

// MulKey is one party's elementwise Beaver triple share (a, b, c = a·b mod 2^Bits) for N elements.
// Party 0 expands a0, b0, c0 from Seed; party 1 expands a1, b1 from Seed and holds C
// (the fields Party, Bits, N, Seed and C of vecKey, keys.go).
type MulKey struct{ vecKey }

func (k *MulKey) Kind() string                   { return "mul" }
func (k *MulKey) MarshalBinary() ([]byte, error) { return k.marshal("mul") }
func (k *MulKey) UnmarshalBinary(b []byte) error { return k.unmarshal("mul", b) }

func init() { RegisterKey("mul", func() MarshalKey { return new(MulKey) }) }

// GenMul generates an elementwise Beaver triple for n elements in Z_2^bits (0 means 64).
func GenMul(rng io.Reader, n int, bits uint) (k0, k1 *MulKey, err error) {
	bits = normBits(bits)
	s0, s1, err := genVecSeeds(rng, "gen mul", n, bits)
	if err != nil {
		return nil, nil, err
	}
	b0, b1 := streamScratch(s0, 3*n), streamScratch(s1, 2*n) // a0, b0, c0; a1, b1
	defer putWords(b0)
	defer putWords(b1)
	v0, v1 := [3][]uint64{b0[:n], b0[n : 2*n], b0[2*n:]}, [2][]uint64{b1[:n], b1[n:]}
	c1 := make([]uint64, n)
	m := Mask(bits)
	for i := range n {
		a, b := v0[0][i]+v1[0][i], v0[1][i]+v1[1][i]
		c1[i] = (a*b - v0[2][i]) & m
	}
	return &MulKey{vecKey{Party: 0, Bits: bits, N: n, Seed: s0}}, &MulKey{vecKey{Party: 1, Bits: bits, N: n, Seed: s1, C: c1}}, nil
}

// Mul returns shares of x⊙y mod 2^bits (bits = 0 means 64: the plain ring product), one round with
// 2·bits bits sent per element and party. Output words hold values in [0, 2^bits).
func (p *Party) Mul(x, y []uint64, bits uint) ([]uint64, error) {
	bits = normBits(bits)
	if err := p.check("mul"); err != nil {
		return nil, err
	}
	if len(x) != len(y) {
		return nil, fmt.Errorf("hss: mul: operands have %d and %d elements", len(x), len(y))
	}
	k, err := takeKey[*MulKey](p, "mul", len(x))
	if err != nil {
		return nil, err
	}
	return p.mulWith(k, x, y, bits)
}

func (p *Party) mulWith(k *MulKey, x, y []uint64, bits uint) ([]uint64, error) {
	z := make([]uint64, len(x))
	if err := p.mulInto(z, k, x, y, bits); err != nil {
		return nil, err
	}
	return z, nil
}

// mulInto is mulWith writing the product shares into z (len(z) == len(x)).
func (p *Party) mulInto(z []uint64, k *MulKey, x, y []uint64, bits uint) error {
	if k.Bits != bits || int(k.Party) != p.ID {
		return fmt.Errorf("hss: mul: key is for party %d width %d; call is party %d width %d", k.Party, k.Bits, p.ID, bits)
	}
	n := len(x)
	if p.ID == 1 && len(k.C) != n {
		return fmt.Errorf("hss: mul: malformed key")
	}
	// Party 0 expands a0, b0, c0 from its seed, party 1 a1, b1 (the same draws as expand).
	nr := 2 * n
	if p.ID == 0 {
		nr = 3 * n
	}
	// One scratch buffer: the expanded triple, then e ‖ d (opened in place of x − a ‖ y − b).
	buf := getWords(nr + 2*n)
	defer putWords(buf)
	NewPRG(k.Seed).Uint64s(buf[:nr])
	a, b, c := buf[:n], buf[n:2*n], k.C
	if p.ID == 0 {
		c = buf[2*n : 3*n]
	}
	ed := buf[nr : nr+2*n]
	e, d := ed[:n], ed[n:]
	x, y, c, z = x[:n], y[:n], c[:n], z[:n]
	for i := range n {
		e[i] = x[i] - a[i]
		d[i] = y[i] - b[i]
	}
	if err := p.openInto(ed, ed, bits); err != nil {
		return wrapGate("mul", err)
	}
	m := Mask(bits)
	if p.ID == 0 {
		for i := range n {
			z[i] = (c[i] + e[i]*b[i] + d[i]*a[i] + e[i]*d[i]) & m
		}
	} else {
		for i := range n {
			z[i] = (c[i] + e[i]*b[i] + d[i]*a[i]) & m
		}
	}
	return nil
}

// CostMul is the cost of Mul (untruncated Beaver product) on n elements at width bits.
func CostMul(n int, bits uint) (Cost, error) {
	bits = normBits(bits)
	if err := checkLen("cost mul", n); err != nil {
		return Cost{}, err
	}
	if bits > 64 {
		return Cost{}, fmt.Errorf("hss: cost mul: width %d > 64", bits)
	}
	return costMul(n, bits), nil
}

func costMul(n int, bits uint) Cost {
	return open(2*n, bits).Add(keyCost(vecKeySize(0, bits, n), vecKeySize(1, bits, n)))
}
