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

// seedStreams draws both parties' seeds (the start of a generator whose keys party 0 holds as a seed
// alone) and expands w0 and w1 words from them; release hands the buffers back to the pool.
func seedStreams(rng io.Reader, op string, w0, w1 int) (s0, s1 [32]byte, b0, b1 []uint64, release func(), err error) {
	if s0, s1, err = seeds(rng); err != nil {
		return s0, s1, nil, nil, nil, wrapGate(op, err)
	}
	b0, b1 = streamScratch(s0, w0), streamScratch(s1, w1)
	return s0, s1, b0, b1, func() { putWords(b0); putWords(b1) }, nil
}

// The codec of the vector keys (MulKey, SquareKey, CacheKey): party, width, length, seed, and party
// 1's corrections packed at the width.

// vecKey is the body MulKey and SquareKey share: one party's share of N elements in Z_2^Bits, the
// party's seed, and party 1's corrections C.
type vecKey struct {
	Consumable
	Party uint8
	Bits  uint
	N     int
	Seed  [32]byte
	C     []uint64 // party 1 only
}

func (k *vecKey) Len() int  { return k.N }
func (k *vecKey) Size() int { return vecKeySize(k.Party, k.Bits, k.N) }

// PartyID returns the party (0 or 1) the key belongs to.
func (k *vecKey) PartyID() int { return int(k.Party) }

func (k *vecKey) marshal(kind string) ([]byte, error) {
	return marshalVecKey(kind, k.Party, k.Bits, k.N, k.Seed, k.C)
}

func (k *vecKey) unmarshal(kind string, b []byte) error {
	var err error
	k.Party, k.Bits, k.N, k.Seed, k.C, err = unmarshalVecKey(kind, b)
	return err
}

// genVecSeeds checks the length and width of a vector key's gate and draws the parties' seeds.
func genVecSeeds(rng io.Reader, gate string, n int, bits uint) (s0, s1 [32]byte, err error) {
	if err := checkLen(gate, n); err != nil {
		return s0, s1, err
	}
	if bits > 64 {
		return s0, s1, fmt.Errorf("hss: %s: width %d > 64", gate, bits)
	}
	if s0, s1, err = seeds(rng); err != nil {
		return s0, s1, wrapGate(gate, err)
	}
	return s0, s1, nil
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

// The row gates (max.go, softmax.go, norm.go): reductions and normalisations over the rows of a shared
// [rows × cols] tensor (row-major), composed from Trunc, Square, ReLU, Exp, the octave lookups
// (Reciprocal/Rsqrt) and row-broadcast products. Their material is one composite key holding the
// parts in the order they are consumed.

func checkShape(op string, rows, cols int) (int, error) {
	n, ok := mulLen(rows, cols)
	if !ok || cols < 1 {
		return 0, fmt.Errorf("hss: %s: shape %dx%d out of range", op, rows, cols)
	}
	return n, nil
}
