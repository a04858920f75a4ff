package hss

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestTruncRowMul3X checks z_ij = Trunc(s_ij, xfrac)·Trunc(t_i, frac)·w_i mod 2^bits against exact
// integer arithmetic (each truncation within one unit of the floor), with negative and positive
// operands near their ranges, ragged rows (an empty one included), in one round; the widths cover a
// dropped and a kept g·g_x block (CXM).
func TestTruncRowMul3X(t *testing.T) {
	for _, c := range []struct{ frac, tbits, bits, xfrac, xbits uint }{{20, 40, 64, 30, 64}, {12, 48, 64, 14, 40}, {20, 40, 60, 28, 50}} {
		lens := []int{3, 0, 5, 1, 17}
		pr := rand.New(rand.NewPCG(uint64(c.xfrac), uint64(c.bits)))
		n, _ := sumLens("test", lens)
		rows := len(lens)
		s, tt, w := make([]uint64, n), make([]uint64, rows), make([]uint64, rows)
		// x = s >> xfrac below 2^14, y = t >> frac below 2^12, w below 2^8: the product fits 35 bits.
		for i := range s {
			s[i] = uint64(pr.Int64N(1<<(c.xfrac+15)) - 1<<(c.xfrac+14))
		}
		for r := range tt {
			tt[r] = uint64(pr.Int64N(1<<(c.frac+13)) - 1<<(c.frac+12))
			w[r] = uint64(pr.Int64N(1<<9) - 1<<8)
		}
		k0, k1, err := genTruncRowMul3X(newNLRNG(byte(c.xfrac)), lens, c.frac, c.tbits, c.bits, c.xfrac, c.xbits)
		if err != nil {
			t.Fatal(err)
		}
		got, s0, s1 := runRows(t, Fixed{Frac: 12}, [][]uint64{s, tt, w}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
			k, err := takeKey[*TruncRowMul3XKey](p, "trowmul3x", n)
			if err != nil {
				return nil, err
			}
			return p.truncRowMul3X(k, in[0], in[1], in[2], lens)
		})
		i := 0
		for r, l := range lens {
			y, wr := int64(tt[r])>>c.frac, int64(w[r])
			for range l {
				x := int64(s[i]) >> c.xfrac
				sh := 64 - c.bits
				g := int64(got[i]<<sh) >> sh // sign-extend from bits
				want := x * y * wr
				tol := (abs64(x) + abs64(y) + 1) * abs64(wr)
				if d := g - want; d > tol || d < -tol {
					t.Fatalf("%+v element %d: got %d want %d (±%d)", c, i, g, want, tol)
				}
				i++
			}
		}
		if s0.Rounds != 1 || s1.Rounds != 1 || s0.BytesSent != int64(PackedLen(rows, c.tbits)+PackedLen(n, c.xbits)+PackedLen(rows, c.bits)) {
			t.Fatalf("%+v: rounds %d/%d, %d bytes sent", c, s0.Rounds, s1.Rounds, s0.BytesSent)
		}
		if m, want := (Cost{Online: s0.BytesSent + s1.BytesSent, Rounds: 1}).Add(KeyCost(k0, k1)), costTruncRowMul3X(rows, n, c.frac, c.tbits, c.bits, c.xfrac, c.xbits); m != want {
			t.Fatalf("%+v: measured %+v, counted %+v", c, m, want)
		}
	}
	if _, _, err := genTruncRowMul3X(newNLRNG(1), []int{2}, 20, 40, 64, 0, 64); err == nil {
		t.Error("xfrac 0: no error")
	}
	if _, _, err := genTruncRowMul3X(newNLRNG(1), []int{2}, 20, 40, 64, 30, 31); err == nil {
		t.Error("xfrac 30 at width 31: no error")
	}
	k0, k1, _ := genTruncRowMul3X(newNLRNG(2), []int{2}, 20, 40, 64, 14, 64)
	if _, _, err := RunPair(Fixed{Frac: 12}, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
		k, err := takeKey[*TruncRowMul3XKey](p, "trowmul3x", 3)
		if err != nil {
			return err
		}
		_, err = p.truncRowMul3X(k, make([]uint64, 3), make([]uint64, 1), make([]uint64, 1), []int{3})
		return err
	}); err == nil {
		t.Error("shape mismatch: no error")
	}
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// TestRowMul3KeyDecodeAlloc: a short party-1 frame claiming MaxKeyLen elements at width 1 (its
// narrow blocks of width 0) is refused without allocating for the elements it claims (before,
// trowmul3x allocated 16 GiB and trowmul3 4 GiB for the zero blocks before refusing).
func TestRowMul3KeyDecodeAlloc(t *testing.T) {
	for _, kind := range []string{"trowmul3", "trowmul3x"} {
		e := Enc{}
		encodeRowHeader(&e, 1, 1, []int{MaxKeyLen}, [32]byte{})
		e.U8(0) // frac
		e.U8(2) // tbits
		if kind == "trowmul3x" {
			e.U8(1) // xfrac
			e.U8(3) // xbits
		}
		b := e.Bytes()
		k, err := NewKey(kind)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := k.UnmarshalBinary(b); err == nil {
			t.Fatalf("%s: a %d-byte frame for %d elements decoded", kind, len(b), MaxKeyLen)
		}
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Fatalf("%s: refusing a %d-byte frame allocated %d bytes", kind, len(b), d)
		}
	}
}
