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

// The elementwise Beaver kinds: the product's triples and the square's pairs.
func init() {
	RegisterKey("mul", func() MarshalKey { return new(MulKey) })
	RegisterKey("square", func() MarshalKey { return new(SquareKey) })
}

// GenMul generates an elementwise Beaver triple for n elements in Z_2^bits (0 means 64).
func GenMul(rng io.Reader, n int, bits uint) (k0, k1 *MulKey, err error) {
	return genBeaver[MulKey](rng, "gen mul", n, bits, 2, func(c1 []uint64, m uint64, r0, r1 [][]uint64) {
		for i := range c1 {
			a, b := r0[0][i]+r1[0][i], r0[1][i]+r1[1][i]
			c1[i] = (a*b - r0[2][i]) & m
		}
	})
}

// genBeaver generates a Beaver key pair (MulKey, SquareKey) over n elements in Z_2^bits (0 means 64)
// with r masks (a, then b): party 0 expands its shares of the masks and of the product c from its
// seed, party 1 those of the masks, and prod sets party 1's product shares c1 (mod 2^bits: m is the
// mask) from the parties' expanded words (r0[j], r1[j]: mask j; r0[r]: c0).
func genBeaver[K any, P interface {
	*K
	vec() *vecKey
}](rng io.Reader, gate string, n int, bits uint, r int, prod func(c1 []uint64, m uint64, r0, r1 [][]uint64)) (*K, *K, error) {
	bits = normBits(bits)
	s0, s1, err := genVecSeeds(rng, gate, n, bits)
	if err != nil {
		return nil, nil, err
	}
	b0, b1 := streamScratch(s0, (r+1)*n), streamScratch(s1, r*n)
	defer putWords(b0)
	defer putWords(b1)
	c1 := make([]uint64, n)
	prod(c1, Mask(bits), splitWords(b0, r+1, n), splitWords(b1, r, n))
	k0, k1 := new(K), new(K)
	v0, v1 := P(k0).vec(), P(k1).vec()
	v0.Party, v0.Bits, v0.N, v0.Seed = 0, bits, n, s0
	v1.Party, v1.Bits, v1.N, v1.Seed, v1.C = 1, bits, n, s1, c1
	return k0, k1, nil
}

// vec is the vector key under a Beaver key (genBeaver).
func (k *vecKey) vec() *vecKey { return k }

// splitWords cuts the first k·n words of b into k consecutive pieces of n words.
func splitWords(b []uint64, k, n int) [][]uint64 {
	s := make([][]uint64, k)
	for j := range s {
		s[j] = b[j*n : (j+1)*n]
	}
	return s
}

// Mul returns shares of x⊙y mod 2^bits (bits = 0 means 64: the plain ring product), one round with
// 2·bits bits sent per element and party. Output words hold values in [0, 2^bits).
func (p *Party) Mul(x, y []uint64, bits uint) ([]uint64, error) {
	bits = normBits(bits)
	if err := p.checkElemwise("mul", x, y); err != nil {
		return nil, err
	}
	k, err := takeKey[*MulKey](p, "mul", len(x))
	if err != nil {
		return nil, err
	}
	return p.mulWith(k, x, y, bits)
}

// checkElemwise checks the party and the operands of the elementwise product gate op.
func (p *Party) checkElemwise(op string, x, y []uint64) error {
	if err := p.check(op); err != nil {
		return err
	}
	if len(x) != len(y) {
		return fmt.Errorf("hss: %s: operands have %d and %d elements", op, len(x), len(y))
	}
	return nil
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
	n := len(x)
	// One scratch buffer: a, b (and c0), then e ‖ d (opened in place of x − a ‖ y − b).
	buf, c, err := p.beaverScratch("mul", &k.vecKey, n, bits, 2)
	if err != nil {
		return err
	}
	defer putWords(buf)
	a, b := buf[:n], buf[n:2*n]
	ed := buf[len(buf)-2*n:]
	e, d := ed[:n], ed[n:]
	x, y, z = x[:n], y[:n], z[:n]
	m := Mask(bits)
	for i := range n {
		e[i] = x[i] - a[i]
		d[i] = y[i] - b[i]
	}
	if err := p.openInto(ed, ed, bits); err != nil {
		return wrapGate("mul", err)
	}
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

// beaverScratch checks the Beaver key k of the gate op for n elements at width bits and returns a
// pooled buffer (the caller putWords it) that holds the party's shares of the r masks (r words of n,
// expanded from the seed as expand draws them; party 0's share of the product c after them) and r
// words of n more for the openings, and the party's share c of the product.
func (p *Party) beaverScratch(op string, k *vecKey, n int, bits uint, r int) (buf, c []uint64, err error) {
	if k.Bits != bits || int(k.Party) != p.ID {
		return nil, nil, fmt.Errorf("hss: %s: key is for party %d width %d; call is party %d width %d", op, k.Party, k.Bits, p.ID, bits)
	}
	if p.ID == 1 && len(k.C) != n {
		return nil, nil, fmt.Errorf("hss: %s: malformed key", op)
	}
	nr, c := r*n, k.C
	if p.ID == 0 {
		nr += n
	}
	buf = getWords(nr + r*n)
	NewPRG(k.Seed).Uint64s(buf[:nr])
	if p.ID == 0 {
		c = buf[r*n : nr]
	}
	return buf, c[:n], nil
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
