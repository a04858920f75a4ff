package hss

import (
	"math"
	"math/rand/v2"
	"testing"
)

// logUniform draws n values with log2 uniform in [lo, hi), plus the range edges.
func logUniform(r *rand.Rand, n int, lo, hi float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Exp2(lo + (hi-lo)*r.Float64())
	}
	edges := []float64{math.Exp2(lo), math.Exp2(hi) * (1 - 1.0/4096), 1, 2, 3, math.Exp2(lo) * 1.001}
	for i, e := range edges {
		if i < n {
			out[i] = e
		}
	}
	return out
}

func TestReciprocalRsqrt(t *testing.T) {
	fx := Fixed{Frac: 12}
	n := 600
	if testing.Short() {
		n = 200
	}
	cases := []struct {
		name   string
		gen    func(r *nlRNG, n int) (Key, Key, error)
		eval   func(p *Party, x []uint64) ([]uint64, error)
		ref    func(float64) float64
		lo, hi float64
	}{
		{"recip", func(r *nlRNG, n int) (Key, Key, error) { return GenReciprocal(r, n, fx) }, (*Party).Reciprocal,
			func(x float64) float64 { return 1 / x }, -6, 12},
		{"rsqrt", func(r *nlRNG, n int) (Key, Key, error) { return GenRsqrt(r, n, fx) }, (*Party).Rsqrt,
			func(x float64) float64 { return 1 / math.Sqrt(x) }, -8, 14},
	}
	out := Fixed{Frac: fx.Frac + RecipExtra}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pr := rand.New(rand.NewPCG(uint64(ci), 3))
			xs := fx.EncodeVec(logUniform(pr, n, c.lo, c.hi))
			got, s0, s1, dealer := runNL(t, fx, xs, c.gen, newNLRNG(byte(60+ci)), c.eval)
			var worst float64
			for i := range xs {
				x := fx.Decode(xs[i])
				want := c.ref(x)
				rel := math.Abs(out.Decode(got[i])-want) / want
				worst = math.Max(worst, rel)
				if rel > 1.0/512 {
					t.Fatalf("x=%v: got %v want %v (rel err %g)", x, out.Decode(got[i]), want, rel)
				}
			}
			if s0.Rounds != 4 || s1.Rounds != 4 {
				t.Fatalf("rounds %d/%d, want 4", s0.Rounds, s1.Rounds)
			}
			t.Logf("%s: max rel err %.3g (2^%.2f), online %.2f B/elem, dealer %.0f B/elem", c.name, worst, math.Log2(worst),
				float64(s0.BytesSent+s1.BytesSent)/float64(n), float64(dealer)/float64(n))
		})
	}
}
