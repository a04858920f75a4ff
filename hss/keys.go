package hss

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// MaxKeyLen bounds the number of elements of one key, so a decoded key cannot make a party allocate
// without limit.
const MaxKeyLen = 1 << 28

var errKey = errors.New("invalid key")

// expand fills one slice per length, in order, from the PRG of seed.
func expand(seed [32]byte, lens ...int) [][]uint64 {
	total := 0
	for _, l := range lens {
		total += l
	}
	buf := make([]uint64, total)
	NewPRG(seed).Uint64s(buf)
	out := make([][]uint64, len(lens))
	for i, l := range lens {
		out[i], buf = buf[:l:l], buf[l:]
	}
	return out
}

func normBits(b uint) uint {
	if b == 0 {
		return 64
	}
	return b
}

func checkLen(op string, n int) error {
	if n < 0 || n > MaxKeyLen {
		return fmt.Errorf("hss: %s: length %d out of range [0,%d]", op, n, MaxKeyLen)
	}
	return nil
}

func checkParty(p uint8) error {
	if p > 1 {
		return fmt.Errorf("party %d: %w", p, errKey)
	}
	return nil
}

// mulLen returns a·b if both are non-negative and the product is at most MaxKeyLen.
func mulLen(a, b int) (int, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > MaxKeyLen {
		return 0, false
	}
	return int(lo), true
}

func seeds(rng io.Reader) (s0, s1 [32]byte, err error) {
	if s0, err = ReadSeed(rng); err != nil {
		return
	}
	s1, err = ReadSeed(rng)
	return
}

// ---- Trunc ----------------------------------------------------------------------------------------

// TruncKey is one party's material for Trunc over N elements: shares of a mask r ∈ Z_2^Bits, of
// r >> Frac and of msb(r). Party 0 holds only Seed (r0, (r>>f)0 and msb0 are expanded from it); party 1
// expands r1 from Seed and holds RHi and RMsb explicitly (RMsb reduced mod 2^(64−Bits+Frac), the only
// part that matters).
type TruncKey struct {
	Consumable
	Party      uint8
	Frac, Bits uint
	N          int
	Seed       [32]byte
	RHi, RMsb  []uint64 // party 1 only
}

func (k *TruncKey) Kind() string { return "trunc" }
func (k *TruncKey) Len() int     { return k.N }
func (k *TruncKey) msbWidth() uint {
	return 64 - k.Bits + k.Frac
}

// Size is the length of MarshalBinary's output.
func (k *TruncKey) Size() int {
	s := 3 + 4 + 32
	if k.Party == 1 {
		s += PackedLen(k.N, 64)
		if w := k.msbWidth(); w > 0 {
			s += PackedLen(k.N, w)
		}
	}
	return s
}

func (k *TruncKey) MarshalBinary() ([]byte, error) {
	e := Enc{b: make([]byte, 0, k.Size())}
	e.U8(k.Party)
	e.U8(uint8(k.Frac))
	e.U8(uint8(k.Bits))
	e.U32(uint32(k.N))
	e.Seed(k.Seed)
	if k.Party == 1 {
		if len(k.RHi) != k.N || len(k.RMsb) != k.N {
			return nil, fmt.Errorf("hss: trunc key: marshal: %w", errKey)
		}
		e.Packed(k.RHi, 64)
		if w := k.msbWidth(); w > 0 {
			e.Packed(k.RMsb, w)
		}
	}
	return e.Bytes(), nil
}

func (k *TruncKey) UnmarshalBinary(b []byte) error {
	d := NewDec(b)
	k.Party = d.U8()
	k.Frac, k.Bits = uint(d.U8()), uint(d.U8())
	k.N = int(d.U32())
	k.Seed = d.Seed()
	if d.Err() == nil {
		if err := checkParty(k.Party); err != nil {
			d.Fail(err)
		} else if k.Bits < 2 || k.Bits > 64 || k.Frac+2 > k.Bits || k.N > MaxKeyLen {
			d.Fail(fmt.Errorf("frac %d, width %d, length %d: %w", k.Frac, k.Bits, k.N, errKey))
		}
	}
	k.RHi, k.RMsb = nil, nil
	if d.Err() == nil && k.Party == 1 {
		k.RHi = d.Packed(k.N, 64)
		if w := k.msbWidth(); w > 0 {
			k.RMsb = d.Packed(k.N, w)
		} else {
			k.RMsb = make([]uint64, k.N)
		}
	}
	if err := d.Finish(); err != nil {
		return fmt.Errorf("hss: trunc key: %w", err)
	}
	return nil
}

// ---- Beaver products --------------------------------------------------------------------------------

// MulKey is one party's elementwise Beaver triple share (a, b, c = a·b mod 2^Bits) for N elements.
// Party 0 expands a0, b0, c0 from Seed; party 1 expands a1, b1 from Seed and holds C.
type MulKey struct {
	Consumable
	Party uint8
	Bits  uint
	N     int
	Seed  [32]byte
	C     []uint64 // party 1 only
}

func (k *MulKey) Kind() string { return "mul" }
func (k *MulKey) Len() int     { return k.N }
func (k *MulKey) Size() int    { return vecKeySize(k.Party, k.Bits, k.N) }
func (k *MulKey) MarshalBinary() ([]byte, error) {
	return marshalVecKey("mul", k.Party, k.Bits, k.N, k.Seed, k.C)
}
func (k *MulKey) UnmarshalBinary(b []byte) error {
	var err error
	k.Party, k.Bits, k.N, k.Seed, k.C, err = unmarshalVecKey("mul", b)
	return err
}

// SquareKey is one party's square pair share (a, c = a² mod 2^Bits) for N elements. Party 0 expands
// a0, c0 from Seed; party 1 expands a1 and holds C.
type SquareKey struct {
	Consumable
	Party uint8
	Bits  uint
	N     int
	Seed  [32]byte
	C     []uint64 // party 1 only
}

func (k *SquareKey) Kind() string { return "square" }
func (k *SquareKey) Len() int     { return k.N }
func (k *SquareKey) Size() int    { return vecKeySize(k.Party, k.Bits, k.N) }
func (k *SquareKey) MarshalBinary() ([]byte, error) {
	return marshalVecKey("square", k.Party, k.Bits, k.N, k.Seed, k.C)
}
func (k *SquareKey) UnmarshalBinary(b []byte) error {
	var err error
	k.Party, k.Bits, k.N, k.Seed, k.C, err = unmarshalVecKey("square", b)
	return err
}

func vecKeySize(party uint8, bits uint, n int) int {
	s := 2 + 4 + 32
	if party == 1 {
		s += PackedLen(n, bits)
	}
	return s
}

func marshalVecKey(kind string, party uint8, bits uint, n int, seed [32]byte, c []uint64) ([]byte, error) {
	var e Enc
	e.U8(party)
	e.U8(uint8(bits))
	e.U32(uint32(n))
	e.Seed(seed)
	if party == 1 {
		if len(c) != n {
			return nil, fmt.Errorf("hss: %s key: marshal: %w", kind, errKey)
		}
		e.Packed(c, bits)
	}
	return e.Bytes(), nil
}

func unmarshalVecKey(kind string, b []byte) (party uint8, bits uint, n int, seed [32]byte, c []uint64, err error) {
	d := NewDec(b)
	party = d.U8()
	bits = uint(d.U8())
	n = int(d.U32())
	seed = d.Seed()
	if d.Err() == nil {
		if e := checkParty(party); e != nil {
			d.Fail(e)
		} else if bits < 1 || bits > 64 || n > MaxKeyLen {
			d.Fail(fmt.Errorf("width %d, length %d: %w", bits, n, errKey))
		}
	}
	if d.Err() == nil && party == 1 {
		c = d.Packed(n, bits)
	}
	if e := d.Finish(); e != nil {
		return 0, 0, 0, seed, nil, fmt.Errorf("hss: %s key: %w", kind, e)
	}
	return party, bits, n, seed, c, nil
}

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

// ---- fixed-point products -------------------------------------------------------------------------

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

func init() {
	RegisterKey("trunc", func() MarshalKey { return new(TruncKey) })
	RegisterKey("mul", func() MarshalKey { return new(MulKey) })
	RegisterKey("square", func() MarshalKey { return new(SquareKey) })
	RegisterKey("matmul", func() MarshalKey { return new(MatMulKey) })
	for _, k := range []string{"mulfx", "squarefx", "matmulfx"} {
		RegisterKey(k, func() MarshalKey { return new(FxKey) })
	}
}

// PartyID returns the party (0 or 1) the key belongs to.
func (k *TruncKey) PartyID() int { return int(k.Party) }

// PartyID returns the party (0 or 1) the key belongs to.
func (k *MulKey) PartyID() int { return int(k.Party) }

// PartyID returns the party (0 or 1) the key belongs to.
func (k *SquareKey) PartyID() int { return int(k.Party) }

// PartyID returns the party (0 or 1) the key belongs to.
func (k *MatMulKey) PartyID() int { return int(k.Party) }

// PartyID returns the party (0 or 1) the key belongs to (−1 if empty).
func (k *FxKey) PartyID() int {
	if k.Trunc == nil {
		return -1
	}
	return int(k.Trunc.Party)
}
