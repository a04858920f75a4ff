package fss

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkEvalWindowLin(b *testing.B) {
	rng := rand.NewChaCha8([32]byte{1})
	const n, w = 256, 162
	alphas, betas := make([]uint64, n), make([]uint64, 2*n)
	for i := range alphas {
		alphas[i] = rng.Uint64() & 4095
		betas[2*i], betas[2*i+1] = 1, rng.Uint64()&255
	}
	k0, _, err := GenDPFLeaf(rng, 12, 3, 2, alphas, betas)
	if err != nil {
		b.Fatal(err)
	}
	ta, tb := make([]uint64, w), make([]uint64, w)
	for i := range ta {
		ta[i], tb[i] = rng.Uint64(), rng.Uint64()
	}
	wk := NewWorker()
	b.ResetTimer()
	var acc uint64
	for i := 0; b.Loop(); i++ {
		v, _ := wk.EvalWindowLin(k0, i%n, uint64(i*77), ta, tb, 5)
		acc += v
	}
	_ = acc
}

func BenchmarkEvalWindowLinBatch(b *testing.B) {
	rng := rand.NewChaCha8([32]byte{1})
	const n, w = 256, 162
	alphas, betas := make([]uint64, n), make([]uint64, 2*n)
	for i := range alphas {
		alphas[i] = rng.Uint64() & 4095
		betas[2*i], betas[2*i+1] = 1, rng.Uint64()&255
	}
	k0, _, err := GenDPFLeaf(rng, 12, 3, 2, alphas, betas)
	if err != nil {
		b.Fatal(err)
	}
	ta, tb := make([]uint64, w), make([]uint64, w)
	for i := range ta {
		ta[i], tb[i] = rng.Uint64(), rng.Uint64()
	}
	los, xs, out := make([]uint64, n), make([]uint64, n), make([]uint64, n)
	for i := range los {
		los[i], xs[i] = uint64(i*77), 5
	}
	wk := NewWorker()
	b.ResetTimer()
	for b.Loop() {
		if err := wk.EvalWindowLinBatch(k0, 0, los, ta, tb, xs, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
}
