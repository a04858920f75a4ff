package hss

import (
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"
)

// Benchmarks of the elementwise building blocks of the online phase: bit packing, PRG expansion and
// the one-round gates (both parties over an in-memory Pipe). n = 2^17 is about a prefill layer's
// activations; ns/elem is the wall time per element.

const elemBenchN = 1 << 17

var benchWidths = []uint{20, 22, 27, 48, 51, 60, 64}

func benchVals(n int) []uint64 {
	v := make([]uint64, n)
	NewPRG([32]byte{7}).Uint64s(v)
	return v
}

func BenchmarkPackBits(b *testing.B) {
	vals := benchVals(elemBenchN)
	for _, w := range benchWidths {
		b.Run(fmt.Sprint(w), func(b *testing.B) {
			buf := make([]byte, 0, PackedLen(elemBenchN, w))
			b.SetBytes(int64(8 * elemBenchN))
			for b.Loop() {
				PackBits(buf[:0], vals, w)
			}
		})
	}
}

func BenchmarkUnpackBits(b *testing.B) {
	vals := benchVals(elemBenchN)
	for _, w := range benchWidths {
		b.Run(fmt.Sprint(w), func(b *testing.B) {
			packed := PackBits(nil, vals, w)
			dst := make([]uint64, elemBenchN)
			b.SetBytes(int64(8 * elemBenchN))
			for b.Loop() {
				if err := UnpackBits(dst, packed, elemBenchN, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPRGUint64s(b *testing.B) {
	dst := make([]uint64, elemBenchN)
	b.SetBytes(int64(8 * elemBenchN))
	for b.Loop() {
		NewPRG([32]byte{1}).Uint64s(dst)
	}
}

func BenchmarkExpand(b *testing.B) {
	b.SetBytes(int64(3 * 8 * elemBenchN))
	for b.Loop() {
		expand([32]byte{1}, elemBenchN, elemBenchN, elemBenchN)
	}
}

// cpuTime is the process's CPU time (user and system, all threads): on a shared machine the CPU time
// of the timed parts is steadier than their wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchPair times eval for both parties over a Pipe, generating fresh material (untimed) each round.
// ns/elem is wall time, cpu-ns/elem the CPU time of both parties together.
func benchPair(b *testing.B, gen func() (Key, Key, error), eval func(p *Party, x, y []uint64) error) {
	fx := Fixed{Frac: 14}
	rng := NewPRG([32]byte{9})
	x := make([]float64, elemBenchN)
	for i := range x {
		x[i] = -4 + 8*float64(i)/elemBenchN
	}
	sh := shareFor(b, fx.EncodeVec(x), rng)
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		k0, k1, err := gen()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c0 := cpuTime()
		if _, _, err := RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
			return eval(p, sh[p.ID], sh[p.ID])
		}); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*elemBenchN), "ns/elem")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*elemBenchN), "cpu-ns/elem")
}

func BenchmarkTrunc(b *testing.B) {
	for _, w := range []uint{48, 64} {
		b.Run(fmt.Sprint(w), func(b *testing.B) {
			rng := NewPRG([32]byte{3})
			benchPair(b, func() (Key, Key, error) { return GenTrunc(rng, elemBenchN, 14, w) },
				func(p *Party, x, _ []uint64) error { _, err := p.Trunc(x, 14, w); return err })
		})
	}
}

func BenchmarkMulFixed(b *testing.B) {
	for _, w := range []uint{48, 64} {
		b.Run(fmt.Sprint(w), func(b *testing.B) {
			rng := NewPRG([32]byte{4})
			benchPair(b, func() (Key, Key, error) { return GenMulFixed(rng, elemBenchN, 14, w) },
				func(p *Party, x, y []uint64) error { _, err := p.MulFixed(x, y, w); return err })
		})
	}
}

// BenchmarkMul64: the untruncated product at width 64 that SwiGLU's gate·up now is (its truncation
// folded into W2's), to compare with MulFixed/48 (product and truncation).
func BenchmarkMul64(b *testing.B) {
	rng := NewPRG([32]byte{6})
	benchPair(b, func() (Key, Key, error) { return GenMul(rng, elemBenchN, 64) },
		func(p *Party, x, y []uint64) error { _, err := p.Mul(x, y, 64); return err })
}

func BenchmarkSquare(b *testing.B) {
	rng := NewPRG([32]byte{5})
	benchPair(b, func() (Key, Key, error) { return GenSquare(rng, elemBenchN, 52) },
		func(p *Party, x, _ []uint64) error { _, err := p.Square(x, 52); return err })
}

func BenchmarkRowMul(b *testing.B) {
	lens := make([]int, elemBenchN/256)
	for i := range lens {
		lens[i] = 256
	}
	y := make([]uint64, len(lens))
	rng := NewPRG([32]byte{6})
	benchPair(b, func() (Key, Key, error) { return GenRowMul(rng, lens, 64) },
		func(p *Party, x, _ []uint64) error { _, err := p.RowMul(x, y, lens, 64); return err })
}

// Dealer side of the same gates (offline phase).
func BenchmarkGenTrunc(b *testing.B) {
	benchGenElems(b, 3, func(rng io.Reader, n int) error { _, _, err := GenTrunc(rng, n, 14, 48); return err })
}

func BenchmarkGenMulFixed(b *testing.B) {
	benchGenElems(b, 4, func(rng io.Reader, n int) error { _, _, err := GenMulFixed(rng, n, 14, 48); return err })
}

// benchGenElems times gen's material for elemBenchN elements from the PRG of the given seed byte.
func benchGenElems(b *testing.B, seed byte, gen func(rng io.Reader, n int) error) {
	rng := NewPRG([32]byte{seed})
	b.SetBytes(int64(8 * elemBenchN))
	for b.Loop() {
		if err := gen(rng, elemBenchN); err != nil {
			b.Fatal(err)
		}
	}
}
