package hss

import (
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestCacheMatMul grows two caches over three steps (a 3-row prefill, then single rows) and checks
// scores X·Yᵀ and values X·Y against float64, two rounds per step, and that a step's traffic does
// not grow with the cache.
func TestCacheMatMul(t *testing.T) {
	fx := Fixed{Frac: 14}
	const K, bits = 4, 48
	r := rand.New(rand.NewPCG(3, 4))
	rng := testRNG(9)
	dc, pc := twoCaches(K)
	var plain [2][]float64 // the caches in the clear
	var sent []int64
	for step, add := range []int{3, 1, 1} {
		T := len(plain[0])/K + add
		newRows := drawCacheRows(t, r, rng, &plain, add*K, fx.EncodeVec, fx.DecodeVec)
		prods := []CacheProd{{Cache: 0, M: add}, {Cache: 1, M: add}, {Cache: 0, M: add, Values: true}}
		var xf [][]float64
		var xs [2][][]uint64
		for _, p := range prods {
			n := p.M * K
			if p.Values {
				n = p.M * T
			}
			x := make([]float64, n)
			for i := range x {
				x[i] = r.Float64()*2 - 1
			}
			x = fx.DecodeVec(fx.EncodeVec(x))
			xf = append(xf, x)
			sh := shareFor(t, fx.EncodeVec(x), rng)
			xs[0], xs[1] = append(xs[0], sh[0]), append(xs[1], sh[1])
		}
		k0, k1, t0, t1, err := GenCacheMatMul(rng, dc, add, prods, fx.Frac, bits)
		if err != nil {
			t.Fatal(err)
		}
		var outs [2][][]uint64
		s0, _, err := RunPair(fx, NewMaterial(k0, t0), NewMaterial(k1, t1), func(p *Party) error {
			o, err := p.CacheMatMul(pc[p.ID], newRows[p.ID], xs[p.ID], prods, bits)
			outs[p.ID] = o
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if s0.Rounds != 2 {
			t.Fatalf("step %d: %d rounds", step, s0.Rounds)
		}
		sent = append(sent, s0.BytesSent)
		for j, p := range prods {
			got := fx.DecodeVec(Reconstruct(outs[0][j], outs[1][j]))
			y := plain[p.Cache]
			for a := range p.M {
				if !p.Values {
					for b := range T {
						var want float64
						for c := range K {
							want += xf[j][a*K+c] * y[b*K+c]
						}
						if d := math.Abs(got[a*T+b] - want); d > 2*math.Ldexp(1, -14) {
							t.Fatalf("step %d product %d scores[%d,%d]: %v want %v", step, j, a, b, got[a*T+b], want)
						}
					}
				} else {
					for c := range K {
						var want float64
						for b := range T {
							want += xf[j][a*T+b] * y[b*K+c]
						}
						if d := math.Abs(got[a*K+c] - want); d > 2*math.Ldexp(1, -14) {
							t.Fatalf("step %d values[%d,%d]: %v want %v", step, a, c, got[a*K+c], want)
						}
					}
				}
			}
		}
	}
	// Steps 2 and 3 add one row each: the third's traffic exceeds the second's only by what grows
	// with one more position — the value product's operand and the two score rows' outputs (one
	// element each, 6 bytes at 48 bits) — not by the cache's K columns per row.
	if d := sent[2] - sent[1]; d != 3*bits/8 {
		t.Fatalf("per-step bytes %v grow with the cache", sent)
	}
	// Material for another shape is refused.
	k0, k1, t0, t1, _ := GenCacheMatMul(rng, []*DealerCache{{K: K}}, 1, []CacheProd{{Cache: 0, M: 1}}, fx.Frac, bits)
	_, _, err := RunPair(fx, NewMaterial(k0, t0), NewMaterial(k1, t1), func(p *Party) error {
		_, err := p.CacheMatMul([]*MaskedCache{{K: K}}, [][]uint64{make([]uint64, 2*K)}, [][]uint64{make([]uint64, 2*K)},
			[]CacheProd{{Cache: 0, M: 2}}, bits)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "cachemm") {
		t.Fatalf("mismatched material: %v", err)
	}
}

// twoCaches returns the dealer's and both parties' states of two empty caches of width k.
func twoCaches(k int) ([]*DealerCache, [2][]*MaskedCache) {
	var pc [2][]*MaskedCache
	for i := range pc {
		pc[i] = []*MaskedCache{{K: k}, {K: k}}
	}
	return []*DealerCache{{K: k}, {K: k}}, pc
}

// drawCacheRows draws n new values in [−2, 2) for each of two caches, appends them as the parties
// will hold them (dec(enc(rows))) to plain, and returns both parties' shares of enc(rows) per cache.
func drawCacheRows(t *testing.T, r *rand.Rand, rng io.Reader, plain *[2][]float64, n int, enc func([]float64) []uint64, dec func([]uint64) []float64) [2][][]uint64 {
	t.Helper()
	var newRows [2][][]uint64
	for c := range 2 {
		rows := make([]float64, n)
		for i := range rows {
			rows[i] = r.Float64()*4 - 2
		}
		plain[c] = append(plain[c], dec(enc(rows))...)
		sh := shareFor(t, enc(rows), rng)
		newRows[0], newRows[1] = append(newRows[0], sh[0]), append(newRows[1], sh[1])
	}
	return newRows
}
