package hss

import (
	"fmt"
	"io"
)

// The Beaver square (mul.go): a pair (a, c = a²), one opening of e = x − a.

// SquareKey is one party's square pair share (a, c = a² mod 2^Bits) for N elements. Party 0 expands
// a0, c0 from Seed; party 1 expands a1 and holds C (the fields Party, Bits,
// N, Seed and C of vecKey, keys.go).
type SquareKey struct{ vecKey }

func (k *SquareKey) Kind() string                   { return "square" }
func (k *SquareKey) MarshalBinary() ([]byte, error) { return k.marshal("square") }
func (k *SquareKey) UnmarshalBinary(b []byte) error { return k.unmarshal("square", b) }

func init() { RegisterKey("square", func() MarshalKey { return new(SquareKey) }) }

// GenSquare generates square pairs (a, a²) for n elements in Z_2^bits (0 means 64).
func GenSquare(rng io.Reader, n int, bits uint) (k0, k1 *SquareKey, err error) {
	bits = normBits(bits)
	s0, s1, err := genVecSeeds(rng, "gen square", n, bits)
	if err != nil {
		return nil, nil, err
	}
	b0, a1 := streamScratch(s0, 2*n), streamScratch(s1, n) // a0, c0; a1
	defer putWords(b0)
	defer putWords(a1)
	v0 := [2][]uint64{b0[:n], b0[n:]}
	c1 := make([]uint64, n)
	m := Mask(bits)
	for i := range n {
		a := v0[0][i] + a1[i]
		c1[i] = (a*a - v0[1][i]) & m
	}
	return &SquareKey{vecKey{Party: 0, Bits: bits, N: n, Seed: s0}}, &SquareKey{vecKey{Party: 1, Bits: bits, N: n, Seed: s1, C: c1}}, nil
}

// Square returns shares of x⊙x mod 2^bits, one round with bits bits sent per element and party.
func (p *Party) Square(x []uint64, bits uint) ([]uint64, error) {
	bits = normBits(bits)
	if err := p.check("square"); err != nil {
		return nil, err
	}
	k, err := takeKey[*SquareKey](p, "square", len(x))
	if err != nil {
		return nil, err
	}
	return p.squareWith(k, x, bits)
}

func (p *Party) squareWith(k *SquareKey, x []uint64, bits uint) ([]uint64, error) {
	z := make([]uint64, len(x))
	if err := p.squareInto(z, k, x, bits); err != nil {
		return nil, err
	}
	return z, nil
}

// squareInto is squareWith writing the square shares into z (len(z) == len(x)).
func (p *Party) squareInto(z []uint64, k *SquareKey, x []uint64, bits uint) error {
	if k.Bits != bits || int(k.Party) != p.ID {
		return fmt.Errorf("hss: square: key is for party %d width %d; call is party %d width %d", k.Party, k.Bits, p.ID, bits)
	}
	n := len(x)
	if p.ID == 1 && len(k.C) != n {
		return fmt.Errorf("hss: square: malformed key")
	}
	nr := n
	if p.ID == 0 {
		nr = 2 * n
	}
	buf := getWords(nr + n)
	defer putWords(buf)
	NewPRG(k.Seed).Uint64s(buf[:nr])
	a, c := buf[:n], k.C
	if p.ID == 0 {
		c = buf[n : 2*n]
	}
	e := buf[nr : nr+n]
	x, c, z = x[:n], c[:n], z[:n]
	for i := range n {
		e[i] = x[i] - a[i]
	}
	if err := p.openInto(e, e, bits); err != nil {
		return wrapGate("square", err)
	}
	m := Mask(bits)
	if p.ID == 0 {
		for i := range n {
			z[i] = (c[i] + 2*e[i]*a[i] + e[i]*e[i]) & m
		}
	} else {
		for i := range n {
			z[i] = (c[i] + 2*e[i]*a[i]) & m
		}
	}
	return nil
}

func costSquare(n int, bits uint) Cost {
	return open(n, bits).Add(keyCost(vecKeySize(0, bits, n), vecKeySize(1, bits, n)))
}
