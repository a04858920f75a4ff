package hss

import (
	"io"
	"testing"
)

// Dealer-side benchmarks: generation of the nonlinear gates' material (both parties), ns/elem.

func benchGen(b *testing.B, gen func(io.Reader, int, Fixed) (Key, Key, error)) {
	const n = 4096
	fx := Fixed{Frac: 12}
	rng := NewPRG([32]byte{7})
	for b.Loop() {
		if _, _, err := gen(rng, n, fx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
}

func BenchmarkGenGeLU(b *testing.B) { benchGen(b, GenGeLU) }
func BenchmarkGenGeLURaw(b *testing.B) {
	benchGen(b, func(r io.Reader, n int, fx Fixed) (Key, Key, error) { return GenGeLURaw(r, n, fx, fx.Frac, 48) })
}
func BenchmarkGenSiLU(b *testing.B)  { benchGen(b, GenSiLU) }
func BenchmarkGenExp(b *testing.B)   { benchGen(b, GenExp) }
func BenchmarkGenRecip(b *testing.B) { benchGen(b, GenReciprocal) }
func BenchmarkGenRsqrt(b *testing.B) { benchGen(b, GenRsqrt) }
