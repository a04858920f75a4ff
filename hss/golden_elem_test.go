package hss_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"testing"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/hss/hsstest"
)

// TestElementwiseGolden pins the exact outputs and wire messages of the elementwise gates (and the
// dealer's keys behind them) for fixed seeds, so a faster implementation must reproduce the previous
// one bit for bit: same randomness consumption, same message bytes. Each case runs over a plain Pipe
// (the transport's zero-copy path), a Recorder-wrapped Pipe (the copying path, whose received messages
// are hashed too) and a WithLink-wrapped Pipe (zero-copy through the wrapper); all must agree and give
// the pinned digest, computed with the code before the fast paths.
func TestElementwiseGolden(t *testing.T) {
	type gate struct {
		name string
		gen  func(rng *hss.PRG, n int) (hss.Key, hss.Key, error)
		eval func(p *hss.Party, x, y []uint64) ([]uint64, error)
	}
	lens := func(n int) []int { // ragged rows summing to n
		var l []int
		for s, i := 0, 1; s < n; i++ {
			r := min(i%37+1, n-s)
			l, s = append(l, r), s+r
		}
		return l
	}
	var gates []gate
	for _, w := range []uint{64, 60, 52, 48, 29, 22} {
		gates = append(gates,
			gate{fmt.Sprint("trunc", w), func(rng *hss.PRG, n int) (hss.Key, hss.Key, error) { return hss.GenTrunc(rng, n, 14, w) },
				func(p *hss.Party, x, _ []uint64) ([]uint64, error) { return p.Trunc(x, 14, w) }},
			gate{fmt.Sprint("mul", w), func(rng *hss.PRG, n int) (hss.Key, hss.Key, error) { return hss.GenMul(rng, n, w) },
				func(p *hss.Party, x, y []uint64) ([]uint64, error) { return p.Mul(x, y[:len(x)], w) }},
			gate{fmt.Sprint("mulfx", w), func(rng *hss.PRG, n int) (hss.Key, hss.Key, error) { return hss.GenMulFixed(rng, n, 14, w) },
				func(p *hss.Party, x, y []uint64) ([]uint64, error) { return p.MulFixed(x, y[:len(x)], w) }},
			gate{fmt.Sprint("square", w), func(rng *hss.PRG, n int) (hss.Key, hss.Key, error) { return hss.GenSquare(rng, n, w) },
				func(p *hss.Party, x, _ []uint64) ([]uint64, error) { return p.Square(x, w) }},
			gate{fmt.Sprint("squarefx", w), func(rng *hss.PRG, n int) (hss.Key, hss.Key, error) { return hss.GenSquareFixed(rng, n, 14, w) },
				func(p *hss.Party, x, _ []uint64) ([]uint64, error) { return p.SquareFixed(x, w) }},
			gate{fmt.Sprint("rowmul", w), func(rng *hss.PRG, n int) (hss.Key, hss.Key, error) { return hss.GenRowMul(rng, lens(n), w) },
				func(p *hss.Party, x, y []uint64) ([]uint64, error) {
					return p.RowMul(x, y[:len(lens(len(x)))], lens(len(x)), w)
				}},
			gate{fmt.Sprint("open", w), func(rng *hss.PRG, n int) (hss.Key, hss.Key, error) { return nil, nil, nil },
				func(p *hss.Party, x, _ []uint64) ([]uint64, error) { return p.OpenBits(x, w) }},
			gate{fmt.Sprint("exchange", w), func(rng *hss.PRG, n int) (hss.Key, hss.Key, error) { return nil, nil, nil },
				func(p *hss.Party, x, _ []uint64) ([]uint64, error) { return p.ExchangeBits(x, w) }},
		)
	}
	gates = append(gates, gate{"matmul48", func(rng *hss.PRG, n int) (hss.Key, hss.Key, error) {
		return hss.GenMatMulFixed(rng, n/64, 64, 8, 14, 48)
	},
		func(p *hss.Party, x, y []uint64) ([]uint64, error) {
			return p.MatMulFixed(x, y[:64*8], len(x)/64, 64, 8, 48)
		}})

	h := sha256.New()
	for _, g := range gates {
		for _, n := range []int{0, 1, 7, 64, 1000, 5003, 20011} {
			if g.name == "matmul48" {
				n &^= 63
			}
			var outs [3][2][]uint64
			var msgs [2][][]byte
			for mode := range 3 {
				rng := hss.NewPRG([32]byte{byte(n), byte(n >> 8), byte(n >> 16), 1})
				x, y := make([]uint64, n), make([]uint64, n+512)
				rng.Uint64s(x)
				rng.Uint64s(y)
				for i := range x { // keep inputs in the fixed-point gates' ranges
					x[i] = uint64(int64(x[i]) >> 40)
					y[i] = uint64(int64(y[i]) >> 44)
				}
				sx, sy := make([][]uint64, 2), make([][]uint64, 2)
				s0, x1, err := hss.Share(x, rng)
				if err != nil {
					t.Fatal(err)
				}
				sx[0], sx[1] = hss.ExpandShare(s0, n), x1
				s0, y1, err := hss.Share(y, rng)
				if err != nil {
					t.Fatal(err)
				}
				sy[0], sy[1] = hss.ExpandShare(s0, n+512), y1
				k0, k1, err := g.gen(rng, n)
				if err != nil {
					t.Fatal(err)
				}
				m0, m1 := hss.NewMaterial(), hss.NewMaterial()
				if k0 != nil {
					m0.Push(k0)
					m1.Push(k1)
				}
				t0, t1 := hss.Pipe()
				var r0, r1 *hsstest.Recorder
				switch mode {
				case 1:
					r0, r1 = hsstest.Record(t0), hsstest.Record(t1)
					t0, t1 = r0, r1
				case 2:
					t0, t1 = hss.WithLink(t0, 0, 0), hss.WithLink(t1, 0, 0)
				}
				if _, _, err := hss.RunPairOver(t0, t1, hss.Fixed{Frac: 14}, m0, m1, func(p *hss.Party) error {
					z, err := g.eval(p, sx[p.ID], sy[p.ID])
					outs[mode][p.ID] = z
					return err
				}); err != nil {
					t.Fatalf("%s n=%d: %v", g.name, n, err)
				}
				if mode == 1 {
					msgs[0], msgs[1] = r0.Received(), r1.Received()
				}
			}
			for id := range 2 {
				if fmt.Sprint(outs[0][id]) != fmt.Sprint(outs[1][id]) || fmt.Sprint(outs[0][id]) != fmt.Sprint(outs[2][id]) {
					t.Fatalf("%s n=%d: party %d output differs between transports", g.name, n, id)
				}
				hashWords(h, outs[0][id])
				for _, m := range msgs[id] {
					h.Write(m)
				}
			}
		}
	}
	const want = "91882e206ed92cf4f66128cf36947808f06f2e17e196c4f1e0879cc4ccb29310"
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
}

func hashWords(h hash.Hash, w []uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(len(w)))
	h.Write(b[:])
	for _, v := range w {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
}
