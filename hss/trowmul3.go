package hss

import (
	"fmt"
	"io"
	"slices"
)

// TruncRowMul3: the row product z_ij = x_ij · y_i · w_i of RowMul3 where y_i = Trunc(t_i) is the
// truncation of an untruncated value t_i (the mantissa of an octave lookup, octave.go), with the
// truncation and the product in one round. The norms (d·L·O) and the softmax (e·L·O) took one round
// for the mantissa's truncation and one for RowMul3; this takes one.
//
// As in SiLUMul (actmul.go), Trunc's output is y = A(c) − R + g(c)·M with c = t + r (+ 2^(ℓ−2))
// opened, A and g public functions of c, R = r >> f and M = msb(r) shared. Opening c together with
// RowMul3's e = x − a and ω = w − c_w (c_w the mask of w), and with the dealer sharing, per row, R,
// M, c_w, R·c_w, M·c_w and, per element, a, a·c_w, R·a, R·a·c_w, M·a, M·a·c_w (masks correlated
// with the truncation's: ABY2.0-style preprocessing, Patra et al., USENIX Security 2021), the
// product y·X with X = x·w = eω + e·c_w + ω·a + a·c_w is local:
//
//	z = A·X − (R·eω + e·(R c_w) + ω·(R a) + R a c_w) + g·(M·eω + e·(M c_w) + ω·(M a) + M a c_w).
//
// M's terms are multiplied by g, a multiple of 2^(ℓ−f), so they only matter mod 2^(bits−ℓ+f).

// TruncRowMul3Key is one party's material for truncRowMul3: truncation by Frac at width TBits of one
// value per row, and the row product at width Bits over rows of Lens. Party 0 expands everything from
// Seed (per row r0, R0, M0, c0, (Rc)0, (Mc)0; per element a0, (ac)0, (Ra)0, (Rac)0, (Ma)0, (Mac)0);
// party 1 expands r1, c1 (per row) and a1 (per element) and holds C = R1 ‖ (Rc)1 [rows] ‖ (ac)1 ‖
// (Ra)1 ‖ (Rac)1 [N each] at Bits bits and CM = M1 ‖ (Mc)1 [rows] ‖ (Ma)1 ‖ (Mac)1 [N each] at
// Bits − TBits + Frac bits.
type TruncRowMul3Key struct {
	Consumable
	Party             uint8
	Frac, TBits, Bits uint
	Lens              []int
	N                 int
	Seed              [32]byte
	C, CM             []uint64 // party 1 only
}

func (k *TruncRowMul3Key) Kind() string { return "trowmul3" }
func (k *TruncRowMul3Key) Len() int     { return k.N }

// PartyID returns the party (0 or 1) the key belongs to.
func (k *TruncRowMul3Key) PartyID() int { return int(k.Party) }

// msbWidth is the width of the M terms (0 if g·M vanishes mod 2^Bits).
func (k *TruncRowMul3Key) msbWidth() uint { return trowMsbWidth(k.Frac, k.TBits, k.Bits) }

func trowMsbWidth(frac, tbits, bits uint) uint {
	if bits+frac <= tbits {
		return 0
	}
	return bits + frac - tbits
}

func (k *TruncRowMul3Key) Size() int {
	return trowKeySize(int(k.Party), len(k.Lens), k.N, k.Frac, k.TBits, k.Bits)
}

func trowKeySize(party, rows, n int, frac, tbits, bits uint) int {
	s := 2 + 4 + PackedLen(rows, 32) + 32 + 2
	if party == 1 {
		s += PackedLen(2*rows+3*n, bits)
		if w := trowMsbWidth(frac, tbits, bits); w > 0 {
			s += PackedLen(2*rows+2*n, w)
		}
	}
	return s
}

func (k *TruncRowMul3Key) MarshalBinary() ([]byte, error) {
	rows := len(k.Lens)
	if k.Party > 1 || k.Bits < 1 || k.Bits > 64 || k.TBits < 2 || k.TBits > 64 || k.Frac+2 > k.TBits ||
		k.Party == 1 && (len(k.C) != 2*rows+3*k.N || len(k.CM) != 2*rows+2*k.N) {
		return nil, fmt.Errorf("hss: trowmul3 key: marshal: %w", errKey)
	}
	e := Enc{b: make([]byte, 0, k.Size())}
	encodeRowHeader(&e, k.Party, k.Bits, k.Lens, k.Seed)
	e.U8(uint8(k.Frac))
	e.U8(uint8(k.TBits))
	if k.Party == 1 {
		e.Packed(k.C, k.Bits)
		if w := k.msbWidth(); w > 0 {
			e.Packed(k.CM, w)
		}
	}
	return e.Bytes(), nil
}

func (k *TruncRowMul3Key) UnmarshalBinary(b []byte) error {
	d := NewDec(b)
	party, bits, lens, n, seed := decodeRowHeader(d)
	frac, tbits := uint(d.U8()), uint(d.U8())
	if d.Err() == nil && (tbits < 2 || tbits > 64 || frac+2 > tbits) {
		d.Fail(fmt.Errorf("frac %d, width %d: %w", frac, tbits, errKey))
	}
	rows := len(lens)
	var c, cm []uint64
	if party == 1 && d.Err() == nil {
		c = d.Packed(2*rows+3*n, bits)
		if w := trowMsbWidth(frac, tbits, bits); w > 0 && d.Err() == nil {
			cm = d.Packed(2*rows+2*n, w)
		}
	}
	if err := d.Finish(); err != nil {
		*k = TruncRowMul3Key{}
		return fmt.Errorf("hss: trowmul3 key: %w", err)
	}
	if party == 1 && cm == nil { // width 0: all zero, made only once the key decoded
		cm = make([]uint64, 2*rows+2*n)
	}
	*k = TruncRowMul3Key{Party: party, Frac: frac, TBits: tbits, Bits: bits, Lens: lens, N: n, Seed: seed, C: c, CM: cm}
	return nil
}

func init() {
	RegisterKey("trowmul3", func() MarshalKey { return new(TruncRowMul3Key) })
	registerSeq("recip.lm", "recip.cmp", "recip.lut", "trowmul3")
}

// trowWords is the number of words party p expands from its seed.
func trowWords(party, rows, n int) int {
	if party == 0 {
		return 6*rows + 6*n
	}
	return 2*rows + n
}

// genTruncRowMul3 generates material for truncRowMul3.
func genTruncRowMul3(rng io.Reader, lens []int, frac, tbits, bits uint) (k0, k1 *TruncRowMul3Key, err error) {
	bits = normBits(bits)
	n, err := sumLens("gen trowmul3", lens)
	if err != nil {
		return nil, nil, err
	}
	rows := len(lens)
	if bits > 64 || tbits < 2 || tbits > 64 || frac+2 > tbits || rows > MaxKeyLen || 2*rows+3*n > MaxKeyLen {
		return nil, nil, fmt.Errorf("hss: gen trowmul3: widths %d/%d, frac %d or %d rows of %d elements out of range", tbits, bits, frac, rows, n)
	}
	s0, s1, b0, b1, release, err := seedStreams(rng, "gen trowmul3", trowWords(0, rows, n), trowWords(1, rows, n))
	if err != nil {
		return nil, nil, err
	}
	defer release()
	k0 = &TruncRowMul3Key{Party: 0, Frac: frac, TBits: tbits, Bits: bits, Lens: append([]int(nil), lens...), N: n, Seed: s0}
	k1 = &TruncRowMul3Key{Party: 1, Frac: frac, TBits: tbits, Bits: bits, Lens: append([]int(nil), lens...), N: n, Seed: s1,
		C: make([]uint64, 2*rows+3*n), CM: make([]uint64, 2*rows+2*n)}
	rv0 := b0[:6*rows] // r, R, M, c, Rc, Mc
	ev0 := b0[6*rows:] // a, ac, Ra, Rac, Ma, Mac
	m, mw := Mask(bits), Mask(k1.msbWidth())
	i := 0
	for row, l := range lens {
		R, M, cw := genTrowRow(k1.C, k1.CM, rv0, b1, rows, row, frac, tbits, m, mw)
		for range l {
			a := ev0[i] + b1[2*rows+i]
			k1.C[2*rows+i] = (a*cw - ev0[n+i]) & m
			k1.C[2*rows+n+i] = (R*a - ev0[2*n+i]) & m
			k1.C[2*rows+2*n+i] = (R*a*cw - ev0[3*n+i]) & m
			k1.CM[2*rows+i] = (M*a - ev0[4*n+i]) & mw
			k1.CM[2*rows+n+i] = (M*a*cw - ev0[5*n+i]) & mw
			i++
		}
	}
	return k0, k1, nil
}

// truncRowMul3 returns shares of x_ij · Trunc(t_i, frac, tbits) · w_i mod 2^bits (x: Σ lens
// elements, row after row; t, w: one per row; |t| < 2^(tbits−2)) in one round (see the top of this
// file): online per party tbits bits per row for c, bits bits per element and per row for e and ω.
func (p *Party) truncRowMul3(k *TruncRowMul3Key, x, t, w []uint64, lens []int) ([]uint64, error) {
	n, err := sumLens("trowmul3", lens)
	if err != nil {
		return nil, err
	}
	rows := len(lens)
	frac, tbits, bits := k.Frac, k.TBits, k.Bits
	if int(k.Party) != p.ID || k.N != n || len(k.Lens) != rows || len(x) != n || len(t) != rows || len(w) != rows ||
		p.ID == 1 && (len(k.C) != 2*rows+3*n || len(k.CM) != 2*rows+2*n) {
		return nil, fmt.Errorf("hss: trowmul3: material does not match the gate")
	}
	if !slices.Equal(k.Lens, lens) {
		return nil, fmt.Errorf("hss: trowmul3: material does not match the gate")
	}
	buf := streamScratch(k.Seed, trowWords(p.ID, rows, n))
	defer putWords(buf)
	rv := trowRows(p.ID, rows, buf, k.C, k.CM)
	var a, ac, Ra, Rac, Ma, Mac []uint64
	if p.ID == 0 {
		ev := buf[6*rows:]
		a, ac, Ra, Rac, Ma, Mac = ev[:n], ev[n:2*n], ev[2*n:3*n], ev[3*n:4*n], ev[4*n:5*n], ev[5*n:]
	} else {
		a = buf[2*rows:]
		ac, Ra, Rac = k.C[2*rows:2*rows+n], k.C[2*rows+n:2*rows+2*n], k.C[2*rows+2*n:]
		Ma, Mac = k.CM[2*rows:2*rows+n], k.CM[2*rows+n:]
	}
	o := getWords(2*rows + n)
	defer putWords(o)
	c, eo := o[:rows], o[rows:]
	rv.mask(p.ID, c, eo[n:], t, w, tbits)
	for i := range n {
		eo[i] = x[i] - a[i]
	}
	if err := p.openParts([][]uint64{c, eo}, []uint{tbits, bits}); err != nil {
		return nil, wrapGate("trowmul3", err)
	}
	tp := newTruncPub(frac, tbits)
	own := uint64(1 - p.ID) // party 0 adds the public terms
	m := Mask(bits)
	z := make([]uint64, n)
	i := 0
	for row, l := range lens {
		A, g := tp.at(c[row])
		om := eo[n+row]
		cwr, Rr, Rcr, Mr, Mcr := rv.cw[row], rv.R[row], rv.Rc[row], rv.M[row], rv.Mc[row]
		for range l {
			e := eo[i]
			eom := e * om
			X := own*eom + e*cwr + om*a[i] + ac[i]
			RX := eom*Rr + e*Rcr + om*Ra[i] + Rac[i]
			MX := eom*Mr + e*Mcr + om*Ma[i] + Mac[i]
			z[i] = (A*X - RX + g*MX) & m
			i++
		}
	}
	return z, nil
}

// trowRowVals is a row product's per-row material (truncRowMul3, truncRowMul3X): the mantissa
// truncation's mask r with R = r >> frac and M = msb(r), the octave factor's mask c_w, and R·c_w,
// M·c_w.
type trowRowVals struct{ r, R, M, cw, Rc, Mc []uint64 }

// trowRows splits the per-row material: party 0 expands all six (the first 6·rows words of its
// stream buf); party 1 expands r and c_w (its first 2·rows words) and reads R, R·c_w from the first
// 2·rows words of c and M, M·c_w from those of cm.
func trowRows(party, rows int, buf, c, cm []uint64) trowRowVals {
	if party == 0 {
		rv := buf[:6*rows]
		return trowRowVals{r: rv[:rows], R: rv[rows : 2*rows], M: rv[2*rows : 3*rows], cw: rv[3*rows : 4*rows], Rc: rv[4*rows : 5*rows], Mc: rv[5*rows:]}
	}
	return trowRowVals{r: buf[:rows], cw: buf[rows : 2*rows], R: c[:rows], Rc: c[rows : 2*rows], M: cm[:rows], Mc: cm[rows : 2*rows]}
}

// mask writes the row product's per-row openings: the mantissa's truncation c = t + r (+ 2^(tbits−2),
// party 0) and ω = w − c_w.
func (rv trowRowVals) mask(party int, c, om, t, w []uint64, tbits uint) {
	var shift uint64
	if party == 0 {
		shift = 1 << (tbits - 2)
	}
	for i := range c {
		c[i] = t[i] + rv.r[i] + shift
		om[i] = w[i] - rv.cw[i]
	}
}

// genTrowRow sets party 1's per-row material of row (see trowRows: R, R·c_w in c, M, M·c_w in cm, at
// masks m and mw) from both parties' streams (party 0's rv0: r, R, M, c_w, Rc, Mc; party 1's b1: r,
// c_w) and returns R, M and c_w.
func genTrowRow(c, cm, rv0, b1 []uint64, rows, row int, frac, tbits uint, m, mw uint64) (R, M, cw uint64) {
	r := (rv0[row] + b1[row]) & Mask(tbits)
	cw = rv0[3*rows+row] + b1[rows+row]
	R, M = r>>frac, r>>(tbits-1)
	c[row] = (R - rv0[rows+row]) & m
	c[rows+row] = (R*cw - rv0[4*rows+row]) & m
	cm[row] = (M - rv0[2*rows+row]) & mw
	cm[rows+row] = (M*cw - rv0[5*rows+row]) & mw
	return R, M, cw
}

// truncPub reads a truncation's public parts from its opening c (Trunc by frac at width bits: y =
// A(c) − R + g(c)·M, trunc.go).
type truncPub struct {
	frac, top, wsh uint
	off            uint64
}

func newTruncPub(frac, bits uint) truncPub {
	return truncPub{frac: frac, top: bits - 1, wsh: bits - frac, off: 1 << (bits - 2 - frac)}
}

// at returns A(c) and g(c).
func (t truncPub) at(c uint64) (A, g uint64) { return c>>t.frac - t.off, ((c>>t.top)&1 ^ 1) << t.wsh }

// costTruncRowMul3 is the cost of truncRowMul3 (and genTruncRowMul3's keys) on rows rows of n
// elements in all.
func costTruncRowMul3(rows, n int, frac, tbits, bits uint) Cost {
	bits = normBits(bits)
	return openPartsCost([]int{rows, n + rows}, []uint{tbits, bits}).
		Add(keyCost(trowKeySize(0, rows, n, frac, tbits, bits), trowKeySize(1, rows, n, frac, tbits, bits)))
}

// ---- the octave lookup's mantissa and factor times a row product ------------------------------------

// genOctMul3 generates material for evalOctMul3: the octave lookup of kind (cmp, lut) on one value
// per row and the fused truncation and row product (kind.lm).
// With xt set the row product's x is itself truncated (truncRowMul3X, kind.lmx).
func genOctMul3(rng io.Reader, kind string, lens []int, s octSpec, bits uint, xt xTrunc) (*seqKey, *seqKey, error) {
	pr, err := s.prep()
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen %s: %w", kind, err)
	}
	rows := len(lens)
	c0, c1, l0, l1, err := genOctLOPrep(rng, kind, rows, pr)
	if err != nil {
		return nil, nil, err
	}
	if xt.frac > 0 {
		t0, t1, err := genTruncRowMul3X(rng, lens, pr.lut.fb, pr.lut.tbits, bits, xt.frac, xt.bits)
		if err != nil {
			return nil, nil, err
		}
		return newSeqKey(kind+".lmx", rows, c0, l0, t0), newSeqKey(kind+".lmx", rows, c1, l1, t1), nil
	}
	t0, t1, err := genTruncRowMul3(rng, lens, pr.lut.fb, pr.lut.tbits, bits)
	if err != nil {
		return nil, nil, err
	}
	return newSeqKey(kind+".lm", rows, c0, l0, t0), newSeqKey(kind+".lm", rows, c1, l1, t1), nil
}

// evalOctMul3 returns shares of x_ij · L_i · O_i mod 2^bits, L_i·O_i the octave lookup of kind on
// v_i (one value per row; e.g. 1/v or 1/√v): 3 rounds (the comparisons, the mantissa's lookup, then
// its truncation with the row product), where the lookup, its truncation and RowMul3 took 4.
//
// x is called once the lookup's rounds are done (a caller may finish x in them: expRecipRide). With
// xt set the product reads x truncated (truncRowMul3X) in the same round.
func (p *Party) evalOctMul3(kind string, s octSpec, v []uint64, x func() ([]uint64, error), lens []int, xt xTrunc) ([]uint64, error) {
	seq := kind + ".lm"
	if xt.frac > 0 {
		seq += "x"
	}
	q, err := p.sub(seq, len(v))
	if err != nil {
		return nil, err
	}
	lin, fac, lut, err := q.octLORaw(kind, s, v)
	if err != nil {
		return nil, err
	}
	defer putWords(lin)
	xv, err := x()
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	return q.endMul3(kind, xv, lin, fac, lens, lut.fb, lut.tbits, xt)
}

// endMul3 ends an octave lookup's or spline's composite q of kind: the mantissa lin's truncation (by
// fb at width tb) with the row product x·L·fac (truncRowMul3; with xt set, Trunc(x, xt.frac,
// xt.bits)·L·fac: truncRowMul3X), then the composite's end.
func (q *Party) endMul3(kind string, x, lin, fac []uint64, lens []int, fb, tb uint, xt xTrunc) ([]uint64, error) {
	var z []uint64
	var err error
	if xt.frac > 0 {
		var k *TruncRowMul3XKey
		if k, err = takeKey[*TruncRowMul3XKey](q, "trowmul3x", len(x)); err != nil {
			return nil, wrapGate(kind, err)
		}
		if k.Frac != fb || k.TBits != tb || k.XFrac != xt.frac || k.XBits != xt.bits {
			return nil, fmt.Errorf("hss: %s: material does not match the gate", kind)
		}
		z, err = q.truncRowMul3X(k, x, lin, fac, lens)
	} else {
		var k *TruncRowMul3Key
		if k, err = takeKey[*TruncRowMul3Key](q, "trowmul3", len(x)); err != nil {
			return nil, wrapGate(kind, err)
		}
		if k.Frac != fb || k.TBits != tb {
			return nil, fmt.Errorf("hss: %s: material does not match the gate", kind)
		}
		z, err = q.truncRowMul3(k, x, lin, fac, lens)
	}
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	if err := finish(kind, q); err != nil {
		return nil, err
	}
	return z, nil
}

// genOctLO generates the octave lookup's material alone (kind.cmp, kind.lut) for rows values.
func genOctLO(rng io.Reader, kind string, rows int, s octSpec) (c0, c1, l0, l1 *lutKey, err error) {
	pr, err := s.prep()
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("hss: gen %s: %w", kind, err)
	}
	return genOctLOPrep(rng, kind, rows, pr)
}

func genOctLOPrep(rng io.Reader, kind string, rows int, pr *octPrep) (c0, c1, l0, l1 *lutKey, err error) {
	if c0, c1, err = genLUT(rng, kind+".cmp", rows, pr.cmp); err != nil {
		return nil, nil, nil, nil, err
	}
	if l0, l1, err = genLUT(rng, kind+".lut", rows, pr.lut); err != nil {
		return nil, nil, nil, nil, err
	}
	return c0, c1, l0, l1, nil
}

// octLOParts is the cost of the octave lookup on rows values by stage (cmp, lut).
func octLOParts(kind string, rows int, pr *octPrep) []part {
	cmp := costLUT(rows, pr.cmp)
	cmp.Online, cmp.Rounds = open(rows, 64).Online, 1 // evalThresholds opens at 64 bits
	return []part{{kind: kind + ".cmp", c: cmp, label: "cmp"}, {kind: kind + ".lut", c: costLUT(rows, pr.lut), label: "lut"}}
}

// mul3Shape is the rows and elements of a row product over rows of lens (for its cost).
func mul3Shape(kind string, lens []int) (rows, n int, err error) {
	n, err = sumLens("cost "+kind, lens)
	return len(lens), n, err
}

// octMul3Part is the cost of evalOctMul3 as one part of a composite, by stage (cmp, lut, trowmul3 or,
// xt set, trowmul3x).
func octMul3Part(kind string, lens []int, s octSpec, bits uint, xt xTrunc) (part, error) {
	pr, err := s.prep()
	if err != nil {
		return part{}, fmt.Errorf("hss: cost %s: %w", kind, err)
	}
	rows, n, err := mul3Shape(kind, lens)
	if err != nil {
		return part{}, err
	}
	lo := octLOParts(kind, rows, pr)
	prod, seq := part{kind: "trowmul3", c: costTruncRowMul3(rows, n, pr.lut.fb, pr.lut.tbits, bits)}, kind+".lm"
	if xt.frac > 0 {
		prod, seq = part{kind: "trowmul3x", c: costTruncRowMul3X(rows, n, pr.lut.fb, pr.lut.tbits, bits, xt.frac, xt.bits)}, kind+".lmx"
	}
	st := seqStages(kind, append(lo, prod)...)
	return part{kind: seq, label: kind, c: SumStages(st), sub: st}, nil
}
