package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/safetensors"
)

// Save writes m into dir (created if needed) as config.json and a single
// F32 model.safetensors in Hugging Face naming, so that Load (and
// transformers) read it back. LLaMA q/k rows are written in rotate-half
// order (permuted from interleaved when m.Config.RopeStyle is
// RopeInterleaved; see the package comment). GPT-2 weights are written in
// Conv1D layout with the "transformer." prefix. Tied models store only the
// embedding table. Save never modifies m.
func Save(dir string, m *model.Model) error {
	if m == nil {
		return errors.New("hf: save: nil model")
	}
	if err := m.Check(); err != nil {
		return fmt.Errorf("hf: save: %w", err)
	}
	if m.Config.TiedEmbed && !sameTable(m.Embed, m.LMHead) {
		return errors.New("hf: save: TiedEmbed is set but LMHead differs from Embed")
	}
	var cfg any
	var ts []safetensors.Tensor
	if m.Config.Arch == model.ArchLlama {
		cfg, ts = llamaOut(m)
	} else {
		cfg, ts = gpt2Out(m)
	}
	cb, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("hf: save: config: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("hf: save: %w", err)
	}
	if err := safetensors.WriteDir(dir, ts, map[string]string{"format": "pt"}, 0); err != nil {
		return fmt.Errorf("hf: save: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFileName), append(cb, '\n'), 0o644); err != nil {
		return fmt.Errorf("hf: save: %w", err)
	}
	return nil
}

// tokenOut maps -1 (no such token) to JSON null.
func tokenOut(id int) *int {
	if id < 0 {
		return nil
	}
	return &id
}

// configTail is how both families' config.json end: the embedding tie, the
// special tokens and the weights' dtype.
type configTail struct {
	TieWordEmbeddings bool   `json:"tie_word_embeddings"`
	BOSTokenID        *int   `json:"bos_token_id"`
	EOSTokenID        *int   `json:"eos_token_id"`
	TorchDType        string `json:"torch_dtype"`
}

func tailOut(c model.Config) configTail {
	return configTail{TieWordEmbeddings: c.TiedEmbed, BOSTokenID: tokenOut(c.BOS), EOSTokenID: tokenOut(c.EOS),
		TorchDType: "float32"}
}

type llamaConfigOut struct {
	Architectures         []string  `json:"architectures"`
	ModelType             string    `json:"model_type"`
	HiddenSize            int       `json:"hidden_size"`
	IntermediateSize      int       `json:"intermediate_size"`
	NumHiddenLayers       int       `json:"num_hidden_layers"`
	NumAttentionHeads     int       `json:"num_attention_heads"`
	NumKeyValueHeads      int       `json:"num_key_value_heads"`
	VocabSize             int       `json:"vocab_size"`
	MaxPositionEmbeddings int       `json:"max_position_embeddings"`
	RMSNormEps            float32   `json:"rms_norm_eps"`
	RopeTheta             float32   `json:"rope_theta"`
	RopeScaling           *struct{} `json:"rope_scaling"`
	HiddenAct             string    `json:"hidden_act"`
	AttentionBias         bool      `json:"attention_bias"`
	MLPBias               bool      `json:"mlp_bias"`
	configTail
}

func llamaOut(m *model.Model) (any, []safetensors.Tensor) {
	c := m.Config
	// HF has one flag per bias group for all layers; a bias present
	// anywhere is written everywhere (zeros where m has none).
	var attnBias, mlpBias bool
	for _, ly := range m.Layers {
		attnBias = attnBias || ly.Wq.B != nil || ly.Wk.B != nil || ly.Wv.B != nil || ly.Wo.B != nil
		mlpBias = mlpBias || ly.W1.B != nil || ly.W2.B != nil || ly.W3.B != nil
	}
	cfg := llamaConfigOut{
		Architectures: []string{"LlamaForCausalLM"}, ModelType: "llama",
		HiddenSize: c.Dim, IntermediateSize: c.HiddenDim, NumHiddenLayers: c.NLayers,
		NumAttentionHeads: c.NHeads, NumKeyValueHeads: c.NKVHeads, VocabSize: c.VocabSize,
		MaxPositionEmbeddings: c.MaxSeqLen, RMSNormEps: c.NormEps, RopeTheta: c.RopeTheta,
		HiddenAct: "silu", AttentionBias: attnBias, MLPBias: mlpBias, configTail: tailOut(c),
	}
	D, hd := c.Dim, c.HeadDim()
	ts := []safetensors.Tensor{{Name: "model.embed_tokens.weight", Shape: []int{c.VocabSize, D}, Data: m.Embed}}
	add := func(name string, data []float32, shape ...int) {
		if data != nil {
			ts = append(ts, safetensors.Tensor{Name: name, Shape: shape, Data: data})
		}
	}
	lin := func(name string, l model.Linear, biasWanted bool) {
		add(name+".weight", l.W, l.Out, l.In)
		if biasWanted {
			b := l.B
			if b == nil {
				b = make([]float32, l.Out) // the config's flag covers every layer
			}
			add(name+".bias", b, l.Out)
		}
	}
	for i, ly := range m.Layers {
		p := fmt.Sprintf("model.layers.%d.", i)
		wq, wk := ly.Wq, ly.Wk
		if c.RopeStyle == model.RopeInterleaved {
			wq.W = model.RopeRows(wq.W, c.NHeads, hd, D, true)
			wq.B = model.RopeRows(wq.B, c.NHeads, hd, 1, true)
			wk.W = model.RopeRows(wk.W, c.NKVHeads, hd, D, true)
			wk.B = model.RopeRows(wk.B, c.NKVHeads, hd, 1, true)
		}
		add(p+"input_layernorm.weight", ly.AttnNorm.W, D)
		lin(p+"self_attn.q_proj", wq, attnBias)
		lin(p+"self_attn.k_proj", wk, attnBias)
		lin(p+"self_attn.v_proj", ly.Wv, attnBias)
		lin(p+"self_attn.o_proj", ly.Wo, attnBias)
		add(p+"post_attention_layernorm.weight", ly.FFNNorm.W, D)
		lin(p+"mlp.gate_proj", ly.W1, mlpBias)
		lin(p+"mlp.down_proj", ly.W2, mlpBias)
		lin(p+"mlp.up_proj", ly.W3, mlpBias)
	}
	add("model.norm.weight", m.FinalNorm.W, D)
	if !c.TiedEmbed {
		add("lm_head.weight", m.LMHead, c.VocabSize, D)
	}
	return cfg, ts
}

type gpt2ConfigOut struct {
	Architectures      []string `json:"architectures"`
	ModelType          string   `json:"model_type"`
	NEmbd              int      `json:"n_embd"`
	NLayer             int      `json:"n_layer"`
	NHead              int      `json:"n_head"`
	NInner             int      `json:"n_inner"`
	NPositions         int      `json:"n_positions"`
	NCtx               int      `json:"n_ctx"`
	VocabSize          int      `json:"vocab_size"`
	LayerNormEpsilon   float32  `json:"layer_norm_epsilon"`
	ActivationFunction string   `json:"activation_function"`
	configTail
}

func gpt2Out(m *model.Model) (any, []safetensors.Tensor) {
	c := m.Config
	cfg := gpt2ConfigOut{
		Architectures: []string{"GPT2LMHeadModel"}, ModelType: "gpt2",
		NEmbd: c.Dim, NLayer: c.NLayers, NHead: c.NHeads, NInner: c.HiddenDim,
		NPositions: c.MaxSeqLen, NCtx: c.MaxSeqLen, VocabSize: c.VocabSize,
		LayerNormEpsilon: c.NormEps, ActivationFunction: "gelu_new", configTail: tailOut(c),
	}
	D := c.Dim
	const pre = "transformer."
	ts := []safetensors.Tensor{
		{Name: pre + "wte.weight", Shape: []int{c.VocabSize, D}, Data: m.Embed},
		{Name: pre + "wpe.weight", Shape: []int{c.MaxSeqLen, D}, Data: m.Pos},
	}
	add := func(name string, data []float32, shape ...int) {
		ts = append(ts, safetensors.Tensor{Name: name, Shape: shape, Data: data})
	}
	norm := func(name string, n model.Norm) {
		add(name+".weight", n.W, D)
		add(name+".bias", n.B, D)
	}
	conv1d := func(name string, l model.Linear) {
		add(name+".weight", transpose(l.W, l.Out, l.In), l.In, l.Out)
		add(name+".bias", l.B, l.Out)
	}
	for i, ly := range m.Layers {
		p := fmt.Sprintf("%sh.%d.", pre, i)
		norm(p+"ln_1", ly.AttnNorm)
		qkv := model.Linear{Out: 3 * D, In: D}
		for _, l := range []model.Linear{ly.Wq, ly.Wk, ly.Wv} {
			qkv.W = append(qkv.W, l.W...)
			qkv.B = append(qkv.B, l.B...)
		}
		conv1d(p+"attn.c_attn", qkv)
		conv1d(p+"attn.c_proj", ly.Wo)
		norm(p+"ln_2", ly.FFNNorm)
		conv1d(p+"mlp.c_fc", ly.W1)
		conv1d(p+"mlp.c_proj", ly.W2)
	}
	norm(pre+"ln_f", m.FinalNorm)
	if !c.TiedEmbed {
		add("lm_head.weight", m.LMHead, c.VocabSize, D)
	}
	return cfg, ts
}

// sameTable reports whether a and b alias or hold equal values.
func sameTable(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	return len(a) == 0 || &a[0] == &b[0] || slices.Equal(a, b)
}
