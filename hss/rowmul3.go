package hss

import (
	"fmt"
	"io"
)

// Row-broadcast products of three factors in one round: z_ij = x_ij · y_i · w_i for a ragged matrix
// x (row i has lens[i] entries) and two values y_i, w_i per row, as the norms (d_ij · L_i · O_i) and
// softmax (e_ij · L_i · O_i) need with the mantissa L and the octave factor O of an octave lookup
// (octave.go): one round where a Beaver product L·O followed by a RowMul takes two.
//
// This is Beaver's product (Beaver, CRYPTO'91) extended to a degree-3 monomial: the dealer shares
// a (shaped like x), b and c (one per row), bc (per row) and ab, ac, abc (per element); the parties open e = x − a, λ = y − b and ω = w − c together (L + 2 values per row)
// and compute locally
//
//	z = eλω + eλ·[c] + eω·[b] + e·[bc] + λω·[a] + λ·[ac] + ω·[ab] + [abc],
//
// the expansion of (e+a)(λ+b)(ω+c); every opened value is masked by a uniform a, b or c mod 2^Bits.

// RowMul3Key is one party's share of a three-factor row-broadcast tuple mod 2^Bits. Lens (public)
// gives the row lengths. Party 0 expands a0 [N], b0, c0, bc0 [rows], ab0, ac0, abc0 [N] from Seed;
// party 1 expands a1 [N], b1, c1 [rows] and holds C = bc1 [rows] ‖ ab1 ‖ ac1 ‖ abc1 [N each].
type RowMul3Key struct{ rowKey }

func (k *RowMul3Key) Kind() string { return "rowmul3" }

// Size is the encoded size: party, width, row count, packed row lengths, seed, and party 1's
// corrections (rows + 3N words at Bits bits).
func (k *RowMul3Key) Size() int { return rowMul3KeySize(int(k.Party), len(k.Lens), k.N, k.Bits) }

func rowMul3KeySize(party, rows, n int, bits uint) int {
	return rowKeySize(party, rows, rows+3*n, bits)
}

func (k *RowMul3Key) MarshalBinary() ([]byte, error) { return k.marshal("rowmul3", len(k.Lens)+3*k.N) }

func (k *RowMul3Key) UnmarshalBinary(b []byte) error {
	return k.unmarshal("rowmul3", b, func(rows, n int) int { return rows + 3*n })
}

func init() { RegisterKey("rowmul3", func() MarshalKey { return new(RowMul3Key) }) }

// GenRowMul3 generates material for RowMul3 over rows of the given lengths at width bits (0 means 64).
func GenRowMul3(rng io.Reader, lens []int, bits uint) (k0, k1 *RowMul3Key, err error) {
	bits = normBits(bits)
	n, err := sumLens("gen rowmul3", lens)
	if err != nil {
		return nil, nil, err
	}
	if bits > 64 || len(lens) > MaxKeyLen || len(lens)+3*n > MaxKeyLen {
		return nil, nil, fmt.Errorf("hss: gen rowmul3: width %d or %d rows of %d elements out of range", bits, len(lens), n)
	}
	rows := len(lens)
	s0, s1, b0, b1, release, err := seedStreams(rng, "gen rowmul3", 4*n+3*rows, n+2*rows)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	a0, bb0, cc0, bc0 := b0[:n], b0[n:n+rows], b0[n+rows:n+2*rows], b0[n+2*rows:n+3*rows]
	ab0, ac0, abc0 := b0[n+3*rows:2*n+3*rows], b0[2*n+3*rows:3*n+3*rows], b0[3*n+3*rows:4*n+3*rows]
	a1, bb1, cc1 := b1[:n], b1[n:n+rows], b1[n+rows:n+2*rows]
	c := make([]uint64, rows+3*n)
	bc1, ab1, ac1, abc1 := c[:rows], c[rows:rows+n], c[rows+n:rows+2*n], c[rows+2*n:]
	m := Mask(bits)
	i := 0
	for r, l := range lens {
		b, cr := bb0[r]+bb1[r], cc0[r]+cc1[r]
		bc1[r] = (b*cr - bc0[r]) & m
		for range l {
			a := a0[i] + a1[i]
			ab1[i] = (a*b - ab0[i]) & m
			ac1[i] = (a*cr - ac0[i]) & m
			abc1[i] = (a*b*cr - abc0[i]) & m
			i++
		}
	}
	return &RowMul3Key{rowKey{Party: 0, Bits: bits, Lens: append([]int(nil), lens...), N: n, Seed: s0}},
		&RowMul3Key{rowKey{Party: 1, Bits: bits, Lens: append([]int(nil), lens...), N: n, Seed: s1, C: c}}, nil
}

// RowMul3 returns shares of z_ij = x_ij · y_i · w_i mod 2^bits for shares x (Σ lens elements, row
// after row) and y, w (one per row), in one round: online (L + 2)·bits bits per party and row of L
// entries; dealer: party 1 holds 3 words per element and one per row (party 0 a seed).
func (p *Party) RowMul3(x, y, w []uint64, lens []int, bits uint) ([]uint64, error) {
	bits = normBits(bits)
	if err := p.check("rowmul3"); err != nil {
		return nil, err
	}
	n, err := sumLens("rowmul3", lens)
	if err != nil {
		return nil, err
	}
	rows := len(lens)
	if len(x) != n || len(y) != rows || len(w) != rows {
		return nil, fmt.Errorf("hss: rowmul3: operands of %d, %d and %d elements do not fit %d rows of %d elements",
			len(x), len(y), len(w), rows, n)
	}
	k, err := takeKey[*RowMul3Key](p, "rowmul3", n)
	if err != nil {
		return nil, err
	}
	if k.Bits != bits || int(k.Party) != p.ID || len(k.Lens) != rows {
		return nil, fmt.Errorf("hss: rowmul3: key is for party %d width %d, %d rows; call is party %d width %d, %d rows",
			k.Party, k.Bits, len(k.Lens), p.ID, bits, rows)
	}
	for i := range lens {
		if k.Lens[i] != lens[i] {
			return nil, fmt.Errorf("hss: rowmul3: key row %d has %d elements, call %d", i, k.Lens[i], lens[i])
		}
	}
	if p.ID == 1 && len(k.C) != rows+3*n {
		return nil, fmt.Errorf("hss: rowmul3: malformed key")
	}
	nr := n + 2*rows
	if p.ID == 0 {
		nr = 4*n + 3*rows
	}
	buf := getWords(nr + n + 2*rows)
	defer putWords(buf)
	NewPRG(k.Seed).Uint64s(buf[:nr])
	a, bs, cs := buf[:n], buf[n:n+rows], buf[n+rows:n+2*rows]
	var bc, ab, ac, abc []uint64
	if p.ID == 0 {
		bc, ab, ac, abc = buf[n+2*rows:n+3*rows], buf[n+3*rows:2*n+3*rows], buf[2*n+3*rows:3*n+3*rows], buf[3*n+3*rows:nr]
	} else {
		bc, ab, ac, abc = k.C[:rows], k.C[rows:rows+n], k.C[rows+n:rows+2*n], k.C[rows+2*n:]
	}
	o := buf[nr : nr+n+2*rows]
	e, lam, om := o[:n], o[n:n+rows], o[n+rows:]
	for i := range n {
		e[i] = x[i] - a[i]
	}
	for r := range rows {
		lam[r] = y[r] - bs[r]
		om[r] = w[r] - cs[r]
	}
	if err := p.openInto(o, o, bits); err != nil {
		return nil, wrapGate("rowmul3", err)
	}
	own := uint64(1 - p.ID) // party 0 adds the public term eλω
	z := make([]uint64, n)
	m := Mask(bits)
	i := 0
	for r, l := range lens {
		lr, wr := lam[r], om[r]
		lw := lr * wr
		br, cr, bcr := bs[r], cs[r], bc[r]
		for range l {
			ei := e[i]
			z[i] = (own*ei*lw + ei*lr*cr + ei*wr*br + ei*bcr + lw*a[i] + lr*ac[i] + wr*ab[i] + abc[i]) & m
			i++
		}
	}
	return z, nil
}

// costRowMul3 is the cost of RowMul3 on rows rows of n elements in all.
func costRowMul3(rows, n int, bits uint) Cost {
	return open(n+2*rows, bits).Add(keyCost(rowMul3KeySize(0, rows, n, bits), rowMul3KeySize(1, rows, n, bits)))
}
