// Package model holds transformer configurations, weights and the plain
// (float32, CPU) forward pass for the two supported families:
//
//   - LLaMA: RMSNorm, rotary position embeddings (RoPE; Hugging Face
//     rotate-half or llama2.c interleaved pairing), grouped-query attention,
//     SwiGLU feed-forward, tied or untied embeddings.
//   - GPT-2: LayerNorm with bias, learned absolute positions, tanh-GeLU MLP,
//     biases everywhere, tied embeddings.
//
// All matrices are stored row-major as [out][in] (the PyTorch nn.Linear
// layout); loaders convert other layouts (GPT-2's Conv1D is [in][out]) on load.
package model

import (
	"errors"
	"fmt"
)

// Arch names a model family.
type Arch string

const (
	ArchLlama Arch = "llama"
	ArchGPT2  Arch = "gpt2"
)

// RopeStyle names how RoPE pairs the dimensions of one head.
type RopeStyle string

const (
	// RopeHalf pairs dimension i with i+headDim/2 (Hugging Face rotate_half).
	RopeHalf RopeStyle = "half"
	// RopeInterleaved pairs dimension 2i with 2i+1 (llama2.c, Meta's original).
	RopeInterleaved RopeStyle = "interleaved"
)

// Config is the shape and hyper-parameters of a model. It is a plain,
// JSON-tagged literal; Validate checks it.
type Config struct {
	Arch      Arch      `json:"arch"`
	Dim       int       `json:"dim"`         // residual width (hidden_size / n_embd)
	HiddenDim int       `json:"hidden_dim"`  // feed-forward width
	NLayers   int       `json:"n_layers"`    //
	NHeads    int       `json:"n_heads"`     // query heads
	NKVHeads  int       `json:"n_kv_heads"`  // key/value heads (GQA); == NHeads for MHA
	VocabSize int       `json:"vocab_size"`  //
	MaxSeqLen int       `json:"max_seq_len"` // context length
	NormEps   float32   `json:"norm_eps"`    // RMSNorm / LayerNorm epsilon
	RopeTheta float32   `json:"rope_theta"`  // LLaMA only
	RopeStyle RopeStyle `json:"rope_style"`  // LLaMA only
	TiedEmbed bool      `json:"tied_embed"`  // LM head shares the embedding table
	BOS       int       `json:"bos"`         // beginning-of-sequence id (-1 if none)
	EOS       int       `json:"eos"`         // end-of-sequence id (-1 if none)
}

// HeadDim is Dim / NHeads.
func (c Config) HeadDim() int { return c.Dim / c.NHeads }

// KVDim is the width of the key and value projections.
func (c Config) KVDim() int { return c.HeadDim() * c.NKVHeads }

// ErrInvalidConfig is wrapped by every Config.Validate error.
var ErrInvalidConfig = errors.New("model: invalid config")

// Validate checks that the config describes a model this package can run.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...))
	}
	switch c.Arch {
	case ArchLlama:
		if c.RopeStyle != RopeHalf && c.RopeStyle != RopeInterleaved {
			return bad("unknown rope style %q", c.RopeStyle)
		}
		if c.RopeTheta <= 0 {
			return bad("rope theta %v must be positive", c.RopeTheta)
		}
	case ArchGPT2:
	default:
		return bad("unknown architecture %q", c.Arch)
	}
	const maxDim = 1 << 20
	for _, f := range []struct {
		name string
		v    int
	}{{"dim", c.Dim}, {"hidden_dim", c.HiddenDim}, {"n_layers", c.NLayers}, {"n_heads", c.NHeads},
		{"n_kv_heads", c.NKVHeads}, {"vocab_size", c.VocabSize}, {"max_seq_len", c.MaxSeqLen}} {
		if f.v <= 0 || f.v > maxDim*4 {
			return bad("%s = %d out of range", f.name, f.v)
		}
	}
	if c.Dim%c.NHeads != 0 {
		return bad("dim %d not divisible by n_heads %d", c.Dim, c.NHeads)
	}
	if c.NHeads%c.NKVHeads != 0 {
		return bad("n_heads %d not divisible by n_kv_heads %d", c.NHeads, c.NKVHeads)
	}
	if c.Arch == ArchLlama && c.HeadDim()%2 != 0 {
		return bad("head dim %d must be even for RoPE", c.HeadDim())
	}
	if c.Arch == ArchGPT2 && c.NKVHeads != c.NHeads {
		return bad("gpt2 requires n_kv_heads == n_heads")
	}
	if !(c.NormEps > 0) {
		return bad("norm eps %v must be positive", c.NormEps)
	}
	return nil
}

// Linear is y = W x + B with W row-major [Out][In]. B is nil when the layer
// has no bias.
type Linear struct {
	W       []float32 // [Out*In]
	B       []float32 // [Out] or nil
	Out, In int
}

// Norm holds a normalisation layer's gain (and bias, LayerNorm only).
type Norm struct {
	W []float32 // [Dim]
	B []float32 // [Dim] or nil (RMSNorm)
}

// Layer is one transformer block.
//
// LLaMA: x += Wo·attn(rope(Wq·n), rope(Wk·n), Wv·n) with n = AttnNorm(x);
// x += W2·(silu(W1·m) ⊙ W3·m) with m = FFNNorm(x).
// GPT-2: the same with LayerNorm, biases, no RoPE, and x += W2·gelu(W1·m)
// (W3 is unused and zero-sized).
type Layer struct {
	AttnNorm       Norm
	Wq, Wk, Wv, Wo Linear // Wq [Dim][Dim], Wk/Wv [KVDim][Dim], Wo [Dim][Dim]
	FFNNorm        Norm
	W1             Linear // gate (LLaMA) / c_fc (GPT-2): [HiddenDim][Dim]
	W2             Linear // down / c_proj: [Dim][HiddenDim]
	W3             Linear // up (LLaMA only): [HiddenDim][Dim]
}

// Model is a configuration with its weights.
type Model struct {
	Config    Config
	Embed     []float32 // [VocabSize][Dim] token embedding
	Pos       []float32 // [MaxSeqLen][Dim] learned positions (GPT-2), else nil
	Layers    []Layer
	FinalNorm Norm
	// LMHead is [VocabSize][Dim]. When Config.TiedEmbed is true it aliases Embed.
	LMHead []float32
}

// Check validates the config and that every tensor has the size the config
// implies. Loaders call it before returning a model.
func (m *Model) Check() error {
	c := m.Config
	if err := c.Validate(); err != nil {
		return err
	}
	bad := func(name string, got, want int) error {
		return fmt.Errorf("model: tensor %s has %d elements, want %d", name, got, want)
	}
	want := func(name string, s []float32, n int) error {
		if len(s) != n {
			return bad(name, len(s), n)
		}
		return nil
	}
	lin := func(name string, l Linear, out, in int, bias bool) error {
		if l.Out != out || l.In != in {
			return fmt.Errorf("model: tensor %s has shape [%d %d], want [%d %d]", name, l.Out, l.In, out, in)
		}
		if err := want(name+".weight", l.W, out*in); err != nil {
			return err
		}
		if bias {
			return want(name+".bias", l.B, out)
		}
		if l.B != nil {
			return want(name+".bias", l.B, out)
		}
		return nil
	}
	norm := func(name string, n Norm) error {
		if err := want(name+".weight", n.W, c.Dim); err != nil {
			return err
		}
		if c.Arch == ArchGPT2 {
			return want(name+".bias", n.B, c.Dim)
		}
		if n.B != nil {
			return fmt.Errorf("model: tensor %s.bias present in an RMSNorm model", name)
		}
		return nil
	}
	if err := want("embed", m.Embed, c.VocabSize*c.Dim); err != nil {
		return err
	}
	if err := want("lm_head", m.LMHead, c.VocabSize*c.Dim); err != nil {
		return err
	}
	if c.Arch == ArchGPT2 {
		if err := want("pos", m.Pos, c.MaxSeqLen*c.Dim); err != nil {
			return err
		}
	} else if m.Pos != nil {
		return errors.New("model: learned positions present in a LLaMA model")
	}
	if len(m.Layers) != c.NLayers {
		return fmt.Errorf("model: %d layers, config says %d", len(m.Layers), c.NLayers)
	}
	gpt := c.Arch == ArchGPT2
	for i, l := range m.Layers {
		p := fmt.Sprintf("layers.%d.", i)
		for _, e := range []error{
			norm(p+"attn_norm", l.AttnNorm),
			norm(p+"ffn_norm", l.FFNNorm),
			lin(p+"wq", l.Wq, c.Dim, c.Dim, gpt),
			lin(p+"wk", l.Wk, c.KVDim(), c.Dim, gpt),
			lin(p+"wv", l.Wv, c.KVDim(), c.Dim, gpt),
			lin(p+"wo", l.Wo, c.Dim, c.Dim, gpt),
			lin(p+"w1", l.W1, c.HiddenDim, c.Dim, gpt),
			lin(p+"w2", l.W2, c.Dim, c.HiddenDim, gpt),
		} {
			if e != nil {
				return e
			}
		}
		if !gpt {
			if err := lin(p+"w3", l.W3, c.HiddenDim, c.Dim, false); err != nil {
				return err
			}
		}
	}
	return norm("final_norm", m.FinalNorm)
}

// RopeRows permutes each head's rows of a [nHeads*headDim][cols] matrix (or
// a bias, cols = 1) between the RoPE pairings. In interleaved order a
// head's rows are (x0, y0, x1, y1, ...); in half order (x0, x1, ..., y0,
// y1, ...), i.e. half row j*headDim/2+i is interleaved row 2i+j, which is
// the permutation of transformers' convert_llama_weights_to_hf.py (toHalf)
// and its inverse. A nil w gives nil.
func RopeRows(w []float32, nHeads, headDim, cols int, toHalf bool) []float32 {
	if w == nil {
		return nil
	}
	out := make([]float32, len(w))
	h2 := headDim / 2
	for h := range nHeads {
		base := h * headDim
		for i := range h2 {
			for j := range 2 {
				half := (base + j*h2 + i) * cols
				inter := (base + 2*i + j) * cols
				if toHalf {
					copy(out[half:half+cols], w[inter:inter+cols])
				} else {
					copy(out[inter:inter+cols], w[half:half+cols])
				}
			}
		}
	}
	return out
}
