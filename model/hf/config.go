package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/hssee/hssee/model"
)

// ErrUnsupported is wrapped by errors about valid configs this package cannot
// represent.
var ErrUnsupported = errors.New("hf: unsupported")

// hfConfig is the subset of config.json keys this package reads. Pointers
// tell absent keys from zero values.
type hfConfig struct {
	ModelType string `json:"model_type"`

	// LLaMA.
	HiddenSize            *int            `json:"hidden_size"`
	IntermediateSize      *int            `json:"intermediate_size"`
	NumHiddenLayers       *int            `json:"num_hidden_layers"`
	NumAttentionHeads     *int            `json:"num_attention_heads"`
	NumKeyValueHeads      *int            `json:"num_key_value_heads"`
	HeadDim               *int            `json:"head_dim"`
	MaxPositionEmbeddings *int            `json:"max_position_embeddings"`
	RMSNormEps            *float64        `json:"rms_norm_eps"`
	RopeTheta             *float64        `json:"rope_theta"`
	RopeScaling           json.RawMessage `json:"rope_scaling"`
	HiddenAct             *string         `json:"hidden_act"`
	AttentionBias         *bool           `json:"attention_bias"`
	MLPBias               *bool           `json:"mlp_bias"`

	// GPT-2.
	NEmbd                      *int     `json:"n_embd"`
	NLayer                     *int     `json:"n_layer"`
	NHead                      *int     `json:"n_head"`
	NPositions                 *int     `json:"n_positions"`
	NCtx                       *int     `json:"n_ctx"`
	NInner                     *int     `json:"n_inner"`
	LayerNormEpsilon           *float64 `json:"layer_norm_epsilon"`
	ActivationFunction         *string  `json:"activation_function"`
	ScaleAttnByInverseLayerIdx *bool    `json:"scale_attn_by_inverse_layer_idx"`
	ScaleAttnWeights           *bool    `json:"scale_attn_weights"`
	AddCrossAttention          *bool    `json:"add_cross_attention"`

	// Both.
	VocabSize         *int            `json:"vocab_size"`
	TieWordEmbeddings *bool           `json:"tie_word_embeddings"`
	BOSTokenID        json.RawMessage `json:"bos_token_id"`
	EOSTokenID        json.RawMessage `json:"eos_token_id"`
}

// spec is a parsed config: the model config plus loader flags.
type spec struct {
	cfg      model.Config
	tie      bool // tie_word_embeddings (or its family default)
	attnBias bool // LLaMA attention_bias
	mlpBias  bool // LLaMA mlp_bias
}

// ParseConfig converts a Hugging Face config.json into a model.Config. For
// LLaMA, TiedEmbed is tie_word_embeddings (default false) and for GPT-2 it
// defaults to true; Load may still tie a model whose checkpoint lacks one of
// the two tables.
func ParseConfig(b []byte) (model.Config, error) {
	s, err := parseConfig(b)
	return s.cfg, err
}

func parseConfig(b []byte) (spec, error) {
	var h hfConfig
	if err := json.Unmarshal(b, &h); err != nil {
		return spec{}, fmt.Errorf("hf: config: json: %w", err)
	}
	var s spec
	var err error
	switch h.ModelType {
	case "llama":
		s, err = h.llama()
	case "gpt2":
		s, err = h.gpt2()
	case "":
		return spec{}, errors.New("hf: config: missing model_type")
	default:
		return spec{}, fmt.Errorf("%w: config: model_type %q", ErrUnsupported, h.ModelType)
	}
	if err != nil {
		return spec{}, err
	}
	c := &s.cfg
	if c.BOS, err = tokenID(h.BOSTokenID, "bos_token_id", c.BOS); err != nil {
		return spec{}, err
	}
	if c.EOS, err = tokenID(h.EOSTokenID, "eos_token_id", c.EOS); err != nil {
		return spec{}, err
	}
	if err := c.Validate(); err != nil {
		return spec{}, fmt.Errorf("hf: config: %w", err)
	}
	for _, id := range []struct {
		name string
		v    int
	}{{"bos_token_id", c.BOS}, {"eos_token_id", c.EOS}} {
		if id.v < -1 || id.v >= c.VocabSize {
			return spec{}, fmt.Errorf("hf: config: %s %d outside the vocabulary of %d", id.name, id.v, c.VocabSize)
		}
	}
	return s, nil
}

// intKey is a required integer key of config.json and where its value goes.
type intKey struct {
	name string
	p    *int
	dst  *int
}

// requireAll sets every key's dst; a missing key is an error naming it.
func requireAll(keys ...intKey) error {
	for _, k := range keys {
		if k.p == nil {
			return fmt.Errorf("hf: config: missing %s", k.name)
		}
		*k.dst = *k.p
	}
	return nil
}

func orInt(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func orBool(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// positive32 converts a float config value to a finite positive float32.
func positive32(name string, p *float64, def float64) (float32, error) {
	v := def
	if p != nil {
		v = *p
	}
	f := float32(v)
	if !(f > 0) || math.IsInf(float64(f), 0) {
		return 0, fmt.Errorf("hf: config: %s = %v must be positive and finite", name, v)
	}
	return f, nil
}

// tokenID decodes a token id that may be null (-1), an integer, or a list
// of integers (the first is used).
func tokenID(raw json.RawMessage, name string, def int) (int, error) {
	if len(raw) == 0 {
		return def, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, fmt.Errorf("hf: config: %s: %w", name, err)
	}
	if v == nil {
		return -1, nil
	}
	var id int
	if err := json.Unmarshal(raw, &id); err == nil {
		return id, nil
	}
	var ids []int
	if err := json.Unmarshal(raw, &ids); err != nil {
		return 0, fmt.Errorf("hf: config: %s must be an integer, a list of integers or null", name)
	}
	if len(ids) == 0 {
		return -1, nil
	}
	return ids[0], nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func (h *hfConfig) llama() (spec, error) {
	c := model.Config{Arch: model.ArchLlama, RopeStyle: model.RopeHalf, BOS: 1, EOS: 2}
	err := requireAll(intKey{"hidden_size", h.HiddenSize, &c.Dim}, intKey{"intermediate_size", h.IntermediateSize, &c.HiddenDim},
		intKey{"num_hidden_layers", h.NumHiddenLayers, &c.NLayers}, intKey{"num_attention_heads", h.NumAttentionHeads, &c.NHeads},
		intKey{"vocab_size", h.VocabSize, &c.VocabSize})
	if err != nil {
		return spec{}, err
	}
	c.NKVHeads = orInt(h.NumKeyValueHeads, c.NHeads)
	c.MaxSeqLen = orInt(h.MaxPositionEmbeddings, 2048)
	if c.NormEps, err = positive32("rms_norm_eps", h.RMSNormEps, 1e-6); err != nil {
		return spec{}, err
	}
	if c.RopeTheta, err = positive32("rope_theta", h.RopeTheta, 10000); err != nil {
		return spec{}, err
	}
	if !isNull(h.RopeScaling) {
		return spec{}, fmt.Errorf("%w: config: rope_scaling %s", ErrUnsupported, h.RopeScaling)
	}
	if act := orString(h.HiddenAct, "silu"); act != "silu" && act != "swish" {
		return spec{}, fmt.Errorf("%w: config: llama hidden_act %q (want silu)", ErrUnsupported, act)
	}
	if h.HeadDim != nil && c.NHeads > 0 && (c.Dim%c.NHeads != 0 || *h.HeadDim != c.Dim/c.NHeads) {
		return spec{}, fmt.Errorf("%w: config: head_dim %d differs from hidden_size/num_attention_heads", ErrUnsupported, *h.HeadDim)
	}
	s := spec{cfg: c, tie: orBool(h.TieWordEmbeddings, false),
		attnBias: orBool(h.AttentionBias, false), mlpBias: orBool(h.MLPBias, false)}
	s.cfg.TiedEmbed = s.tie
	return s, nil
}

func orString(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

func (h *hfConfig) gpt2() (spec, error) {
	c := model.Config{Arch: model.ArchGPT2, BOS: 50256, EOS: 50256}
	err := requireAll(intKey{"n_embd", h.NEmbd, &c.Dim}, intKey{"n_layer", h.NLayer, &c.NLayers},
		intKey{"n_head", h.NHead, &c.NHeads}, intKey{"vocab_size", h.VocabSize, &c.VocabSize})
	if err != nil {
		return spec{}, err
	}
	c.NKVHeads = c.NHeads
	switch {
	case h.NPositions != nil:
		c.MaxSeqLen = *h.NPositions
	case h.NCtx != nil:
		c.MaxSeqLen = *h.NCtx
	default:
		return spec{}, errors.New("hf: config: missing n_positions (or n_ctx)")
	}
	c.HiddenDim = 4 * c.Dim
	if h.NInner != nil {
		c.HiddenDim = *h.NInner
	}
	if c.NormEps, err = positive32("layer_norm_epsilon", h.LayerNormEpsilon, 1e-5); err != nil {
		return spec{}, err
	}
	switch act := orString(h.ActivationFunction, "gelu_new"); act {
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu":
	default:
		return spec{}, fmt.Errorf("%w: config: gpt2 activation_function %q", ErrUnsupported, act)
	}
	for _, f := range []struct {
		name string
		p    *bool
	}{
		{"scale_attn_by_inverse_layer_idx", h.ScaleAttnByInverseLayerIdx},
		{"add_cross_attention", h.AddCrossAttention},
	} {
		if orBool(f.p, false) {
			return spec{}, fmt.Errorf("%w: config: gpt2 %s", ErrUnsupported, f.name)
		}
	}
	if !orBool(h.ScaleAttnWeights, true) {
		return spec{}, fmt.Errorf("%w: config: gpt2 scale_attn_weights false", ErrUnsupported)
	}
	s := spec{cfg: c, tie: orBool(h.TieWordEmbeddings, true)}
	s.cfg.TiedEmbed = s.tie
	return s, nil
}
