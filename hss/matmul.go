package hss

import (
	"fmt"
	"io"

	"github.com/hssee/hssee/kernel"
)

// Beaver matrix products (mul.go): matrix triples, one opening of X − A and Y − B for the whole product.

// MatMulKey is one party's matrix triple share (A [M×K], B [K×N], C = A·B mod 2^Bits [M×N]),
// following the matrix triples of SecureML (Mohassel and Zhang, S&P 2017). Party 0 expands A0, B0, C0
// from Seed; party 1 expands A1, B1 and holds C.
type MatMulKey struct {
	Consumable
	Party   uint8
	Bits    uint
	M, K, N int
	Seed    [32]byte
	C       []uint64 // party 1 only, M×N
}

func (k *MatMulKey) Kind() string { return "matmul" }

// Len is the number of output elements M·N.
func (k *MatMulKey) Len() int { return k.M * k.N }
func (k *MatMulKey) Size() int {
	s := 2 + 12 + 32
	if k.Party == 1 {
		s += PackedLen(k.M*k.N, k.Bits)
	}
	return s
}

func (k *MatMulKey) MarshalBinary() ([]byte, error) {
	e := Enc{b: make([]byte, 0, k.Size())}
	e.U8(k.Party)
	e.U8(uint8(k.Bits))
	e.U32(uint32(k.M))
	e.U32(uint32(k.K))
	e.U32(uint32(k.N))
	e.Seed(k.Seed)
	if k.Party == 1 {
		if len(k.C) != k.M*k.N {
			return nil, fmt.Errorf("hss: matmul key: marshal: %w", errKey)
		}
		e.Packed(k.C, k.Bits)
	}
	return e.Bytes(), nil
}

func (k *MatMulKey) UnmarshalBinary(b []byte) error {
	d := NewDec(b)
	k.Party = d.U8()
	k.Bits = uint(d.U8())
	k.M, k.K, k.N = int(d.U32()), int(d.U32()), int(d.U32())
	k.Seed = d.Seed()
	k.C = nil
	if d.Err() == nil {
		_, ok1 := mulLen(k.M, k.K)
		_, ok2 := mulLen(k.K, k.N)
		_, ok3 := mulLen(k.M, k.N)
		if err := checkParty(k.Party); err != nil {
			d.Fail(err)
		} else if k.Bits < 1 || k.Bits > 64 || !ok1 || !ok2 || !ok3 {
			d.Fail(fmt.Errorf("width %d, shape %dx%dx%d: %w", k.Bits, k.M, k.K, k.N, errKey))
		}
	}
	if d.Err() == nil && k.Party == 1 {
		k.C = d.Packed(k.M*k.N, k.Bits)
	}
	if err := d.Finish(); err != nil {
		return fmt.Errorf("hss: matmul key: %w", err)
	}
	return nil
}

// PartyID returns the party (0 or 1) the key belongs to.
func (k *MatMulKey) PartyID() int { return int(k.Party) }

func init() { RegisterKey("matmul", func() MarshalKey { return new(MatMulKey) }) }

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
	mn, err := p.checkMatMul("matmul", x, y, m, k, n)
	if err != nil {
		return nil, err
	}
	key, err := takeKey[*MatMulKey](p, "matmul", mn)
	if err != nil {
		return nil, err
	}
	return p.matMulWith(key, x, y, m, k, n, bits)
}

// checkMatMul checks the party and the operands X [m×k], Y [k×n] of the matrix product gate op and
// returns the output length m·n.
func (p *Party) checkMatMul(op string, x, y []uint64, m, k, n int) (int, error) {
	if err := p.check(op); err != nil {
		return 0, err
	}
	mk, ok1 := mulLen(m, k)
	kn, ok2 := mulLen(k, n)
	mn, ok3 := mulLen(m, n)
	if !ok1 || !ok2 || !ok3 || len(x) != mk || len(y) != kn {
		return 0, fmt.Errorf("hss: %s: operands of %d and %d elements do not fit shape %dx%dx%d", op, len(x), len(y), m, k, n)
	}
	return mn, nil
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

func costMatMul(m, k, n int, bits uint) Cost {
	k0 := &MatMulKey{Party: 0, Bits: bits, M: m, K: k, N: n}
	k1 := &MatMulKey{Party: 1, Bits: bits, M: m, K: k, N: n}
	return keyCost(k0.Size(), k1.Size())
}
