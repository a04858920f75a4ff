package hss

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCacheMatMulTrunc grows two caches (a 3-row prefill, then single rows) from untruncated rows
// and operands (with frac extra fractional bits, as the attention's projections arrive) and checks
// the scores against float64 products of the truncated values (within the truncations' units), the
// extra values' truncation, one round per step raw and two truncated, and that a step's traffic does
// not grow with the cache.
func TestCacheMatMulTrunc(t *testing.T) {
	fx := Fixed{Frac: 14}
	bits := ScoreBits(fx)
	const K = 8
	for _, frac := range []uint{fx.Frac, 2 * fx.Frac} {
		for _, raw := range []bool{true, false} {
			r := rand.New(rand.NewPCG(uint64(frac), 4))
			rng := testRNG(uint64(frac))
			dc, pc := twoCaches(K)
			// enc encodes v with Frac+frac fractional bits (untruncated).
			enc := func(v []float64) []uint64 {
				out := make([]uint64, len(v))
				for i, x := range v {
					out[i] = uint64(int64(math.Round(math.Ldexp(x, int(fx.Frac+frac)))))
				}
				return out
			}
			dec := func(v []uint64) []float64 {
				out := make([]float64, len(v))
				for i, x := range v {
					out[i] = math.Ldexp(float64(int64(x)), -int(fx.Frac+frac))
				}
				return out
			}
			var plain [2][]float64
			var sent []int64
			for step, add := range []int{3, 1, 1} {
				T := len(plain[0])/K + add
				newRows := drawCacheRows(t, r, rng, &plain, add*K, enc, dec)
				prods := []CacheProd{{Cache: 0, M: add}, {Cache: 1, M: add}, {Cache: 1, M: add}}
				var xf [][]float64
				var xs [2][][]uint64
				for range prods {
					x := make([]float64, add*K)
					for i := range x {
						x[i] = r.Float64()*2 - 1
					}
					xf = append(xf, x)
					sh := shareFor(t, enc(x), rng)
					xs[0], xs[1] = append(xs[0], sh[0]), append(xs[1], sh[1])
				}
				vf := make([]float64, 5)
				for i := range vf {
					vf[i] = r.NormFloat64() * 100
				}
				vs := shareFor(t, enc(vf), rng)
				k0, k1, err := GenCacheMatMulTrunc(rng, dc, add, prods, len(vf), frac, bits, fx, raw)
				if err != nil {
					t.Fatal(err)
				}
				var outs [2][][]uint64
				var vo [2][]uint64
				s0, s1, err := RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
					o, v, err := p.CacheMatMulTrunc(pc[p.ID], newRows[p.ID], xs[p.ID], vs[p.ID], prods, frac, bits, raw)
					outs[p.ID], vo[p.ID] = o, v
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				wantR := int64(2)
				if raw {
					wantR = 1
				}
				if s0.Rounds != wantR {
					t.Fatalf("frac %d raw %v step %d: %d rounds, want %d", frac, raw, step, s0.Rounds, wantR)
				}
				c, err := CostCacheMatMulTruncStages([]int{K, K}, []int{T - add, T - add}, add, prods, len(vf), frac, bits, fx, raw)
				if err != nil || SumStages(c).Online != s0.BytesSent+s1.BytesSent || SumStages(c).Dealer != int64(k0.Size()+k1.Size()) {
					t.Fatalf("cost %+v (%v), measured %d bytes online, %d dealer", SumStages(c), err, s0.BytesSent+s1.BytesSent, k0.Size()+k1.Size())
				}
				sent = append(sent, s0.BytesSent)
				for i, v := range vf {
					if d := math.Abs(fx.Decode(vo[0][i]+vo[1][i]) - v); d > 1.5/fx.Scale() {
						t.Fatalf("v[%d]: %v want %v", i, fx.Decode(vo[0][i]+vo[1][i]), v)
					}
				}
				// Scores: the truncated operands' products, each truncation within a unit (K terms of
				// |x|, |y| ≤ 2), then raw (2·Frac bits, mod 2^bits) or truncated.
				tol := float64(K) * 4 / fx.Scale()
				for j, p := range prods {
					got := Reconstruct(outs[0][j], outs[1][j])
					y := plain[p.Cache]
					for a := range p.M {
						for b := range T {
							var want float64
							for c := range K {
								want += xf[j][a*K+c] * y[b*K+c]
							}
							g := got[a*T+b]
							var gv float64
							if raw {
								gv = math.Ldexp(float64(int64(g<<(64-bits))>>(64-bits)), -int(2*fx.Frac))
							} else {
								gv = math.Ldexp(float64(int64(g<<(64-bits))>>(64-bits)), -int(fx.Frac))
							}
							if d := math.Abs(gv - want); d > tol {
								t.Fatalf("frac %d raw %v step %d product %d scores[%d,%d]: %v want %v", frac, raw, step, j, a, b, gv, want)
							}
						}
					}
				}
			}
			if d := sent[2] - sent[1]; d < 0 || d > 3*8 { // one more score per product, truncated
				t.Fatalf("frac %d: per-step bytes %v grow with the cache", frac, sent)
			}
		}
	}
	// Wrong shapes are refused with an error.
	if _, _, err := GenCacheMatMulTrunc(testRNG(1), []*DealerCache{{K: K}}, 1, []CacheProd{{Cache: 0, M: 1, Values: true}}, 0, 14, 36, fx, true); err == nil {
		t.Fatal("values product: no error")
	}
	if _, _, err := GenCacheMatMulTrunc(testRNG(1), []*DealerCache{{K: K}}, 1, []CacheProd{{Cache: 0, M: 1}}, 0, 30, 36, fx, true); err == nil {
		t.Fatal("frac 30 with products at 36 bits: no error")
	}
}

// TestCacheWidthMixing: a key cache grown by CacheMatMulTrunc holds rows correct mod 2^ScoreBits
// only, so a wider CacheMatMul product against it is refused (by the dealer and by the parties).
func TestCacheWidthMixing(t *testing.T) {
	fx := Fixed{Frac: 14}
	bits := ScoreBits(fx)
	rng := testRNG(5)
	dc := []*DealerCache{{K: 4}}
	prods := []CacheProd{{Cache: 0, M: 1}}
	k0, k1, err := GenCacheMatMulTrunc(rng, dc, 1, prods, 0, fx.Frac, bits, fx, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := GenCacheMatMul(rng, dc, 1, prods, fx.Frac, 48); err == nil {
		t.Fatal("dealer: a 48-bit product against a 36-bit cache: no error")
	}
	pc := [2][]*MaskedCache{{{K: 4}}, {{K: 4}}}
	_, _, err = RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
		_, _, err := p.CacheMatMulTrunc(pc[p.ID], [][]uint64{make([]uint64, 4)}, [][]uint64{make([]uint64, 4)}, nil, prods, fx.Frac, bits, true)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b := Pipe()
	for id, tr := range []Transport{a, b} {
		p := &Party{ID: id, T: tr, Fx: fx, Keys: NewMaterial()}
		if _, err := p.CacheMatMul(pc[id], [][]uint64{make([]uint64, 4)}, [][]uint64{make([]uint64, 4)}, prods, 48); err == nil {
			t.Fatalf("party %d: a 48-bit product against a 36-bit cache: no error", id)
		}
	}
}
