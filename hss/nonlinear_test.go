package hss

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

type nlRNG struct{ r *rand.ChaCha8 }

func (t *nlRNG) Read(b []byte) (int, error) { return t.r.Read(b) }

func newNLRNG(seed byte) *nlRNG { return &nlRNG{rand.NewChaCha8([32]byte{seed, 'n', 'l'})} }

// runNL generates a gate's material for len(xs) elements with gen from rng, runs eval on both
// parties' shares of xs (runRows with one input) and returns the reconstructed output, both parties'
// traffic and the material's size (both parties).
func runNL(t *testing.T, fx Fixed, xs []uint64, gen func(rng *nlRNG, n int) (Key, Key, error), rng *nlRNG,
	eval func(p *Party, x []uint64) ([]uint64, error)) (out []uint64, s0, s1 Stats, dealer int) {
	t.Helper()
	k0, k1, err := gen(rng, len(xs))
	if err != nil {
		t.Fatal(err)
	}
	out, s0, s1 = runRows(t, fx, [][]uint64{xs}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) { return eval(p, in[0]) })
	return out, s0, s1, k0.Size() + k1.Size()
}

func TestNonlinearActivations(t *testing.T) {
	fx := Fixed{Frac: 12}
	cases := []struct {
		name string
		gen  func(rng *nlRNG, n int) (Key, Key, error)
		eval func(p *Party, x []uint64) ([]uint64, error)
		ref  func(float64) float64
		lo   float64
		hi   float64
		tol  float64
		rnd  int64 // rounds (0: 2: exp, and the activations since their sign and table share one lookup)
	}{
		{"GeLU", func(r *nlRNG, n int) (Key, Key, error) { return GenGeLU(r, n, fx) }, (*Party).GeLU, GeLURef, -8, 8, 1.0 / 256, 2},
		{"GeLU/tails", func(r *nlRNG, n int) (Key, Key, error) { return GenGeLU(r, n, fx) }, (*Party).GeLU, GeLURef, -63, 63, 1.0 / 256, 2},
		{"SiLU", func(r *nlRNG, n int) (Key, Key, error) { return GenSiLU(r, n, fx) }, (*Party).SiLU, SiLURef, -8, 8, 1.0 / 256, 2},
		{"SiLU/tails", func(r *nlRNG, n int) (Key, Key, error) { return GenSiLU(r, n, fx) }, (*Party).SiLU, SiLURef, -63, 63, 1.0 / 256, 2},
		{"Exp", func(r *nlRNG, n int) (Key, Key, error) { return GenExp(r, n, fx) }, (*Party).Exp, math.Exp, -40, 0, 1.0 / 256, 0},
		{"ReLU", func(r *nlRNG, n int) (Key, Key, error) { return GenReLU(r, n, 24) }, func(p *Party, x []uint64) ([]uint64, error) { return p.ReLU(x, 24) }, func(x float64) float64 { return math.Max(x, 0) }, -1000, 1000, 0, 1},
		{"DReLU", func(r *nlRNG, n int) (Key, Key, error) { return GenDReLU(r, n, 24) }, func(p *Party, x []uint64) ([]uint64, error) {
			s, err := p.DReLU(x, 24)
			for i := range s {
				s[i] <<= 12 // to fixed point for the comparison below
			}
			return s, err
		}, func(x float64) float64 {
			if x >= 0 {
				return 1
			}
			return 0
		}, -1000, 1000, 0, 1},
	}
	n := 1500
	if testing.Short() {
		n = 300
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := newNLRNG(byte(ci))
			pr := rand.New(rand.NewPCG(uint64(ci), 7))
			xs := make([]uint64, n)
			for i := range xs {
				v := c.lo + (c.hi-c.lo)*pr.Float64()
				if i < 16 { // include values right around 0 and the raw neighbours of 0
					v = float64(i-8) / 4096
				}
				xs[i] = fx.Encode(v)
			}
			out, s0, s1, dealer := runNL(t, fx, xs, c.gen, rng, c.eval)
			var worst float64
			for i := range xs {
				x := fx.Decode(xs[i])
				e := math.Abs(fx.Decode(out[i]) - c.ref(x))
				worst = math.Max(worst, e)
				if e > c.tol {
					t.Fatalf("x=%v: got %v want %v (err %g > %g)", x, fx.Decode(out[i]), c.ref(x), e, c.tol)
				}
			}
			want := c.rnd
			if want == 0 {
				want = 2
			}
			if s0.Rounds != want || s1.Rounds != want {
				t.Fatalf("rounds %d/%d, want %d", s0.Rounds, s1.Rounds, want)
			}
			t.Logf("%s: max abs err %.3g (2^%.2f), online %.1f B/elem, dealer %.0f B/elem", c.name, worst, math.Log2(worst),
				float64(s0.BytesSent+s1.BytesSent)/float64(n), float64(dealer)/float64(n))
		})
	}
}

func TestNonlinearMaterialErrors(t *testing.T) {
	fx := Fixed{Frac: 12}
	rng := newNLRNG(5)
	k0, k1, err := GenGeLU(rng, 4, fx)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]uint64, 4)
	// wrong length
	_, _, err = RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error { _, e := p.GeLU(x[:3]); return e })
	if err == nil || !strings.Contains(err.Error(), "gelu") {
		t.Fatalf("wrong length: %v", err)
	}
	// wrong kind
	e0, e1, _ := GenExp(rng, 4, fx)
	_, _, err = RunPair(fx, NewMaterial(e0), NewMaterial(e1), func(p *Party) error { _, e := p.SiLU(x); return e })
	if err == nil || !strings.Contains(err.Error(), "silu") {
		t.Fatalf("wrong kind: %v", err)
	}
	// reuse and exhaustion
	g0, g1, _ := GenGeLU(rng, 4, fx)
	_, _, err = RunPair(fx, NewMaterial(g0, g0), NewMaterial(g1, g1), func(p *Party) error {
		if _, e := p.GeLU(x); e != nil {
			return e
		}
		_, e := p.GeLU(x)
		return e
	})
	if err == nil || !strings.Contains(err.Error(), "gelu") {
		t.Fatalf("reuse: %v", err)
	}
	_, _, err = RunPair(fx, NewMaterial(), NewMaterial(), func(p *Party) error { _, e := p.Exp(x); return e })
	if err == nil || !strings.Contains(err.Error(), "exp") {
		t.Fatalf("exhaustion: %v", err)
	}
	// swapped party keys
	d0, d1, _ := GenDReLU(rng, 4, 16)
	_, _, err = RunPair(fx, NewMaterial(d1), NewMaterial(d0), func(p *Party) error { _, e := p.DReLU(x, 16); return e })
	if err == nil || !strings.Contains(err.Error(), "drelu") {
		t.Fatalf("swapped keys: %v", err)
	}
}
