package hss

import (
	"fmt"
	"io"
)

// Row-broadcast Beaver products: z_ij = x_ij · y_i for a ragged matrix x (row i has lens[i] entries,
// stored row after row) and one value y_i per row, as softmax (e_ij · 1/Σe) and the norms
// (d_ij · 1/σ_i) need. The triple is (a, b, c) with a shaped like x, b like y and c_ij = a_ij·b_i
// (Beaver, CRYPTO'91, with the operand-reuse of matrix triples, Mohassel–Zhang, S&P 2017, for the
// rank-one case): the parties open e = x − a and d = y − b once per row, so a row of L entries costs
// (L + 1)·bits bits per party instead of 2L·bits with elementwise triples.

// rowKey is the layout of the row-broadcast keys (RowMulKey, RowMul3Key): party, width, the public
// row lengths Lens (N = Σ Lens), party 0's seed or party 1's seed and corrections C at Bits bits.
type rowKey struct {
	Consumable
	Party uint8
	Bits  uint
	Lens  []int
	N     int // Σ Lens
	Seed  [32]byte
	C     []uint64 // party 1 only
}

func (k *rowKey) Len() int { return k.N }

// PartyID returns the party (0 or 1) the key belongs to.
func (k *rowKey) PartyID() int { return int(k.Party) }

// rowKeySize is the encoded size of a row key of party's with rows rows and words corrections (party
// 1) at bits bits.
func rowKeySize(party, rows, words int, bits uint) int {
	s := 2 + 4 + PackedLen(rows, 32) + 32
	if party == 1 {
		s += PackedLen(words, bits)
	}
	return s
}

// marshal encodes the key with words corrections (party 1).
func (k *rowKey) marshal(kind string, words int) ([]byte, error) {
	if k.Party > 1 || k.Bits < 1 || k.Bits > 64 || (k.Party == 1 && len(k.C) != words) {
		return nil, fmt.Errorf("hss: %s key: marshal: %w", kind, errKey)
	}
	e := Enc{b: make([]byte, 0, rowKeySize(int(k.Party), len(k.Lens), words, k.Bits))}
	encodeRowHeader(&e, k.Party, k.Bits, k.Lens, k.Seed)
	if k.Party == 1 {
		e.Packed(k.C, k.Bits)
	}
	return e.Bytes(), nil
}

// unmarshal decodes a key written by marshal; words gives the corrections' count for its shape.
func (k *rowKey) unmarshal(kind string, b []byte, words func(rows, n int) int) error {
	d := NewDec(b)
	party, bits, lens, n, seed := decodeRowHeader(d)
	var c []uint64
	if party == 1 && d.Err() == nil {
		c = d.Packed(words(len(lens), n), bits)
	}
	if err := d.Finish(); err != nil {
		return fmt.Errorf("hss: %s key: %w", kind, err)
	}
	k.Party, k.Bits, k.Lens, k.N, k.Seed, k.C = party, bits, lens, n, seed, c
	return nil
}

// RowMulKey is one party's row-broadcast triple share mod 2^Bits. Lens (public) gives the row
// lengths. Party 0 expands a0 [N], b0 [rows], c0 [N] from Seed; party 1 expands a1, b1 and holds C.
type RowMulKey struct{ rowKey }

func (k *RowMulKey) Kind() string { return "rowmul" }

// Size is the length of MarshalBinary's output.
func (k *RowMulKey) Size() int { return rowKeySize(int(k.Party), len(k.Lens), k.N, k.Bits) }

func (k *RowMulKey) MarshalBinary() ([]byte, error) { return k.marshal("rowmul", k.N) }

func (k *RowMulKey) UnmarshalBinary(b []byte) error {
	return k.unmarshal("rowmul", b, func(_, n int) int { return n })
}

// encodeRowHeader writes the header the row keys share: party, width, the
// row lengths (packed at 32 bits) and the seed.
func encodeRowHeader(e *Enc, party uint8, bits uint, lens []int, seed [32]byte) {
	e.U8(party)
	e.U8(uint8(bits))
	e.U32(uint32(len(lens)))
	l := make([]uint64, len(lens))
	for i, v := range lens {
		l[i] = uint64(v)
	}
	e.Packed(l, 32)
	e.Seed(seed)
}

// decodeRowHeader reads encodeRowHeader's fields strictly (party 0 or 1,
// width 1..64, at most MaxKeyLen rows and elements); n is the sum of the
// row lengths. Failures are recorded in d.
func decodeRowHeader(d *Dec) (party uint8, bits uint, lens []int, n int, seed [32]byte) {
	party, bits = d.U8(), uint(d.U8())
	rows := int(d.U32())
	if d.Err() == nil && (party > 1 || bits < 1 || bits > 64 || rows > MaxKeyLen) {
		d.Fail(fmt.Errorf("party %d, width %d, %d rows: %w", party, bits, rows, errKey))
	}
	l := d.Packed(rows, 32)
	lens = make([]int, len(l))
	for i, v := range l {
		lens[i] = int(v)
		n += int(v)
		if n > MaxKeyLen {
			d.Fail(fmt.Errorf("%d elements: %w", n, errKey))
			break
		}
	}
	return party, bits, lens, n, d.Seed()
}

func sumLens(op string, lens []int) (int, error) {
	n := 0
	for _, l := range lens {
		if l < 0 || l > MaxKeyLen {
			return 0, fmt.Errorf("hss: %s: row length %d out of range", op, l)
		}
		n += l
		if n > MaxKeyLen {
			return 0, fmt.Errorf("hss: %s: %d elements exceed %d", op, n, MaxKeyLen)
		}
	}
	return n, nil
}

// GenRowMul generates a row-broadcast triple for rows of the given lengths in Z_2^bits (0 means 64).
func GenRowMul(rng io.Reader, lens []int, bits uint) (k0, k1 *RowMulKey, err error) {
	bits = normBits(bits)
	n, err := sumLens("gen rowmul", lens)
	if err != nil {
		return nil, nil, err
	}
	if bits > 64 || len(lens) > MaxKeyLen {
		return nil, nil, fmt.Errorf("hss: gen rowmul: width %d or %d rows out of range", bits, len(lens))
	}
	rows := len(lens)
	s0, s1, b0, b1, release, err := seedStreams(rng, "gen rowmul", 2*n+rows, n+rows) // a0, b0, c0; a1, b1
	if err != nil {
		return nil, nil, err
	}
	defer release()
	v0, v1 := [3][]uint64{b0[:n], b0[n : n+rows], b0[n+rows:]}, [2][]uint64{b1[:n], b1[n:]}
	c1 := make([]uint64, n)
	m := Mask(bits)
	i := 0
	for r, l := range lens {
		b := v0[1][r] + v1[1][r]
		for range l {
			c1[i] = ((v0[0][i]+v1[0][i])*b - v0[2][i]) & m
			i++
		}
	}
	lc := append([]int(nil), lens...)
	return &RowMulKey{rowKey{Party: 0, Bits: bits, Lens: lc, N: n, Seed: s0}},
		&RowMulKey{rowKey{Party: 1, Bits: bits, Lens: append([]int(nil), lens...), N: n, Seed: s1, C: c1}}, nil
}

// RowMul returns shares of x_ij · y_i mod 2^bits for a ragged x (row i has lens[i] entries, stored
// row after row) and y with one value per row. One round; each party sends (Σlens + rows)·bits bits.
func (p *Party) RowMul(x, y []uint64, lens []int, bits uint) ([]uint64, error) {
	bits = normBits(bits)
	if err := p.check("rowmul"); err != nil {
		return nil, err
	}
	n, err := sumLens("rowmul", lens)
	if err != nil {
		return nil, err
	}
	if len(x) != n || len(y) != len(lens) {
		return nil, fmt.Errorf("hss: rowmul: operands of %d and %d elements do not fit %d rows of %d elements", len(x), len(y), len(lens), n)
	}
	k, err := takeKey[*RowMulKey](p, "rowmul", n)
	if err != nil {
		return nil, err
	}
	if k.Bits != bits || int(k.Party) != p.ID || len(k.Lens) != len(lens) {
		return nil, fmt.Errorf("hss: rowmul: key is for party %d width %d, %d rows; call is party %d width %d, %d rows",
			k.Party, k.Bits, len(k.Lens), p.ID, bits, len(lens))
	}
	for i := range lens {
		if k.Lens[i] != lens[i] {
			return nil, fmt.Errorf("hss: rowmul: key row %d has %d elements, call %d", i, k.Lens[i], lens[i])
		}
	}
	rows := len(lens)
	if p.ID == 1 && len(k.C) != n {
		return nil, fmt.Errorf("hss: rowmul: malformed key")
	}
	// Party 0 expands a0 [n], b0 [rows], c0 [n] from its seed, party 1 a1, b1 (the draws of expand);
	// the same scratch buffer then holds e ‖ d, opened in place of x − a ‖ y − b.
	nr := n + rows
	if p.ID == 0 {
		nr += n
	}
	buf := getWords(nr + n + rows)
	defer putWords(buf)
	NewPRG(k.Seed).Uint64s(buf[:nr])
	a, b, c := buf[:n], buf[n:n+rows], k.C
	if p.ID == 0 {
		c = buf[n+rows : nr]
	}
	ed := buf[nr : nr+n+rows]
	e, d := ed[:n], ed[n:]
	for i := range n {
		e[i] = x[i] - a[i]
	}
	for r := range rows {
		d[r] = y[r] - b[r]
	}
	if err := p.openInto(ed, ed, bits); err != nil {
		return nil, wrapGate("rowmul", err)
	}
	z := make([]uint64, n)
	m := Mask(bits)
	c = c[:n]
	i := 0
	if p.ID == 0 {
		for r, l := range lens {
			br, dr := b[r], d[r]
			for range l {
				z[i] = (c[i] + e[i]*br + dr*(a[i]+e[i])) & m
				i++
			}
		}
	} else {
		for r, l := range lens {
			br, dr := b[r], d[r]
			for range l {
				z[i] = (c[i] + e[i]*br + dr*a[i]) & m
				i++
			}
		}
	}
	return z, nil
}

// costRowMul is the cost of RowMul on rows rows of n elements in all.
func costRowMul(rows, n int, bits uint) Cost {
	return open(n+rows, bits).Add(keyCost(rowKeySize(0, rows, n, bits), rowKeySize(1, rows, n, bits)))
}

func init() { RegisterKey("rowmul", func() MarshalKey { return new(RowMulKey) }) }
