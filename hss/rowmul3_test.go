package hss

import (
	"math/rand/v2"
	"testing"
)

// TestRowMul3 checks z_ij = x_ij·y_i·w_i mod 2^bits on random ring elements, ragged rows (an empty
// one included), in one round with (L+2)·bits bits per party and row.
func TestRowMul3(t *testing.T) {
	for _, bits := range []uint{64, 52, 40} {
		lens := []int{3, 0, 5, 1, 17}
		pr := rand.New(rand.NewPCG(uint64(bits), 3))
		n, _ := sumLens("test", lens)
		x, y, w := make([]uint64, n), make([]uint64, len(lens)), make([]uint64, len(lens))
		for i := range x {
			x[i] = pr.Uint64()
		}
		for r := range y {
			y[r], w[r] = pr.Uint64(), pr.Uint64()
		}
		k0, k1, err := GenRowMul3(newNLRNG(byte(bits)), lens, bits)
		if err != nil {
			t.Fatal(err)
		}
		got, s0, s1 := runRows(t, Fixed{Frac: 12}, [][]uint64{x, y, w}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
			return p.RowMul3(in[0], in[1], in[2], lens, bits)
		})
		i := 0
		for r, l := range lens {
			for range l {
				if want := x[i] * y[r] * w[r] & Mask(bits); got[i]&Mask(bits) != want {
					t.Fatalf("width %d element %d: got %x want %x", bits, i, got[i]&Mask(bits), want)
				}
				i++
			}
		}
		if s0.Rounds != 1 || s1.Rounds != 1 || s0.BytesSent != int64(PackedLen(n+2*len(lens), bits)) {
			t.Fatalf("width %d: rounds %d/%d, %d bytes sent", bits, s0.Rounds, s1.Rounds, s0.BytesSent)
		}
	}
	if _, _, err := GenRowMul3(newNLRNG(1), []int{-1}, 64); err == nil {
		t.Error("negative row length: no error")
	}
	k0, k1, _ := GenRowMul3(newNLRNG(2), []int{2}, 64)
	if _, _, err := RunPair(Fixed{Frac: 12}, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
		_, err := p.RowMul3(make([]uint64, 2), make([]uint64, 1), make([]uint64, 1), []int{2}, 48)
		return err
	}); err == nil {
		t.Error("width mismatch: no error")
	}
}
