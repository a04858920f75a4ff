package hss

import (
	"fmt"
	"io"
	"slices"
)

// TruncRowMul3X: truncRowMul3 whose x is itself a truncation, z_ij = Trunc(s_ij, XFrac, XBits) ·
// Trunc(t_i, Frac, TBits) · w_i, in one round: the truncation of an untruncated product (e·V in
// SoftmaxValues) joins the mantissa's truncation and the row product, so the product's output
// needs fewer fractional bits and can go to the next linear layer untruncated (its truncation is
// then the residual's, in the next norm's squares round).
//
// As for the mantissa (trowmul3.go), x = A_x − R_x + g_x·M_x with c_x = s + r_x + 2^(ℓ−2) opened at
// ℓ = XBits bits (|s| < 2^(ℓ−2)), A_x = (c_x >> XFrac) − 2^(ℓ−2−XFrac) and g_x ∈ {0, 2^(ℓ−XFrac)}
// public, R_x = r_x >> XFrac and M_x = msb(r_x) (r_x uniform on ℓ bits) shared. So x is in ABY2.0's masked form (Patra et al., USENIX Security 2021)
// with the public part A_x taking the place of truncRowMul3's Beaver opening e = x − a, and the
// mask −R_x + g_x·M_x the place of a:
//
//	X = x·w = A_x·ω + A_x·c_w − ω·R_x − R_x·c_w + g_x·(ω·M_x + M_x·c_w)
//
// and z = A·X − R·X + g·M·X as in truncRowMul3, the dealer sharing R_x·{1, c_w}·{1, R, M} and
// M_x·{1, c_w}·{1, R, M} per element. Terms with g_x matter only mod 2^(Bits − ℓ + XFrac), those
// with g·g_x mod 2^(Bits − ℓ + XFrac − TBits + Frac) (packed at those widths, or dropped).

// TruncRowMul3XKey is one party's material for truncRowMul3X (the fields of TruncRowMul3Key, XFrac
// and XBits). Party 0 expands everything from Seed (per row r, R, M, c, Rc, Mc; per element r_x and the
// 12 products below); party 1 expands r, c (per row) and r_x (per element), and holds C = R ‖ Rc
// [rows] ‖ R_x ‖ R_x c ‖ R R_x ‖ R R_x c [N each] at Bits bits, CM = M ‖ Mc [rows] ‖ M R_x ‖ M R_x c
// [N each] at Bits − TBits + Frac bits, CX = M_x ‖ M_x c ‖ R M_x ‖ R M_x c [N each] at Bits − XBits
// + XFrac bits and CXM = M M_x ‖ M M_x c [N each] at Bits − XBits + XFrac − TBits + Frac bits (each
// absent where its width is 0).
type TruncRowMul3XKey struct {
	Consumable
	Party                           uint8
	Frac, TBits, Bits, XFrac, XBits uint
	Lens                            []int
	N                               int
	Seed                            [32]byte
	C, CM, CX, CXM                  []uint64 // party 1 only
}

func (k *TruncRowMul3XKey) Kind() string { return "trowmul3x" }
func (k *TruncRowMul3XKey) Len() int     { return k.N }

// PartyID returns the party (0 or 1) the key belongs to.
func (k *TruncRowMul3XKey) PartyID() int { return int(k.Party) }

// trowXWidths returns the widths of CM, CX and CXM (0: absent).
func trowXWidths(frac, tbits, bits, xfrac, xbits uint) (mw, xw, xmw uint) {
	sub := func(a, b uint) uint {
		if a <= b {
			return 0
		}
		return a - b
	}
	return sub(bits+frac, tbits), sub(bits+xfrac, xbits), sub(bits+xfrac+frac, xbits+tbits)
}

// trowXLens returns the lengths of C, CM, CX and CXM.
func trowXLens(rows, n int) (c, cm, cx, cxm int) { return 2*rows + 4*n, 2*rows + 2*n, 4 * n, 2 * n }

func (k *TruncRowMul3XKey) Size() int {
	return trowXKeySize(int(k.Party), len(k.Lens), k.N, k.Frac, k.TBits, k.Bits, k.XFrac, k.XBits)
}

func trowXKeySize(party, rows, n int, frac, tbits, bits, xfrac, xbits uint) int {
	s := 2 + 4 + PackedLen(rows, 32) + 32 + 4
	if party == 1 {
		c, cm, cx, cxm := trowXLens(rows, n)
		mw, xw, xmw := trowXWidths(frac, tbits, bits, xfrac, xbits)
		s += PackedLen(c, bits) + PackedLen(cm, mw) + PackedLen(cx, xw) + PackedLen(cxm, xmw)
	}
	return s
}

// validTrowX reports whether the widths are those truncRowMul3X can use.
func validTrowX(frac, tbits, bits, xfrac, xbits uint) bool {
	return bits >= 1 && bits <= 64 && tbits >= 2 && tbits <= 64 && frac+2 <= tbits && xbits <= 64 && xfrac >= 1 && xfrac+2 <= xbits
}

func (k *TruncRowMul3XKey) MarshalBinary() ([]byte, error) {
	rows := len(k.Lens)
	c, cm, cx, cxm := trowXLens(rows, k.N)
	if k.Party > 1 || !validTrowX(k.Frac, k.TBits, k.Bits, k.XFrac, k.XBits) ||
		k.Party == 1 && (len(k.C) != c || len(k.CM) != cm || len(k.CX) != cx || len(k.CXM) != cxm) {
		return nil, fmt.Errorf("hss: trowmul3x key: marshal: %w", errKey)
	}
	e := Enc{b: make([]byte, 0, k.Size())}
	encodeRowHeader(&e, k.Party, k.Bits, k.Lens, k.Seed)
	e.U8(uint8(k.Frac))
	e.U8(uint8(k.TBits))
	e.U8(uint8(k.XFrac))
	e.U8(uint8(k.XBits))
	if k.Party == 1 {
		mw, xw, xmw := trowXWidths(k.Frac, k.TBits, k.Bits, k.XFrac, k.XBits)
		e.Packed(k.C, k.Bits)
		for _, p := range []struct {
			v []uint64
			w uint
		}{{k.CM, mw}, {k.CX, xw}, {k.CXM, xmw}} {
			if p.w > 0 {
				e.Packed(p.v, p.w)
			}
		}
	}
	return e.Bytes(), nil
}

func (k *TruncRowMul3XKey) UnmarshalBinary(b []byte) error {
	d := NewDec(b)
	party, bits, lens, n, seed := decodeRowHeader(d)
	frac, tbits, xfrac, xbits := uint(d.U8()), uint(d.U8()), uint(d.U8()), uint(d.U8())
	if d.Err() == nil && !validTrowX(frac, tbits, bits, xfrac, xbits) {
		d.Fail(fmt.Errorf("fracs %d/%d, widths %d/%d/%d: %w", frac, xfrac, tbits, bits, xbits, errKey))
	}
	var vs [4][]uint64
	var lens4 [4]int
	if party == 1 && d.Err() == nil {
		c, cm, cx, cxm := trowXLens(len(lens), n)
		mw, xw, xmw := trowXWidths(frac, tbits, bits, xfrac, xbits)
		lens4 = [4]int{c, cm, cx, cxm}
		for i, w := range []uint{bits, mw, xw, xmw} {
			if w > 0 && d.Err() == nil {
				vs[i] = d.Packed(lens4[i], w)
			}
		}
	}
	if err := d.Finish(); err != nil {
		*k = TruncRowMul3XKey{}
		return fmt.Errorf("hss: trowmul3x key: %w", err)
	}
	if party == 1 {
		for i := range vs { // blocks of width 0 (all zero), made only once the key decoded
			if vs[i] == nil {
				vs[i] = make([]uint64, lens4[i])
			}
		}
	}
	*k = TruncRowMul3XKey{Party: party, Frac: frac, TBits: tbits, Bits: bits, XFrac: xfrac, XBits: xbits, Lens: lens, N: n, Seed: seed,
		C: vs[0], CM: vs[1], CX: vs[2], CXM: vs[3]}
	return nil
}

func init() {
	RegisterKey("trowmul3x", func() MarshalKey { return new(TruncRowMul3XKey) })
	registerSeq("recip.lmx", "recip.cmp", "recip.lut", "trowmul3x")
}

// xTrunc is a row product's truncation of x (truncRowMul3X): by frac at width bits; the zero value
// for none (truncRowMul3).
type xTrunc struct{ frac, bits uint }

// trowXWords is the number of words party p expands from its seed.
func trowXWords(party, rows, n int) int {
	if party == 0 {
		return 6*rows + 13*n
	}
	return 2*rows + n
}

// genTruncRowMul3X generates material for truncRowMul3X.
func genTruncRowMul3X(rng io.Reader, lens []int, frac, tbits, bits, xfrac, xbits uint) (k0, k1 *TruncRowMul3XKey, err error) {
	bits = normBits(bits)
	n, err := sumLens("gen trowmul3x", lens)
	if err != nil {
		return nil, nil, err
	}
	rows := len(lens)
	if !validTrowX(frac, tbits, bits, xfrac, xbits) || rows > MaxKeyLen || 2*rows+4*n > MaxKeyLen {
		return nil, nil, fmt.Errorf("hss: gen trowmul3x: widths %d/%d, fracs %d/%d or %d rows of %d elements out of range", tbits, bits, frac, xfrac, rows, n)
	}
	s0, s1, b0, b1, release, err := seedStreams(rng, "gen trowmul3x", trowXWords(0, rows, n), trowXWords(1, rows, n))
	if err != nil {
		return nil, nil, err
	}
	defer release()
	lc, lcm, lcx, lcxm := trowXLens(rows, n)
	k0 = &TruncRowMul3XKey{Party: 0, Frac: frac, TBits: tbits, Bits: bits, XFrac: xfrac, XBits: xbits, Lens: append([]int(nil), lens...), N: n, Seed: s0}
	k1 = &TruncRowMul3XKey{Party: 1, Frac: frac, TBits: tbits, Bits: bits, XFrac: xfrac, XBits: xbits, Lens: append([]int(nil), lens...), N: n, Seed: s1,
		C: make([]uint64, lc), CM: make([]uint64, lcm), CX: make([]uint64, lcx), CXM: make([]uint64, lcxm)}
	mw, xw, xmw := trowXWidths(frac, tbits, bits, xfrac, xbits)
	m, mM, mX, mXM, xm := Mask(bits), Mask(mw), Mask(xw), Mask(xmw), Mask(xbits)
	rv0 := b0[:6*rows] // r, R, M, c, Rc, Mc
	ev0 := b0[6*rows:] // r_x, then the 12 products (13 blocks of n)
	blk := func(j, i int) uint64 { return ev0[j*n+i] }
	i := 0
	for row, l := range lens {
		R, M, cw := genTrowRow(k1.C, k1.CM, rv0, b1, rows, row, frac, tbits, m, mM)
		for range l {
			rx := (blk(0, i) + b1[2*rows+i]) & xm
			Rx, Mx := rx>>xfrac, rx>>(xbits-1)
			for j, v := range [4]uint64{Rx, Rx * cw, R * Rx, R * Rx * cw} {
				k1.C[2*rows+j*n+i] = (v - blk(1+j, i)) & m
			}
			for j, v := range [2]uint64{M * Rx, M * Rx * cw} {
				k1.CM[2*rows+j*n+i] = (v - blk(5+j, i)) & mM
			}
			for j, v := range [4]uint64{Mx, Mx * cw, R * Mx, R * Mx * cw} {
				k1.CX[j*n+i] = (v - blk(7+j, i)) & mX
			}
			for j, v := range [2]uint64{M * Mx, M * Mx * cw} {
				k1.CXM[j*n+i] = (v - blk(11+j, i)) & mXM
			}
			i++
		}
	}
	return k0, k1, nil
}

// truncRowMul3X returns shares of Trunc(s_ij, XFrac, XBits) · Trunc(t_i, Frac, TBits) · w_i mod 2^Bits
// (s: Σ lens elements, row after row, |s| < 2^(XBits−2); t, w: one per row, |t| < 2^(TBits−2)) in one
// round (see the top of this file): online per party TBits and Bits bits per row, XBits per element.
func (p *Party) truncRowMul3X(k *TruncRowMul3XKey, s, t, w []uint64, lens []int) ([]uint64, error) {
	n, err := sumLens("trowmul3x", lens)
	if err != nil {
		return nil, err
	}
	rows := len(lens)
	frac, tbits, bits, xfrac, xbits := k.Frac, k.TBits, k.Bits, k.XFrac, k.XBits
	lc, lcm, lcx, lcxm := trowXLens(rows, n)
	if int(k.Party) != p.ID || k.N != n || len(k.Lens) != rows || len(s) != n || len(t) != rows || len(w) != rows ||
		p.ID == 1 && (len(k.C) != lc || len(k.CM) != lcm || len(k.CX) != lcx || len(k.CXM) != lcxm) {
		return nil, fmt.Errorf("hss: trowmul3x: material does not match the gate")
	}
	if !slices.Equal(k.Lens, lens) {
		return nil, fmt.Errorf("hss: trowmul3x: material does not match the gate")
	}
	buf := streamScratch(k.Seed, trowXWords(p.ID, rows, n))
	defer putWords(buf)
	rv := trowRows(p.ID, rows, buf, k.C, k.CM)
	var rx []uint64
	var ev [12][]uint64 // R_x, R_x c, R R_x, R R_x c, M R_x, M R_x c, M_x, M_x c, R M_x, R M_x c, M M_x, M M_x c
	if p.ID == 0 {
		e := buf[6*rows:]
		rx = e[:n]
		for j := range ev {
			ev[j] = e[(1+j)*n : (2+j)*n]
		}
	} else {
		rx = buf[2*rows:]
		for j := range 4 {
			ev[j] = k.C[2*rows+j*n : 2*rows+(j+1)*n]
			ev[6+j] = k.CX[j*n : (j+1)*n]
		}
		for j := range 2 {
			ev[4+j] = k.CM[2*rows+j*n : 2*rows+(j+1)*n]
			ev[10+j] = k.CXM[j*n : (j+1)*n]
		}
	}
	var xshift uint64
	if p.ID == 0 {
		xshift = 1 << (xbits - 2)
	}
	o := getWords(2*rows + n)
	defer putWords(o)
	c, cx, om := o[:rows], o[rows:rows+n], o[rows+n:]
	rv.mask(p.ID, c, om, t, w, tbits)
	for i := range n {
		cx[i] = s[i] + rx[i] + xshift
	}
	if err := p.openParts([][]uint64{c, cx, om}, []uint{tbits, xbits, bits}); err != nil {
		return nil, wrapGate("trowmul3x", err)
	}
	tp, xp := newTruncPub(frac, tbits), newTruncPub(xfrac, xbits)
	own := uint64(1 - p.ID) // party 0 adds the public terms
	m := Mask(bits)
	Rx, Rxc, RRx, RRxc, MRx, MRxc := ev[0], ev[1], ev[2], ev[3], ev[4], ev[5]
	Mx, Mxc, RMx, RMxc, MMx, MMxc := ev[6], ev[7], ev[8], ev[9], ev[10], ev[11]
	z := make([]uint64, n)
	i := 0
	for row, l := range lens {
		A, g := tp.at(c[row])
		w := om[row]
		cwr, Rr, Rcr, Mr, Mcr := rv.cw[row], rv.R[row], rv.Rc[row], rv.M[row], rv.Mc[row]
		for range l {
			e, gx := xp.at(cx[i])
			ew := e * w
			X := own*ew + e*cwr - w*Rx[i] - Rxc[i] + gx*(w*Mx[i]+Mxc[i])
			RX := ew*Rr + e*Rcr - w*RRx[i] - RRxc[i] + gx*(w*RMx[i]+RMxc[i])
			MX := ew*Mr + e*Mcr - w*MRx[i] - MRxc[i] + gx*(w*MMx[i]+MMxc[i])
			z[i] = (A*X - RX + g*MX) & m
			i++
		}
	}
	return z, nil
}

// costTruncRowMul3X is the cost of truncRowMul3X (and genTruncRowMul3X's keys) on rows rows of n
// elements in all.
func costTruncRowMul3X(rows, n int, frac, tbits, bits, xfrac, xbits uint) Cost {
	bits = normBits(bits)
	return openPartsCost([]int{rows, n, rows}, []uint{tbits, xbits, bits}).
		Add(keyCost(trowXKeySize(0, rows, n, frac, tbits, bits, xfrac, xbits), trowXKeySize(1, rows, n, frac, tbits, bits, xfrac, xbits)))
}
