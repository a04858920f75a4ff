package ee

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hssee/hssee/internal/sharedtest"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/hf"
)

// runAll runs the plain engine over ids and returns every position's logits.
func runAll(t *testing.T, m *model.Model, ids []int) [][]float32 {
	t.Helper()
	r, err := model.NewRunner(m, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows, err := r.ForwardAll(ids)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// checkPlainEngine is the acceptance test on the unmodified plain engine:
// DecryptLogits(F'(EncryptIDs(p))) ≈ F(p) at every position, and at the last
// position through Runner.Forward.
func checkPlainEngine(t *testing.T, m *model.Model, mode Mode, ids []int, seed byte) float64 {
	t.Helper()
	k := testKey(t, mode, seed)
	em, err := Transform(m, k)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := k.EncryptIDs(ids)
	if err != nil {
		t.Fatal(err)
	}
	want, got := runAll(t, m, ids), runAll(t, em, enc)
	var worst float64
	for p := range want {
		dec, err := k.DecryptLogits(got[p])
		if err != nil {
			t.Fatal(err)
		}
		for v := range dec {
			worst = max(worst, math.Abs(float64(dec[v]-want[p][v])))
		}
	}
	// Last-position logits via Forward (the KV-cache path, token by token
	// for the EE model).
	r, err := model.NewRunner(em, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var last []float32
	for _, id := range enc {
		if last, err = r.Forward([]int{id}); err != nil {
			t.Fatal(err)
		}
	}
	dec, err := k.DecryptLogits(last)
	if err != nil {
		t.Fatal(err)
	}
	for v := range dec {
		worst = max(worst, math.Abs(float64(dec[v]-want[len(ids)-1][v])))
	}
	if worst > e2eTol(mode) {
		t.Errorf("%s: max abs logit error %.3g > %.g", mode, worst, e2eTol(mode))
	}
	return worst
}

func TestPlainEngineRandomModels(t *testing.T) {
	cases := []struct {
		name string
		cfg  model.Config
	}{
		{"llama-half-gqa-tied", llamaConfig(model.RopeHalf, 4, 2, true)},
		{"llama-interleaved-mha", llamaConfig(model.RopeInterleaved, 4, 4, false)},
		{"llama-interleaved-gqa", llamaConfig(model.RopeInterleaved, 8, 2, false)},
		{"gpt2-tied", gpt2Config()},
	}
	for i, tc := range cases {
		m := randomModel(t, tc.cfg, uint64(300+i))
		ids := randomIDs(rand.New(rand.NewPCG(uint64(i), 9)), tc.cfg.MaxSeqLen, tc.cfg.VocabSize)
		for _, mode := range []Mode{ModePerm, ModeRotate} {
			t.Run(fmt.Sprintf("%s/%s", mode, tc.name), func(t *testing.T) {
				t.Logf("max abs logit error %.3g", checkPlainEngine(t, m, mode, ids, byte(i)))
			})
		}
	}
}

// TestPlainEngineTinyStories runs the acceptance test on the real
// tinystories-656k checkpoint (LLaMA, GQA 8/4, rotate-half RoPE, tied).
func TestPlainEngineTinyStories(t *testing.T) {
	dir := sharedtest.TinyStories(t)
	m, err := hf.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 64
	if testing.Short() {
		n = 16
	}
	ids := randomIDs(rand.New(rand.NewPCG(42, 42)), n, m.Config.VocabSize)
	ids[0] = m.Config.BOS
	for _, mode := range []Mode{ModePerm, ModeRotate} {
		t.Run(string(mode), func(t *testing.T) {
			t.Logf("max abs logit error %.3g over %d positions", checkPlainEngine(t, m, mode, ids, 99), n)
		})
	}
}

// TestEngineOpsCommute checks the identities Transform relies on with the
// plain engine's own float32 ops: RMSNorm(Qx) = Q·RMSNorm(x) for orthogonal
// Q, LayerNorm(Qx) = Q·LayerNorm(x) when Q·1 = 1, and RoPE(Ax) = A·RoPE(x)
// for the per-pair rotation and scale A, in both RoPE styles.
func TestEngineOpsCommute(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	k := testKey(t, ModeRotate, 23)
	const d = 32
	qOnes := newStream(&k.secret, "test/ones", d).haarFixingOnes(d)
	qHaar := newStream(&k.secret, "test/haar", d).haar(d)
	ones32, zeros32 := ones(d), make([]float32, d)
	for range 10 {
		x := randVec(r, d, 1)
		for i := range x {
			x[i] += 0.7
		}
		for _, tc := range []struct {
			name string
			q    orthoResidual
			norm func(out, x []float32) error
		}{
			{"rmsnorm", orthoResidual{qHaar}, func(out, x []float32) error { return model.RMSNorm(out, x, ones32, 1e-5) }},
			{"layernorm", orthoResidual{qOnes}, func(out, x []float32) error { return model.LayerNorm(out, x, ones32, zeros32, 1e-5) }},
		} {
			a, b := make([]float32, d), make([]float32, d)
			if err := tc.norm(a, to32v(tc.q.vec(x))); err != nil {
				t.Fatal(err)
			}
			if err := tc.norm(b, to32v(x)); err != nil {
				t.Fatal(err)
			}
			if diff := maxAbsDiff(vec64(a), tc.q.vec(vec64(b))); diff > 1e-5 {
				t.Fatalf("%s: max abs diff %.3g", tc.name, diff)
			}
		}
	}
	for _, style := range []model.RopeStyle{model.RopeHalf, model.RopeInterleaved} {
		const hd = 16
		m, _ := newStream(&k.secret, "test/rope", hd).ropeMaps(style, hd)
		for pos := range 20 {
			x := randVec(r, 2*hd, 1)
			ax := append(mulVec(m, x[:hd]), mulVec(m, x[hd:])...)
			got := to32v(ax)
			if err := model.RoPE(got, pos, hd, 10000, style); err != nil {
				t.Fatal(err)
			}
			rx := to32v(x)
			if err := model.RoPE(rx, pos, hd, 10000, style); err != nil {
				t.Fatal(err)
			}
			r64 := vec64(rx)
			want := append(mulVec(m, r64[:hd]), mulVec(m, r64[hd:])...)
			if diff := maxAbsDiff(vec64(got), want); diff > 1e-5 {
				t.Fatalf("%s pos %d: max abs diff %.3g", style, pos, diff)
			}
		}
	}
}
