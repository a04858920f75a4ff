package hsstest

import (
	"testing"

	"github.com/hssee/hssee/hss"
)

func TestChiSquareUniform(t *testing.T) {
	rng := hss.NewPRG([32]byte{0: 5, 31: 0xA5})
	v := make([]uint64, 1<<16)
	rng.Uint64s(v)
	for _, bits := range []uint{64, 40, 8, 5} {
		if c := ChiSquareUniform(v, bits); c > ChiSquareLimit(bits) {
			t.Fatalf("bits=%d: uniform data scored %v > %v", bits, c, ChiSquareLimit(bits))
		}
	}
	for i := range v {
		v[i] = uint64(i) // top bits all zero for 64-bit values
	}
	if c := ChiSquareUniform(v, 64); c < ChiSquareLimit(64) {
		t.Fatalf("skewed data scored %v", c)
	}
}

// TestRecorder checks that a Recorder keeps a copy of every received message, one per round, and
// passes the traffic through unchanged.
func TestRecorder(t *testing.T) {
	a, b := hss.Pipe()
	rec := Record(b)
	x := []uint64{1, 2, 3}
	var got [2][]uint64
	_, _, err := hss.RunPairOver(a, rec, hss.Fixed{Frac: 12}, nil, nil, func(p *hss.Party) error {
		for range 2 {
			v, err := p.ExchangeU64(x)
			if err != nil {
				return err
			}
			got[p.ID] = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs := rec.Received()
	if len(msgs) != 2 || len(msgs[0]) != 24 || got[0][2] != 3 || got[1][2] != 3 {
		t.Fatalf("%d messages recorded, outputs %v", len(msgs), got)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
}
