package hss

import (
	"fmt"
	"io"
)

// Truncation and square in one round: z = x ± Trunc(t) and z⊙z, for the norms' first round (the
// residual stream's pending truncation before RMSNorm's squares; LayerNorm's mean subtracted before
// its squares). Separately that is Trunc (round 1) then Square (round 2).
//
// Trunc opens c = t + r (+ 2^(ℓ−2)) and returns y = A − R + g·M with A = (c >> f) − 2^(ℓ−2−f) and
// g = (1 − msb(c))·2^(ℓ−f) public, R = r >> f and M = msb(r) shared by the dealer (trunc.go). With
// Beaver's δ = x − a opened in the same round, z = x + s·y (s = ±1) is
//
//	z = P + m + G·M,   P = δ + s·A (public),  m = a − s·R (dealer-known),  G = s·g (public),
//
// so, with M² = M, z² = P² + 2P·m + 2P·G·M + m² + 2G·(m·M) + G²·M is local once the dealer also
// shares m² and m·M: the square's masks are correlated with the truncation's (function-dependent
// preprocessing as in ABY2.0, Patra et al., USENIX Security 2021; the same algebra as truncMul,
// actmul.go). One truncation may serve a row of squares (LayerNorm's mean: T = rows, N = rows·dim).
// Each opening is a value plus a fresh uniform mask (c at ℓ bits, δ at the square's width), so one
// party's view is uniform as for Trunc and Square.

// TruncSqKey is one party's material for truncSquare: T truncation masks (r ∈ Z_2^Bits, R = r >>
// Frac, M = msb(r)) and N square masks a with the shares of m² (mod 2^SqBits) and m·M (mod
// 2^mmWidth: SqBits − (Bits − Frac) − 1 bits), m = a ∓ R of element i's truncation (i·T/N). Party 0 holds only Seed; party 1 expands
// r1 and a1 from Seed and holds RHi, RMsb (T each) and MM, MMs (N each).
type TruncSqKey struct {
	Consumable
	Party              uint8
	Frac, Bits, SqBits uint
	Neg                bool // z = x − Trunc(t)
	N, T               int
	Seed               [32]byte
	RHi, RMsb, MM, MMs []uint64 // party 1 only
}

func (k *TruncSqKey) Kind() string { return "truncsq" }
func (k *TruncSqKey) Len() int     { return k.N }

// PartyID returns the party (0 or 1) the key belongs to.
func (k *TruncSqKey) PartyID() int { return int(k.Party) }

func (k *TruncSqKey) msbWidth() uint { return 64 - k.Bits + k.Frac }

// mmWidth is the width m·M matters at: it enters z² only as 2G·(m·M) mod 2^SqBits, G = ±2^(Bits−Frac).
func (k *TruncSqKey) mmWidth() uint {
	if need := int(k.SqBits) - int(k.Bits-k.Frac) - 1; need > 1 {
		return uint(need)
	}
	return 1
}

// Size is the length of MarshalBinary's output.
func (k *TruncSqKey) Size() int {
	s := 5 + 8 + 32
	if k.Party == 1 {
		s += PackedLen(k.T, 64) + PackedLen(k.T, k.msbWidth()) + PackedLen(k.N, k.SqBits) + PackedLen(k.N, k.mmWidth())
	}
	return s
}

func (k *TruncSqKey) MarshalBinary() ([]byte, error) {
	if k.Party > 1 || k.Party == 1 && (len(k.RHi) != k.T || len(k.RMsb) != k.T || len(k.MM) != k.N || len(k.MMs) != k.N) {
		return nil, fmt.Errorf("hss: truncsq key: marshal: %w", errKey)
	}
	e := encodeTruncHeader(k.Size(), k.Party, k.Frac, k.Bits, k.N, k.Seed)
	e.U8(uint8(k.SqBits))
	var neg uint8
	if k.Neg {
		neg = 1
	}
	e.U8(neg)
	e.U32(uint32(k.T))
	if k.Party == 1 {
		e.Packed(k.RHi, 64)
		e.Packed(k.RMsb, k.msbWidth())
		e.Packed(k.MM, k.SqBits)
		e.Packed(k.MMs, k.mmWidth())
	}
	return e.Bytes(), nil
}

func (k *TruncSqKey) UnmarshalBinary(b []byte) error {
	d := NewDec(b)
	party, frac, bits, n, seed := decodeTruncHeader(d)
	sqBits, neg, t := uint(d.U8()), d.U8(), int(d.U32())
	if d.Err() == nil {
		if err := checkTruncSq(n, t, frac, bits, sqBits); err != nil || neg > 1 {
			d.Fail(fmt.Errorf("frac %d, width %d, square width %d, lengths %d/%d: %w", frac, bits, sqBits, n, t, errKey))
		}
	}
	k.Party, k.Frac, k.Bits, k.SqBits, k.Neg, k.N, k.T, k.Seed = party, frac, bits, sqBits, neg == 1, n, t, seed
	k.RHi, k.RMsb, k.MM, k.MMs = nil, nil, nil, nil
	if d.Err() == nil && party == 1 {
		k.RHi, k.RMsb = d.Packed(t, 64), d.Packed(t, k.msbWidth())
		k.MM, k.MMs = d.Packed(n, sqBits), d.Packed(n, k.mmWidth())
	}
	if err := d.Finish(); err != nil {
		k.RHi, k.RMsb, k.MM, k.MMs = nil, nil, nil, nil
		return fmt.Errorf("hss: truncsq key: %w", err)
	}
	return nil
}

func init() { RegisterKey("truncsq", func() MarshalKey { return new(TruncSqKey) }) }

// checkTruncSq checks the shape of a truncSquare: T truncations (by frac at width bits) serving N
// squares at width sqBits, T dividing N.
func checkTruncSq(n, t int, frac, bits, sqBits uint) error {
	switch {
	case n < 1 || t < 1 || n > MaxKeyLen || n%t != 0:
		return fmt.Errorf("%d squares for %d truncations", n, t)
	case bits < 2 || bits > 64 || frac+2 > bits:
		return fmt.Errorf("frac %d and width %d need 2 ≤ frac+2 ≤ width ≤ 64", frac, bits)
	case sqBits < 1 || sqBits > 64:
		return fmt.Errorf("square width %d out of range [1,64]", sqBits)
	}
	return nil
}

// truncSqWords is the number of words party p expands from its seed.
func truncSqWords(party, n, t int) int {
	if party == 0 {
		return 3*t + 3*n // r0, R0, M0; a0, (m²)0, (m·M)0
	}
	return t + n // r1; a1
}

// genTruncSquare generates material for truncSquare: n squares, t truncations by frac at width bits,
// squares at width sqBits, z = x − Trunc when neg.
func genTruncSquare(rng io.Reader, n, t int, frac, bits, sqBits uint, neg bool) (k0, k1 *TruncSqKey, err error) {
	if err := checkTruncSq(n, t, frac, bits, sqBits); err != nil {
		return nil, nil, fmt.Errorf("hss: gen truncsq: %w", err)
	}
	s0, s1, b0, b1, release, err := seedStreams(rng, "gen truncsq", truncSqWords(0, n, t), truncSqWords(1, n, t))
	if err != nil {
		return nil, nil, err
	}
	defer release()
	k0 = &TruncSqKey{Party: 0, Frac: frac, Bits: bits, SqBits: sqBits, Neg: neg, N: n, T: t, Seed: s0}
	k1 = &TruncSqKey{Party: 1, Frac: frac, Bits: bits, SqBits: sqBits, Neg: neg, N: n, T: t, Seed: s1,
		RHi: make([]uint64, t), RMsb: make([]uint64, t), MM: make([]uint64, n), MMs: make([]uint64, n)}
	mask, mw, sqm, mmw := Mask(bits), Mask(k1.msbWidth()), Mask(sqBits), Mask(k1.mmWidth())
	R, M := getWords(t), getWords(t)
	defer putWords(R)
	defer putWords(M)
	for j := range t {
		r := (b0[j] + b1[j]) & mask
		R[j], M[j] = r>>frac, r>>(bits-1)
		k1.RHi[j] = R[j] - b0[t+j]
		k1.RMsb[j] = (M[j] - b0[2*t+j]) & mw
	}
	a0, mm0, mM0 := b0[3*t:3*t+n], b0[3*t+n:3*t+2*n], b0[3*t+2*n:]
	a1 := b1[t:]
	s := sign(neg)
	per := n / t
	for i := range n {
		j := i / per
		m := a0[i] + a1[i] - s*R[j]
		k1.MM[i] = (m*m - mm0[i]) & sqm
		k1.MMs[i] = (m*M[j] - mM0[i]) & mmw
	}
	return k0, k1, nil
}

// sign is −1 (mod 2^64) when neg, else 1.
func sign(neg bool) uint64 {
	if neg {
		return ^uint64(0)
	}
	return 1
}

// truncSquare returns shares of z = x ± Trunc(t, frac, bits) (mod 2^64; element i takes truncation
// i·len(t)/len(x)) and of z⊙z mod 2^sqBits, in one round (see the top of this file). The t must
// satisfy Trunc's range |t| < 2^(bits−2).
func (p *Party) truncSquare(k *TruncSqKey, x, t []uint64, frac, bits, sqBits uint, neg bool) (z, sq []uint64, err error) {
	n, nt := len(x), len(t)
	if k.Frac != frac || k.Bits != bits || k.SqBits != sqBits || k.Neg != neg || int(k.Party) != p.ID || k.N != n || k.T != nt ||
		p.ID == 1 && (len(k.RHi) != nt || len(k.RMsb) != nt || len(k.MM) != n || len(k.MMs) != n) {
		return nil, nil, fmt.Errorf("hss: truncsq: material does not match the gate")
	}
	buf := streamScratch(k.Seed, truncSqWords(p.ID, n, nt))
	defer putWords(buf)
	r := buf[:nt]
	var R, M, a, mm, mM []uint64
	if p.ID == 0 {
		R, M = buf[nt:2*nt], buf[2*nt:3*nt]
		a, mm, mM = buf[3*nt:3*nt+n], buf[3*nt+n:3*nt+2*n], buf[3*nt+2*n:]
	} else {
		a = buf[nt:]
		R, M, mm, mM = k.RHi, k.RMsb, k.MM, k.MMs
	}
	own := uint64(1 - p.ID) // party 0 adds the public terms
	// One round opens c at the truncation's width and δ at the square's.
	o := getWords(nt + n)
	defer putWords(o)
	for j := range nt {
		o[j] = t[j] + r[j] + own<<(bits-2)
	}
	for i := range n {
		o[nt+i] = x[i] - a[i]
	}
	if err := p.openParts([][]uint64{o[:nt], o[nt:]}, []uint{bits, sqBits}); err != nil {
		return nil, nil, wrapGate("truncsq", err)
	}
	mask, top, wsh := Mask(bits), bits-1, bits-frac
	off := uint64(1) << (bits - 2 - frac)
	s := sign(neg)
	A, G, y := getWords(nt), getWords(nt), getWords(nt)
	defer putWords(A)
	defer putWords(G)
	defer putWords(y)
	for j := range nt {
		c := o[j] & mask
		A[j] = s * (c>>frac - off)
		g := ((c>>top)&1 ^ 1) << wsh
		G[j] = s * g
		y[j] = own*A[j] + s*(g*M[j]-R[j]) // s·Trunc(t)
	}
	z, sq = make([]uint64, n), make([]uint64, n)
	sqm := Mask(sqBits)
	per := n / nt
	for i := range n {
		j := i / per
		z[i] = x[i] + y[j]
		P, Gj, Mj := o[nt+i]+A[j], G[j], M[j]
		m := a[i] - s*R[j]
		sq[i] = (own*P*P + 2*P*(m+Gj*Mj) + mm[i] + 2*Gj*mM[i] + Gj*Gj*Mj) & sqm
	}
	return z, sq, nil
}

// costTruncSquare is the cost of truncSquare (and genTruncSquare's keys).
func costTruncSquare(n, t int, frac, bits, sqBits uint) Cost {
	k0 := &TruncSqKey{Party: 0, Frac: frac, Bits: bits, SqBits: sqBits, N: n, T: t}
	k1 := &TruncSqKey{Party: 1, Frac: frac, Bits: bits, SqBits: sqBits, N: n, T: t}
	return openPartsCost([]int{t, n}, []uint{bits, sqBits}).Add(keyCost(k0.Size(), k1.Size()))
}
