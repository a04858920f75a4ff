package hss

import (
	"math"
	"math/rand/v2"
	"testing"
)

func normRef(x, gain, bias []float64, rows, dim int, eps float64, center bool) []float64 {
	out := make([]float64, len(x))
	for r := range rows {
		row := x[r*dim : (r+1)*dim]
		var mu float64
		if center {
			for _, v := range row {
				mu += v
			}
			mu /= float64(dim)
		}
		var v2 float64
		for _, v := range row {
			v2 += (v - mu) * (v - mu)
		}
		v2 /= float64(dim)
		for j, v := range row {
			y := gain[j] * (v - mu) / math.Sqrt(v2+eps)
			if bias != nil {
				y += bias[j]
			}
			out[r*dim+j] = y
		}
	}
	return out
}

func TestNorms(t *testing.T) {
	fx := Fixed{Frac: 12}
	const eps = 1e-5
	for _, center := range []bool{true, false} {
		for ci, c := range []struct{ rows, dim int }{{8, 96}, {3, 768}, {1, 768}} {
			pr := rand.New(rand.NewPCG(uint64(ci), 11))
			xf := make([]float64, c.rows*c.dim)
			sig := make([]float64, c.rows)
			for r := range c.rows {
				sig[r] = math.Exp2(-5 + 12*float64(r)/float64(c.rows)) // σ from 2^-5 to 2^7
				mu := pr.NormFloat64() * sig[r]
				for j := range c.dim {
					xf[r*c.dim+j] = mu + pr.NormFloat64()*sig[r]
				}
			}
			gf, bf := make([]float64, c.dim), make([]float64, c.dim)
			for j := range gf {
				gf[j] = 1 + 0.3*pr.NormFloat64()
				bf[j] = 0.1 * pr.NormFloat64()
			}
			x, g, b := fx.EncodeVec(xf), fx.EncodeVec(gf), fx.EncodeVec(bf)
			xf, gf, bf = fx.DecodeVec(x), fx.DecodeVec(g), fx.DecodeVec(b)
			var k0, k1 Key
			var err error
			if center {
				k0, k1, err = GenLayerNorm(newNLRNG(byte(ci)), c.rows, c.dim, fx)
			} else {
				k0, k1, err = GenRMSNorm(newNLRNG(byte(ci)), c.rows, c.dim, fx)
				bf = nil
			}
			if err != nil {
				t.Fatal(err)
			}
			got, s0, s1 := runRows(t, fx, [][]uint64{x}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
				if center {
					return p.LayerNorm(in[0], c.rows, c.dim, g, b, eps)
				}
				return p.RMSNorm(in[0], c.rows, c.dim, g, eps)
			})
			ref := normRef(xf, gf, bf, c.rows, c.dim, eps, center)
			var worst, worstRel float64
			for i := range ref {
				r, j := i/c.dim, i%c.dim
				yhat := ref[i]
				if bf != nil {
					yhat -= bf[j]
				}
				e := math.Abs(fx.Decode(got[i]) - ref[i])
				bound := math.Abs(yhat)/512 + 2/fx.Scale()
				if center {
					bound += math.Abs(gf[j]) / fx.Scale() / sig[r]
				}
				worst = math.Max(worst, e)
				worstRel = math.Max(worstRel, e/bound)
				if e > bound {
					t.Fatalf("center=%v %dx%d entry %d (σ %g): got %v want %v, err %g > %g", center, c.rows, c.dim, i, sig[r],
						fx.Decode(got[i]), ref[i], e, bound)
				}
			}
			// The rsqrt reads the untruncated sum of squares (a decode step's row: the octave spline,
			// one round; more rows: the octave lookup, two); RowMul3 takes d·L·O; LayerNorm's mean is
			// truncated in the squares' round (truncSquare).
			wantR := int64(4)
			if c.rows > normSplineRows {
				wantR = 5
			}
			if s0.Rounds != wantR || s1.Rounds != wantR {
				t.Fatalf("rounds %d/%d, want %d", s0.Rounds, s1.Rounds, wantR)
			}
			t.Logf("norm center=%v %dx%d: max abs err %.3g, err/bound %.2f, online %.1f B/elem, dealer %.0f B/elem",
				center, c.rows, c.dim, worst, worstRel, float64(s0.BytesSent+s1.BytesSent)/float64(len(x)), float64(k0.Size()+k1.Size())/float64(len(x)))
		}
	}
}

// TestRMSNormRes checks RMSNorm of a pending residual z = x + Trunc(t) against float64 (z within
// Trunc's unit, the norm within RMSNorm's bound of the float64 norm of the z it returns) for both
// truncations the executor defers: a linear layer's (by Frac at width 48) and a linear layer on an
// untruncated product (by 2·Frac at width 64), in 5 rounds (4 for one row: the octave spline).
func TestRMSNormRes(t *testing.T) {
	fx := Fixed{Frac: 14}
	const dim, eps = 256, 1e-5
	for ci, res := range []ResTrunc{{Frac: 14, Bits: 48}, {Frac: 28, Bits: 64}, {Frac: 14, Bits: 48}} {
		rows, wantR := 4, int64(5)
		if ci == 2 { // a decode step's row: the octave spline
			rows, wantR = 1, 4
		}
		pr := rand.New(rand.NewPCG(uint64(ci), 17))
		xf, tf := make([]float64, rows*dim), make([]float64, rows*dim)
		for i := range xf {
			s := math.Exp2(float64(-4 + 3*(i/dim)))
			xf[i], tf[i] = pr.NormFloat64()*s, pr.NormFloat64()*s
		}
		x := fx.EncodeVec(xf)
		tr := make([]uint64, len(tf)) // t with Frac+res.Frac fractional bits
		for i, v := range tf {
			tr[i] = uint64(int64(math.Round(math.Ldexp(v, int(fx.Frac+res.Frac)))))
		}
		gf := make([]float64, dim)
		for j := range gf {
			gf[j] = 1 + 0.3*pr.NormFloat64()
		}
		g := fx.EncodeVec(gf)
		gf = fx.DecodeVec(g)
		k0, k1, err := GenRMSNormRes(newNLRNG(byte(60+ci)), rows, dim, fx, res)
		if err != nil {
			t.Fatal(err)
		}
		var zs [2][]uint64
		got, s0, s1 := runRows(t, fx, [][]uint64{x, tr}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
			z, y, err := p.RMSNormRes(in[0], in[1], res, rows, dim, g, eps)
			zs[p.ID] = z
			return y, err
		})
		zf := make([]float64, len(x))
		for i := range zf {
			zf[i] = fx.Decode(zs[0][i] + zs[1][i])
			want := fx.Decode(x[i]) + math.Ldexp(float64(int64(tr[i])), -int(fx.Frac+res.Frac))
			if e := math.Abs(zf[i] - want); e > 1/fx.Scale() {
				t.Fatalf("res %v: residual %d got %v want %v", res, i, zf[i], want)
			}
		}
		ref := normRef(zf, gf, nil, rows, dim, eps, false)
		for i := range ref {
			bound := math.Abs(ref[i])/512 + 2/fx.Scale()
			if e := math.Abs(fx.Decode(got[i]) - ref[i]); e > bound {
				t.Fatalf("res %v: entry %d got %v want %v, err %g > %g", res, i, fx.Decode(got[i]), ref[i], e, bound)
			}
		}
		if s0.Rounds != wantR || s1.Rounds != wantR {
			t.Fatalf("res %v: rounds %d/%d, want %d", res, s0.Rounds, s1.Rounds, wantR)
		}
		if c, err := CostRMSNormResStages(rows, dim, fx, res); err != nil || SumStages(c).Online != s0.BytesSent+s1.BytesSent {
			t.Fatalf("res %v: cost %+v (%v), measured %d bytes", res, SumStages(c), err, s0.BytesSent+s1.BytesSent)
		}
	}
}

// TestNormRangeEdges runs both norms at the ends of their range, mean(x²)+eps (RMSNorm) or σ²+eps
// (LayerNorm) from just above 2^-16 to just below 2^14, at the widest dimension (2^16, where the
// untruncated sum of squares needs the most ring: sqBits = 2·Frac+34) and at small ones, and checks
// the stated error bound.
func TestNormRangeEdges(t *testing.T) {
	for ci, c := range []struct {
		frac uint
		dim  int
		vs   []float64
	}{
		{14, 1 << 16, []float64{0x1.1p-16, 1, 0x1.fp13}},
		{12, 4096, []float64{0x1.1p-15, 3, 0x1.fp13}},
		{14, 3, []float64{0x1.1p-16, 0x1.2p13}},
		{8, 768, []float64{0x1p-6, 0x1.fp13}},
	} {
		fx := Fixed{Frac: c.frac}
		rows := len(c.vs)
		pr := rand.New(rand.NewPCG(uint64(ci), 5))
		for _, center := range []bool{false, true} {
			xf := make([]float64, rows*c.dim)
			for r, v := range c.vs {
				row := xf[r*c.dim : (r+1)*c.dim]
				var ss float64
				for j := range row {
					row[j] = pr.NormFloat64()
					if c.dim < 8 {
						row[j] = float64(1 - 2*(j%2)) // ±1: mean square 1
					}
					ss += row[j] * row[j]
				}
				mu := 0.0
				if center {
					mu = 1000 * pr.NormFloat64()
				}
				for j := range row {
					row[j] = mu + row[j]*math.Sqrt(v*float64(c.dim)/ss)
				}
			}
			gf := make([]float64, c.dim)
			for j := range gf {
				gf[j] = 1 + 0.25*float64(j%3)
			}
			x, g := fx.EncodeVec(xf), fx.EncodeVec(gf)
			xf, gf = fx.DecodeVec(x), fx.DecodeVec(g)
			gen := GenRMSNorm
			if center {
				gen = GenLayerNorm
			}
			k0, k1, err := gen(newNLRNG(byte(40+ci)), rows, c.dim, fx)
			if err != nil {
				t.Fatal(err)
			}
			got, _, _ := runRows(t, fx, [][]uint64{x}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
				if center {
					return p.LayerNorm(in[0], rows, c.dim, g, nil, 0)
				}
				return p.RMSNorm(in[0], rows, c.dim, g, 0)
			})
			ref := normRef(xf, gf, nil, rows, c.dim, 0, center)
			worst := 0.0
			for i := range ref {
				bound := math.Abs(ref[i])/512 + 2/fx.Scale()
				if center {
					bound += math.Abs(gf[i%c.dim]) / fx.Scale() / math.Sqrt(c.vs[i/c.dim])
				}
				e := math.Abs(fx.Decode(got[i]) - ref[i])
				worst = math.Max(worst, e/bound)
				if e > bound {
					t.Fatalf("frac %d dim %d center %v row %d (variance %g): entry %d got %v want %v, err %g > %g",
						c.frac, c.dim, center, i/c.dim, c.vs[i/c.dim], i, fx.Decode(got[i]), ref[i], e, bound)
				}
			}
			t.Logf("frac %d dim %d center %v: err/bound %.2f", c.frac, c.dim, center, worst)
		}
	}
}

// TestNormRaw checks NormRaw (LayerNorm, RMSNorm, RMSNorm of a pending residual) against the
// float64 norm with unit gain: z·NormRawGain/2^NormRawFrac within the norms' relative bound 2^-9
// plus the mean's rounding (LayerNorm), in 4 rounds (3 for one row: the octave spline) at the cost
// CostNormRawStages counts.
func TestNormRaw(t *testing.T) {
	const eps = 1e-5
	cases := []struct {
		frac      uint
		rows, dim int
		center    bool
		res       *ResTrunc
	}{
		{12, 6, 96, true, nil}, {14, 3, 768, true, nil}, {14, 4, 96, false, nil},
		{12, 3, 768, false, nil}, {14, 4, 256, false, &ResTrunc{Frac: 14, Bits: 48}},
		{14, 3, 96, false, &ResTrunc{Frac: 28, Bits: 64}},
		{14, 1, 768, true, nil}, {12, 1, 96, false, &ResTrunc{Frac: 12, Bits: 48}}, // the octave spline
	}
	for ci, c := range cases {
		fx := Fixed{Frac: c.frac}
		pr := rand.New(rand.NewPCG(uint64(ci), 23))
		n := c.rows * c.dim
		xf, tf := make([]float64, n), make([]float64, n)
		sig := make([]float64, c.rows)
		for r := range c.rows {
			sig[r] = math.Exp2(-5 + 11*float64(r)/float64(c.rows))
			mu := pr.NormFloat64() * sig[r]
			for j := range c.dim {
				xf[r*c.dim+j] = mu + pr.NormFloat64()*sig[r]
				if c.res != nil {
					xf[r*c.dim+j], tf[r*c.dim+j] = xf[r*c.dim+j]/2, xf[r*c.dim+j]/2
				}
			}
		}
		x := fx.EncodeVec(xf)
		tr := make([]uint64, n) // the pending addend, Frac+res.Frac fractional bits
		if c.res != nil {
			for i, v := range tf {
				tr[i] = uint64(int64(math.Round(math.Ldexp(v, int(fx.Frac+c.res.Frac)))))
			}
		}
		k0, k1, err := GenNormRaw(newNLRNG(byte(90+ci)), c.rows, c.dim, fx, c.center, c.res)
		if err != nil {
			t.Fatal(err)
		}
		st, err := CostNormRawStages(c.rows, c.dim, fx, c.center, c.res)
		if err != nil {
			t.Fatal(err)
		}
		want := SumStages(st)
		if got := KeyCost(k0, k1); got.Dealer != want.Dealer || got.Dealer0 != want.Dealer0 {
			t.Fatalf("case %d: keys %+v, counted %+v", ci, got, want)
		}
		var ins [2][]uint64
		got, s0, s1 := runRows(t, fx, [][]uint64{x, tr}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
			var t []uint64
			if c.res != nil {
				t = in[1]
			}
			a, z, err := p.NormRaw(in[0], t, c.res, c.rows, c.dim, eps, c.center)
			ins[p.ID] = a
			return z, err
		})
		checkNormRun(t, ci, c.rows, s0, s1, want)
		zin := make([]float64, n) // the norm's input as the parties hold it
		for i := range zin {
			zin[i] = fx.Decode(ins[0][i] + ins[1][i])
			if c.res == nil && ins[0][i]+ins[1][i] != x[i] {
				t.Fatalf("case %d: input %d changed", ci, i)
			}
		}
		ones := make([]float64, c.dim)
		for j := range ones {
			ones[j] = 1
		}
		ref := normRef(zin, ones, nil, c.rows, c.dim, eps, c.center)
		sc := NormRawGain(c.dim) * math.Ldexp(1, -int(NormRawFrac(fx)))
		var worst float64
		for i := range ref {
			v := float64(int64(got[i])) * sc
			bound := math.Abs(ref[i])/512 + 1/fx.Scale()
			if c.center {
				bound += 1 / fx.Scale() / sig[i/c.dim]
			}
			e := math.Abs(v - ref[i])
			worst = math.Max(worst, e/bound)
			if e > bound {
				t.Fatalf("case %d entry %d (σ %g): got %v want %v, err %g > %g", ci, i, sig[i/c.dim], v, ref[i], e, bound)
			}
		}
		t.Logf("case %d (frac %d, %dx%d, center %v, res %v): err/bound %.3f", ci, c.frac, c.rows, c.dim, c.center, c.res != nil, worst)
	}
}

// checkNormRun checks a raw or scaled norm's run (either ending in its consumer's product) against
// its counted cost: 3 rounds with the spline, 4 with the octave lookup, and the counted bytes.
func checkNormRun(t *testing.T, ci, rows int, s0, s1 Stats, want Cost) {
	t.Helper()
	wantR := int64(4)
	if rows <= normSplineRows {
		wantR = 3
	}
	if s0.Rounds != wantR || s1.Rounds != wantR || s0.BytesSent+s1.BytesSent != want.Online || want.Rounds != wantR {
		t.Fatalf("case %d: %d/%d rounds, %d bytes; counted %+v", ci, s0.Rounds, s1.Rounds, s0.BytesSent+s1.BytesSent, want)
	}
}
