package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/hssee/hssee/hss"
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

// nonlinearGate adapts an entry of hss.NonlinearGates (helper gates listed by package hss).
func nonlinearGate(g hss.NonlinearGate) gate {
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

// allGates is the measured table. To add a gate, append a gate{name, prepare} here, or, for an
// elementwise gate in package hss, add it to hss.NonlinearGates (picked up automatically).
func allGates() []gate {
	gs := []gate{
		truncGate(64), truncGate(40),
		linearGate(64), linearGate(44),
		mulFixedGate(64), mulFixedGate(40),
		squareFixedGate(40),
		matMulFixedGate(64), matMulFixedGate(44),
	}
	for _, g := range hss.NonlinearGates {
		gs = append(gs, nonlinearGate(g))
	}
	return gs
}
