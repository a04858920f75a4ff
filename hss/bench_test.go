package hss

import (
	"io"
	"testing"
)

// Benchmarks of the elementwise nonlinear gates, both parties over an in-memory pipe (as
// experiments/gates measures them); ns/elem is the wall time per element. Use with -cpuprofile to
// see where the time goes.

func benchGate(b *testing.B, gen func(io.Reader, int, Fixed) (Key, Key, error), eval func(*Party, []uint64) ([]uint64, error), lo, hi float64) {
	const n = 1 << 15 // a layer's activations are ~10^5 elements: per-call overheads stay small
	fx := Fixed{Frac: 14}
	rng := NewPRG([32]byte{9})
	x := make([]float64, n)
	for i := range x {
		x[i] = lo + (hi-lo)*float64(i)/n
	}
	s0, x1, err := Share(fx.EncodeVec(x), rng)
	if err != nil {
		b.Fatal(err)
	}
	sh := [2][]uint64{ExpandShare(s0, n), x1}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		k0, k1, err := gen(rng, n, fx)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, _, err := RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
			_, err := eval(p, sh[p.ID])
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
}

func BenchmarkGeLU(b *testing.B)  { benchGate(b, GenGeLU, (*Party).GeLU, -8, 8) }
func BenchmarkSiLU(b *testing.B)  { benchGate(b, GenSiLU, (*Party).SiLU, -8, 8) }
func BenchmarkExp(b *testing.B)   { benchGate(b, GenExp, (*Party).Exp, -16, 0) }
func BenchmarkRecip(b *testing.B) { benchGate(b, GenReciprocal, (*Party).Reciprocal, 1, 4096) }
func BenchmarkRsqrt(b *testing.B) { benchGate(b, GenRsqrt, (*Party).Rsqrt, 0.0625, 16384) }
