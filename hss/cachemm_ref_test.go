package hss

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// refCache is the plain state of a masked cache: F and B [Rows × K] apart.
type refCache struct {
	K, Rows int
	F, B    []uint64
}

// refCacheMatMul is CacheMatMul written as directly as possible — two separate products per operand,
// (E·[i=0] + A)·F and E·B, through cacheProduct — the oracle that the fused, pooled CacheMatMul must
// match bit for bit (same key use, same opened values, same outputs).
func refCacheMatMul(p *Party, caches []*refCache, newRows, xs [][]uint64, prods []CacheProd, bits uint) ([][]uint64, error) {
	bits = normBits(bits)
	ks, rows := make([]int, len(caches)), make([]int, len(caches))
	for i, c := range caches {
		ks[i], rows[i] = c.K, c.Rows
	}
	add := len(newRows[0]) / caches[0].K
	xLen, outLen, total, err := cacheShapes("ref", ks, rows, add, prods)
	if err != nil {
		return nil, err
	}
	key, err := takeKey[*CacheKey](p, "cachemm", total)
	if err != nil {
		return nil, err
	}
	tk, err := takeKey[*TruncKey](p, "trunc", total)
	if err != nil {
		return nil, err
	}
	bNew, a, c := cacheRand(key.Seed, ks, add, xLen, outLen, p.ID == 0)
	if p.ID == 1 {
		c = splitLens(key.C, outLen)
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
		return nil, err
	}
	off := 0
	es := make([][]uint64, len(xs))
	for j, n := range xLen {
		es[j], off = opened[off:off+n], off+n
	}
	for i, cache := range caches {
		n := add * cache.K
		cache.F = append(cache.F, opened[off:off+n]...)
		cache.B = append(cache.B, bNew[i]...)
		cache.Rows += add
		off += n
	}
	msk := Mask(bits)
	var z []uint64
	for j, pr := range prods {
		cache := caches[pr.Cache]
		ea := slices.Clone(a[j])
		if p.ID == 0 {
			for i := range ea {
				ea[i] += es[j][i]
			}
		}
		t1, err := cacheProduct(ea, cache.F, pr.M, cache.K, cache.Rows, pr.Values)
		if err != nil {
			return nil, err
		}
		t2, err := cacheProduct(es[j], cache.B, pr.M, cache.K, cache.Rows, pr.Values)
		if err != nil {
			return nil, err
		}
		for i := range t1 {
			z = append(z, (t1[i]+t2[i]+c[j][i])&msk)
		}
	}
	z, err = p.truncFx("ref", tk, z, bits)
	if err != nil {
		return nil, err
	}
	out := make([][]uint64, len(prods))
	off = 0
	for j, n := range outLen {
		out[j], off = z[off:off+n], off+n
	}
	return out, nil
}

// TestCacheMatMulReference runs CacheMatMul and refCacheMatMul on identical material (two dealers
// from one seed) over several steps — prefill chunks and single rows, scores and values, caches
// shared by query groups, operands of 1 to 70 rows (the direct and the transposed value paths, the
// kernel's edge tiles) — and requires identical output shares and caches.
func TestCacheMatMulReference(t *testing.T) {
	fx := Fixed{Frac: 14}
	const bits = 48
	for _, K := range []int{3, 16} {
		t.Run(fmt.Sprintf("K%d", K), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(K), 1))
			rng := testRNG(uint64(K))
			const nc, group = 2, 2
			var dc [2][]*DealerCache
			for i := range dc {
				for range nc {
					dc[i] = append(dc[i], &DealerCache{K: K})
				}
			}
			var pc [2][]*MaskedCache
			var rc [2][]*refCache
			for p := range 2 {
				for range nc {
					pc[p] = append(pc[p], &MaskedCache{K: K})
					rc[p] = append(rc[p], &refCache{K: K})
				}
			}
			small := func(n int) [2][]uint64 {
				v := make([]uint64, n)
				for i := range v {
					v[i] = uint64(int64(r.IntN(1<<15) - 1<<14))
				}
				return shareFor(t, v, rng)
			}
			T := 0
			for step, add := range []int{70, 1, 3, 2, 1, 5, 1} {
				T += add
				var newRows [2][][]uint64
				for range nc {
					s := small(add * K)
					newRows[0], newRows[1] = append(newRows[0], s[0]), append(newRows[1], s[1])
				}
				var prods []CacheProd
				var xs [2][][]uint64
				for h := range nc * group {
					for _, values := range []bool{false, true} {
						p := CacheProd{Cache: h / group, M: add, Values: values}
						n := p.M * K
						if values {
							n = p.M * T
						}
						s := small(n)
						prods, xs[0], xs[1] = append(prods, p), append(xs[0], s[0]), append(xs[1], s[1])
					}
				}
				seed := [32]byte{byte(step), byte(K)}
				var mats [2][2]*Material // [dealer copy][party]
				for d := range 2 {
					k0, k1, t0, t1, err := GenCacheMatMul(NewPRG(seed), dc[d], add, prods, fx.Frac, bits)
					if err != nil {
						t.Fatal(err)
					}
					mats[d] = [2]*Material{NewMaterial(k0, t0), NewMaterial(k1, t1)}
				}
				got := runOuts(t, fx, mats[0], func(p *Party) ([][]uint64, error) {
					return p.CacheMatMul(pc[p.ID], newRows[p.ID], xs[p.ID], prods, bits)
				})
				want := runOuts(t, fx, mats[1], func(p *Party) ([][]uint64, error) {
					return refCacheMatMul(p, rc[p.ID], newRows[p.ID], xs[p.ID], prods, bits)
				})
				sameOuts(t, got, want, fmt.Sprintf("step %d (products %+v)", step, prods))
				for p := range 2 {
					for i, c := range pc[p] {
						ref := rc[p][i]
						for row := range c.Rows {
							fb := c.FB[row*2*K : (row+1)*2*K]
							if !slices.Equal(fb[:K], ref.F[row*K:(row+1)*K]) || !slices.Equal(fb[K:], ref.B[row*K:(row+1)*K]) {
								t.Fatalf("step %d party %d cache %d row %d differs from the reference", step, p, i, row)
							}
						}
					}
				}
			}
		})
	}
}
