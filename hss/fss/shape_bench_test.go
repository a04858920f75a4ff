package fss

import (
	"math/rand/v2"
	"testing"
)

// Benchmarks of the generic paths at the shapes the hss gates once had: 17 lockstep DCF paths of 25
// bits with payload 2 (EvalMulti; Reciprocal now takes them through EvalPoints) and a 4098-position
// table window (15 bits, 4 early-terminated levels, payload 1; the mantissa tables are now cubic).

func BenchmarkEvalMultiRecip(b *testing.B) {
	const n, nt = 256, 17
	rng := rand.NewChaCha8([32]byte{2})
	alphas, betas := make([]uint64, n), make([]uint64, 2*n)
	for i := range alphas {
		alphas[i] = rng.Uint64() & (1<<25 - 1)
	}
	k0, _, err := GenDCF(rng, 25, 2, alphas, betas)
	if err != nil {
		b.Fatal(err)
	}
	keys, xs, out := make([]int, nt), make([]uint64, nt), make([]uint64, 2*nt)
	w := NewWorker()
	for i := 0; b.Loop(); i++ {
		for j := range keys {
			keys[j], xs[j] = i%n, rng.Uint64()
		}
		w.EvalMulti(k0, keys, xs, out)
	}
}

func BenchmarkEvalWindowDotRecip(b *testing.B) {
	const n, win = 64, 4098
	rng := rand.NewChaCha8([32]byte{3})
	alphas, betas := make([]uint64, n), make([]uint64, n)
	for i := range alphas {
		alphas[i], betas[i] = rng.Uint64()&(1<<15-1), 1
	}
	k0, _, err := GenDPFLeaf(rng, 15, 4, 1, alphas, betas)
	if err != nil {
		b.Fatal(err)
	}
	tab := make([]uint64, win)
	for i := range tab {
		tab[i] = rng.Uint64()
	}
	w := NewWorker()
	for i := 0; b.Loop(); i++ {
		if _, err := w.EvalWindowDot(k0, i%n, rng.Uint64(), tab); err != nil {
			b.Fatal(err)
		}
	}
}
