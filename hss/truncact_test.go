package hss

import (
	"math"
	"testing"
)

// TestTruncActGates checks GeLURaw and SiLUMulRaw on untruncated inputs against the float64
// references, in 2 rounds at the cost their Cost*Stages count, with the error bounds of GeLU and
// SiLU·u plus the truncation's unit: a linear layer's output (2·Frac fractional bits, truncated by
// Frac at width 48) and one of a norm's raw output (Frac + NormRawFrac bits, truncated by
// NormRawFrac at width 64).
func TestTruncActGates(t *testing.T) {
	// {12, 20, 48} keeps the products of two truncations' MSB terms (2·(48 − 20) < 64: prodWidths).
	for _, c := range []struct{ frac, shift, width uint }{{12, 12, 48}, {14, 14, 48}, {12, 20, 48}, {12, NormRawFrac(Fixed{Frac: 12}), 64}, {14, NormRawFrac(Fixed{Frac: 14}), 64}} {
		frac, width := c.frac, c.width
		fx := Fixed{Frac: frac}
		tf := c.shift // the truncation's shift: the input has Frac + tf fractional bits
		const n = 2000
		gf, uf := swigluInputs(n, uint64(frac)+uint64(tf), 13)
		raw := func(v []float64) []uint64 { // Frac + tf fractional bits, with sub-unit detail
			out := make([]uint64, len(v))
			for i, x := range v {
				out[i] = uint64(int64(math.Round(math.Ldexp(x, int(frac+tf)))))
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
				k0, k1, err = GenGeLURaw(newNLRNG(byte(frac)), n, fx, tf, width)
				if err == nil {
					st, err = CostGeLURawStages(n, fx, tf, width)
				}
			} else {
				k0, k1, err = GenSiLUMulRaw(newNLRNG(byte(frac)), n, fx, tf, width)
				if err == nil {
					st, err = CostSiLUMulRawStages(n, fx, tf, width)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			want := SumStages(st)
			if got := KeyCost(k0, k1); got.Dealer != want.Dealer || got.Dealer0 != want.Dealer0 {
				t.Fatalf("%s frac %d shift %d: keys %+v, counted %+v", gate, frac, tf, got, want)
			}
			got, s0, s1 := runRows(t, fx, [][]uint64{g, u}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
				if gate == "gelu" {
					return p.GeLURaw(in[0], tf, width)
				}
				return p.SiLUMulRaw(in[0], in[1], tf, width)
			})
			if s0.Rounds != 2 || s0.Rounds != want.Rounds || s0.BytesSent+s1.BytesSent != want.Online {
				t.Fatalf("%s frac %d shift %d: %d rounds, %d bytes; counted %+v", gate, frac, tf, s0.Rounds, s0.BytesSent+s1.BytesSent, want)
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
			t.Logf("%s frac %d shift %d: worst error / bound %.3f", gate, frac, tf, worst)
		}
	}
}

// TestTruncActKeyCodec checks the fused activations' keys (TruncActKey, TruncProdKey and the
// truncation) round-trip at their Size for lengths whose packed parts end inside a byte.
func TestTruncActKeyCodec(t *testing.T) {
	fx := Fixed{Frac: 14}
	for _, n := range []int{1, 3, 129} {
		for _, w := range []struct{ frac, bits uint }{{14, 48}, {NormRawFrac(fx), 64}} {
			g0, g1, err := GenGeLURaw(newNLRNG(byte(n)), n, fx, w.frac, w.bits)
			if err != nil {
				t.Fatal(err)
			}
			s0, s1, err := GenSiLUMulRaw(newNLRNG(byte(n)), n, fx, w.frac, w.bits)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []Key{g0, g1, s0, s1} {
				for _, p := range k.(*seqKey).parts {
					checkKeyCodec(t, p.(MarshalKey), false)
				}
			}
		}
	}
}
