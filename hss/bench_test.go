package hss

import (
	"io"
	"testing"
)

// Benchmarks of the elementwise nonlinear gates, both parties over an in-memory pipe (as
// experiments/gates measures them); ns/elem is the wall time per element. Use with -cpuprofile to
// see where the time goes.

func benchGate(b *testing.B, gen func(io.Reader, int, Fixed) (Key, Key, error), eval func(*Party, []uint64) ([]uint64, error), lo, hi float64) {
	benchGateIn(b, Fixed{Frac: 14}, gen, eval, lo, hi)
}

// benchGateIn is benchGate with the inputs encoded at in's fractional bits (the gates run at Frac 14).
func benchGateIn(b *testing.B, in Fixed, gen func(io.Reader, int, Fixed) (Key, Key, error), eval func(*Party, []uint64) ([]uint64, error), lo, hi float64) {
	const n = 1 << 15 // a layer's activations are ~10^5 elements: per-call overheads stay small
	fx := Fixed{Frac: 14}
	rng := NewPRG([32]byte{9})
	x := make([]float64, n)
	for i := range x {
		x[i] = lo + (hi-lo)*float64(i)/n
	}
	sh := shareFor(b, in.EncodeVec(x), rng)
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

func BenchmarkGeLU(b *testing.B) { benchGate(b, GenGeLU, (*Party).GeLU, -8, 8) }

// BenchmarkGeLURaw is GeLU on untruncated linear outputs (2·Frac fractional bits, 48-bit openings), as
// GPT-2's FFN runs it: the truncation with the lookup, then the lookup's truncation.
func BenchmarkGeLURaw(b *testing.B) {
	fx := Fixed{Frac: 14}
	gen := func(r io.Reader, n int, fx Fixed) (Key, Key, error) { return GenGeLURaw(r, n, fx, fx.Frac, 48) }
	eval := func(p *Party, x []uint64) ([]uint64, error) { return p.GeLURaw(x, fx.Frac, 48) }
	benchGateIn(b, Fixed{Frac: 2 * fx.Frac}, gen, eval, -8, 8)
}

// BenchmarkSiLUMulRaw is SwiGLU's SiLU(g)·u on untruncated linear outputs as LLaMA's FFN runs it
// (here u = g).
func BenchmarkSiLUMulRaw(b *testing.B) {
	fx := Fixed{Frac: 14}
	gen := func(r io.Reader, n int, fx Fixed) (Key, Key, error) { return GenSiLUMulRaw(r, n, fx, fx.Frac, 48) }
	eval := func(p *Party, x []uint64) ([]uint64, error) { return p.SiLUMulRaw(x, x, fx.Frac, 48) }
	benchGateIn(b, Fixed{Frac: 2 * fx.Frac}, gen, eval, -8, 8)
}
func BenchmarkSiLU(b *testing.B)  { benchGate(b, GenSiLU, (*Party).SiLU, -8, 8) }
func BenchmarkExp(b *testing.B)   { benchGate(b, GenExp, (*Party).Exp, -16, 0) }
func BenchmarkRecip(b *testing.B) { benchGate(b, GenReciprocal, (*Party).Reciprocal, 1, 4096) }
func BenchmarkRsqrt(b *testing.B) { benchGate(b, GenRsqrt, (*Party).Rsqrt, 0.0625, 16384) }

// benchNorm: LayerNorm (center) or RMSNorm on rows of a LLaMA-7B / GPT-2 sized dimension, both
// parties over an in-memory pipe; ns/elem per input element.
func benchNorm(b *testing.B, rows, dim int, center bool) {
	n := rows * dim
	fx := Fixed{Frac: 12}
	rng := NewPRG([32]byte{10})
	x, g := make([]float64, n), make([]float64, dim)
	for i := range x {
		x[i] = float64(i%97)/16 - 3
	}
	for j := range g {
		g[j] = 1 + float64(j%5)/8
	}
	sh := shareFor(b, fx.EncodeVec(x), rng)
	gain := fx.EncodeVec(g)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		gen := GenRMSNorm
		if center {
			gen = GenLayerNorm
		}
		k0, k1, err := gen(rng, rows, dim, fx)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, _, err := RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
			var err error
			if center {
				_, err = p.LayerNorm(sh[p.ID], rows, dim, gain, gain, 1e-5)
			} else {
				_, err = p.RMSNorm(sh[p.ID], rows, dim, gain, 1e-5)
			}
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
}

func BenchmarkRMSNorm(b *testing.B)   { benchNorm(b, 8, 4096, false) }
func BenchmarkLayerNorm(b *testing.B) { benchNorm(b, 8, 768, true) }

// BenchmarkSoftmax: the causal softmax of a 128-token prefill's 12 heads (GPT-2 sized), both parties
// over an in-memory pipe; ns/elem per score of the full matrices.
func BenchmarkSoftmax(b *testing.B) {
	const heads, rows = 12, 128
	n := heads * rows * rows
	fx := Fixed{Frac: 14}
	rng := NewPRG([32]byte{11})
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(i%23)/4 - 3
	}
	sh := shareFor(b, fx.EncodeVec(x), rng)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		k0, k1, err := GenSoftmaxHeads(rng, heads, rows, rows, 0, fx)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, _, err := RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
			_, err := p.SoftmaxHeads(sh[p.ID], heads, rows, rows, 0)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
}
