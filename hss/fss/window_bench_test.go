package fss

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkEvalWindowPolyBatch is the cubic lookups' walk (payload 4, 3-level leaves) on SiLU's
// shape: 8-bit inputs, a window of 41.
func BenchmarkEvalWindowPolyBatch(b *testing.B) {
	rng := rand.NewChaCha8([32]byte{1})
	const n, w = 256, 41
	alphas, betas := make([]uint64, n), make([]uint64, 4*n)
	for i := range alphas {
		alphas[i] = rng.Uint64() & 255
		r := rng.Uint64() & 4095
		betas[4*i], betas[4*i+1], betas[4*i+2], betas[4*i+3] = 1, r, r*r, r*r*r
	}
	k0, _, err := GenDPFLeaf(rng, 8, 3, 4, alphas, betas)
	if err != nil {
		b.Fatal(err)
	}
	coef := make([][]uint64, 4)
	for j := range coef {
		coef[j] = make([]uint64, w)
		for i := range coef[j] {
			coef[j][i] = rng.Uint64()
		}
	}
	los, us, out := make([]uint64, n), make([]uint64, n), make([]uint64, n)
	for i := range los {
		los[i], us[i] = uint64(i*77), 5
	}
	wk := NewWorker()
	b.ResetTimer()
	for b.Loop() {
		if err := wk.EvalWindowPolyBatch(k0, 0, los, coef, us, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
}
