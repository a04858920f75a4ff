package hss

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLinearsW32Reference checks LinearsW32 bit for bit against its definition — each layer's
// MatMulPublicW32 plus party 0's bias·2^Frac, concatenated, then one Trunc — on identical material
// (two GenTrunc from one seed), and that one layer is LinearW32 exactly.
func TestLinearsW32Reference(t *testing.T) {
	fx := Fixed{Frac: 14}
	const bits = 48
	r := rand.New(rand.NewPCG(5, 6))
	rng := testRNG(11)
	for _, m := range []int{1, 5, 37} {
		const k = 24
		x := make([]uint64, m*k)
		for i := range x {
			x[i] = uint64(int64(r.IntN(1<<15) - 1<<14))
		}
		sh := shareFor(t, x, rng)
		var ls []LayerW32
		total := 0
		for i, out := range []int{7, 16, 33} {
			l := LayerW32{Out: out, W: make([]int32, out*k)}
			for j := range l.W {
				l.W[j] = int32(r.IntN(1<<13) - 1<<12)
			}
			if i != 1 {
				l.Bias = make([]uint64, out)
				for j := range l.Bias {
					l.Bias[j] = uint64(int64(r.IntN(1<<14) - 1<<13))
				}
			}
			ls, total = append(ls, l), total+m*out
		}
		for _, layers := range [][]LayerW32{ls, ls[:1]} {
			n := 0
			for _, l := range layers {
				n += m * l.Out
			}
			seed := [32]byte{byte(m), byte(len(layers))}
			var mats [2][2]*Material
			for d := range 2 {
				k0, k1, err := GenTrunc(NewPRG(seed), n, fx.Frac, bits)
				if err != nil {
					t.Fatal(err)
				}
				mats[d] = [2]*Material{NewMaterial(k0), NewMaterial(k1)}
			}
			got := runOuts(t, fx, mats[0], func(p *Party) ([][]uint64, error) {
				return p.LinearsW32(sh[p.ID], m, k, layers, bits)
			})
			want := runOuts(t, fx, mats[1], func(p *Party) ([][]uint64, error) {
				var y []uint64
				for _, l := range layers {
					yl, err := MatMulPublicW32(sh[p.ID], m, k, l.W, l.Out)
					if err != nil {
						return nil, err
					}
					if l.Bias != nil && p.ID == 0 {
						for i := range yl {
							yl[i] += l.Bias[i%l.Out] << fx.Frac
						}
					}
					y = append(y, yl...)
				}
				z, err := p.Trunc(y, fx.Frac, bits)
				if err != nil {
					return nil, err
				}
				var outs [][]uint64
				off := 0
				for _, l := range layers {
					outs = append(outs, z[off:off+m*l.Out])
					off += m * l.Out
				}
				return outs, nil
			})
			sameOuts(t, got, want, fmt.Sprintf("m %d, %d layers", m, len(layers)))
			if len(layers) == 1 {
				var one [2][]uint64
				k0, k1, _ := GenTrunc(NewPRG(seed), n, fx.Frac, bits)
				if _, _, err := RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
					o, err := p.LinearW32(sh[p.ID], m, k, layers[0].W, layers[0].Out, layers[0].Bias, bits)
					one[p.ID] = o
					return err
				}); err != nil {
					t.Fatal(err)
				}
				for p := range 2 {
					if !slices.Equal(one[p], got[p][0]) {
						t.Fatalf("m %d: LinearW32 differs from LinearsW32 of one layer", m)
					}
				}
			}
		}
	}
}

// TestLinearW32Raw checks the SwiGLU path: Mul at width 64 (untruncated, 2·Frac fractional bits) then
// LinearW32Raw (one truncation by 2·Frac at width 64) against the exact rational result, within one
// unit of 2^-Frac, with products and outputs near the stated range (|x·wᵀ + b| < 2^(62−3·Frac)).
func TestLinearW32Raw(t *testing.T) {
	fx := Fixed{Frac: 14}
	r := rand.New(rand.NewPCG(7, 8))
	const m, k, n = 3, 16, 5
	for _, scale := range []float64{1, 1 << 8, 1 << 15} { // operand magnitudes (real units): products to ~2^19
		a, b := make([]uint64, m*k), make([]uint64, m*k)
		for i := range a {
			a[i] = fx.Encode((r.Float64()*2 - 1) * scale)
			b[i] = fx.Encode(r.Float64()*2 - 1)
		}
		w := make([]int32, n*k)
		for i := range w {
			w[i] = int32(fx.Encode(r.Float64()*2/k - 1.0/k))
		}
		bias := make([]uint64, n)
		for i := range bias {
			bias[i] = fx.Encode(r.Float64()*8 - 4)
		}
		rng := testRNG(uint64(scale))
		sa, sb := shareFor(t, a, rng), shareFor(t, b, rng)
		m0, m1, err := GenMul(rng, m*k, 64)
		if err != nil {
			t.Fatal(err)
		}
		l0, l1, err := GenLinear(rng, m, n, 2*fx.Frac, 64)
		if err != nil {
			t.Fatal(err)
		}
		var out [2][]uint64
		s0, _, err := RunPair(fx, NewMaterial(m0, l0), NewMaterial(m1, l1), func(p *Party) error {
			z, err := p.Mul(sa[p.ID], sb[p.ID], 64)
			if err != nil {
				return err
			}
			out[p.ID], err = p.LinearW32Raw(z, m, k, w, n, bias, fx.Frac)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if s0.Rounds != 2 {
			t.Fatalf("%d rounds, want 2", s0.Rounds)
		}
		got := Reconstruct(out[0], out[1])
		worst := 0.0
		for i := range m {
			for j := range n {
				want := fx.Decode(bias[j])
				for q := range k {
					want += fx.Decode(a[i*k+q]) * fx.Decode(b[i*k+q]) * fx.Decode(uint64(int64(w[j*k+q])))
				}
				e := fx.Decode(got[i*n+j]) - want
				worst = max(worst, e, -e)
				if e > 1/fx.Scale() || e < -1/fx.Scale() {
					t.Fatalf("scale %g: output %d,%d: got %v want %v", scale, i, j, fx.Decode(got[i*n+j]), want)
				}
			}
		}
		t.Logf("operands up to %g: max error %.3g (2^-Frac = %.3g)", scale, worst, 1/fx.Scale())
	}
}

// runOuts runs eval on both parties with their material m and returns both parties' outputs.
func runOuts(t *testing.T, fx Fixed, m [2]*Material, eval func(p *Party) ([][]uint64, error)) [2][][]uint64 {
	t.Helper()
	var outs [2][][]uint64
	if _, _, err := RunPair(fx, m[0], m[1], func(p *Party) error {
		o, err := eval(p)
		outs[p.ID] = o
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return outs
}

// sameOuts fails t (in the case what) where a party's output of got differs from want's.
func sameOuts(t *testing.T, got, want [2][][]uint64, what string) {
	t.Helper()
	for p := range 2 {
		if len(got[p]) != len(want[p]) {
			t.Fatalf("%s: party %d: %d outputs, want %d", what, p, len(got[p]), len(want[p]))
		}
		for j := range want[p] {
			if !slices.Equal(got[p][j], want[p][j]) {
				t.Fatalf("%s: party %d output %d differs from the reference", what, p, j)
			}
		}
	}
}
