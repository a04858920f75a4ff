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
		for ci, c := range []struct{ rows, dim int }{{8, 96}, {3, 768}} {
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
			wantR := int64(5) // the rsqrt reads the untruncated sum of squares; RowMul3 takes d·L·O
			if center {
				wantR = 6
			}
			if s0.Rounds != wantR || s1.Rounds != wantR {
				t.Fatalf("rounds %d/%d, want %d", s0.Rounds, s1.Rounds, wantR)
			}
			t.Logf("norm center=%v %dx%d: max abs err %.3g, err/bound %.2f, online %.1f B/elem, dealer %.0f B/elem",
				center, c.rows, c.dim, worst, worstRel, float64(s0.BytesSent+s1.BytesSent)/float64(len(x)), float64(k0.Size()+k1.Size())/float64(len(x)))
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
