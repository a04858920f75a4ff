package hss

import (
	"fmt"
	"io"
)

// SwiGLU's second round when SiLU's sign comes from its lookup's DPF (SiLUMulRaw): the truncation of
// the polynomial term T with the opening of s ⊕ ρ, and then, locally,
//
//	z = (s·g + Trunc(T))·u.
//
// After the first round (truncAct on g ‖ u) both inputs are in ABY2.0's masked form (Patra et al.,
// USENIX Security 2021): g = A_g − r'_g and u = A_u − r'_u with A public and r' = R − G·M for the
// truncation's public G ∈ {0, 2^(ℓ−f)} and shared R = r >> f, M = msb(r). The second round opens
// Trunc(T) in the same form, A_c − r'_c, and s = ŝ + (1 − 2ŝ)·ρ with ŝ = s ⊕ ρ public. So
//
//	Trunc(T)·u = A_c·A_u − A_c·r'_u − A_u·r'_c + r'_c·r'_u
//	s·g·u      = s·A_g·A_u − A_g·s·r'_u − A_u·s·r'_g + s·r'_g·r'_u
//
// are local once the dealer shares the products of the masks: ρ·r'_u, r'_g·r'_u, ρ·r'_g·r'_u and
// r'_c·r'_u, each expanded over R and M (R_g·R_u, R_g·M_u, M_g·R_u, M_g·M_u, …; ρ, ρ·R_g and ρ·M_g
// are the lookup key's). Where there was a DCF (7 levels, payload 3: 644 bytes per element for
// both parties) and a Beaver product that opened ε = x·s − a and δ = u − b at 64 bits each, there
// are 16 correlated words (party 1's corrections, ≈ 77 bytes packed at their widths at Frac 14) and
// one bit per element and party online.

// prodWords is the number of correlated words per element of a TruncProdKey, in this order: R_c,
// M_c; ρR_u, ρM_u; R_gR_u, R_gM_u, M_gR_u, M_gM_u; ρR_gR_u, ρR_gM_u, ρM_gR_u, ρM_gM_u; R_cR_u,
// R_cM_u, M_cR_u, M_cM_u.
const prodWords = 16

// prodWidths returns the width each word matters at: a word multiplied by G_c (a multiple of
// 2^(bits−frac)) mod 2^(64−bits+frac), by G_g or G_u (multiples of 2^(ubits−ufrac)) mod
// 2^(64−ubits+ufrac), by both mod the product's complement; 0 where nothing is left.
func prodWidths(frac, bits, ufrac, ubits uint) [prodWords]uint {
	wc, wu := int(bits-frac), int(ubits-ufrac)
	w := func(sub int) uint { return uint(max(0, 64-sub)) }
	return [prodWords]uint{
		w(0), w(wc),
		w(0), w(wu),
		w(0), w(wu), w(wu), w(2 * wu),
		w(0), w(wu), w(wu), w(2 * wu),
		w(0), w(wu), w(wc), w(wc + wu),
	}
}

// TruncProdKey is one party's material for truncProd over N elements: the truncation of T by Frac
// at width Bits (mask r_c, R_c = r_c >> Frac, M_c = msb(r_c)) and the products of the masks of the
// lookup's inputs (truncated by UFrac at width UBits in truncAct) listed at prodWords. Party 0 holds
// only Seed (r_c0 and its 16 words); party 1 expands r_c1 from Seed and holds the 16 corrections W
// (W[j] of N words at prodWidths' j-th width; empty where that is 0).
type TruncProdKey struct {
	Consumable
	Party                    uint8
	Frac, Bits, UFrac, UBits uint
	N                        int
	Seed                     [32]byte
	W                        [prodWords][]uint64 // party 1 only
}

func (k *TruncProdKey) Kind() string { return "tprod" }
func (k *TruncProdKey) Len() int     { return k.N }

// PartyID returns the party (0 or 1) the key belongs to.
func (k *TruncProdKey) PartyID() int { return int(k.Party) }

func (k *TruncProdKey) Size() int {
	return truncProdSize(k.Party, k.N, k.Frac, k.Bits, k.UFrac, k.UBits)
}

func truncProdSize(party uint8, n int, frac, bits, ufrac, ubits uint) int {
	s := 1 + 4 + 4 + 32
	if party == 1 {
		for _, w := range prodWidths(frac, bits, ufrac, ubits) {
			s += PackedLen(n, w)
		}
	}
	return s
}

// validTruncProd reports whether both truncations' shapes are valid (2 ≤ frac + 2 ≤ bits ≤ 64).
func validTruncProd(frac, bits, ufrac, ubits uint) bool {
	return bits <= 64 && frac+2 <= bits && ubits <= 64 && ufrac+2 <= ubits
}

func (k *TruncProdKey) shapeOK() bool {
	if k.Party > 1 || !validTruncProd(k.Frac, k.Bits, k.UFrac, k.UBits) || k.N < 0 || k.N > MaxKeyLen {
		return false
	}
	ws := prodWidths(k.Frac, k.Bits, k.UFrac, k.UBits)
	for j, v := range k.W {
		want := k.N
		if k.Party == 0 || ws[j] == 0 {
			want = 0
		}
		if len(v) != want {
			return false
		}
	}
	return true
}

func (k *TruncProdKey) MarshalBinary() ([]byte, error) {
	if !k.shapeOK() {
		return nil, fmt.Errorf("hss: tprod key: marshal: %w", errKey)
	}
	e := Enc{b: make([]byte, 0, k.Size())}
	e.U8(k.Party)
	for _, v := range []uint{k.Frac, k.Bits, k.UFrac, k.UBits} {
		e.U8(uint8(v))
	}
	e.U32(uint32(k.N))
	e.Seed(k.Seed)
	if k.Party == 1 {
		for j, w := range prodWidths(k.Frac, k.Bits, k.UFrac, k.UBits) {
			if w > 0 {
				e.Packed(k.W[j], w)
			}
		}
	}
	return e.Bytes(), nil
}

func (k *TruncProdKey) UnmarshalBinary(b []byte) error {
	d := NewDec(b)
	party := d.U8()
	frac, bits, ufrac, ubits := uint(d.U8()), uint(d.U8()), uint(d.U8()), uint(d.U8())
	n := int(d.U32())
	seed := d.Seed()
	if d.Err() == nil && (party > 1 || !validTruncProd(frac, bits, ufrac, ubits) || n > MaxKeyLen) {
		d.Fail(fmt.Errorf("party %d, fracs %d/%d, widths %d/%d, length %d: %w", party, frac, ufrac, bits, ubits, n, errKey))
	}
	var ws [prodWords][]uint64
	if d.Err() == nil && party == 1 {
		for j, w := range prodWidths(frac, bits, ufrac, ubits) {
			if w > 0 {
				ws[j] = d.Packed(n, w)
			}
		}
	}
	if err := d.Finish(); err != nil {
		return fmt.Errorf("hss: tprod key: %w", err)
	}
	k.Party, k.Frac, k.Bits, k.UFrac, k.UBits, k.N, k.Seed, k.W = party, frac, bits, ufrac, ubits, n, seed, ws
	return nil
}

func init() { RegisterKey("tprod", func() MarshalKey { return new(TruncProdKey) }) }

// tactMasks are the masks a truncAct key pair was made with, for a generator of material correlated
// with them: R = r >> frac and M = msb(r) of all NT inputs, and the sign's bit ρ of the
// first N.
type tactMasks struct {
	R, M, Rho []uint64
}

// genTruncProd generates truncProd's material for n elements: T's truncation by frac at width bits,
// correlated with the masks of truncAct's inputs g (m.R[:n]) and u (m.R[n:2n]), truncated by ufrac at
// width ubits.
func genTruncProd(rng io.Reader, n int, frac, bits, ufrac, ubits uint, m *tactMasks) (k0, k1 *TruncProdKey, err error) {
	if n < 0 || n > MaxKeyLen || !validTruncProd(frac, bits, ufrac, ubits) || len(m.R) != 2*n || len(m.M) != 2*n || len(m.Rho) != n {
		return nil, nil, fmt.Errorf("hss: gen tprod: shape out of range")
	}
	s0, s1, b0, b1, release, err := seedStreams(rng, "gen tprod", (1+prodWords)*n, n)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	k0 = &TruncProdKey{Party: 0, Frac: frac, Bits: bits, UFrac: ufrac, UBits: ubits, N: n, Seed: s0}
	k1 = &TruncProdKey{Party: 1, Frac: frac, Bits: bits, UFrac: ufrac, UBits: ubits, N: n, Seed: s1}
	ws := prodWidths(frac, bits, ufrac, ubits)
	for j, w := range ws {
		if w > 0 {
			k1.W[j] = make([]uint64, n)
		}
	}
	var v [prodWords]uint64
	for i := range n {
		rc := (b0[i] + b1[i]) & Mask(bits)
		Rc, Mc := rc>>frac, rc>>(bits-1)
		Rg, Mg, Ru, Mu, rho := m.R[i], m.M[i], m.R[n+i], m.M[n+i], m.Rho[i]
		v = [prodWords]uint64{
			Rc, Mc,
			rho * Ru, rho * Mu,
			Rg * Ru, Rg * Mu, Mg * Ru, Mg * Mu,
			rho * Rg * Ru, rho * Rg * Mu, rho * Mg * Ru, rho * Mg * Mu,
			Rc * Ru, Rc * Mu, Mc * Ru, Mc * Mu,
		}
		for j, w := range ws {
			if w > 0 {
				k1.W[j][i] = (v[j] - b0[(1+j)*n+i]) & Mask(w)
			}
		}
	}
	return k0, k1, nil
}

// truncProd ends SiLUMulRaw: it truncates t (n elements, |t| < 2^(bits−2)) and opens s ⊕ ρ (the
// party's share bits ps.bits) in one round, and returns shares of (s·g + Trunc(t))·u mod 2^64 for
// the gate and up inputs g = A_g − r'_g, u = A_u − r'_u of the pending sign ps (its a, g, r and m
// hold both inputs' public parts and mask shares, the gate's first). See the top of this file.
func (p *Party) truncProd(k *TruncProdKey, t []uint64, ps *pendingSign) ([]uint64, error) {
	n := len(t)
	frac, bits := k.Frac, k.Bits
	if int(k.Party) != p.ID || k.N != n || !k.shapeOK() || len(ps.bits) != n || len(ps.a) < 2*n || len(ps.g) < 2*n ||
		len(ps.r) < 2*n || len(ps.m) < 2*n {
		return nil, fmt.Errorf("hss: tprod: material does not match the gate")
	}
	nw := 1
	if p.ID == 0 {
		nw = 1 + prodWords
	}
	buf := streamScratch(k.Seed, nw*n)
	defer putWords(buf)
	var w [prodWords][]uint64
	var zero []uint64 // party 1's words that vanish at their width (width 0)
	for j := range w {
		switch {
		case p.ID == 0:
			w[j] = buf[(1+j)*n : (2+j)*n]
		case k.W[j] != nil:
			w[j] = k.W[j]
		default:
			if zero == nil {
				zero = make([]uint64, n)
			}
			w[j] = zero
		}
	}
	var shift uint64
	if p.ID == 0 {
		shift = 1 << (bits - 2)
	}
	o := getWords(n)
	defer putWords(o)
	for i := range n {
		o[i] = t[i] + buf[i] + shift
	}
	sb := getWords(n)
	defer putWords(sb)
	copy(sb, ps.bits)
	if err := p.openParts([][]uint64{o, sb}, []uint{bits, 1}); err != nil {
		return nil, wrapGate("tprod", err)
	}
	mask, top, wsh := Mask(bits), bits-1, bits-frac
	off := uint64(1) << (bits - 2 - frac)
	own := ps.own
	z := make([]uint64, n)
	for i := range n {
		c := o[i] & mask
		Ac := c>>frac - off
		Gc := ((c>>top)&1 ^ 1) << wsh
		Ag, Gg, Au, Gu := ps.a[i], ps.g[i], ps.a[n+i], ps.g[n+i]
		b := sb[i] & 1
		f := 1 - 2*b
		Pg := ps.r[i] - Gg*ps.m[i]
		Pu := ps.r[n+i] - Gu*ps.m[n+i]
		Pc := w[0][i] - Gc*w[1][i]
		// Trunc(T)·u
		z1 := own*Ac*Au - Ac*Pu - Au*Pc + w[12][i] - Gu*w[13][i] - Gc*w[14][i] + Gc*Gu*w[15][i]
		// s·g·u
		s := own*b + f*ps.rho[i]
		sRu := b*Pu + f*(w[2][i]-Gu*w[3][i])
		sRg := b*Pg + f*(ps.rhoR[i]-Gg*ps.rhoM[i])
		q := w[4][i] - Gu*w[5][i] - Gg*w[6][i] + Gg*Gu*w[7][i]
		qr := w[8][i] - Gu*w[9][i] - Gg*w[10][i] + Gg*Gu*w[11][i]
		z2 := s*Ag*Au - Ag*sRu - Au*sRg + b*q + f*qr
		z[i] = z1 + z2
	}
	ps.done()
	return z, nil
}

// costTruncProd is the cost of truncProd (and genTruncProd's keys) on n elements.
func costTruncProd(n int, frac, bits, ufrac, ubits uint) Cost {
	return openPartsCost([]int{n, n}, []uint{bits, 1}).Add(keyCost(truncProdSize(0, n, frac, bits, ufrac, ubits),
		truncProdSize(1, n, frac, bits, ufrac, ubits)))
}
