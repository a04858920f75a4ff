package hss

import (
	"fmt"
	"io"
)

// CacheMatMulTrunc: the attention's truncation of q, k and v and the scores q·Kᵀ in one round.
//
// Trunc at width ℓ by f opens c = t + r + 2^(ℓ−2) and returns y = A − R + g·M with A = (c >> f) −
// 2^(ℓ−2−f) and g ∈ {0, 2^(ℓ−f)} public (trunc.go). Read mod 2^w for w ≤ ℓ − f, the wrap term g·M
// vanishes: y ≡ A − R (mod 2^w); the gate opens at ℓ = f + w (truncWidth), the least that allows it. So a product that is needed only mod 2^w (the scores: w =
// ScoreBits, their range is the softmax's) can take the truncation's opening as its Beaver
// opening: E = A (public) with mask −R for a fresh operand, and for a cache row F = A (public) with
// cache mask B = −R, where a Beaver product (masked-cache variant, cachemm.go) opens E = X − A' and
// F = Y − B in a round of its own. The dealer, which knows R, shares C = (−R_x)·Bᵀ as it shares
// A'·Bᵀ for CacheMatMul. This is the truncate-reduce of SIGMA (Gupta et al., PETS 2024: a value
// truncated in a wide ring and used in a narrow one) combined with ABY2.0's use of a value through
// its opened masked form (Patra et al., USENIX Security 2021). The view is the truncation's: c is
// uniform at ℓ bits.
//
// In a decode step the attention's q, k and v projections then cost one round (their truncation)
// before the softmax, where the truncation and the product took two.

// ScoreBits is the width at which the attention scores are computed and truncated: the softmax's
// inputs |x| < 2^6 with 2·Frac fractional bits untruncated need 2·Frac + 8 bits (Trunc's range at that
// width).
func ScoreBits(fx Fixed) uint { return 2*fx.Frac + smRange + 2 }

// truncWidth is the width CacheMatMulTrunc's truncation opens at: frac + bits, so that its wrap term
// vanishes mod 2^bits. Its inputs must satisfy Trunc's range at that width, |t| < 2^(frac+bits−2).
func truncWidth(frac, bits uint) uint { return frac + bits }

// CacheTKey is one party's share of C for CacheMatMulTrunc's products (N outputs at width Bits): party
// 0 expands it from Seed, party 1 holds it (the fields of vecKey).
type CacheTKey struct{ vecKey }

func (k *CacheTKey) Kind() string                   { return "cachemmt.c" }
func (k *CacheTKey) MarshalBinary() ([]byte, error) { return k.marshal("cachemmt.c") }
func (k *CacheTKey) UnmarshalBinary(b []byte) error { return k.unmarshal("cachemmt.c", b) }

func init() {
	RegisterKey("cachemmt.c", func() MarshalKey { return new(CacheTKey) })
	registerSeq("cachemmt", "trunc", "cachemmt.c")
}

// cacheTShapes checks a CacheMatMulTrunc call and returns the products' operand and output sizes and
// the number of truncated inputs (operands, new rows, extra).
func cacheTShapes(op string, ks, rows []int, add int, prods []CacheProd, extra int, frac, bits uint) (xLen, outLen []int, total, nIn int, err error) {
	for i, p := range prods {
		if p.Values {
			return nil, nil, 0, 0, fmt.Errorf("hss: %s: product %d: only scores (X·Yᵀ) take a fused truncation", op, i)
		}
	}
	if bits < 2 || frac+bits > 64 || extra < 0 || extra > MaxKeyLen {
		return nil, nil, 0, 0, fmt.Errorf("hss: %s: truncation by %d with products at width %d (need %d + %d ≤ 64), %d extra", op, frac, bits, frac, bits, extra)
	}
	if xLen, outLen, total, err = cacheShapes(op, ks, rows, add, prods); err != nil {
		return nil, nil, 0, 0, err
	}
	nIn = extra
	for _, x := range xLen {
		nIn += x
	}
	for _, k := range ks {
		nIn += add * k
	}
	if nIn > MaxKeyLen {
		return nil, nil, 0, 0, fmt.Errorf("hss: %s: %d inputs exceed %d", op, nIn, MaxKeyLen)
	}
	return xLen, outLen, total, nIn, nil
}

// GenCacheMatMulTrunc appends add rows to each dealer cache and generates material for
// CacheMatMulTrunc: one truncation by frac at width frac + bits (truncWidth) of the products' operands, the new rows and
// extra more values; the products' C at width bits (frac + bits ≤ 64); and, unless raw, a truncation
// of the products by fx.Frac at width bits.
func GenCacheMatMulTrunc(rng io.Reader, caches []*DealerCache, add int, prods []CacheProd, extra int, frac, bits uint, fx Fixed, raw bool) (k0, k1 Key, err error) {
	const op = "gen cachemmt"
	ks, rows := make([]int, len(caches)), make([]int, len(caches))
	for i, c := range caches {
		if c == nil || c.K <= 0 || len(c.B) != c.Rows*c.K {
			return nil, nil, fmt.Errorf("hss: %s: malformed cache %d", op, i)
		}
		ks[i], rows[i] = c.K, c.Rows
	}
	xLen, _, total, nIn, err := cacheTShapes(op, ks, rows, add, prods, extra, frac, bits)
	if err != nil {
		return nil, nil, err
	}
	for i, c := range caches {
		if err := checkCacheWidth(op, i, c.Width, bits); err != nil {
			return nil, nil, err
		}
	}
	t0, t1, R, err := genTruncR(rng, nIn, frac, truncWidth(frac, bits), true)
	if err != nil {
		return nil, nil, wrapGate(op, err)
	}
	// The new rows' masks are −R of their truncations.
	off := 0
	for _, x := range xLen {
		off += x
	}
	for _, c := range caches {
		for _, v := range R[off : off+add*c.K] {
			c.B = append(c.B, -v)
		}
		c.Rows += add
		c.Width = bits
		off += add * c.K
	}
	s0, s1, err := genVecSeeds(rng, op, total, bits)
	if err != nil {
		return nil, nil, err
	}
	c0 := streamScratch(s0, total)
	defer putWords(c0)
	c1 := make([]uint64, 0, total)
	msk := Mask(bits)
	off = 0
	for i, p := range prods {
		dc := caches[p.Cache]
		a := make([]uint64, xLen[i])
		for j, v := range R[off : off+xLen[i]] {
			a[j] = -v
		}
		off += xLen[i]
		c, err := cacheProduct(a, dc.B, p.M, dc.K, dc.Rows, false)
		if err != nil {
			return nil, nil, wrapGate(op, err)
		}
		base := len(c1)
		for j := range c {
			c1 = append(c1, (c[j]-c0[base+j])&msk)
		}
	}
	p0 := []MarshalKey{t0, &CacheTKey{vecKey{Party: 0, Bits: bits, N: total, Seed: s0}}}
	p1 := []MarshalKey{t1, &CacheTKey{vecKey{Party: 1, Bits: bits, N: total, Seed: s1, C: c1}}}
	if !raw {
		u0, u1, err := GenTrunc(rng, total, fx.Frac, bits)
		if err != nil {
			return nil, nil, wrapGate(op, err)
		}
		p0, p1 = append(p0, u0), append(p1, u1)
	}
	return newSeqKey("cachemmt", total, p0...), newSeqKey("cachemmt", total, p1...), nil
}

// CacheMatMulTrunc truncates by frac (at width frac + bits) the products' operands xs, the new cache
// rows newRows and extra, all untruncated (|·| < 2^(frac+bits−2)), in one round; appends the truncated rows to the
// caches and returns every product xs[j]·Y_iᵀ (scores only) mod 2^bits with 2·Frac fractional bits —
// truncated by Frac at width bits in a second round unless raw — and the truncation of extra (the
// attention's v, correct mod 2^64). See the top of this file. Every row of every cache must have come
// through this gate (or CacheMatMul at a width ≥ bits): the caches' rows are valid mod 2^bits only.
func (p *Party) CacheMatMulTrunc(caches []*MaskedCache, newRows, xs [][]uint64, extra []uint64, prods []CacheProd, frac, bits uint, raw bool) ([][]uint64, []uint64, error) {
	const op = "cachemmt"
	if err := p.check(op); err != nil {
		return nil, nil, err
	}
	if len(newRows) != len(caches) || len(xs) != len(prods) {
		return nil, nil, fmt.Errorf("hss: %s: %d row sets for %d caches, %d operands for %d products", op, len(newRows), len(caches), len(xs), len(prods))
	}
	ks, rows := make([]int, len(caches)), make([]int, len(caches))
	add := -1
	for i, c := range caches {
		if c == nil || c.K <= 0 || len(c.FB) != 2*c.Rows*c.K || len(newRows[i])%c.K != 0 {
			return nil, nil, fmt.Errorf("hss: %s: malformed cache %d or new rows", op, i)
		}
		if a := len(newRows[i]) / c.K; add >= 0 && a != add {
			return nil, nil, fmt.Errorf("hss: %s: caches get %d and %d new rows", op, add, a)
		} else {
			add = a
		}
		if err := checkCacheWidth(op, i, c.Width, bits); err != nil {
			return nil, nil, err
		}
		ks[i], rows[i] = c.K, c.Rows
	}
	xLen, outLen, total, nIn, err := cacheTShapes(op, ks, rows, add, prods, len(extra), frac, bits)
	if err != nil {
		return nil, nil, err
	}
	in := make([]uint64, 0, nIn)
	for j, x := range xs {
		if len(x) != xLen[j] {
			return nil, nil, fmt.Errorf("hss: %s: operand %d has %d elements, want %d", op, j, len(x), xLen[j])
		}
		in = append(in, x...)
	}
	for _, y := range newRows {
		in = append(in, y...)
	}
	in = append(in, extra...)
	q, err := p.sub(op, total)
	if err != nil {
		return nil, nil, err
	}
	tk, err := takeKey[*TruncKey](q, "trunc", nIn)
	if err != nil {
		return nil, nil, wrapGate(op, err)
	}
	ck, err := takeKey[*CacheTKey](q, "cachemmt.c", total)
	if err != nil {
		return nil, nil, wrapGate(op, err)
	}
	if int(ck.Party) != p.ID || ck.Bits != bits || (p.ID == 1 && len(ck.C) != total) {
		return nil, nil, fmt.Errorf("hss: %s: material does not match the gate", op)
	}
	// One round: y = A − R + g·M ≡ A − R (mod 2^bits); the masks' shares are y − [party 0]·A.
	pub := make([]uint64, nIn)
	y, err := q.truncPub(tk, in, frac, truncWidth(frac, bits), pub)
	if err != nil {
		return nil, nil, wrapGate(op, err)
	}
	own := uint64(1 - p.ID)
	mask := make([]uint64, nIn)
	for i, v := range y {
		mask[i] = v - own*pub[i]
	}
	off := 0
	es, as := make([][]uint64, len(xs)), make([][]uint64, len(xs))
	for j, n := range xLen {
		es[j], as[j], off = pub[off:off+n], mask[off:off+n], off+n
	}
	for _, cache := range caches {
		cache.appendRows(pub[off:off+add*cache.K], mask[off:off+add*cache.K], add, bits)
		off += add * cache.K
	}
	v := y[off:]
	c := ck.C
	if p.ID == 0 {
		c = streamScratch(ck.Seed, total)
		defer putWords(c)
	}
	cs := splitLens(c, outLen)
	var tk2 *TruncKey
	if !raw {
		if tk2, err = takeKey[*TruncKey](q, "trunc", total); err != nil {
			return nil, nil, wrapGate(op, err)
		}
	}
	out, err := q.cacheOutputs(op, caches, prods, es, as, cs, outLen, total, bits, tk2)
	if err != nil {
		return nil, nil, err
	}
	if err := finish(op, q); err != nil {
		return nil, nil, err
	}
	return out, v, nil
}

// CostCacheMatMulTruncStages is the cost of CacheMatMulTrunc (and GenCacheMatMulTrunc's keys) by
// stage: the truncation of every input with the products' material, then (unless raw) the products'
// truncation.
func CostCacheMatMulTruncStages(ks, rows []int, add int, prods []CacheProd, extra int, frac, bits uint, fx Fixed, raw bool) ([]Stage, error) {
	if len(ks) != len(rows) {
		return nil, fmt.Errorf("hss: cost cachemmt: %d widths for %d caches", len(ks), len(rows))
	}
	_, _, total, nIn, err := cacheTShapes("cost cachemmt", ks, rows, add, prods, extra, frac, bits)
	if err != nil {
		return nil, err
	}
	// The first stage carries the C key too, with its framing in the composite.
	fr := 1 + len("cachemmt.c") + 4
	parts := []part{{kind: "trunc", label: "trunc+product",
		c: costTrunc(nIn, frac, truncWidth(frac, bits)).Add(keyCost(vecKeySize(0, bits, total)+fr, vecKeySize(1, bits, total)+fr))}}
	if !raw {
		parts = append(parts, part{kind: "trunc", c: costTrunc(total, fx.Frac, bits), label: "trunc"})
	}
	return seqStages("cachemmt", parts...), nil
}
