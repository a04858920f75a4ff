package hss

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestNormScale runs NormScale then ScaleRows on a linear layer of its d (3·Frac fractional bits, as
// after RoPE) against a float64 reference r·(W·d) = W·ŷ/√ρ, over rows whose σ spans 2^-5…2^6, with
// and without a pending residual, for one row (the spline) and several (the octave lookup), at Frac
// 14, 12 and 8; checks the rounds (squares, rsqrt, then one) and that the costs match the run.
func TestNormScale(t *testing.T) {
	const eps = 1e-5
	cases := []struct {
		frac         uint
		rows, dim, m int
		center       bool
		res          *ResTrunc
		in2          bool // inputs with 2·Frac fractional bits (a linear layer's), else 3·Frac (RoPE's)
	}{
		{14, 4, 96, 40, false, nil, false}, {14, 3, 256, 24, false, &ResTrunc{Frac: 37, Bits: 64}, true},
		{14, 1, 288, 30, false, &ResTrunc{Frac: 14, Bits: 48}, false}, {12, 1, 96, 20, false, nil, true},
		{12, 3, 96, 16, true, nil, false}, {8, 2, 64, 12, false, nil, false},
	}
	for ci, c := range cases {
		fx := Fixed{Frac: c.frac}
		pr := rand.New(rand.NewPCG(uint64(ci), 29))
		n := c.rows * c.dim
		xf, tf := make([]float64, n), make([]float64, n)
		sig := make([]float64, c.rows)
		for r := range c.rows {
			sig[r] = math.Exp2(-5 + 11*float64(r)/float64(max(c.rows-1, 1)))
			for j := range c.dim {
				xf[r*c.dim+j] = pr.NormFloat64() * sig[r]
				if c.res != nil {
					xf[r*c.dim+j], tf[r*c.dim+j] = xf[r*c.dim+j]/2, xf[r*c.dim+j]/2
				}
			}
		}
		wf := make([]float64, c.m*c.dim)
		for i := range wf {
			wf[i] = pr.NormFloat64() / math.Sqrt(float64(c.dim))
		}
		w := fx.EncodeVec(wf)
		wf = fx.DecodeVec(w) // the reference reads the encoded weights
		x := fx.EncodeVec(xf)
		tr := make([]uint64, n)
		if c.res != nil {
			for i, v := range tf {
				tr[i] = uint64(int64(math.Round(math.Ldexp(v, int(fx.Frac+c.res.Frac)))))
			}
		}
		lens := make([]int, c.rows)
		for i := range lens {
			lens[i] = c.m
		}
		inFrac, up := 3*fx.Frac, fx.Frac
		if c.in2 {
			inFrac, up = 2*fx.Frac, 0
		}
		rng := newNLRNG(byte(120 + ci))
		a0, a1, err := GenNormScale(rng, c.rows, c.dim, fx, c.center, c.res)
		if err != nil {
			t.Fatal(err)
		}
		b0, b1, err := GenScaleRows(rng, lens, c.dim, fx, inFrac)
		if err != nil {
			t.Fatal(err)
		}
		st, err := CostNormScaleStages(c.rows, c.dim, fx, c.center, c.res)
		if err != nil {
			t.Fatal(err)
		}
		sr, err := CostScaleRows(lens, c.dim, fx, inFrac)
		if err != nil {
			t.Fatal(err)
		}
		want := SumStages(st).Add(sr)
		if got := KeyCost(a0, a1).Add(KeyCost(b0, b1)); got.Dealer != want.Dealer || got.Dealer0 != want.Dealer0 {
			t.Fatalf("case %d: keys %+v, counted %+v", ci, got, want)
		}
		var sh [2][2][]uint64
		for i, v := range [][]uint64{x, tr} {
			seed, v1, err := Share(v, rng)
			if err != nil {
				t.Fatal(err)
			}
			sh[0][i], sh[1][i] = ExpandShare(seed, len(v)), v1
		}
		var outs, ds [2][]uint64
		s0, s1, err := RunPair(fx, NewMaterial(a0, b0), NewMaterial(a1, b1), func(p *Party) error {
			var tt []uint64
			if c.res != nil {
				tt = sh[p.ID][1]
			}
			_, d, s, err := p.NormScale(sh[p.ID][0], tt, c.res, c.rows, c.dim, eps, c.center)
			if err != nil {
				return err
			}
			ds[p.ID] = d
			y := make([]uint64, c.rows*c.m) // W·d (<< Frac: 3·Frac fractional bits)
			for r := range c.rows {
				for i := range c.m {
					var acc uint64
					for j := range c.dim {
						acc += w[i*c.dim+j] * d[r*c.dim+j]
					}
					y[r*c.m+i] = acc << up
				}
			}
			outs[p.ID], err = p.ScaleRows(s, y, lens, inFrac)
			return err
		})
		if err != nil {
			t.Fatalf("case %d: %v", ci, err)
		}
		checkNormRun(t, ci, c.rows, s0, s1, want)
		din := make([]float64, n) // the norm's d as the parties hold it
		for i := range din {
			din[i] = fx.Decode(ds[0][i] + ds[1][i])
		}
		ones := make([]float64, c.dim)
		for j := range ones {
			ones[j] = 1
		}
		yhat := normRef(din, ones, nil, c.rows, c.dim, eps, c.center)
		got := Fixed{Frac: ScaledFrac(fx)}.DecodeVec(Reconstruct(outs[0], outs[1]))
		g := NormRawGain(c.dim)
		var worst float64
		for r := range c.rows {
			rf := 1 / math.Sqrt(sig[r]*sig[r]+eps) / g // about r
			for i := range c.m {
				var ref, mag float64
				for j := range c.dim {
					ref += wf[i*c.dim+j] * yhat[r*c.dim+j]
					mag += math.Abs(wf[i*c.dim+j] * yhat[r*c.dim+j])
				}
				ref /= g
				bound := mag/512 + (rf+1)*math.Ldexp(1, -int(fx.Frac))
				e := math.Abs(got[r*c.m+i] - ref)
				worst = math.Max(worst, e/bound)
				if e > bound {
					t.Fatalf("case %d row %d (σ %g) out %d: got %v want %v, err %g > %g", ci, r, sig[r], i, got[r*c.m+i], ref, e, bound)
				}
			}
		}
		t.Logf("case %d (frac %d, %dx%d → %d, center %v, res %v): err/bound %.3f", ci, c.frac, c.rows, c.dim, c.m, c.center, c.res != nil, worst)
	}
}
