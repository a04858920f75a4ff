package ee

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/hssee/hssee/model"
)

// testKey returns a deterministic key whose secret is derived from seed.
func testKey(t testing.TB, mode Mode, seed byte) *Key {
	t.Helper()
	var s [SecretSize]byte
	for i := range s {
		s[i] = seed + byte(i)*7 + 1
	}
	k, err := GenerateKey(bytes.NewReader(s[:]), mode)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type eqCase struct {
	name string
	cfg  model.Config
	mode Mode
	bias bool // give a LLaMA model biases on every linear layer (attention_bias / mlp_bias)
}

// build returns the case's random model.
func (tc eqCase) build(t testing.TB, seed uint64) *model.Model {
	m := randomModel(t, tc.cfg, seed)
	if tc.bias {
		r := rand.New(rand.NewPCG(seed, 1))
		for i := range m.Layers {
			l := &m.Layers[i]
			for _, lin := range []*model.Linear{&l.Wq, &l.Wk, &l.Wv, &l.Wo, &l.W1, &l.W2, &l.W3} {
				lin.B = to32v(randVec(r, lin.Out, 0.2))
			}
		}
		if err := m.Check(); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func eqCases() []eqCase {
	var cs []eqCase
	for _, mode := range []Mode{ModePerm, ModeRotate} {
		cs = append(cs,
			eqCase{"llama-half-gqa", llamaConfig(model.RopeHalf, 4, 2, true), mode, false},
			eqCase{"llama-interleaved-mha", llamaConfig(model.RopeInterleaved, 4, 4, false), mode, false},
			eqCase{"llama-half-mqa", llamaConfig(model.RopeHalf, 4, 1, false), mode, false},
			eqCase{"llama-interleaved-gqa-bias", llamaConfig(model.RopeInterleaved, 4, 2, true), mode, true},
			eqCase{"gpt2", gpt2Config(), mode, false},
		)
	}
	return cs
}

func randVec(r *rand.Rand, n int, std float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64() * std
	}
	return x
}

func tolFor(mode Mode) float64 {
	if mode == ModePerm {
		return 1e-9 // exact weights, only summation order differs
	}
	return 2e-4 // float32 rounding of the rotated weights
}

// TestNormFolding checks linear ∘ norm equivariance: with the norm's gain
// and bias folded into W' = W·diag(g)·Qᵀ (b' = b + W·β), the neutral norm of
// Q·x followed by W' equals W(norm(x)). LayerNorm needs Q·1 = 1; the
// negative control shows a generic orthogonal Q breaks it.
func TestNormFolding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const d, out = 24, 10
	k := testKey(t, ModeRotate, 3)
	for _, tc := range []struct {
		name      string
		layerNorm bool
		fixOnes   bool
		wantOK    bool
	}{
		{"rmsnorm-haar", false, false, true},
		{"rmsnorm-fixing-ones", false, true, true},
		{"layernorm-fixing-ones", true, true, true},
		{"layernorm-haar-breaks", true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStream(&k.secret, "test/"+tc.name, d)
			var q *mat.Dense
			if tc.fixOnes {
				q = s.haarFixingOnes(d)
			} else {
				q = s.haar(d)
			}
			checkOrthogonal(t, q)
			c := &components{mode: ModeRotate, resid: orthoResidual{q}}
			n := model.Norm{W: make([]float32, d)}
			for i := range n.W {
				n.W[i] = float32(0.5 + r.Float64())
			}
			neutral := model.Norm{W: ones(d)}
			if tc.layerNorm {
				n.B = to32v(randVec(r, d, 0.3))
				neutral.B = make([]float32, d)
			}
			l := model.Linear{W: to32v(randVec(r, out*d, 0.3)), B: to32v(randVec(r, out, 0.3)), Out: out, In: d}
			w, b := c.in(l, n)
			l2 := linear(w, b)
			var worst float64
			for range 20 {
				x := randVec(r, d, 2)
				for i := range x {
					x[i] += 1.5 // a mean offset, so centring matters
				}
				want := refLinear(l, refNorm(n, 1e-5, x))
				got := refLinear(l2, refNorm(neutral, 1e-5, c.resid.vec(x)))
				worst = max(worst, maxAbsDiff(want, got))
			}
			if ok := worst < 1e-5; ok != tc.wantOK {
				t.Fatalf("max abs diff %.3g, want equivariant=%v", worst, tc.wantOK)
			}
		})
	}
}

func checkOrthogonal(t *testing.T, q *mat.Dense) {
	t.Helper()
	n, _ := q.Dims()
	var p mat.Dense
	p.Mul(q.T(), q)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(p.At(i, j)-want) > 1e-12 {
				t.Fatalf("QᵀQ[%d][%d] = %v", i, j, p.At(i, j))
			}
		}
	}
}

func TestHaarFixingOnes(t *testing.T) {
	k := testKey(t, ModeRotate, 9)
	for _, n := range []int{1, 2, 3, 16, 33} {
		q := newStream(&k.secret, "test", n).haarFixingOnes(n)
		checkOrthogonal(t, q)
		for i := 0; i < n; i++ {
			var s float64
			for j := 0; j < n; j++ {
				s += q.At(i, j)
			}
			if math.Abs(s-1) > 1e-12 {
				t.Fatalf("n=%d: (Q·1)[%d] = %v", n, i, s)
			}
		}
	}
}

// TestLinearOut checks an output-side linear layer: W'·x = Q·(W·x) when
// W' = Q·W, b' = Q·b.
func TestLinearOut(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const in = 12
	for _, mode := range []Mode{ModePerm, ModeRotate} {
		k := testKey(t, mode, 1)
		c, err := deriveComponents(k, llamaConfig(model.RopeHalf, 4, 2, true))
		if err != nil {
			t.Fatal(err)
		}
		dd := 32 // the config's Dim
		l := model.Linear{W: to32v(randVec(r, dd*in, 0.3)), B: to32v(randVec(r, dd, 0.3)), Out: dd, In: in}
		l2 := c.out(dense(l.W, dd, in), vec64(l.B))
		x := randVec(r, in, 1)
		if diff := maxAbsDiff(c.resid.vec(refLinear(l, x)), refLinear(l2, x)); diff > tolFor(mode) {
			t.Errorf("%s: max abs diff %.3g", mode, diff)
		}
	}
}

// TestBlockEquivariance checks every block of the transformed model against
// the plaintext one: embedding, attention (RoPE in both styles, MHA, GQA,
// MQA, GPT-2), SwiGLU / GeLU MLP, and final norm + LM head.
func TestBlockEquivariance(t *testing.T) {
	for i, tc := range eqCases() {
		t.Run(fmt.Sprintf("%s/%s", tc.mode, tc.name), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 77))
			m := tc.build(t, uint64(i)+100)
			k := testKey(t, tc.mode, byte(i))
			c, err := deriveComponents(k, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			em := c.apply(m)
			if err := em.Check(); err != nil {
				t.Fatal(err)
			}
			tol := tolFor(tc.mode)
			cfg := tc.cfg

			ids := randomIDs(r, 7, cfg.VocabSize)
			encIDs := make([]int, len(ids))
			for j, id := range ids {
				encIDs[j] = c.vocab[id]
			}
			x0, x1 := refEmbed(m, ids), refEmbed(em, encIDs)
			for j := range x0 {
				if diff := maxAbsDiff(c.resid.vec(x0[j]), x1[j]); diff > tol {
					t.Fatalf("embedding: position %d: max abs diff %.3g", j, diff)
				}
			}

			for li := range m.Layers {
				xs := make([][]float64, 9)
				qxs := make([][]float64, len(xs))
				for j := range xs {
					xs[j] = randVec(r, cfg.Dim, 1)
					qxs[j] = c.resid.vec(xs[j])
				}
				want, got := refAttn(cfg, &m.Layers[li], xs), refAttn(cfg, &em.Layers[li], qxs)
				for j := range want {
					if diff := maxAbsDiff(c.resid.vec(want[j]), got[j]); diff > tol {
						t.Fatalf("layer %d attention: position %d: max abs diff %.3g", li, j, diff)
					}
				}
				for j := range xs {
					want, got := refFFN(cfg, &m.Layers[li], xs[j]), refFFN(cfg, &em.Layers[li], qxs[j])
					if diff := maxAbsDiff(c.resid.vec(want), got); diff > tol {
						t.Fatalf("layer %d ffn: max abs diff %.3g", li, diff)
					}
				}
			}

			x := randVec(r, cfg.Dim, 1)
			want := refLinear(model.Linear{W: m.LMHead, Out: cfg.VocabSize, In: cfg.Dim}, refNorm(m.FinalNorm, cfg.NormEps, x))
			got := refLinear(model.Linear{W: em.LMHead, Out: cfg.VocabSize, In: cfg.Dim}, refNorm(em.FinalNorm, cfg.NormEps, c.resid.vec(x)))
			for v := range want {
				if d := math.Abs(want[v] - got[c.vocab[v]]); d > tol {
					t.Fatalf("lm head: token %d: diff %.3g", v, d)
				}
			}

			// Structure: rotate mode neutralises norms and unties the head;
			// perm mode keeps a tied head tied.
			if tc.mode == ModeRotate {
				if em.Config.TiedEmbed {
					t.Error("rotate mode left the head tied")
				}
				for _, g := range em.Layers[0].AttnNorm.W {
					if g != 1 {
						t.Fatal("attention norm gain not folded")
					}
				}
			} else if cfg.TiedEmbed && &em.LMHead[0] != &em.Embed[0] {
				t.Error("perm mode untied a tied head")
			}
		})
	}
}

// TestRopeCommutes checks the property the Q/K map relies on: a per-pair
// rotation and scale commutes with RoPE at any position.
func TestRopeCommutes(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	for _, style := range []model.RopeStyle{model.RopeHalf, model.RopeInterleaved} {
		cfg := llamaConfig(style, 4, 2, true)
		hd := cfg.HeadDim()
		a := mat.NewDense(hd, hd, nil)
		for _, p := range ropePairs(style, hd) {
			setRot(a, p, 2*math.Pi*r.Float64(), 0.5+1.5*r.Float64())
		}
		for pos := range 12 {
			x := randVec(r, hd, 1)
			ax := mulVec(a, x)
			refRope(cfg, ax, pos) // rope(A x)
			rx := append([]float64(nil), x...)
			refRope(cfg, rx, pos)
			arx := mulVec(a, rx) // A rope(x)
			if d := maxAbsDiff(ax, arx); d > 1e-12 {
				t.Fatalf("%s pos %d: diff %.3g", style, pos, d)
			}
		}
	}
}
