package hss

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSiLUMul checks SiLU(g)·u against the float64 reference on gate inputs over SiLU's range
// (and its ends) and up projections up to ±40, in 2 rounds at the cost CostSiLUMulStages counts,
// and that it equals SiLU then Mul within SiLU's error times |u|.
func TestSiLUMul(t *testing.T) {
	for _, frac := range []uint{12, 14} {
		fx := Fixed{Frac: frac}
		const n = 3000
		gf, uf := swigluInputs(n, uint64(frac), 11)
		uf[0], uf[1] = -40, 40
		g, u := fx.EncodeVec(gf), fx.EncodeVec(uf)
		gf, uf = fx.DecodeVec(g), fx.DecodeVec(u)
		k0, k1, err := GenSiLUMul(newNLRNG(byte(frac)), n, fx)
		if err != nil {
			t.Fatal(err)
		}
		st, err := CostSiLUMulStages(n, fx)
		if err != nil {
			t.Fatal(err)
		}
		want := SumStages(st)
		if got := KeyCost(k0, k1); got.Dealer != want.Dealer || got.Dealer0 != want.Dealer0 {
			t.Fatalf("frac %d: keys %+v, counted %+v", frac, got, want)
		}
		got, s0, s1 := runRows(t, fx, [][]uint64{g, u}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
			return p.SiLUMul(in[0], in[1])
		})
		if s0.Rounds != 2 || s0.Rounds != want.Rounds || s0.BytesSent+s1.BytesSent != want.Online {
			t.Fatalf("frac %d: %d rounds, %d bytes; counted %+v", frac, s0.Rounds, s0.BytesSent+s1.BytesSent, want)
		}
		var worst float64
		sc := math.Ldexp(1, -2*int(frac))
		for i := range got {
			ref := silu(gf[i]) * uf[i]
			// SiLU's measured bound (2^-10 at Frac 12) times |u|, plus the product's last unit.
			e := math.Abs(float64(int64(got[i]))*sc - ref)
			worst = math.Max(worst, e/math.Max(math.Abs(uf[i]), 1))
			if e > math.Ldexp(1, -9)*math.Max(math.Abs(uf[i]), 1) {
				t.Fatalf("frac %d element %d: silu(%g)·%g = %g, want %g", frac, i, gf[i], uf[i], float64(int64(got[i]))*sc, ref)
			}
		}
		t.Logf("frac %d: max error / max(|u|, 1) %.3g (2^%.2f)", frac, worst, math.Log2(worst))
	}
}

// TestTruncMulKeyCodec round-trips both parties' keys and refuses truncated input and bad headers.
func TestTruncMulKeyCodec(t *testing.T) {
	k0, k1, err := genTruncMul(newNLRNG(3), 37, 40, 57)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*TruncMulKey{k0, k1} {
		b, err := k.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != k.Size() {
			t.Fatalf("party %d: %d bytes, Size %d", k.Party, len(b), k.Size())
		}
		var d TruncMulKey
		if err := d.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		b2, _ := d.MarshalBinary()
		if string(b2) != string(b) {
			t.Fatalf("party %d: round trip differs", k.Party)
		}
		for cut := range len(b) {
			if err := new(TruncMulKey).UnmarshalBinary(b[:cut]); err == nil {
				t.Fatalf("party %d: %d of %d bytes accepted", k.Party, cut, len(b))
			}
		}
		bad := append([]byte(nil), b...)
		bad[2] = 65 // width
		if err := new(TruncMulKey).UnmarshalBinary(bad); err == nil {
			t.Fatal("width 65 accepted")
		}
	}
}

// swigluInputs draws n gate inputs over SiLU's and GeLU's range (a third of them N(0, 3²), the first
// two at its ends) and n up projections in [−40, 40).
func swigluInputs(n int, seed, stream uint64) (gf, uf []float64) {
	pr := rand.New(rand.NewPCG(seed, stream))
	gf, uf = make([]float64, n), make([]float64, n)
	for i := range gf {
		gf[i] = (pr.Float64()*2 - 1) * 63.4
		if i%3 == 0 {
			gf[i] = pr.NormFloat64() * 3
		}
		uf[i] = (pr.Float64()*2 - 1) * 40
	}
	gf[0], gf[1] = 63.49, -63.49
	return gf, uf
}
