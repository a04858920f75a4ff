package hf

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/hssee/hssee/internal/sharedtest"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/safetensors"
)

type modelOpts struct {
	kvHeads  int
	untied   bool
	attnBias bool
	mlpBias  bool
	style    model.RopeStyle
}

// randomModel builds a small random model that passes Check.
func randomModel(arch model.Arch, o modelOpts, seed uint64) *model.Model {
	r := rand.New(rand.NewPCG(seed, 7))
	c := model.Config{Arch: arch, Dim: 16, HiddenDim: 24, NLayers: 2, NHeads: 4, NKVHeads: 4,
		VocabSize: 19, MaxSeqLen: 9, NormEps: 1e-5, BOS: 1, EOS: 2, TiedEmbed: !o.untied}
	gpt := arch == model.ArchGPT2
	if !gpt {
		c.RopeTheta = 10000
		c.RopeStyle = model.RopeHalf
		if o.style != "" {
			c.RopeStyle = o.style
		}
		if o.kvHeads != 0 {
			c.NKVHeads = o.kvHeads
		}
		c.NormEps = 1e-6
	}
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	lin := func(out, in int, bias bool) model.Linear {
		l := model.Linear{W: vec(out * in), Out: out, In: in}
		if bias {
			l.B = vec(out)
		}
		return l
	}
	norm := func() model.Norm {
		n := model.Norm{W: vec(c.Dim)}
		if gpt {
			n.B = vec(c.Dim)
		}
		return n
	}
	m := &model.Model{Config: c, Embed: vec(c.VocabSize * c.Dim), FinalNorm: norm()}
	m.LMHead = m.Embed
	if o.untied {
		m.LMHead = vec(c.VocabSize * c.Dim)
	}
	if gpt {
		m.Pos = vec(c.MaxSeqLen * c.Dim)
	}
	ab, mb := gpt || o.attnBias, gpt || o.mlpBias
	for range c.NLayers {
		l := model.Layer{AttnNorm: norm(), FFNNorm: norm(),
			Wq: lin(c.Dim, c.Dim, ab), Wk: lin(c.KVDim(), c.Dim, ab), Wv: lin(c.KVDim(), c.Dim, ab),
			Wo: lin(c.Dim, c.Dim, ab), W1: lin(c.HiddenDim, c.Dim, mb), W2: lin(c.Dim, c.HiddenDim, mb)}
		if !gpt {
			l.W3 = lin(c.HiddenDim, c.Dim, mb)
		}
		m.Layers = append(m.Layers, l)
	}
	if err := m.Check(); err != nil {
		panic(err)
	}
	return m
}

func aliased(a, b []float32) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }

func TestRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		arch model.Arch
		o    modelOpts
	}{
		{"llama tied", model.ArchLlama, modelOpts{}},
		{"llama gqa untied", model.ArchLlama, modelOpts{kvHeads: 2, untied: true}},
		{"llama mqa biases", model.ArchLlama, modelOpts{kvHeads: 1, attnBias: true, mlpBias: true}},
		{"gpt2 tied", model.ArchGPT2, modelOpts{}},
		{"gpt2 untied", model.ArchGPT2, modelOpts{untied: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := randomModel(c.arch, c.o, 1)
			before := model.Fingerprint(m)
			dir := t.TempDir()
			if err := Save(dir, m); err != nil {
				t.Fatal(err)
			}
			if model.Fingerprint(m) != before {
				t.Fatal("Save modified the model")
			}
			got, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Errorf("loaded model differs:\n got config %+v\nwant config %+v", got.Config, m.Config)
			}
			if model.Fingerprint(got) != before {
				t.Error("fingerprint changed across Save/Load")
			}
			if tied := aliased(got.Embed, got.LMHead); tied != m.Config.TiedEmbed {
				t.Errorf("LMHead aliases Embed = %v, want %v", tied, m.Config.TiedEmbed)
			}
		})
	}
}

// Sharded checkpoints load the same as a single file.
func TestShardedLoad(t *testing.T) {
	m := randomModel(model.ArchLlama, modelOpts{kvHeads: 2, untied: true}, 2)
	dir := t.TempDir()
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	single := filepath.Join(dir, safetensors.SingleFileName)
	f, err := safetensors.Open(single)
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, n := range f.Names() {
		d, shape, err := f.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, safetensors.Tensor{Name: n, Shape: shape, Data: d})
	}
	f.Close()
	os.Remove(single)
	if err := safetensors.WriteDir(dir, ts, nil, 4000); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, safetensors.IndexFileName)); err != nil {
		t.Fatal("no index written")
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if model.Fingerprint(got) != model.Fingerprint(m) {
		t.Error("sharded load differs")
	}
}

// ropeApply rotates one head vector in place at position pos.
func ropeApply(v []float32, pos int, theta float64, style model.RopeStyle) {
	hd := len(v)
	for i := range hd / 2 {
		f := float64(pos) / math.Pow(theta, float64(2*i)/float64(hd))
		cs, sn := math.Cos(f), math.Sin(f)
		a, b := 2*i, 2*i+1
		if style == model.RopeHalf {
			a, b = i, i+hd/2
		}
		x, y := float64(v[a]), float64(v[b])
		v[a], v[b] = float32(x*cs-y*sn), float32(x*sn+y*cs)
	}
}

func matvec(w []float32, out, in int, x []float32) []float32 {
	y := make([]float32, out)
	for o := range out {
		var s float64
		for i := range in {
			s += float64(w[o*in+i]) * float64(x[i])
		}
		y[o] = float32(s)
	}
	return y
}

// A RopeInterleaved model saves as rotate-half with permuted q/k rows: the
// attention scores q·k after RoPE (GQA head mapping included) are unchanged,
// and everything else is stored as is.
func TestInterleavedSavesAsHalf(t *testing.T) {
	m := randomModel(model.ArchLlama, modelOpts{kvHeads: 2, style: model.RopeInterleaved, attnBias: true}, 3)
	dir := t.TempDir()
	if err := Save(dir, m); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Config.RopeStyle != model.RopeHalf {
		t.Fatalf("loaded style %q, want half", got.Config.RopeStyle)
	}
	c := m.Config
	hd := c.HeadDim()
	r := rand.New(rand.NewPCG(4, 4))
	x := make([]float32, c.Dim)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for li := range m.Layers {
		a, b := m.Layers[li], got.Layers[li]
		if !slices.Equal(a.Wv.W, b.Wv.W) || !slices.Equal(a.Wo.W, b.Wo.W) || !slices.Equal(a.W2.W, b.W2.W) {
			t.Fatal("non-RoPE weights changed")
		}
		if slices.Equal(a.Wq.W, b.Wq.W) {
			t.Fatal("q rows not permuted")
		}
		add := func(y, bias []float32) []float32 {
			for i := range y {
				y[i] += bias[i]
			}
			return y
		}
		qa, ka := add(matvec(a.Wq.W, c.Dim, c.Dim, x), a.Wq.B), add(matvec(a.Wk.W, c.KVDim(), c.Dim, x), a.Wk.B)
		qb, kb := add(matvec(b.Wq.W, c.Dim, c.Dim, x), b.Wq.B), add(matvec(b.Wk.W, c.KVDim(), c.Dim, x), b.Wk.B)
		for h := range c.NHeads {
			kh := h / (c.NHeads / c.NKVHeads)
			for _, pq := range []int{0, 3, 7} {
				for _, pk := range []int{0, 2, 7} {
					dot := func(q, k []float32, style model.RopeStyle) float64 {
						qv := slices.Clone(q[h*hd : (h+1)*hd])
						kv := slices.Clone(k[kh*hd : (kh+1)*hd])
						ropeApply(qv, pq, 10000, style)
						ropeApply(kv, pk, 10000, style)
						var s float64
						for i := range qv {
							s += float64(qv[i]) * float64(kv[i])
						}
						return s
					}
					da, db := dot(qa, ka, model.RopeInterleaved), dot(qb, kb, model.RopeHalf)
					if math.Abs(da-db) > 1e-3*(1+math.Abs(da)) {
						t.Fatalf("layer %d head %d pos %d/%d: score %v (interleaved) vs %v (half)", li, h, pq, pk, da, db)
					}
				}
			}
		}
		// And the permutation inverts exactly.
		back := model.RopeRows(b.Wq.W, c.NHeads, hd, c.Dim, false)
		if !slices.Equal(back, a.Wq.W) {
			t.Fatal("ropeRows does not invert")
		}
	}
}

func writeCheckpoint(t *testing.T, dir string, cfg map[string]any, ts []safetensors.Tensor, meta map[string]string) {
	t.Helper()
	cb, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFileName), cb, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.WriteDir(dir, ts, meta, 0); err != nil {
		t.Fatal(err)
	}
}

// A hand-built GPT-2 checkpoint in the original OpenAI naming (no
// "transformer." prefix, causal-mask buffers present) maps Conv1D [in][out]
// entries to the right [out][in] positions.
func TestGPT2Conv1DLayout(t *testing.T) {
	const D, H, V, P = 4, 16, 5, 3
	seq := func(n int, base float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = base + float32(i)
		}
		return v
	}
	ten := func(name string, data []float32, shape ...int) safetensors.Tensor {
		return safetensors.Tensor{Name: name, Shape: shape, Data: data}
	}
	ts := []safetensors.Tensor{
		ten("wte.weight", seq(V*D, 0), V, D), ten("wpe.weight", seq(P*D, 100), P, D),
		ten("h.0.ln_1.weight", seq(D, 200), D), ten("h.0.ln_1.bias", seq(D, 210), D),
		ten("h.0.attn.c_attn.weight", seq(D*3*D, 1000), D, 3*D), ten("h.0.attn.c_attn.bias", seq(3*D, 2000), 3*D),
		ten("h.0.attn.c_proj.weight", seq(D*D, 3000), D, D), ten("h.0.attn.c_proj.bias", seq(D, 3100), D),
		ten("h.0.attn.bias", seq(P*P, 0), 1, 1, P, P),
		ten("h.0.ln_2.weight", seq(D, 220), D), ten("h.0.ln_2.bias", seq(D, 230), D),
		ten("h.0.mlp.c_fc.weight", seq(D*H, 4000), D, H), ten("h.0.mlp.c_fc.bias", seq(H, 4100), H),
		ten("h.0.mlp.c_proj.weight", seq(H*D, 5000), H, D), ten("h.0.mlp.c_proj.bias", seq(D, 5100), D),
		ten("ln_f.weight", seq(D, 240), D), ten("ln_f.bias", seq(D, 250), D),
	}
	dir := t.TempDir()
	writeCheckpoint(t, dir, map[string]any{"model_type": "gpt2", "n_embd": D, "n_layer": 1, "n_head": 2,
		"n_ctx": P, "vocab_size": V, "n_inner": nil, "bos_token_id": 0, "eos_token_id": 4}, ts, nil)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	if c.HiddenDim != 4*D || c.MaxSeqLen != P || !c.TiedEmbed || c.NormEps != 1e-5 || c.BOS != 0 || c.EOS != 4 {
		t.Errorf("config %+v", c)
	}
	l := m.Layers[0]
	// c_attn[i][j] = 1000 + i*3D + j; q = columns [0,D), k [D,2D), v [2D,3D).
	for o := range D {
		for i := range D {
			for k, w := range []model.Linear{l.Wq, l.Wk, l.Wv} {
				if got, want := w.W[o*D+i], float32(1000+i*3*D+k*D+o); got != want {
					t.Fatalf("qkv %d [%d][%d] = %v, want %v", k, o, i, got, want)
				}
			}
		}
		if l.Wk.B[o] != float32(2000+D+o) {
			t.Fatalf("k bias %d = %v", o, l.Wk.B[o])
		}
	}
	for o := range H {
		for i := range D {
			if got, want := l.W1.W[o*D+i], float32(4000+i*H+o); got != want {
				t.Fatalf("c_fc [%d][%d] = %v, want %v", o, i, got, want)
			}
			if got, want := l.W2.W[i*H+o], float32(5000+o*D+i); got != want {
				t.Fatalf("mlp c_proj [%d][%d] = %v, want %v", i, o, got, want)
			}
		}
	}
	if l.Wo.W[1*D+2] != float32(3000+2*D+1) || m.Pos[D] != 100+D || m.FinalNorm.B[1] != 251 {
		t.Error("c_proj / wpe / ln_f mismatch")
	}
}

func llamaTinyConfig() map[string]any {
	return map[string]any{"model_type": "llama", "hidden_size": 8, "intermediate_size": 12,
		"num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 6,
		"max_position_embeddings": 16, "rms_norm_eps": 1e-5, "tie_word_embeddings": false}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"no model_type", func(m map[string]any) { delete(m, "model_type") }, "missing model_type"},
		{"bert", func(m map[string]any) { m["model_type"] = "bert" }, "unsupported: config: model_type"},
		{"missing hidden", func(m map[string]any) { delete(m, "hidden_size") }, "missing hidden_size"},
		{"rope scaling", func(m map[string]any) { m["rope_scaling"] = map[string]any{"type": "linear", "factor": 2} }, "rope_scaling"},
		{"gelu llama", func(m map[string]any) { m["hidden_act"] = "gelu" }, "hidden_act"},
		{"head_dim", func(m map[string]any) { m["head_dim"] = 8 }, "head_dim"},
		{"eps zero", func(m map[string]any) { m["rms_norm_eps"] = 0 }, "rms_norm_eps"},
		{"eps huge", func(m map[string]any) { m["rms_norm_eps"] = 1e300 }, "rms_norm_eps"},
		{"theta negative", func(m map[string]any) { m["rope_theta"] = -1 }, "rope_theta"},
		{"heads", func(m map[string]any) { m["num_attention_heads"] = 3 }, "invalid config"},
		{"kv heads", func(m map[string]any) { m["num_key_value_heads"] = 0 }, "invalid config"},
		{"odd head dim", func(m map[string]any) { m["num_attention_heads"] = 8; m["num_key_value_heads"] = 8 }, "even"},
		{"float size", func(m map[string]any) { m["hidden_size"] = 8.5 }, "json"},
		{"bos range", func(m map[string]any) { m["bos_token_id"] = 6 }, "bos_token_id 6"},
		{"eos type", func(m map[string]any) { m["eos_token_id"] = "x" }, "eos_token_id"},
		{"gpt2 act", func(m map[string]any) {
			clear(m)
			m["model_type"], m["n_embd"], m["n_layer"], m["n_head"], m["n_positions"], m["vocab_size"] = "gpt2", 8, 1, 2, 4, 6
			m["activation_function"] = "relu"
		}, "activation_function"},
		{"gpt2 no positions", func(m map[string]any) {
			clear(m)
			m["model_type"], m["n_embd"], m["n_layer"], m["n_head"], m["vocab_size"] = "gpt2", 8, 1, 2, 6
		}, "n_positions"},
		{"gpt2 inverse layer scaling", func(m map[string]any) {
			clear(m)
			m["model_type"], m["n_embd"], m["n_layer"], m["n_head"], m["n_positions"], m["vocab_size"] = "gpt2", 8, 1, 2, 4, 6
			m["scale_attn_by_inverse_layer_idx"] = true
		}, "scale_attn_by_inverse_layer_idx"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := llamaTinyConfig()
			c.edit(cfg)
			b, _ := json.Marshal(cfg)
			_, err := ParseConfig(b)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "hf: ") {
				t.Errorf("ParseConfig: %v, want error containing %q", err, c.want)
			}
		})
	}
	if _, err := ParseConfig([]byte("{")); err == nil {
		t.Error("truncated JSON accepted")
	}
	// Defaults and token-id forms.
	cfg := llamaTinyConfig()
	delete(cfg, "num_key_value_heads")
	cfg["bos_token_id"], cfg["eos_token_id"] = nil, []int{3, 5}
	b, _ := json.Marshal(cfg)
	c, err := ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.NKVHeads != 2 || c.RopeTheta != 10000 || c.BOS != -1 || c.EOS != 3 || c.TiedEmbed || c.RopeStyle != model.RopeHalf {
		t.Errorf("defaults: %+v", c)
	}
}

func llamaTinyTensors(r *rand.Rand) []safetensors.Tensor {
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	ten := func(name string, shape ...int) safetensors.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		return safetensors.Tensor{Name: name, Shape: shape, Data: vec(n)}
	}
	p := "model.layers.0."
	return []safetensors.Tensor{
		ten("model.embed_tokens.weight", 6, 8), ten("lm_head.weight", 6, 8), ten("model.norm.weight", 8),
		ten(p+"input_layernorm.weight", 8), ten(p+"post_attention_layernorm.weight", 8),
		ten(p+"self_attn.q_proj.weight", 8, 8), ten(p+"self_attn.k_proj.weight", 4, 8),
		ten(p+"self_attn.v_proj.weight", 4, 8), ten(p+"self_attn.o_proj.weight", 8, 8),
		ten(p+"mlp.gate_proj.weight", 12, 8), ten(p+"mlp.up_proj.weight", 12, 8), ten(p+"mlp.down_proj.weight", 8, 12),
	}
}

func TestLoadErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, c := range []struct {
		name string
		cfg  func(m map[string]any)
		ts   func(ts []safetensors.Tensor) []safetensors.Tensor
		meta map[string]string
		want string
	}{
		{"ok", nil, nil, nil, ""},
		{"missing", nil, func(ts []safetensors.Tensor) []safetensors.Tensor { return ts[:len(ts)-1] }, nil, `missing tensor "model.layers.0.mlp.down_proj.weight"`},
		{"shape", nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[6].Shape = []int{8, 4}
			return ts
		}, nil, "has shape [8 4], want [4 8]"},
		{"unexpected", nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "model.layers.0.self_attn.q_proj.bias", Shape: []int{8}, Data: make([]float32, 8)})
		}, nil, "unexpected tensor"},
		{"bias wanted", func(m map[string]any) { m["attention_bias"] = true }, nil, nil, `missing tensor "model.layers.0.self_attn.q_proj.bias"`},
		{"no embeddings", nil, func(ts []safetensors.Tensor) []safetensors.Tensor { return ts[2:] }, nil, "missing tensor \"model.embed_tokens.weight\""},
		{"tied mismatch", func(m map[string]any) { m["tie_word_embeddings"] = true }, nil, nil, "differs"},
		{"head only", nil, func(ts []safetensors.Tensor) []safetensors.Tensor { return ts[1:] }, nil, ""},
		{"embed only", nil, func(ts []safetensors.Tensor) []safetensors.Tensor { return append(ts[:1], ts[2:]...) }, nil, ""},
		{"alias", nil, func(ts []safetensors.Tensor) []safetensors.Tensor { return ts[1:] },
			map[string]string{"model.embed_tokens.weight": "lm_head.weight"}, ""},
		{"inv_freq ignored", nil, func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "model.layers.0.self_attn.rotary_emb.inv_freq", Shape: []int{2}, Data: []float32{1, 2}})
		}, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := llamaTinyConfig()
			if c.cfg != nil {
				c.cfg(cfg)
			}
			ts := llamaTinyTensors(r)
			if c.ts != nil {
				ts = c.ts(ts)
			}
			dir := t.TempDir()
			writeCheckpoint(t, dir, cfg, ts, c.meta)
			m, err := Load(dir)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if untied := !aliased(m.Embed, m.LMHead); untied == m.Config.TiedEmbed {
					t.Errorf("TiedEmbed %v but aliasing %v", m.Config.TiedEmbed, !untied)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "hf: ") {
				t.Errorf("Load: %v, want error containing %q", err, c.want)
			}
		})
	}
	if _, err := Load(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty dir: %v", err)
	}
}

func TestSaveErrors(t *testing.T) {
	if err := Save(t.TempDir(), nil); err == nil {
		t.Error("nil model saved")
	}
	m := randomModel(model.ArchLlama, modelOpts{}, 6)
	m.LMHead = slices.Clone(m.LMHead)
	m.LMHead[0]++
	if err := Save(t.TempDir(), m); err == nil || !strings.Contains(err.Error(), "TiedEmbed") {
		t.Errorf("tied model with a different head: %v", err)
	}
	m = randomModel(model.ArchGPT2, modelOpts{}, 6)
	m.Layers[0].Wq.B = nil
	if err := Save(t.TempDir(), m); err == nil {
		t.Error("invalid model saved")
	}
}

func TestLoadTinyStories(t *testing.T) {
	dir := sharedtest.TinyStories(t)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := model.Config{Arch: model.ArchLlama, Dim: 128, HiddenDim: 384, NLayers: 2, NHeads: 8, NKVHeads: 4,
		VocabSize: 2048, MaxSeqLen: 512, NormEps: 1e-6, RopeTheta: 10000, RopeStyle: model.RopeHalf,
		TiedEmbed: true, BOS: 1, EOS: 2}
	if m.Config != want {
		t.Errorf("config\n got %+v\nwant %+v", m.Config, want)
	}
	if !aliased(m.Embed, m.LMHead) {
		t.Error("Embed does not alias LMHead")
	}
	if m.Layers[1].Wk.Out != 64 || m.Layers[1].W2.In != 384 {
		t.Errorf("shapes: wk out %d, w2 in %d", m.Layers[1].Wk.Out, m.Layers[1].W2.In)
	}
	// Spot-check values against the raw file.
	f, err := safetensors.Open(filepath.Join(dir, safetensors.SingleFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, got := range map[string][]float32{
		"lm_head.weight":                                 m.Embed,
		"model.layers.1.self_attn.q_proj.weight":         m.Layers[1].Wq.W,
		"model.layers.0.mlp.up_proj.weight":              m.Layers[0].W3.W,
		"model.layers.0.mlp.gate_proj.weight":            m.Layers[0].W1.W,
		"model.layers.1.post_attention_layernorm.weight": m.Layers[1].FFNNorm.W,
		"model.norm.weight":                              m.FinalNorm.W,
	} {
		raw, _, err := f.Float32(name)
		if err != nil || !slices.Equal(raw, got) {
			t.Errorf("%s differs from the file (%v)", name, err)
		}
	}
	// Save/Load preserves it exactly.
	out := t.TempDir()
	if err := Save(out, m); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if model.Fingerprint(m2) != model.Fingerprint(m) {
		t.Error("tinystories fingerprint changed across Save/Load")
	}
}

func FuzzConfig(f *testing.F) {
	// One directory per family holds a valid model.safetensors; each input
	// overwrites its config.json (fuzz inputs run one at a time per process).
	var dirs []string
	var seeds [][]byte
	for _, m := range []*model.Model{
		randomModel(model.ArchLlama, modelOpts{kvHeads: 2}, 8),
		randomModel(model.ArchGPT2, modelOpts{}, 8),
	} {
		dir := f.TempDir()
		if err := Save(dir, m); err != nil {
			f.Fatal(err)
		}
		cb, err := os.ReadFile(filepath.Join(dir, ConfigFileName))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(cb, uint8(len(dirs)))
		dirs = append(dirs, dir)
		seeds = append(seeds, cb)
	}
	f.Add(seeds[0], uint8(1))
	f.Add([]byte(strings.Replace(string(seeds[0]), `"num_key_value_heads": 2`, `"num_key_value_heads": 4`, 1)), uint8(0))
	f.Add([]byte(strings.Replace(string(seeds[0]), `"vocab_size": 19`, `"vocab_size": 4194304`, 1)), uint8(0))
	f.Add([]byte(strings.Replace(string(seeds[1]), `"n_inner": 64`, `"n_inner": null`, 1)), uint8(1))
	f.Add([]byte(`{"model_type":"llama"}`), uint8(0))
	f.Add([]byte(`{"model_type":"gpt2","n_embd":-1}`), uint8(1))
	f.Add([]byte(`[]`), uint8(0))
	f.Fuzz(func(t *testing.T, cfg []byte, which uint8) {
		dir := dirs[which%2]
		if err := os.WriteFile(filepath.Join(dir, ConfigFileName), cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Load(dir)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "hf: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		if err := m.Check(); err != nil {
			t.Fatalf("Load returned a model failing Check: %v", err)
		}
	})
}

func BenchmarkLoadTinyStories(b *testing.B) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "models", "tinystories-656k")
	if _, err := os.Stat(dir); err != nil {
		b.Skipf("shared data directory absent: %v", err)
	}
	b.SetBytes(2626168)
	for b.Loop() {
		if _, err := Load(dir); err != nil {
			b.Fatal(err)
		}
	}
}
