package hss

import (
	"fmt"
	"io"

	"github.com/hssee/hssee/kernel"
)

// This file holds Beaver matrix products against a growing cache (attention's keys and values)
// whose rows are masked ONCE, when they are appended, instead of on every product: the masked-cache
// variant of matrix triples (Mohassel–Zhang, SecureML, S&P 2017, where a matrix operand reused
// across products keeps its mask: X_t·Yᵀ for fresh X_t and a fixed Y needs Y − B opened only
// once). For a cache Y = F + B, F public (opened once per row), B shared, and a fresh operand
// X = E + A (E opened per product):
//
//	X·Yᵀ = E·Fᵀ + E·Bᵀ + A·Fᵀ + A·Bᵀ      (scores: X [M×K], Y [T×K])
//	X·Y  = E·F  + E·B  + A·F  + A·B       (values: X [M×T], Y [T×K])
//
// with C = A·B(ᵀ) from the dealer. A decode step then opens the new query rows and the new cache
// row instead of the whole cache: online bytes per step no longer grow with the context. Every
// opened value is uniform (fresh A for E; each row of B masks exactly one opened row of F).

// MaskedCache is one party's state of a cache [Rows × K]: the public F = Y − B and its share of B.
type MaskedCache struct {
	K    int
	Rows int
	F, B []uint64
}

// DealerCache is the dealer's state of a cache: the whole mask B [Rows × K].
type DealerCache struct {
	K    int
	Rows int
	B    []uint64
}

// CacheProd is one product against a cache: X has M rows; Values selects X·Y (X [M×Rows]) instead
// of X·Yᵀ (X [M×K]). Cache indexes the caches of the call.
type CacheProd struct {
	Cache  int
	M      int
	Values bool
}

// CacheKey is one party's material for one CacheMatMul: a seed that expands the party's shares of
// the new cache rows' masks, of every product's A and (party 0) C; party 1 holds C explicitly.
type CacheKey struct {
	Consumable
	Party uint8
	Bits  uint
	N     int // elements of C (all products' outputs)
	Seed  [32]byte
	C     []uint64
}

func (k *CacheKey) Kind() string { return "cachemm" }
func (k *CacheKey) Len() int     { return k.N }
func (k *CacheKey) PartyID() int { return int(k.Party) }
func (k *CacheKey) Size() int    { return vecKeySize(k.Party, k.Bits, k.N) }
func (k *CacheKey) MarshalBinary() ([]byte, error) {
	return marshalVecKey("cachemm", k.Party, k.Bits, k.N, k.Seed, k.C)
}

func (k *CacheKey) UnmarshalBinary(b []byte) error {
	party, bits, n, seed, c, err := unmarshalVecKey("cachemm", b)
	if err != nil {
		return err
	}
	k.Party, k.Bits, k.N, k.Seed, k.C = party, bits, n, seed, c
	return nil
}

func init() { RegisterKey("cachemm", func() MarshalKey { return &CacheKey{} }) }

// cacheShapes checks a call and returns the per-product operand and output sizes.
func cacheShapes(op string, ks, rows []int, add int, prods []CacheProd) (xLen, outLen []int, total int, err error) {
	if add < 0 || add > MaxKeyLen || len(prods) == 0 {
		return nil, nil, 0, fmt.Errorf("hss: %s: %d new rows, %d products", op, add, len(prods))
	}
	xLen, outLen = make([]int, len(prods)), make([]int, len(prods))
	for i, p := range prods {
		if p.Cache < 0 || p.Cache >= len(ks) || p.M <= 0 {
			return nil, nil, 0, fmt.Errorf("hss: %s: product %d: cache %d of %d, %d rows", op, i, p.Cache, len(ks), p.M)
		}
		k, t := ks[p.Cache], rows[p.Cache]+add
		x, o := p.M*k, p.M*t
		if p.Values {
			x, o = p.M*t, p.M*k
		}
		if _, ok := mulLen(p.M, max(k, t)); !ok || t == 0 {
			return nil, nil, 0, fmt.Errorf("hss: %s: product %d: bad shape", op, i)
		}
		xLen[i], outLen[i], total = x, o, total+o
		if total > MaxKeyLen {
			return nil, nil, 0, fmt.Errorf("hss: %s: %d outputs exceed %d", op, total, MaxKeyLen)
		}
	}
	return xLen, outLen, total, nil
}

// cacheRand expands one party's randomness of a call: the new rows' masks per cache, then A and
// (withC) C per product.
func cacheRand(seed [32]byte, ks []int, add int, xLen, outLen []int, withC bool) (bNew, a, c [][]uint64) {
	var lens []int
	for _, k := range ks {
		lens = append(lens, add*k)
	}
	lens = append(lens, xLen...)
	if withC {
		lens = append(lens, outLen...)
	}
	v := expand(seed, lens...)
	bNew, a = v[:len(ks)], v[len(ks):len(ks)+len(xLen)]
	if withC {
		c = v[len(ks)+len(xLen):]
	}
	return bNew, a, c
}

// cacheProduct returns x·yᵀ (values false: x [m×k], y [t×k]) or x·y (values: x [m×t], y [t×k]).
func cacheProduct(x, y []uint64, m, k, t int, values bool) ([]uint64, error) {
	if values {
		return ringMatMulNN(x, y, m, t, k)
	}
	out := make([]uint64, m*t)
	return out, ringMatMulNT(out, x, m, k, y, t)
}

// GenCacheMatMul appends add rows to each dealer cache (fresh masks) and generates material for
// CacheMatMul with those caches and products, then a truncation of all outputs by frac at width
// bits (0 means 64).
func GenCacheMatMul(rng io.Reader, caches []*DealerCache, add int, prods []CacheProd, frac, bits uint) (k0, k1 *CacheKey, t0, t1 *TruncKey, err error) {
	bits = normBits(bits)
	ks, rows := make([]int, len(caches)), make([]int, len(caches))
	for i, c := range caches {
		if c == nil || c.K <= 0 || len(c.B) != c.Rows*c.K {
			return nil, nil, nil, nil, fmt.Errorf("hss: gen cachemm: malformed cache %d", i)
		}
		ks[i], rows[i] = c.K, c.Rows
	}
	xLen, outLen, total, err := cacheShapes("gen cachemm", ks, rows, add, prods)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	s0, s1, err := seeds(rng)
	if err != nil {
		return nil, nil, nil, nil, wrapGate("gen cachemm", err)
	}
	b0, a0, c0 := cacheRand(s0, ks, add, xLen, outLen, true)
	b1, a1, _ := cacheRand(s1, ks, add, xLen, outLen, false)
	for i, c := range caches {
		for j := range b0[i] {
			c.B = append(c.B, b0[i][j]+b1[i][j])
		}
		c.Rows += add
	}
	msk := Mask(bits)
	c1 := make([]uint64, 0, total)
	for i, p := range prods {
		dc := caches[p.Cache]
		a := Reconstruct(a0[i], a1[i])
		c, err := cacheProduct(a, dc.B, p.M, dc.K, dc.Rows, p.Values)
		if err != nil {
			return nil, nil, nil, nil, wrapGate("gen cachemm", err)
		}
		for j := range c {
			c1 = append(c1, (c[j]-c0[i][j])&msk)
		}
	}
	t0, t1, err = GenTrunc(rng, total, frac, bits)
	if err != nil {
		return nil, nil, nil, nil, wrapGate("gen cachemm", err)
	}
	return &CacheKey{Party: 0, Bits: bits, N: total, Seed: s0},
		&CacheKey{Party: 1, Bits: bits, N: total, Seed: s1, C: c1}, t0, t1, nil
}

// CacheMatMul appends newRows[i] ([add × K_i] shares) to cache i, opening them masked, and returns
// shares of every product (truncated by Frac, fixed point) of xs[j] with its cache — all in two
// rounds: one opening of the fresh operands and the new rows, one truncation. Online per party:
// (Σ|x_j| + add·ΣK_i)·bits bits, then bits per output. The values must satisfy the range of Trunc
// at width bits.
func (p *Party) CacheMatMul(caches []*MaskedCache, newRows [][]uint64, xs [][]uint64, prods []CacheProd, bits uint) ([][]uint64, error) {
	bits = normBits(bits)
	if err := p.check("cachemm"); err != nil {
		return nil, err
	}
	if len(newRows) != len(caches) || len(xs) != len(prods) {
		return nil, fmt.Errorf("hss: cachemm: %d row sets for %d caches, %d operands for %d products", len(newRows), len(caches), len(xs), len(prods))
	}
	ks, rows := make([]int, len(caches)), make([]int, len(caches))
	add := -1
	for i, c := range caches {
		if c == nil || c.K <= 0 || len(c.F) != c.Rows*c.K || len(c.B) != c.Rows*c.K || len(newRows[i])%c.K != 0 {
			return nil, fmt.Errorf("hss: cachemm: malformed cache %d or new rows", i)
		}
		if a := len(newRows[i]) / c.K; add >= 0 && a != add {
			return nil, fmt.Errorf("hss: cachemm: caches get %d and %d new rows", add, a)
		} else {
			add = a
		}
		ks[i], rows[i] = c.K, c.Rows
	}
	xLen, outLen, total, err := cacheShapes("cachemm", ks, rows, add, prods)
	if err != nil {
		return nil, err
	}
	for j := range xs {
		if len(xs[j]) != xLen[j] {
			return nil, fmt.Errorf("hss: cachemm: operand %d has %d elements, want %d", j, len(xs[j]), xLen[j])
		}
	}
	key, err := takeKey[*CacheKey](p, "cachemm", total)
	if err != nil {
		return nil, err
	}
	if int(key.Party) != p.ID || key.Bits != bits || (p.ID == 1 && len(key.C) != total) {
		return nil, fmt.Errorf("hss: cachemm: key is for party %d width %d; call is party %d width %d", key.Party, key.Bits, p.ID, bits)
	}
	tk, err := takeKey[*TruncKey](p, "trunc", total)
	if err != nil {
		return nil, wrapGate("cachemm", err)
	}
	bNew, a, c := cacheRand(key.Seed, ks, add, xLen, outLen, p.ID == 0)
	if p.ID == 1 {
		c = make([][]uint64, len(prods))
		off := 0
		for j, n := range outLen {
			c[j], off = key.C[off:off+n], off+n
		}
	}
	var send []uint64
	for j, x := range xs {
		for i, v := range x {
			send = append(send, v-a[j][i])
		}
	}
	for i, y := range newRows {
		for j, v := range y {
			send = append(send, v-bNew[i][j])
		}
	}
	opened, err := p.OpenBits(send, bits)
	if err != nil {
		return nil, wrapGate("cachemm", err)
	}
	off := 0
	es := make([][]uint64, len(xs))
	for j, n := range xLen {
		es[j], off = opened[off:off+n], off+n
	}
	// The caches take their new rows (the opened F is sign-extended from bits by the products'
	// final mask: only the low bits of every product are used).
	for i, cache := range caches {
		n := add * cache.K
		cache.F = append(cache.F, opened[off:off+n]...)
		cache.B = append(cache.B, bNew[i]...)
		cache.Rows += add
		off += n
	}
	msk := Mask(bits)
	z := make([]uint64, 0, total)
	for j, pr := range prods {
		cache := caches[pr.Cache]
		k, t := cache.K, cache.Rows
		// Z_i = [i=0]·E·F + E·B_i + (A_i)·F + C_i, computed as (E·[i=0] + A_i)·F + E·B_i + C_i.
		ea := make([]uint64, len(es[j]))
		for i := range ea {
			ea[i] = a[j][i]
			if p.ID == 0 {
				ea[i] += es[j][i]
			}
		}
		t1, err := cacheProduct(ea, cache.F, pr.M, k, t, pr.Values)
		if err != nil {
			return nil, wrapGate("cachemm", err)
		}
		t2, err := cacheProduct(es[j], cache.B, pr.M, k, t, pr.Values)
		if err != nil {
			return nil, wrapGate("cachemm", err)
		}
		for i := range t1 {
			z = append(z, (t1[i]+t2[i]+c[j][i])&msk)
		}
	}
	z, err = p.truncFx("cachemm", tk, z, bits)
	if err != nil {
		return nil, err
	}
	out := make([][]uint64, len(prods))
	off = 0
	for j, n := range outLen {
		out[j], off = z[off:off+n:off+n], off+n
	}
	return out, nil
}

// ringMatMulNT sets out = x·wᵀ mod 2^64 for x [m×k], w [n×k].
func ringMatMulNT(out, x []uint64, m, k int, w []uint64, n int) error {
	return kernel.RingMatMul(out, x, m, k, w, n)
}

// CostCacheMatMul is the cost of CacheMatMul (and its keys: a CacheKey and a TruncKey per party)
// for caches of widths ks and current lengths rows, add new rows, and the given products.
func CostCacheMatMul(ks, rows []int, add int, prods []CacheProd, frac, bits uint) (Cost, error) {
	bits = normBits(bits)
	if len(ks) != len(rows) {
		return Cost{}, fmt.Errorf("hss: cost cachemm: %d widths for %d caches", len(ks), len(rows))
	}
	xLen, _, total, err := cacheShapes("cost cachemm", ks, rows, add, prods)
	if err != nil {
		return Cost{}, err
	}
	if _, err := CostTrunc(total, frac, bits); err != nil {
		return Cost{}, err
	}
	n := 0
	for _, x := range xLen {
		n += x
	}
	for _, k := range ks {
		n += add * k
	}
	c := open(n, bits).Add(costTrunc(total, frac, bits))
	c.Dealer += int64(vecKeySize(0, bits, total) + vecKeySize(1, bits, total))
	return c, nil
}

// Truncate drops the cache's rows from pos on.
func (c *MaskedCache) Truncate(pos int) {
	if pos >= 0 && pos < c.Rows {
		c.Rows, c.F, c.B = pos, c.F[:pos*c.K], c.B[:pos*c.K]
	}
}

// Truncate drops the cache's rows from pos on.
func (c *DealerCache) Truncate(pos int) {
	if pos >= 0 && pos < c.Rows {
		c.Rows, c.B = pos, c.B[:pos*c.K]
	}
}
