package hss

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestMatMulBatch(t *testing.T) {
	fx := Fixed{Frac: 12}
	r := rand.New(rand.NewPCG(1, 2))
	rng := testRNG(2)
	shapes := []MatShape{{2, 3, 4}, {1, 5, 7}, {3, 1, 2}}
	var xs, ys [2][][]uint64
	var xf, yf [][]float64
	for _, s := range shapes {
		x, y := make([]float64, s.M*s.K), make([]float64, s.K*s.N)
		for i := range x {
			x[i] = r.Float64()*8 - 4
		}
		for i := range y {
			y[i] = r.Float64()*8 - 4
		}
		xf, yf = append(xf, x), append(yf, y)
		sx, sy := shareFor(t, fx.EncodeVec(x), rng), shareFor(t, fx.EncodeVec(y), rng)
		for p := range 2 {
			xs[p], ys[p] = append(xs[p], sx[p]), append(ys[p], sy[p])
		}
	}
	k0, k1, err := GenMatMulBatch(testRNG(3), shapes, fx.Frac, 64)
	if err != nil {
		t.Fatal(err)
	}
	var outs [2][][]uint64
	flat := func(p *Party) ([]uint64, error) {
		o, err := p.MatMulBatch(xs[p.ID], ys[p.ID], shapes, 64)
		outs[p.ID] = o
		var all []uint64
		for _, v := range o {
			all = append(all, v...)
		}
		return all, err
	}
	_, s0, _ := run(t, fx, k0, k1, flat)
	if s0.Rounds != 2 {
		t.Fatalf("%d rounds, want 2", s0.Rounds)
	}
	for i, s := range shapes {
		got := fx.DecodeVec(Reconstruct(outs[0][i], outs[1][i]))
		for a := range s.M {
			for c := range s.N {
				var want float64
				for b := range s.K {
					want += xf[i][a*s.K+b] * yf[i][b*s.N+c]
				}
				// Operand rounding (≤ 2^-13 each, |x|,|y| ≤ 4, K terms) plus one ulp of truncation.
				bound := float64(s.K)*8*math.Ldexp(1, -13) + math.Ldexp(1, -12)
				if d := math.Abs(got[a*s.N+c] - want); d > bound {
					t.Fatalf("product %d [%d,%d]: |%.5f − %.5f| > %.5f", i, a, c, got[a*s.N+c], want, bound)
				}
			}
		}
	}
	// Misuse: shape mismatch, wrong operands, no material.
	k0, k1, _ = GenMatMulBatch(testRNG(4), shapes, fx.Frac, 64)
	_, _, err = RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
		_, err := p.MatMulBatch(xs[p.ID], ys[p.ID], []MatShape{{2, 3, 4}, {1, 5, 7}, {3, 1, 3}}, 64)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "matmul") {
		t.Fatalf("shape mismatch: %v", err)
	}
	if _, _, err := GenMatMulBatch(testRNG(5), nil, 12, 64); err == nil {
		t.Fatal("empty batch accepted")
	}
	if _, _, err := GenMatMulBatch(testRNG(5), []MatShape{{0, 1, 1}}, 12, 64); err == nil {
		t.Fatal("zero shape accepted")
	}
	_, _, err = RunPair(fx, NewMaterial(), NewMaterial(), func(p *Party) error {
		_, err := p.MatMulBatch(xs[p.ID], ys[p.ID], shapes, 64)
		return err
	})
	if err == nil {
		t.Fatal("no material accepted")
	}
}

// TestSoftmaxHeads: three heads' causal score matrices stacked give each
// head's own softmax, in the rounds of one Softmax.
func TestSoftmaxHeads(t *testing.T) {
	fx := Fixed{Frac: 12}
	const heads, rows, cols, pos0 = 3, 4, 9, 5
	pr := rand.New(rand.NewPCG(5, 5))
	xf := make([]float64, heads*rows*cols)
	for i := range xf {
		xf[i] = pr.NormFloat64() * 3
	}
	x := fx.EncodeVec(xf)
	xf = fx.DecodeVec(x)
	k0, k1, err := GenSoftmaxHeads(newNLRNG(3), heads, rows, cols, pos0, fx)
	if err != nil {
		t.Fatal(err)
	}
	got, s0, _ := runRows(t, fx, [][]uint64{x}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
		return p.SoftmaxHeads(in[0], heads, rows, cols, pos0)
	})
	for h := range heads {
		ref := softmaxRef(xf[h*rows*cols:(h+1)*rows*cols], rows, cols, pos0)
		for i, want := range ref {
			if e := math.Abs(fx.Decode(got[h*rows*cols+i]) - want); e > 1.0/256 {
				t.Fatalf("head %d entry %d: got %v want %v", h, i, fx.Decode(got[h*rows*cols+i]), want)
			}
		}
	}
	if want := int64(math.Ceil(math.Log2(cols))) + 5; s0.Rounds != want {
		t.Fatalf("%d rounds, want %d", s0.Rounds, want)
	}
	if _, _, err := GenSoftmaxHeads(newNLRNG(3), 0, rows, cols, pos0, fx); err == nil {
		t.Fatal("zero heads accepted")
	}
}
