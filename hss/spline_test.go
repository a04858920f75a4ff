package hss

import (
	"math"
	"testing"
)

// TestSpline checks the octave spline's rsqrt (evalSplineMul3, one value per row times 1) against
// 1/√X over the norms' range [2^-16, 2^15) and just below the low octaves' thresholds, for the
// norms' and NormRaw's specs at Frac 12 and 14,
// beside the octave lookup it replaces for one-row norms: its relative error stays below 2^-13.5
// (both measure about 2^-14.3 to 2^-15), it costs 2 rounds at the counted bytes, and it gives 0 below 2^lo and
// from 2^hi on.
func TestSpline(t *testing.T) {
	for _, c := range []struct {
		frac uint
		raw  bool
		dim  int
		tol  float64 // the relative bound, below 2^-13.5 where the input has the bits for it
	}{{14, false, 128, 0.71}, {14, true, 128, 0.71}, {12, false, 128, 0.71},
		{8, false, 8, 2.5}, {10, false, 16, 1}} { // few input bits in the lowest octaves: pm_j = e_j, no truncation (both lookups ~2^-12 at Frac 8)
		fx := Fixed{Frac: c.frac}
		raw := c.raw
		mode := normOut
		if raw {
			mode = normRaw
		}
		_, _, rs := normParams(fx, c.dim, mode)
		n := 2000
		xs := make([]uint64, n)
		Xs := make([]float64, n)
		for i := range xs {
			X := math.Exp2(-15.9 + 30.8*float64(i)/float64(n))
			xs[i] = uint64(math.Round(math.Ldexp(X, int(rs.inFrac))))
			Xs[i] = math.Ldexp(float64(xs[i]), -int(rs.inFrac))
		}
		lens := make([]int, n)
		ones := make([]uint64, n)
		for i := range lens {
			lens[i] = 1
			ones[i] = 1 << 14
		}
		// Values just below the thresholds of the lowest octaves (by 7/8 of the comparisons'
		// resolution), where a row may take the piece above: random sampling rarely lands there.
		sp, err := rs.spline()
		if err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			for _, th := range sp.ts[j][1:] {
				x := th - 7<<sp.k0/8
				xs = append(xs, x)
				Xs = append(Xs, math.Ldexp(float64(x), -int(rs.inFrac)))
				lens, ones = append(lens, 1), append(ones, 1<<14)
			}
		}
		n = len(xs)
		// Two values outside the range: below 2^lo and at 2^hi.
		xs = append(xs, 1<<(uint(rs.lo+int(rs.inFrac))-1), 1<<(uint(rs.hi)+rs.inFrac))
		lens, ones = append(lens, 1, 1), append(ones, 1<<14, 1<<14)
		k0, k1, err := genSplineMul3(newNLRNG(3), "rsqrt", lens, rs, 64)
		if err != nil {
			t.Fatal(err)
		}
		got, s0, s1 := runRows(t, fx, [][]uint64{xs, ones}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
			return p.evalSplineMul3("rsqrt", rs, in[0], in[1], lens)
		})
		pt, err := splineMul3Part("rsqrt", lens, rs, 64)
		if err != nil {
			t.Fatal(err)
		}
		if m := (Cost{Online: s0.BytesSent + s1.BytesSent, Rounds: s0.Rounds}).Add(KeyCost(k0, k1)); m != pt.c || s0.Rounds != 2 {
			t.Fatalf("frac %d raw %v dim %d: measured %+v, counted %+v", c.frac, raw, c.dim, m, pt.c)
		}
		if got[n] != 0 || got[n+1] != 0 {
			t.Fatalf("frac %d raw %v: out of range gave %d, %d", c.frac, raw, int64(got[n]), int64(got[n+1]))
		}
		got = got[:n]
		var worst, sum float64
		for i := range got {
			v := float64(int64(got[i])) * math.Ldexp(1, -int(rs.outFrac)-14)
			want := 1 / math.Sqrt(Xs[i])
			e := (v - want) / want
			sum += e
			worst = math.Max(worst, math.Abs(e))
		}
		if worst > math.Ldexp(1, -13)*c.tol {
			t.Errorf("frac %d raw %v: worst relative error %.3g", c.frac, raw, worst)
		}
		t.Logf("frac %d raw %v dim %d: spline worst rel %.3g (2^%.1f), mean %.3g", c.frac, raw, c.dim, worst, math.Log2(worst), sum/float64(n))
		// the octave lookup for comparison
		c0, c1, err := genOctMul3(newNLRNG(3), "rsqrt", lens, rs, 64, xTrunc{})
		if err != nil {
			t.Fatal(err)
		}
		got, _, _ = runRows(t, fx, [][]uint64{xs, ones}, c0, c1, func(p *Party, in [][]uint64) ([]uint64, error) {
			return p.evalOctMul3("rsqrt", rs, in[0], func() ([]uint64, error) { return in[1], nil }, lens, xTrunc{})
		})
		worst, sum = 0, 0
		for i := range got[:n] {
			v := float64(int64(got[i])) * math.Ldexp(1, -int(rs.outFrac)-14)
			want := 1 / math.Sqrt(Xs[i])
			e := (v - want) / want
			sum += e
			worst = math.Max(worst, math.Abs(e))
		}
		t.Logf("frac %d raw %v: octave lookup worst rel %.3g (2^%.1f), mean %.3g", c.frac, raw, worst, math.Log2(worst), sum/float64(n))
	}
}

// BenchmarkNormRsqrt compares the octave spline with the octave lookup on 256 rows of one element
// (material and both parties' evaluation): the spline's round costs CPU per row.
func BenchmarkNormRsqrt(b *testing.B) {
	fx := Fixed{Frac: 14}
	_, _, rs := normParams(fx, 288, normOut)
	n := 256
	xs := make([]uint64, n)
	for i := range xs {
		xs[i] = uint64(math.Round(math.Ldexp(math.Exp2(-10+20*float64(i)/float64(n)), int(rs.inFrac))))
	}
	lens := make([]int, n)
	ones := make([]uint64, n)
	for i := range lens {
		lens[i] = 1
		ones[i] = 1 << 14
	}
	for _, name := range []string{"spline", "octave"} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				var k0, k1 Key
				var err error
				if name == "spline" {
					k0, k1, err = genSplineMul3(newNLRNG(3), "rsqrt", lens, rs, 64)
				} else {
					k0, k1, err = genOctMul3(newNLRNG(3), "rsqrt", lens, rs, 64, xTrunc{})
				}
				if err != nil {
					b.Fatal(err)
				}
				_, _, err = RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
					sh := xs
					o := ones
					if p.ID == 1 {
						sh, o = make([]uint64, n), make([]uint64, n)
					}
					if name == "spline" {
						_, err := p.evalSplineMul3("rsqrt", rs, sh, o, lens)
						return err
					}
					_, err := p.evalOctMul3("rsqrt", rs, sh, func() ([]uint64, error) { return o, nil }, lens, xTrunc{})
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
