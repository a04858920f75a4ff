package hss

import (
	"testing"
)

// measureCost generates a gate's keys, runs it on random shares and returns the measured cost.
func measureCost(t *testing.T, fx Fixed, k0, k1 Key, f func(p *Party, x []uint64) ([]uint64, error), n int) Cost {
	t.Helper()
	rng := testRNG(77)
	x := make([]uint64, n)
	rng.Uint64s(x)
	for i := range x {
		x[i] = uint64(int64(x[i]) >> 56) // small values keep every gate in range
	}
	sh := shareFor(t, x, rng)
	_, s0, s1 := run(t, fx, k0, k1, func(p *Party) ([]uint64, error) { return f(p, sh[p.ID]) })
	if s0.Rounds != s1.Rounds {
		t.Fatalf("rounds differ: %d and %d", s0.Rounds, s1.Rounds)
	}
	c := Cost{Online: s0.BytesSent + s1.BytesSent, Rounds: s0.Rounds, Dealer: int64(k0.Size() + k1.Size()),
		Dealer0: int64(k0.Size()), Dealer1: int64(k1.Size())}
	if c != (Cost{Online: c.Online, Rounds: c.Rounds}).Add(KeyCost(k0, k1)) {
		t.Fatalf("KeyCost disagrees with the keys' sizes")
	}
	return c
}

func TestCostsExact(t *testing.T) {
	for _, frac := range []uint{12, 14} {
		fx := Fixed{Frac: frac}
		rng := testRNG(uint64(frac))
		check := func(name string, want Cost, err error, k0, k1 Key, gerr error, n int, f func(p *Party, x []uint64) ([]uint64, error)) {
			t.Helper()
			if err != nil || gerr != nil {
				t.Fatalf("%s: %v / %v", name, err, gerr)
			}
			if got := measureCost(t, fx, k0, k1, f, n); got != want {
				t.Errorf("frac %d: %s: measured %+v, counted %+v", frac, name, got, want)
			}
		}
		for _, bits := range []uint{0, 40, 37} {
			n := 37
			c, err := CostTrunc(n, frac, bits)
			k0, k1, gerr := GenTrunc(rng, n, frac, bits)
			check("trunc", c, err, k0, k1, gerr, n, func(p *Party, x []uint64) ([]uint64, error) { return p.Trunc(x, frac, bits) })

			c, err = CostMulFixed(n, frac, bits)
			f0, f1, gerr := GenMulFixed(rng, n, frac, bits)
			check("mulfx", c, err, f0, f1, gerr, n, func(p *Party, x []uint64) ([]uint64, error) { return p.MulFixed(x, x, bits) })

			shapes := []MatShape{{3, 5, 7}, {3, 5, 7}, {1, 4, 2}}
			c, err = CostMatMulBatch(shapes, frac, bits)
			b0, b1, gerr := GenMatMulBatch(rng, shapes, frac, bits)
			check("matmulbatch", c, err, b0, b1, gerr, 1, func(p *Party, _ []uint64) ([]uint64, error) {
				xs, ys := make([][]uint64, len(shapes)), make([][]uint64, len(shapes))
				for i, s := range shapes {
					xs[i], ys[i] = make([]uint64, s.M*s.K), make([]uint64, s.K*s.N)
				}
				z, err := p.MatMulBatch(xs, ys, shapes, bits)
				if err != nil {
					return nil, err
				}
				return z[0], nil
			})
		}
		{
			n := 13
			c, err := CostExp(n, fx)
			k0, k1, gerr := GenExp(rng, n, fx)
			check("exp", c, err, k0, k1, gerr, n, (*Party).Exp)
			c, err = CostMax(3, 5, 21)
			k0, k1, gerr = GenMax(rng, 3, 5, 21)
			check("max", c, err, k0, k1, gerr, 15, func(p *Party, x []uint64) ([]uint64, error) { return p.Max(x, 3, 5, 21) })
			c, err = CostLinear(3, 5, frac, 40)
			t0, t1, gerr := GenLinear(rng, 3, 5, frac, 40)
			check("linear", c, err, t0, t1, gerr, 15, func(p *Party, x []uint64) ([]uint64, error) {
				return p.Linear(x, 3, 5, make([]uint64, 25), 5, nil, 40)
			})
		}
		// CacheMatMul's two keys (its product and its truncation) against a cache of 3 rows and 4
		// columns growing by 2, with a score and a value product.
		for _, bits := range []uint{0, 48} {
			const K, T, add = 4, 3, 2
			prods := []CacheProd{{Cache: 0, M: 2}, {Cache: 0, M: 3, Values: true}}
			c, err := CostCacheMatMul([]int{K}, []int{T}, add, prods, frac, bits)
			if err != nil {
				t.Fatal(err)
			}
			dc := []*DealerCache{{K: K, Rows: T, B: make([]uint64, T*K)}}
			k0, k1, t0, t1, err := GenCacheMatMul(rng, dc, add, prods, frac, bits)
			if err != nil {
				t.Fatal(err)
			}
			s0, s1, err := RunPair(fx, NewMaterial(k0, t0), NewMaterial(k1, t1), func(p *Party) error {
				caches := []*MaskedCache{{K: K, Rows: T, FB: make([]uint64, 2*T*K)}}
				xs := [][]uint64{make([]uint64, 2*K), make([]uint64, 3*(T+add))}
				_, err := p.CacheMatMul(caches, [][]uint64{make([]uint64, add*K)}, xs, prods, bits)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			got := (Cost{Online: s0.BytesSent + s1.BytesSent, Rounds: s0.Rounds}).Add(KeyCost(k0, k1)).Add(KeyCost(t0, t1))
			if got != c {
				t.Errorf("frac %d: cachemm: measured %+v, counted %+v", frac, got, c)
			}
		}
		for _, gelu := range []bool{false, true} {
			n := 11
			c, err := CostAct(n, fx, gelu)
			var k0, k1 Key
			var gerr error
			if gelu {
				k0, k1, gerr = GenGeLU(rng, n, fx)
			} else {
				k0, k1, gerr = GenSiLU(rng, n, fx)
			}
			check("act", c, err, k0, k1, gerr, n, func(p *Party, x []uint64) ([]uint64, error) {
				if gelu {
					return p.GeLU(x)
				}
				return p.SiLU(x)
			})
		}
		for _, center := range []bool{false, true} {
			rows, dim := 3, 24
			c, err := CostNorm(rows, dim, fx, center)
			var k0, k1 Key
			var gerr error
			if center {
				k0, k1, gerr = GenLayerNorm(rng, rows, dim, fx)
			} else {
				k0, k1, gerr = GenRMSNorm(rng, rows, dim, fx)
			}
			gain := make([]uint64, dim)
			for i := range gain {
				gain[i] = fx.Encode(1)
			}
			check("norm", c, err, k0, k1, gerr, rows*dim, func(p *Party, x []uint64) ([]uint64, error) {
				if center {
					return p.LayerNorm(x, rows, dim, gain, gain, 1e-5)
				}
				return p.RMSNorm(x, rows, dim, gain, 1e-5)
			})
		}
		for _, sh := range []struct{ heads, rows, cols, pos0 int }{{1, 5, 5, 0}, {3, 4, 9, 5}, {2, 1, 17, 16}, {2, 6, 3, 0}} {
			c, err := CostSoftmaxHeads(sh.heads, sh.rows, sh.cols, sh.pos0, fx)
			k0, k1, gerr := GenSoftmaxHeads(rng, sh.heads, sh.rows, sh.cols, sh.pos0, fx)
			check("softmax", c, err, k0, k1, gerr, sh.heads*sh.rows*sh.cols, func(p *Party, x []uint64) ([]uint64, error) {
				return p.SoftmaxHeads(x, sh.heads, sh.rows, sh.cols, sh.pos0)
			})
		}
	}
}

func TestCausalSum(t *testing.T) {
	for rows := range 7 {
		for cols := 1; cols < 9; cols++ {
			for pos0 := range 10 {
				want := 0
				for _, l := range causalLens(rows, cols, pos0) {
					want += l
				}
				if got := causalSum(rows, cols, pos0); got != want {
					t.Fatalf("causalSum(%d, %d, %d) = %d, want %d", rows, cols, pos0, got, want)
				}
			}
		}
	}
}
