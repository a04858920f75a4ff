package hss

import (
	"fmt"
	"io"
)

// SiLUMul: SwiGLU's SiLU(g)·u in two rounds (the activation's lookup, then its truncation and the
// product together), where SiLU then Mul take three.
//
// SiLU's output is y + xs, with xs = x·s from the lookup and y = Trunc(T) the truncation of its
// polynomial term (act). Trunc opens c = T + r (+ 2^(ℓ−2)) and returns shares of
//
//	y = A(c) − R + g(c)·M,   A(c) = (c >> f) − 2^(ℓ−2−f),  g(c) = (1 − msb(c))·2^(ℓ−f),
//
// with R = r >> f and M = msb(r) shared by the dealer (see Trunc). The product with u needs an
// opening of u; with Beaver's δ = u − b and ε = xs − a opened in the same round as c, and the dealer
// sharing a, b, a·b and also R·b and M·b (masks correlated with the truncation's, as in the
// function-dependent preprocessing of ABY2.0, Patra et al., USENIX Security 2021, where a value is
// used through its opened masked form), everything is local once c, ε and δ are public:
//
//	y·u  = y·δ + y·b = y·δ + A·b − R·b + g·M·b
//	xs·u = ε·δ + ε·b + δ·a + a·b.
//
// So the truncation's round carries the product: 2 rounds instead of 3, the same bytes (c at the
// truncation's width, ε and δ at 64 bits, in one message: openParts), and the same value as Mul(SiLU(g), u) (the truncation's stochastic rounding is the only error; the
// product is exact mod 2^64).

// TruncMulKey is one party's material for the fused truncation and product over N elements:
// truncation masks as TruncKey's (r ∈ Z_2^Bits, R = r >> Frac, M = msb(r)), Beaver masks a, b and
// the products a·b, R·b and M·b in Z_2^64 (M and M·b matter only mod 2^(64−Bits+Frac)). Party 0
// holds only Seed (r0, R0, M0, a0, b0, (ab)0, (Rb)0, (Mb)0 are expanded from it); party 1 expands r1,
// a1, b1 from Seed and holds the other shares.
type TruncMulKey struct {
	TruncKey            // the truncation's part (Len, PartyID and msbWidth are its own)
	AB, RB, MB []uint64 // party 1 only
}

func (k *TruncMulKey) Kind() string { return "truncmul" }

// Size is the length of MarshalBinary's output.
func (k *TruncMulKey) Size() int {
	s := 3 + 4 + 32
	if k.Party == 1 {
		s += 3*PackedLen(k.N, 64) + 2*PackedLen(k.N, k.msbWidth())
	}
	return s
}

func (k *TruncMulKey) MarshalBinary() ([]byte, error) {
	if k.Party > 1 || k.Party == 1 && (len(k.RHi) != k.N || len(k.RMsb) != k.N || len(k.AB) != k.N ||
		len(k.RB) != k.N || len(k.MB) != k.N) {
		return nil, fmt.Errorf("hss: truncmul key: marshal: %w", errKey)
	}
	e := encodeTruncHeader(k.Size(), k.Party, k.Frac, k.Bits, k.N, k.Seed)
	if k.Party == 1 {
		e.Packed(k.RHi, 64)
		e.Packed(k.AB, 64)
		e.Packed(k.RB, 64)
		e.Packed(k.RMsb, k.msbWidth())
		e.Packed(k.MB, k.msbWidth())
	}
	return e.Bytes(), nil
}

func (k *TruncMulKey) UnmarshalBinary(b []byte) error {
	d := NewDec(b)
	party, frac, bits, n, seed := decodeTruncHeader(d)
	*k = TruncMulKey{TruncKey: TruncKey{Party: party, Frac: frac, Bits: bits, N: n, Seed: seed}}
	if d.Err() == nil && party == 1 {
		w := k.msbWidth()
		k.RHi, k.AB, k.RB = d.Packed(n, 64), d.Packed(n, 64), d.Packed(n, 64)
		k.RMsb, k.MB = d.Packed(n, w), d.Packed(n, w)
	}
	if err := d.Finish(); err != nil {
		*k = TruncMulKey{}
		return fmt.Errorf("hss: truncmul key: %w", err)
	}
	return nil
}

func init() {
	RegisterKey("truncmul", func() MarshalKey { return new(TruncMulKey) })
	registerSeq("silumul", "silu.lut", "truncmul")
}

// truncMulWords is the number of words party p expands from its seed for n elements.
func truncMulWords(party, n int) int {
	if party == 0 {
		return 8 * n
	}
	return 3 * n
}

// genTruncMul generates material for truncMul on n elements (truncation by frac of inputs opened at
// width bits, |x| < 2^(bits−2)).
func genTruncMul(rng io.Reader, n int, frac, bits uint) (k0, k1 *TruncMulKey, err error) {
	s0, s1, err := truncSeeds(rng, "gen truncmul", n, frac, bits)
	if err != nil {
		return nil, nil, err
	}
	b0, b1 := streamScratch(s0, truncMulWords(0, n)), streamScratch(s1, truncMulWords(1, n))
	defer putWords(b0)
	defer putWords(b1)
	k0 = &TruncMulKey{TruncKey: TruncKey{Party: 0, Frac: frac, Bits: bits, N: n, Seed: s0}}
	k1 = &TruncMulKey{TruncKey: TruncKey{Party: 1, Frac: frac, Bits: bits, N: n, Seed: s1, RHi: make([]uint64, n),
		RMsb: make([]uint64, n)}, AB: make([]uint64, n), RB: make([]uint64, n), MB: make([]uint64, n)}
	mask, mw := Mask(bits), Mask(k1.msbWidth())
	for i := range n {
		r0, rh0, m0 := b0[i], b0[n+i], b0[2*n+i]
		a0, bb0, ab0, rb0, mb0 := b0[3*n+i], b0[4*n+i], b0[5*n+i], b0[6*n+i], b0[7*n+i]
		r := (r0 + b1[i]) & mask
		a, b := a0+b1[n+i], bb0+b1[2*n+i]
		rh, m := r>>frac, r>>(bits-1)
		k1.RHi[i] = rh - rh0
		k1.RMsb[i] = (m - m0) & mw
		k1.AB[i] = a*b - ab0
		k1.RB[i] = rh*b - rb0
		k1.MB[i] = (m*b - mb0) & mw
	}
	return k0, k1, nil
}

// truncMul returns shares of (Trunc(t, frac, bits) + xs)·u mod 2^64 in one round (see the top of
// this file): t with |t| < 2^(bits−2), xs and u any ring elements.
func (p *Party) truncMul(k *TruncMulKey, t, xs, u []uint64, frac, bits uint) ([]uint64, error) {
	n := len(t)
	if k.Frac != frac || k.Bits != bits || int(k.Party) != p.ID || k.N != n || len(xs) != n || len(u) != n ||
		p.ID == 1 && (len(k.RHi) != n || len(k.RMsb) != n || len(k.AB) != n || len(k.RB) != n || len(k.MB) != n) {
		return nil, fmt.Errorf("hss: truncmul: material does not match the gate")
	}
	buf := streamScratch(k.Seed, truncMulWords(p.ID, n))
	defer putWords(buf)
	r := buf[:n]
	var rh, ms, a, b, ab, rb, mb []uint64
	if p.ID == 0 {
		rh, ms, a, b, ab, rb, mb = buf[n:2*n], buf[2*n:3*n], buf[3*n:4*n], buf[4*n:5*n], buf[5*n:6*n], buf[6*n:7*n], buf[7*n:]
	} else {
		a, b = buf[n:2*n], buf[2*n:]
		rh, ms, ab, rb, mb = k.RHi, k.RMsb, k.AB, k.RB, k.MB
	}
	var shift uint64
	if p.ID == 0 {
		shift = 1 << (bits - 2)
	}
	// One round opens c at the truncation's width and ε ‖ δ at 64 bits.
	o := getWords(3 * n)
	defer putWords(o)
	for i := range n {
		o[i] = t[i] + r[i] + shift
		o[n+i] = xs[i] - a[i]
		o[2*n+i] = u[i] - b[i]
	}
	if err := p.openParts([][]uint64{o[:n], o[n:]}, []uint{bits, 64}); err != nil {
		return nil, wrapGate("truncmul", err)
	}
	mask, top, wsh := Mask(bits), bits-1, bits-frac
	off := uint64(1) << (bits - 2 - frac)
	own := uint64(1 - p.ID) // party 0 adds the public terms
	z := make([]uint64, n)
	for i := range n {
		c := o[i] & mask
		eps, del := o[n+i], o[2*n+i]
		g := ((c>>top)&1 ^ 1) << wsh
		A := c>>frac - off
		y := own*A - rh[i] + g*ms[i]
		z[i] = y*del + A*b[i] - rb[i] + g*mb[i] + own*eps*del + eps*b[i] + del*a[i] + ab[i]
	}
	return z, nil
}

// costTruncMul is the cost of truncMul (and genTruncMul's keys) on n elements.
func costTruncMul(n int, frac, bits uint) Cost {
	k0 := &TruncMulKey{TruncKey: TruncKey{Party: 0, Frac: frac, Bits: bits, N: n}}
	k1 := &TruncMulKey{TruncKey: TruncKey{Party: 1, Frac: frac, Bits: bits, N: n}}
	return openPartsCost([]int{n, 2 * n}, []uint{bits, 64}).Add(keyCost(k0.Size(), k1.Size()))
}

// GenSiLUMul generates material for SiLUMul on n elements.
func GenSiLUMul(rng io.Reader, n int, fx Fixed) (k0, k1 Key, err error) {
	s, err := siluSpec(fx)
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen silumul: %w", err)
	}
	l0, l1, err := genLUT(rng, "silu.lut", n, s.tab)
	if err != nil {
		return nil, nil, err
	}
	t0, t1, err := genTruncMul(rng, n, s.tab.fb, s.tab.tbits)
	if err != nil {
		return nil, nil, err
	}
	return newSeqKey("silumul", n, l0, t0), newSeqKey("silumul", n, l1, t1), nil
}

// SiLUMul returns shares of SiLU(g)·u mod 2^64 (2·Frac fractional bits, untruncated, as Mul at
// width 64 returns it) for shares g and u with Frac fractional bits (SwiGLU's gate and up
// projections): SiLU's lookup (round 1), then its truncation and the product in one round (see the
// top of this file). Rounds 2 (SiLU then Mul: 3). Error: SiLU's (see SiLU) times |u|; the product
// is exact. Input range: SiLU's for g.
func (p *Party) SiLUMul(g, u []uint64) ([]uint64, error) {
	if len(g) != len(u) {
		return nil, fmt.Errorf("hss: silumul: operands have %d and %d elements", len(g), len(u))
	}
	s, err := siluSpec(p.Fx)
	if err != nil {
		return nil, fmt.Errorf("hss: silumul: %w", err)
	}
	q, err := p.sub("silumul", len(g))
	if err != nil {
		return nil, err
	}
	o, err := q.evalLUT("silu.lut", s.tab, g)
	if err != nil {
		return nil, wrapGate("silumul", err)
	}
	return q.siluTimes("silumul", o, u, s.tab)
}

// siluTimes ends SiLUMul on SiLU's lookup o of the gate: SiLU's truncation and
// the product with u in one round (truncMul, the composite's last part), and hands o's polynomial
// term back to the pool.
func (q *Party) siluTimes(kind string, o *lutOut, u []uint64, tab *lutSpec) ([]uint64, error) {
	defer putWords(o.lin)
	k, err := takeKey[*TruncMulKey](q, "truncmul", len(u))
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	z, err := q.truncMul(k, o.lin, o.xs, u, tab.fb, tab.tbits)
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	if err := finish(kind, q); err != nil {
		return nil, err
	}
	return z, nil
}

// CostSiLUMulStages is the cost of SiLUMul (and GenSiLUMul's keys) on n elements by stage: the
// lookup, then the truncation with the product.
func CostSiLUMulStages(n int, fx Fixed) ([]Stage, error) {
	if err := checkLen("cost silumul", n); err != nil {
		return nil, err
	}
	s, err := siluSpec(fx)
	if err != nil {
		return nil, fmt.Errorf("hss: cost silumul: %w", err)
	}
	return seqStages("silumul", part{kind: "silu.lut", c: costLUT(n, s.tab), label: "lut"},
		part{kind: "truncmul", c: costTruncMul(n, s.tab.fb, s.tab.tbits)}), nil
}
