package hss

import (
	"math"
	"testing"
)

// TestTruncActGates checks GeLURaw and SiLUMulRaw on untruncated inputs (2·Frac fractional bits)
// against the float64 references, in 2 rounds at the cost their Cost*Stages count, with the error
// bounds of GeLU and SiLU·u plus the truncation's unit.
func TestTruncActGates(t *testing.T) {
	const width = 48
	for _, frac := range []uint{12, 14} {
		fx := Fixed{Frac: frac}
		const n = 2000
		gf, uf := swigluInputs(n, uint64(frac), 13)
		raw := func(v []float64) []uint64 { // 2·Frac fractional bits, with sub-unit detail
			out := make([]uint64, len(v))
			for i, x := range v {
				out[i] = uint64(int64(math.Round(math.Ldexp(x, 2*int(frac)))))
			}
			return out
		}
		g, u := raw(gf), raw(uf)
		sc := math.Ldexp(1, -int(frac))
		for _, gate := range []string{"gelu", "silumul"} {
			var k0, k1 Key
			var st []Stage
			var err error
			if gate == "gelu" {
				k0, k1, err = GenGeLURaw(newNLRNG(byte(frac)), n, fx, width)
				if err == nil {
					st, err = CostGeLURawStages(n, fx, width)
				}
			} else {
				k0, k1, err = GenSiLUMulRaw(newNLRNG(byte(frac)), n, fx, width)
				if err == nil {
					st, err = CostSiLUMulRawStages(n, fx, width)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			want := SumStages(st)
			if got := KeyCost(k0, k1); got.Dealer != want.Dealer || got.Dealer0 != want.Dealer0 {
				t.Fatalf("%s frac %d: keys %+v, counted %+v", gate, frac, got, want)
			}
			got, s0, s1 := runRows(t, fx, [][]uint64{g, u}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
				if gate == "gelu" {
					return p.GeLURaw(in[0], width)
				}
				return p.SiLUMulRaw(in[0], in[1], width)
			})
			if s0.Rounds != 2 || s0.Rounds != want.Rounds || s0.BytesSent+s1.BytesSent != want.Online {
				t.Fatalf("%s frac %d: %d rounds, %d bytes; counted %+v", gate, frac, s0.Rounds, s0.BytesSent+s1.BytesSent, want)
			}
			var worst float64
			for i := range got {
				var ref, v, bound float64
				if gate == "gelu" {
					ref, v = geluTanh(gf[i]), float64(int64(got[i]))*sc
					bound = math.Ldexp(1, -9) + 1.2*sc // GeLU's bound, plus the input's truncation (slope ≤ 1.13)
				} else {
					ref, v = silu(gf[i])*uf[i], float64(int64(got[i]))*sc*sc
					bound = (math.Ldexp(1, -9)+1.1*sc)*math.Max(math.Abs(uf[i]), 1) + 64*sc
				}
				e := math.Abs(v - ref)
				worst = math.Max(worst, e/bound)
				if e > bound {
					t.Fatalf("%s frac %d element %d (g %g, u %g): got %g want %g", gate, frac, i, gf[i], uf[i], v, ref)
				}
			}
			t.Logf("%s frac %d: worst error / bound %.3f", gate, frac, worst)
		}
	}
}
