package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/hss/hsstest"
)

// instance is one prepared run of a gate: real-valued inputs (the harness encodes and shares them),
// the float64 reference output, material generation and per-party evaluation.
type instance struct {
	inputs  [][]float64
	inFrac  []uint // fractional bits of each input's encoding
	ref     []float64
	outFrac uint
	gen     func(rng io.Reader) (k0, k1 hss.Key, err error)
	eval    func(p *hss.Party, in [][]uint64) ([]uint64, error)
	// perElems, when positive, replaces the number of outputs as the divisor of the per-element
	// columns (Max reports per input element: its outputs are one per row).
	perElems int
}

// gate is a row of the table: prepare builds an instance with about n output elements.
type gate struct {
	name    string
	prepare func(n int, r *rand.Rand, fx hss.Fixed) (*instance, error)
}

func uniform(r *rand.Rand, n int, lo, hi float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = lo + (hi-lo)*r.Float64()
	}
	return out
}

func normal(r *rand.Rand, n int, sd float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = r.NormFloat64() * sd
	}
	return out
}

func same(fx hss.Fixed, k int) []uint {
	out := make([]uint, k)
	for i := range out {
		out[i] = fx.Frac
	}
	return out
}

// truncGate: values with 2f fractional bits (a product) rescaled to f, at opening width bits.
func truncGate(bits uint) gate {
	return gate{name: fmt.Sprintf("trunc/%d", bits), prepare: func(n int, r *rand.Rand, fx hss.Fixed) (*instance, error) {
		x := uniform(r, n, -64, 64)
		return &instance{
			inputs: [][]float64{x}, inFrac: []uint{2 * fx.Frac}, ref: x, outFrac: fx.Frac,
			gen: func(rng io.Reader) (hss.Key, hss.Key, error) { return hss.GenTrunc(rng, n, fx.Frac, bits) },
			eval: func(p *hss.Party, in [][]uint64) ([]uint64, error) {
				return p.Trunc(in[0], p.Fx.Frac, bits)
			},
		}, nil
	}}
}

// linearGate: [m×768]·[768×64]ᵀ public weights (GPT-2 width), n ≈ m·64 outputs.
func linearGate(bits uint) gate {
	return gate{name: fmt.Sprintf("linear768/%d", bits), prepare: func(n int, r *rand.Rand, fx hss.Fixed) (*instance, error) {
		const k, cols = 768, 64
		m := max(1, n/cols)
		x, w, b := normal(r, m*k, 1), normal(r, cols*k, 0.05), normal(r, cols, 0.1)
		we, be := fx.EncodeVec(w), fx.EncodeVec(b)
		ref := make([]float64, m*cols)
		for i := range m {
			for j := range cols {
				s := b[j]
				for l := range k {
					s += x[i*k+l] * w[j*k+l]
				}
				ref[i*cols+j] = s
			}
		}
		return &instance{
			inputs: [][]float64{x}, inFrac: same(fx, 1), ref: ref, outFrac: fx.Frac,
			gen: func(rng io.Reader) (hss.Key, hss.Key, error) { return hss.GenLinear(rng, m, cols, fx.Frac, bits) },
			eval: func(p *hss.Party, in [][]uint64) ([]uint64, error) {
				return p.Linear(in[0], m, k, we, cols, be, bits)
			},
		}, nil
	}}
}

func mulFixedGate(bits uint) gate {
	return gate{name: fmt.Sprintf("mulfx/%d", bits), prepare: func(n int, r *rand.Rand, fx hss.Fixed) (*instance, error) {
		x, y := uniform(r, n, -8, 8), uniform(r, n, -8, 8)
		ref := make([]float64, n)
		for i := range ref {
			ref[i] = x[i] * y[i]
		}
		return &instance{
			inputs: [][]float64{x, y}, inFrac: same(fx, 2), ref: ref, outFrac: fx.Frac,
			gen: func(rng io.Reader) (hss.Key, hss.Key, error) { return hss.GenMulFixed(rng, n, fx.Frac, bits) },
			eval: func(p *hss.Party, in [][]uint64) ([]uint64, error) {
				return p.MulFixed(in[0], in[1], bits)
			},
		}, nil
	}}
}

func squareFixedGate(bits uint) gate {
	return gate{name: fmt.Sprintf("squarefx/%d", bits), prepare: func(n int, r *rand.Rand, fx hss.Fixed) (*instance, error) {
		x := uniform(r, n, -8, 8)
		ref := make([]float64, n)
		for i := range ref {
			ref[i] = x[i] * x[i]
		}
		return &instance{
			inputs: [][]float64{x}, inFrac: same(fx, 1), ref: ref, outFrac: fx.Frac,
			gen: func(rng io.Reader) (hss.Key, hss.Key, error) { return hss.GenSquareFixed(rng, n, fx.Frac, bits) },
			eval: func(p *hss.Party, in [][]uint64) ([]uint64, error) {
				return p.SquareFixed(in[0], bits)
			},
		}, nil
	}}
}

// matMulFixedGate: attention scores Q·Kᵀ with head dimension 64, s×s outputs (s² ≈ n).
func matMulFixedGate(bits uint) gate {
	return gate{name: fmt.Sprintf("qkT64/%d", bits), prepare: func(n int, r *rand.Rand, fx hss.Fixed) (*instance, error) {
		const d = 64
		s := max(1, int(math.Sqrt(float64(n))))
		q, k := normal(r, s*d, 1), normal(r, s*d, 1)
		ref := make([]float64, s*s)
		for i := range s {
			for j := range s {
				var v float64
				for l := range d {
					v += q[i*d+l] * k[j*d+l]
				}
				ref[i*s+j] = v
			}
		}
		return &instance{
			inputs: [][]float64{q, k}, inFrac: same(fx, 2), ref: ref, outFrac: fx.Frac,
			gen: func(rng io.Reader) (hss.Key, hss.Key, error) {
				return hss.GenMatMulFixed(rng, s, d, s, fx.Frac, bits)
			},
			eval: func(p *hss.Party, in [][]uint64) ([]uint64, error) {
				return p.MatMulTFixed(in[0], in[1], s, d, s, bits)
			},
		}, nil
	}}
}

// nonlinearGate adapts an entry of hsstest.NonlinearGates (the elementwise gates of package hss).
func nonlinearGate(g hsstest.NonlinearGate) gate {
	return gate{name: g.Name, prepare: func(n int, r *rand.Rand, fx hss.Fixed) (*instance, error) {
		x := uniform(r, n, g.Lo, g.Hi)
		ref := make([]float64, n)
		for i := range ref {
			ref[i] = g.Ref(x[i])
		}
		out := fx.Frac
		if g.OutFrac != nil {
			out = g.OutFrac(fx)
		}
		return &instance{
			inputs: [][]float64{x}, inFrac: same(fx, 1), ref: ref, outFrac: out,
			gen:  func(rng io.Reader) (hss.Key, hss.Key, error) { return g.Gen(rng, n, fx) },
			eval: func(p *hss.Party, in [][]uint64) ([]uint64, error) { return g.Eval(p, in[0]) },
		}, nil
	}}
}

// logUniform draws n values with log2 uniform in [lo, hi).
func logUniform(r *rand.Rand, n int, lo, hi float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Exp2(lo + (hi-lo)*r.Float64())
	}
	return out
}

// octaveGate: Reciprocal / Rsqrt on log-uniform inputs in [2^lo, 2^hi) (softmax row sums, norm
// variances); outputs have Frac+RecipExtra fractional bits.
func octaveGate(name string, lo, hi float64, ref func(float64) float64,
	gen func(io.Reader, int, hss.Fixed) (hss.Key, hss.Key, error), eval func(*hss.Party, []uint64) ([]uint64, error)) gate {
	return gate{name: name, prepare: func(n int, r *rand.Rand, fx hss.Fixed) (*instance, error) {
		x := logUniform(r, n, lo, hi)
		y := make([]float64, n)
		for i := range y {
			y[i] = ref(fx.Decode(fx.Encode(x[i])))
		}
		return &instance{
			inputs: [][]float64{x}, inFrac: same(fx, 1), ref: y, outFrac: fx.Frac + hss.RecipExtra,
			gen:  func(rng io.Reader) (hss.Key, hss.Key, error) { return gen(rng, n, fx) },
			eval: func(p *hss.Party, in [][]uint64) ([]uint64, error) { return eval(p, in[0]) },
		}, nil
	}}
}

// maxGate: row maxima of rows of 64 scores (per input element).
func maxGate() gate {
	return gate{name: "max/64", prepare: func(n int, r *rand.Rand, fx hss.Fixed) (*instance, error) {
		const cols = 64
		rows := max(1, n/cols)
		x := uniform(r, rows*cols, -60, 60)
		ref := make([]float64, rows)
		for i := range rows {
			ref[i] = math.Inf(-1)
			for j := range cols {
				ref[i] = math.Max(ref[i], fx.Decode(fx.Encode(x[i*cols+j])))
			}
		}
		bits := fx.Frac + 9
		return &instance{
			inputs: [][]float64{x}, inFrac: same(fx, 1), ref: ref, outFrac: fx.Frac, perElems: rows * cols,
			gen:  func(rng io.Reader) (hss.Key, hss.Key, error) { return hss.GenMax(rng, rows, cols, bits) },
			eval: func(p *hss.Party, in [][]uint64) ([]uint64, error) { return p.Max(in[0], rows, cols, bits) },
		}, nil
	}}
}

// softmaxGate: causal softmax of an s×s attention-score matrix (prefill, pos0 = 0, s² ≈ n), scores
// N(0, 3²) — per element of the full matrix.
func softmaxGate() gate {
	return gate{name: "softmax/causal", prepare: func(n int, r *rand.Rand, fx hss.Fixed) (*instance, error) {
		s := max(1, int(math.Sqrt(float64(n))))
		x := normal(r, s*s, 3)
		ref := make([]float64, s*s)
		for i := range s {
			m := math.Inf(-1)
			for j := 0; j <= i; j++ {
				m = math.Max(m, fx.Decode(fx.Encode(x[i*s+j])))
			}
			var sum float64
			for j := 0; j <= i; j++ {
				sum += math.Exp(fx.Decode(fx.Encode(x[i*s+j])) - m)
			}
			for j := 0; j <= i; j++ {
				ref[i*s+j] = math.Exp(fx.Decode(fx.Encode(x[i*s+j]))-m) / sum
			}
		}
		return &instance{
			inputs: [][]float64{x}, inFrac: same(fx, 1), ref: ref, outFrac: fx.Frac,
			gen:  func(rng io.Reader) (hss.Key, hss.Key, error) { return hss.GenSoftmax(rng, s, s, 0, fx) },
			eval: func(p *hss.Party, in [][]uint64) ([]uint64, error) { return p.Softmax(in[0], s, s, 0) },
		}, nil
	}}
}

// normGate: LayerNorm (center) or RMSNorm over rows of dim 768 (GPT-2 width); rows have random
// scales σ ∈ [2^-3, 2^5] and means, gains N(1, 0.3²), biases N(0, 0.1²).
func normGate(center bool) gate {
	name := "rmsnorm768"
	if center {
		name = "layernorm768"
	}
	return gate{name: name, prepare: func(n int, r *rand.Rand, fx hss.Fixed) (*instance, error) {
		const dim, eps = 768, 1e-5
		rows := max(1, n/dim)
		x := make([]float64, rows*dim)
		for i := range rows {
			sig := math.Exp2(-3 + 8*r.Float64())
			mu := r.NormFloat64() * sig
			for j := range dim {
				x[i*dim+j] = mu + r.NormFloat64()*sig
			}
		}
		g, b := normal(r, dim, 0.3), normal(r, dim, 0.1)
		for j := range g {
			g[j]++
		}
		ge, be := fx.EncodeVec(g), fx.EncodeVec(b)
		gd, bd, xd := fx.DecodeVec(ge), fx.DecodeVec(be), fx.DecodeVec(fx.EncodeVec(x))
		ref := make([]float64, rows*dim)
		for i := range rows {
			row := xd[i*dim : (i+1)*dim]
			var mu, v float64
			if center {
				for _, e := range row {
					mu += e
				}
				mu /= dim
			}
			for _, e := range row {
				v += (e - mu) * (e - mu)
			}
			v /= dim
			for j, e := range row {
				ref[i*dim+j] = gd[j] * (e - mu) / math.Sqrt(v+eps)
				if center {
					ref[i*dim+j] += bd[j]
				}
			}
		}
		return &instance{
			inputs: [][]float64{x}, inFrac: same(fx, 1), ref: ref, outFrac: fx.Frac,
			gen: func(rng io.Reader) (hss.Key, hss.Key, error) {
				if center {
					return hss.GenLayerNorm(rng, rows, dim, fx)
				}
				return hss.GenRMSNorm(rng, rows, dim, fx)
			},
			eval: func(p *hss.Party, in [][]uint64) ([]uint64, error) {
				if center {
					return p.LayerNorm(in[0], rows, dim, ge, be, eps)
				}
				return p.RMSNorm(in[0], rows, dim, ge, eps)
			},
		}, nil
	}}
}

// allGates is the measured table. To add a gate, append a gate{name, prepare} here, or, for an
// elementwise gate in package hss, add it to hsstest.NonlinearGates (picked up automatically).
func allGates() []gate {
	gs := []gate{
		truncGate(64), truncGate(40),
		linearGate(64), linearGate(44),
		mulFixedGate(64), mulFixedGate(40),
		squareFixedGate(40),
		matMulFixedGate(64), matMulFixedGate(44),
	}
	for _, g := range hsstest.NonlinearGates {
		gs = append(gs, nonlinearGate(g))
	}
	return append(gs,
		octaveGate("recip", 0, 12, func(x float64) float64 { return 1 / x }, hss.GenReciprocal, (*hss.Party).Reciprocal),
		octaveGate("rsqrt", -4, 14, func(x float64) float64 { return 1 / math.Sqrt(x) }, hss.GenRsqrt, (*hss.Party).Rsqrt),
		maxGate(), softmaxGate(), normGate(true), normGate(false))
}
