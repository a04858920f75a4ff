package hss

import (
	"fmt"
	"io"
	"slices"

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

// MaskedCache is one party's state of a cache [Rows × K]: the public F = Y − B and its share of B,
// row by row: row t of FB is F_t then B_t (2K values), so one product against the concatenation
// [F | B] gives both terms of a Beaver product at once (see CacheMatMul).
type MaskedCache struct {
	K    int
	Rows int
	FB   []uint64 // [Rows][2K]
	// Width is the width the rows are correct at (0: none yet): the least width any of them was
	// appended at (CacheMatMul's bits; CacheMatMulTrunc's rows are correct mod 2^bits only). A
	// product at a wider width is refused (widthOK).
	Width uint
}

// DealerCache is the dealer's state of a cache: the whole mask B [Rows × K], and the width its rows
// are correct at as MaskedCache's.
type DealerCache struct {
	K     int
	Rows  int
	B     []uint64
	Width uint
}

// checkCacheWidth checks that a product at width bits may read a cache whose rows are correct at
// width (0: no rows yet); the rows it appends are correct at bits, so the cache's width becomes bits.
func checkCacheWidth(op string, i int, width, bits uint) error {
	if width != 0 && bits > width {
		return fmt.Errorf("hss: %s: cache %d holds rows correct at %d bits, product at %d", op, i, width, bits)
	}
	return nil
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
	if k0, k1, err = GenCacheMatMulRaw(rng, caches, add, prods, bits); err != nil {
		return nil, nil, nil, nil, err
	}
	if t0, t1, err = GenTrunc(rng, k0.N, frac, normBits(bits)); err != nil {
		return nil, nil, nil, nil, wrapGate("gen cachemm", err)
	}
	return k0, k1, t0, t1, nil
}

// GenCacheMatMulRaw is GenCacheMatMul without the truncation: material for CacheMatMulRaw (and the
// products inside SoftmaxValues).
func GenCacheMatMulRaw(rng io.Reader, caches []*DealerCache, add int, prods []CacheProd, bits uint) (k0, k1 *CacheKey, err error) {
	bits = normBits(bits)
	ks, rows := make([]int, len(caches)), make([]int, len(caches))
	for i, c := range caches {
		if c == nil || c.K <= 0 || len(c.B) != c.Rows*c.K {
			return nil, nil, fmt.Errorf("hss: gen cachemm: malformed cache %d", i)
		}
		ks[i], rows[i] = c.K, c.Rows
	}
	xLen, outLen, total, err := cacheShapes("gen cachemm", ks, rows, add, prods)
	if err != nil {
		return nil, nil, err
	}
	for i, c := range caches {
		if err := checkCacheWidth("gen cachemm", i, c.Width, bits); err != nil {
			return nil, nil, err
		}
	}
	s0, s1, err := seeds(rng)
	if err != nil {
		return nil, nil, wrapGate("gen cachemm", err)
	}
	b0, a0, c0 := cacheRand(s0, ks, add, xLen, outLen, true)
	b1, a1, _ := cacheRand(s1, ks, add, xLen, outLen, false)
	for i, c := range caches {
		for j := range b0[i] {
			c.B = append(c.B, b0[i][j]+b1[i][j])
		}
		c.Rows += add
		c.Width = bits
	}
	msk := Mask(bits)
	c1 := make([]uint64, 0, total)
	for i, p := range prods {
		dc := caches[p.Cache]
		a := Reconstruct(a0[i], a1[i])
		c, err := cacheProduct(a, dc.B, p.M, dc.K, dc.Rows, p.Values)
		if err != nil {
			return nil, nil, wrapGate("gen cachemm", err)
		}
		for j := range c {
			c1 = append(c1, (c[j]-c0[i][j])&msk)
		}
	}
	return &CacheKey{Party: 0, Bits: bits, N: total, Seed: s0},
		&CacheKey{Party: 1, Bits: bits, N: total, Seed: s1, C: c1}, nil
}

// CacheMatMul appends newRows[i] ([add × K_i] shares) to cache i, opening them masked, and returns
// shares of every product (truncated by Frac, fixed point) of xs[j] with its cache — all in two
// rounds: one opening of the fresh operands and the new rows, one truncation. Online per party:
// (Σ|x_j| + add·ΣK_i)·bits bits, then bits per output. The values must satisfy the range of Trunc
// at width bits.
func (p *Party) CacheMatMul(caches []*MaskedCache, newRows [][]uint64, xs [][]uint64, prods []CacheProd, bits uint) ([][]uint64, error) {
	return p.cacheMatMul(caches, newRows, xs, prods, bits, false)
}

// CacheMatMulRaw is CacheMatMul without the truncation (one round): the products with 2·Frac
// fractional bits, correct mod 2^bits, for a consumer that truncates them in its own first round
// (SoftmaxHeadsRaw). Its material is GenCacheMatMul's CacheKey alone.
func (p *Party) CacheMatMulRaw(caches []*MaskedCache, newRows [][]uint64, xs [][]uint64, prods []CacheProd, bits uint) ([][]uint64, error) {
	return p.cacheMatMul(caches, newRows, xs, prods, bits, true)
}

func (p *Party) cacheMatMul(caches []*MaskedCache, newRows [][]uint64, xs [][]uint64, prods []CacheProd, bits uint, raw bool) ([][]uint64, error) {
	cc, err := p.cachePrepare("cachemm", caches, newRows, xs, prods, bits)
	if err != nil {
		return nil, err
	}
	var tk *TruncKey
	if !raw {
		if tk, err = takeKey[*TruncKey](p, "trunc", cc.total); err != nil {
			return nil, wrapGate("cachemm", err)
		}
	}
	opened, err := p.OpenBits(cc.send, cc.bits)
	recycle(cc.send, opened)
	if err != nil {
		return nil, wrapGate("cachemm", err)
	}
	return p.cacheFinish(cc, opened, tk)
}

// cacheCall is one CacheMatMul between its opening and its products: the shapes, the party's
// randomness (the new rows' masks, every product's A and C) and the values to open, send.
type cacheCall struct {
	op           string
	caches       []*MaskedCache
	prods        []CacheProd
	xLen, outLen []int
	total, add   int
	bits         uint
	bNew, a, c   [][]uint64
	send         []uint64 // E_j = X_j − A_j for every operand, then F = Y − B for every cache's new rows
}

// cachePrepare checks a CacheMatMul call, takes its CacheKey and returns the values to open.
func (p *Party) cachePrepare(op string, caches []*MaskedCache, newRows [][]uint64, xs [][]uint64, prods []CacheProd, bits uint) (*cacheCall, error) {
	bits = normBits(bits)
	if err := p.check(op); err != nil {
		return nil, err
	}
	if len(newRows) != len(caches) || len(xs) != len(prods) {
		return nil, fmt.Errorf("hss: %s: %d row sets for %d caches, %d operands for %d products", op, len(newRows), len(caches), len(xs), len(prods))
	}
	ks, rows := make([]int, len(caches)), make([]int, len(caches))
	add := -1
	for i, c := range caches {
		if c == nil || c.K <= 0 || len(c.FB) != 2*c.Rows*c.K || len(newRows[i])%c.K != 0 {
			return nil, fmt.Errorf("hss: %s: malformed cache %d or new rows", op, i)
		}
		if a := len(newRows[i]) / c.K; add >= 0 && a != add {
			return nil, fmt.Errorf("hss: %s: caches get %d and %d new rows", op, add, a)
		} else {
			add = a
		}
		if err := checkCacheWidth(op, i, c.Width, bits); err != nil {
			return nil, err
		}
		ks[i], rows[i] = c.K, c.Rows
	}
	xLen, outLen, total, err := cacheShapes(op, ks, rows, add, prods)
	if err != nil {
		return nil, err
	}
	nSend := 0
	for j := range xs {
		if len(xs[j]) != xLen[j] {
			return nil, fmt.Errorf("hss: %s: operand %d has %d elements, want %d", op, j, len(xs[j]), xLen[j])
		}
		nSend += xLen[j]
	}
	for _, k := range ks {
		nSend += add * k
	}
	key, err := takeKey[*CacheKey](p, "cachemm", total)
	if err != nil {
		return nil, wrapGate(op, err)
	}
	if int(key.Party) != p.ID || key.Bits != bits || (p.ID == 1 && len(key.C) != total) {
		return nil, fmt.Errorf("hss: %s: key is for party %d width %d; call is party %d width %d", op, key.Party, key.Bits, p.ID, bits)
	}
	cc := &cacheCall{op: op, caches: caches, prods: prods, xLen: xLen, outLen: outLen, total: total, add: add, bits: bits}
	cc.bNew, cc.a, cc.c = cacheRand(key.Seed, ks, add, xLen, outLen, p.ID == 0)
	if p.ID == 1 {
		cc.c = splitLens(key.C, outLen)
	}
	cc.send = getWords(nSend)
	off := 0
	for j, x := range xs {
		subInto(cc.send[off:off+len(x)], x, cc.a[j])
		off += len(x)
	}
	for i, y := range newRows {
		subInto(cc.send[off:off+len(y)], y, cc.bNew[i])
		off += len(y)
	}
	return cc, nil
}

// cacheFinish takes a CacheMatMul's opened values (mod 2^bits): the caches take their new rows (the
// opened F is sign-extended from bits by the products' final mask: only the low bits of every
// product are used), then the products, truncated if tk is not nil.
func (p *Party) cacheFinish(cc *cacheCall, opened []uint64, tk *TruncKey) ([][]uint64, error) {
	off := 0
	es := make([][]uint64, len(cc.xLen))
	for j, n := range cc.xLen {
		es[j], off = opened[off:off+n], off+n
	}
	for i, cache := range cc.caches {
		cache.appendRows(opened[off:off+cc.add*cache.K], cc.bNew[i], cc.add, cc.bits)
		off += cc.add * cache.K
	}
	return p.cacheOutputs(cc.op, cc.caches, cc.prods, es, cc.a, cc.c, cc.outLen, cc.total, cc.bits, tk)
}

// appendRows appends add rows to the cache, correct at width bits: the opened F and the party's
// share of their masks B (add·K values each).
func (c *MaskedCache) appendRows(f, b []uint64, add int, bits uint) {
	c.Width = bits
	k := c.K
	c.FB = slices.Grow(c.FB, 2*add*k)
	for r := range add {
		c.FB = append(c.FB, f[r*k:(r+1)*k]...)
		c.FB = append(c.FB, b[r*k:(r+1)*k]...)
	}
	c.Rows += add
}

// cacheOutputs returns every product's shares Z_j = [E_j·[i=0] + A_j | E_j]·[F | B]ᵀ + C_j mod 2^bits
// ([i=0]·E·F + E·B + A·F + C: one product per operand over the concatenated inner dimension), then,
// if tk is not nil, their truncation by Frac at width bits (one round).
func (p *Party) cacheOutputs(op string, caches []*MaskedCache, prods []CacheProd, es, as, cs [][]uint64, outLen []int, total int, bits uint, tk *TruncKey) ([][]uint64, error) {
	z := getWords(total)
	var cp cacheProducts
	off := 0
	for j, pr := range prods {
		zj := z[off : off+outLen[j]]
		if err := cp.product(zj, caches[pr.Cache], pr.Cache, es[j], as[j], pr.M, pr.Values, p.ID == 0); err != nil {
			recycle(z)
			cp.release()
			return nil, wrapGate(op, err)
		}
		addMaskInto(zj, cs[j], Mask(bits))
		off += outLen[j]
	}
	cp.release()
	var z2 []uint64
	if tk == nil {
		z2 = append([]uint64(nil), z...)
		recycle(z)
	} else {
		var err error
		z2, err = p.truncFx(op, tk, z, bits)
		recycle(z, z2)
		if err != nil {
			return nil, err
		}
	}
	return splitLens(z2, outLen), nil
}

// splitLens cuts v into consecutive parts of the given lengths (each capped at its length).
func splitLens(v []uint64, lens []int) [][]uint64 {
	out := make([][]uint64, len(lens))
	off := 0
	for j, n := range lens {
		out[j], off = v[off:off+n:off+n], off+n
	}
	return out
}

// subInto sets dst = x − y elementwise.
func subInto(dst, x, y []uint64) {
	y, dst = y[:len(x)], dst[:len(x)]
	for i, v := range x {
		dst[i] = v - y[i]
	}
}

// addMaskInto sets z = (z + c) mod 2^bits, msk = 2^bits − 1.
func addMaskInto(z, c []uint64, msk uint64) {
	c = c[:len(z)]
	for i, v := range z {
		z[i] = (v + c[i]) & msk
	}
}

// cacheProducts holds the scratch of one CacheMatMul's products: the fused left operand and, for
// the value products, the transposed concatenation [Fᵀ | Bᵀ] of the cache last used.
type cacheProducts struct {
	x, wt   []uint64
	wtCache int // the cache wt holds, +1 (0: none)
}

// smallValues is the largest M for which a value product runs as a direct loop over the cache rows
// rather than transposing the cache for the kernel: for a decode step (M = 1, T = 129, K = 48) the
// loop takes 3.9 µs, the transpose and kernel 13 µs.
const smallValues = 3

// product sets z (M outputs rows) to [E·[i=0] + A | E]·[F | B]ᵀ (scores: E, A [M×K], z [M×T]) or
// [E·[i=0] + A | E]·[F ; B] (values: E, A [M×T], z [M×K]) for one party's cache (index ci).
func (cp *cacheProducts) product(z []uint64, cache *MaskedCache, ci int, e, a []uint64, m int, values, p0 bool) error {
	k, t := cache.K, cache.Rows
	inner := k
	if values {
		inner = t
		if m <= smallValues {
			valuesDirect(z, cache.FB, e, a, m, k, t, p0)
			return nil
		}
	}
	// The fused operand: row r is E_r·[i=0] + A_r, then E_r.
	cp.x = regrow(cp.x, 2*m*inner)
	for r := range m {
		er, ar := e[r*inner:(r+1)*inner], a[r*inner:(r+1)*inner]
		xr := cp.x[2*r*inner : 2*(r+1)*inner]
		if p0 {
			for i, v := range er {
				xr[i] = ar[i] + v
			}
		} else {
			copy(xr, ar)
		}
		copy(xr[inner:], er)
	}
	if !values {
		return kernel.RingMatMul(z, cp.x, m, 2*k, cache.FB, t)
	}
	if cp.wtCache != ci+1 {
		cp.wt = regrow(cp.wt, 2*t*k)
		transposeFB(cp.wt, cache.FB, t, k)
		cp.wtCache = ci + 1
	}
	return kernel.RingMatMul(z, cp.x, m, 2*t, cp.wt, k)
}

func (cp *cacheProducts) release() {
	recycle(cp.x)
	recycle(cp.wt)
	*cp = cacheProducts{}
}

// regrow returns a scratch buffer of n elements in place of b (returned to the pool if too small).
func regrow(b []uint64, n int) []uint64 {
	if cap(b) >= n {
		return b[:n]
	}
	recycle(b)
	return getWords(n)
}

// transposeFB sets wt [K][2T] to the transposed concatenation of fb's halves (fb [T][2K], row t
// F_t then B_t): row c of wt is F[0..T)[c] then B[0..T)[c].
func transposeFB(wt, fb []uint64, t, k int) {
	const bs = 16
	for t0 := 0; t0 < t; t0 += bs {
		t1 := min(t0+bs, t)
		for c := range k {
			wf, wb := wt[c*2*t+t0:c*2*t+t1], wt[c*2*t+t+t0:c*2*t+t+t1]
			for i := range wf {
				row := fb[(t0+i)*2*k : (t0+i+1)*2*k]
				wf[i], wb[i] = row[c], row[k+c]
			}
		}
	}
}

// valuesDirect sets z [m×k] to Σ_t (E·[i=0] + A)[r][t]·F_t + E[r][t]·B_t, reading fb row by row
// (no transpose): the value product of a few query rows.
func valuesDirect(z, fb, e, a []uint64, m, k, t int, p0 bool) {
	for r := range m {
		zr := z[r*k : (r+1)*k]
		clear(zr)
		er, ar := e[r*t:(r+1)*t], a[r*t:(r+1)*t]
		i := 0
		for ; i+2 <= t; i += 2 {
			u0, v0, u1, v1 := ar[i], er[i], ar[i+1], er[i+1]
			if p0 {
				u0, u1 = u0+v0, u1+v1
			}
			rows := fb[i*2*k : (i+2)*2*k]
			f0, b0 := rows[:k:k], rows[k:2*k:2*k]
			f1, b1 := rows[2*k:3*k:3*k], rows[3*k:4*k:4*k]
			f0, b0, f1, b1 = f0[:len(zr)], b0[:len(zr)], f1[:len(zr)], b1[:len(zr)]
			for c := range zr {
				zr[c] += u0*f0[c] + v0*b0[c] + u1*f1[c] + v1*b1[c]
			}
		}
		for ; i < t; i++ {
			u, v := ar[i], er[i]
			if p0 {
				u += v
			}
			row := fb[i*2*k : (i+1)*2*k]
			f, b := row[:len(zr)], row[k:k+len(zr)]
			for c := range zr {
				zr[c] += u*f[c] + v*b[c]
			}
		}
	}
}

// ringMatMulNT sets out = x·wᵀ mod 2^64 for x [m×k], w [n×k].
func ringMatMulNT(out, x []uint64, m, k int, w []uint64, n int) error {
	return kernel.RingMatMul(out, x, m, k, w, n)
}

// CostCacheMatMul is the cost of CacheMatMul (and its keys: a CacheKey and a TruncKey per party)
// for caches of widths ks and current lengths rows, add new rows, and the given products.
func CostCacheMatMul(ks, rows []int, add int, prods []CacheProd, frac, bits uint) (Cost, error) {
	st, err := CostCacheMatMulStages(ks, rows, add, prods, frac, bits)
	return SumStages(st), err
}

// CostCacheMatMulStages is CostCacheMatMul by stage: the product's opening (with its triples), then
// the truncation.
func CostCacheMatMulStages(ks, rows []int, add int, prods []CacheProd, frac, bits uint) ([]Stage, error) {
	bits = normBits(bits)
	if len(ks) != len(rows) {
		return nil, fmt.Errorf("hss: cost cachemm: %d widths for %d caches", len(ks), len(rows))
	}
	xLen, _, total, err := cacheShapes("cost cachemm", ks, rows, add, prods)
	if err != nil {
		return nil, err
	}
	if _, err := CostTrunc(total, frac, bits); err != nil {
		return nil, err
	}
	n := 0
	for _, x := range xLen {
		n += x
	}
	for _, k := range ks {
		n += add * k
	}
	prod := open(n, bits).Add(keyCost(vecKeySize(0, bits, total), vecKeySize(1, bits, total)))
	return append(stage("product", prod), stage("trunc", costTrunc(total, frac, bits))...), nil
}

// CostCacheMatMulRawStages is the cost of CacheMatMulRaw: the product's stage of
// CostCacheMatMulStages alone.
func CostCacheMatMulRawStages(ks, rows []int, add int, prods []CacheProd, frac, bits uint) ([]Stage, error) {
	st, err := CostCacheMatMulStages(ks, rows, add, prods, frac, bits)
	if err != nil {
		return nil, err
	}
	return st[:1], nil
}

// Truncate drops the cache's rows from pos on.
func (c *MaskedCache) Truncate(pos int) {
	if pos >= 0 && pos < c.Rows {
		c.Rows, c.FB = pos, c.FB[:2*pos*c.K]
	}
}

// Truncate drops the cache's rows from pos on.
func (c *DealerCache) Truncate(pos int) {
	if pos >= 0 && pos < c.Rows {
		c.Rows, c.B = pos, c.B[:pos*c.K]
	}
}
