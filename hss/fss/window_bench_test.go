package fss

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkEvalWindowPolyBatch is the cubic lookups' walk (payload 4) on 8-bit inputs with 2- and
// 3-level leaves, on GeLU's window of 18 and SiLU's of 41, with the portable leaves and the padded
// ones (Go inner products, and AVX-512 where the CPU has it).
func BenchmarkEvalWindowPolyBatch(b *testing.B) {
	avx := useDotAVX
	defer func() { useDotAVX, padLeaves = avx, true }()
	for _, leaf := range []uint{2, 3} {
		for _, w := range []int{18, 41} {
			for _, mode := range []string{"go", "padded-go", "avx512"} {
				if mode == "avx512" && !avx {
					continue
				}
				b.Run(fmt.Sprintf("leaf=%d/window=%d/%s", leaf, w, mode), func(b *testing.B) {
					useDotAVX, padLeaves = mode == "avx512", mode != "go"
					benchWindowPoly(b, leaf, w)
				})
			}
		}
	}
}

func benchWindowPoly(b *testing.B, leaf uint, w int) {
	rng := rand.NewChaCha8([32]byte{1})
	const n = 256
	alphas, betas := make([]uint64, n), make([]uint64, 4*n)
	for i := range alphas {
		alphas[i] = rng.Uint64() & 255
		r := rng.Uint64() & 4095
		betas[4*i], betas[4*i+1], betas[4*i+2], betas[4*i+3] = 1, r, r*r, r*r*r
	}
	k0, _, err := GenDPFLeaf(rng, 8, leaf, 4, alphas, betas)
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
