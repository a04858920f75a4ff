package hss

import (
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

// GenSquare generates square pairs (a, a²) for n elements in Z_2^bits (0 means 64).
func GenSquare(rng io.Reader, n int, bits uint) (k0, k1 *SquareKey, err error) {
	return genBeaver[SquareKey](rng, "gen square", n, bits, 1, func(c1 []uint64, m uint64, r0, r1 [][]uint64) {
		for i := range c1 {
			a := r0[0][i] + r1[0][i]
			c1[i] = (a*a - r0[1][i]) & m
		}
	})
}

// Square returns shares of x⊙x mod 2^bits, one round with bits bits sent per element and party.
func (p *Party) Square(x []uint64, bits uint) ([]uint64, error) {
	bits = normBits(bits)
	k, err := takeChecked[*SquareKey](p, "square", len(x))
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
	n := len(x)
	buf, c, err := p.beaverScratch("square", &k.vecKey, n, bits, 1) // a (and c0), then e
	if err != nil {
		return err
	}
	defer putWords(buf)
	a, e := buf[:n], buf[len(buf)-n:]
	x, z = x[:n], z[:n]
	m := Mask(bits)
	for i := range n {
		e[i] = x[i] - a[i]
	}
	if err := p.openInto(e, e, bits); err != nil {
		return wrapGate("square", err)
	}
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
