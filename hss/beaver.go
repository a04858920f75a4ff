package hss

import (
	"fmt"
	"io"

	"github.com/hssee/hssee/kernel"
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

// GenMul generates an elementwise Beaver triple for n elements in Z_2^bits (0 means 64).
func GenMul(rng io.Reader, n int, bits uint) (k0, k1 *MulKey, err error) {
	bits = normBits(bits)
	if err := checkLen("gen mul", n); err != nil {
		return nil, nil, err
	}
	if bits > 64 {
		return nil, nil, fmt.Errorf("hss: gen mul: width %d > 64", bits)
	}
	s0, s1, err := seeds(rng)
	if err != nil {
		return nil, nil, wrapGate("gen mul", err)
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
	return &MulKey{Party: 0, Bits: bits, N: n, Seed: s0}, &MulKey{Party: 1, Bits: bits, N: n, Seed: s1, C: c1}, nil
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

// GenSquare generates square pairs (a, a²) for n elements in Z_2^bits (0 means 64).
func GenSquare(rng io.Reader, n int, bits uint) (k0, k1 *SquareKey, err error) {
	bits = normBits(bits)
	if err := checkLen("gen square", n); err != nil {
		return nil, nil, err
	}
	if bits > 64 {
		return nil, nil, fmt.Errorf("hss: gen square: width %d > 64", bits)
	}
	s0, s1, err := seeds(rng)
	if err != nil {
		return nil, nil, wrapGate("gen square", err)
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
	return &SquareKey{Party: 0, Bits: bits, N: n, Seed: s0}, &SquareKey{Party: 1, Bits: bits, N: n, Seed: s1, C: c1}, nil
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

// GenMatMul generates a matrix triple for X [m×k] · Y [k×n] in Z_2^bits (0 means 64).
func GenMatMul(rng io.Reader, m, k, n int, bits uint) (k0, k1 *MatMulKey, err error) {
	bits = normBits(bits)
	mk, ok1 := mulLen(m, k)
	kn, ok2 := mulLen(k, n)
	mn, ok3 := mulLen(m, n)
	if !ok1 || !ok2 || !ok3 || bits > 64 {
		return nil, nil, fmt.Errorf("hss: gen matmul: bad shape %dx%dx%d or width %d", m, k, n, bits)
	}
	s0, s1, err := seeds(rng)
	if err != nil {
		return nil, nil, wrapGate("gen matmul", err)
	}
	v0, v1 := expand(s0, mk, kn, mn), expand(s1, mk, kn)
	a, b := Reconstruct(v0[0], v1[0]), Reconstruct(v0[1], v1[1])
	c, err := ringMatMulNN(a, b, m, k, n)
	if err != nil {
		return nil, nil, wrapGate("gen matmul", err)
	}
	msk := Mask(bits)
	for i := range c {
		c[i] = (c[i] - v0[2][i]) & msk
	}
	return &MatMulKey{Party: 0, Bits: bits, M: m, K: k, N: n, Seed: s0},
		&MatMulKey{Party: 1, Bits: bits, M: m, K: k, N: n, Seed: s1, C: c}, nil
}

// transpose returns the [c][r] transpose of a [r][c] matrix.
func transpose(a []uint64, r, c int) []uint64 {
	t := make([]uint64, len(a))
	const bs = 32
	for i0 := 0; i0 < r; i0 += bs {
		for j0 := 0; j0 < c; j0 += bs {
			for i := i0; i < min(i0+bs, r); i++ {
				for j := j0; j < min(j0+bs, c); j++ {
					t[j*r+i] = a[i*c+j]
				}
			}
		}
	}
	return t
}

// ringMatMulNN returns a·b mod 2^64 for a [m×k], b [k×n].
func ringMatMulNN(a, b []uint64, m, k, n int) ([]uint64, error) {
	out := make([]uint64, m*n)
	err := kernel.RingMatMul(out, a, m, k, transpose(b, k, n), n)
	return out, err
}

// MatMul returns shares of X·Y mod 2^bits for shared X [m×k] and Y [k×n] (row-major; bits = 0 means 64)
// in one round, sending (m·k + k·n)·bits bits per party.
func (p *Party) MatMul(x, y []uint64, m, k, n int, bits uint) ([]uint64, error) {
	bits = normBits(bits)
	if err := p.check("matmul"); err != nil {
		return nil, err
	}
	mk, ok1 := mulLen(m, k)
	kn, ok2 := mulLen(k, n)
	mn, ok3 := mulLen(m, n)
	if !ok1 || !ok2 || !ok3 || len(x) != mk || len(y) != kn {
		return nil, fmt.Errorf("hss: matmul: operands of %d and %d elements do not fit shape %dx%dx%d", len(x), len(y), m, k, n)
	}
	key, err := takeKey[*MatMulKey](p, "matmul", mn)
	if err != nil {
		return nil, err
	}
	return p.matMulWith(key, x, y, m, k, n, bits)
}

// MatMulT is MatMul with the second operand given transposed: yT [n×k] (for Q·Kᵀ with K stored
// row-major by token).
func (p *Party) MatMulT(x, yT []uint64, m, k, n int, bits uint) ([]uint64, error) {
	if kn, ok := mulLen(k, n); !ok || len(yT) != kn {
		return nil, fmt.Errorf("hss: matmul: operand of %d elements does not fit %dx%d", len(yT), n, k)
	}
	return p.MatMul(x, transpose(yT, n, k), m, k, n, bits)
}

func (p *Party) matMulWith(key *MatMulKey, x, y []uint64, m, k, n int, bits uint) ([]uint64, error) {
	mm, send, err := p.matMulPrep(key, x, y, m, k, n, bits)
	if err != nil {
		return nil, err
	}
	ef, err := p.OpenBits(send, bits)
	if err != nil {
		return nil, wrapGate("matmul", err)
	}
	return mm.finish(p.ID, ef)
}

// matMulState is a Beaver matrix product between its opening and its
// local completion.
type matMulState struct {
	a, b, c []uint64
	m, k, n int
	bits    uint
}

// matMulPrep checks key against the call, expands the party's triple and
// returns the values to open: X − A and Y − B.
func (p *Party) matMulPrep(key *MatMulKey, x, y []uint64, m, k, n int, bits uint) (*matMulState, []uint64, error) {
	if key.Bits != bits || int(key.Party) != p.ID || key.M != m || key.K != k || key.N != n {
		return nil, nil, fmt.Errorf("hss: matmul: key is for party %d shape %dx%dx%d width %d; call is party %d shape %dx%dx%d width %d",
			key.Party, key.M, key.K, key.N, key.Bits, p.ID, m, k, n, bits)
	}
	mk, kn, mn := m*k, k*n, m*n
	st := &matMulState{m: m, k: k, n: n, bits: bits}
	if p.ID == 0 {
		v := expand(key.Seed, mk, kn, mn)
		st.a, st.b, st.c = v[0], v[1], v[2]
	} else {
		if len(key.C) != mn {
			return nil, nil, fmt.Errorf("hss: matmul: malformed key")
		}
		v := expand(key.Seed, mk, kn)
		st.a, st.b, st.c = v[0], v[1], key.C
	}
	send := make([]uint64, mk+kn)
	for i := range mk {
		send[i] = x[i] - st.a[i]
	}
	for i := range kn {
		send[mk+i] = y[i] - st.b[i]
	}
	return st, send, nil
}

// finish computes the party's share of X·Y from the opened E = X − A and
// F = Y − B (ef = E ‖ F).
func (st *matMulState) finish(party int, ef []uint64) ([]uint64, error) {
	m, k, n := st.m, st.k, st.n
	a, b, c := st.a, st.b, st.c
	e, f := ef[:m*k], ef[m*k:]
	// Z_i = C_i + E·B_i + (A_i + [i=0]·E)·F: two ring matmuls per party.
	if party == 0 {
		for i := range a {
			a[i] += e[i]
		}
	}
	fT, bT := transpose(f, k, n), transpose(b, k, n)
	z := make([]uint64, m*n)
	t := make([]uint64, m*n)
	if err := kernel.RingMatMul(z, e, m, k, bT, n); err != nil {
		return nil, wrapGate("matmul", err)
	}
	if err := kernel.RingMatMul(t, a, m, k, fT, n); err != nil {
		return nil, wrapGate("matmul", err)
	}
	msk := Mask(st.bits)
	for i := range z {
		z[i] = (z[i] + t[i] + c[i]) & msk
	}
	return z, nil
}

// ---- fixed-point products -------------------------------------------------------------------------

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
	if err := p.check("mulfx"); err != nil {
		return nil, err
	}
	if len(x) != len(y) {
		return nil, fmt.Errorf("hss: mulfx: operands have %d and %d elements", len(x), len(y))
	}
	mk, tk, err := takeFx[*MulKey](p, "mulfx", len(x))
	if err != nil {
		return nil, err
	}
	z := getWords(len(x))
	defer putWords(z)
	if err := p.mulInto(z, mk, x, y, bits); err != nil {
		return nil, wrapGate("mulfx", err)
	}
	return p.truncFx("mulfx", tk, z, bits)
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
	sk, tk, err := takeFx[*SquareKey](p, "squarefx", len(x))
	if err != nil {
		return nil, err
	}
	z := getWords(len(x))
	defer putWords(z)
	if err := p.squareInto(z, sk, x, bits); err != nil {
		return nil, wrapGate("squarefx", err)
	}
	return p.truncFx("squarefx", tk, z, bits)
}

// MatMulFixed returns shares of the fixed-point matrix product X·Y (X [m×k], Y [k×n]): a matrix-triple
// product at width bits, then Trunc; two rounds. Every accumulated dot product must satisfy
// |·| < 2^(bits−2) in units of 2^−2Frac; error < 1 unit of 2^−Frac.
func (p *Party) MatMulFixed(x, y []uint64, m, k, n int, bits uint) ([]uint64, error) {
	bits = normBits(bits)
	if err := p.check("matmulfx"); err != nil {
		return nil, err
	}
	mk, ok1 := mulLen(m, k)
	kn, ok2 := mulLen(k, n)
	mn, ok3 := mulLen(m, n)
	if !ok1 || !ok2 || !ok3 || len(x) != mk || len(y) != kn {
		return nil, fmt.Errorf("hss: matmulfx: operands of %d and %d elements do not fit shape %dx%dx%d", len(x), len(y), m, k, n)
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
