package hf

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/safetensors"
)

// ConfigFileName is the model configuration file of a Hugging Face model
// directory.
const ConfigFileName = "config.json"

// maxConfigSize bounds config.json.
const maxConfigSize = 16 << 20

// Load reads the model in a Hugging Face model directory (config.json plus
// model.safetensors or a sharded index). The result passes model.Check.
func Load(dir string) (*model.Model, error) {
	cb, err := readConfig(filepath.Join(dir, ConfigFileName))
	if err != nil {
		return nil, err
	}
	s, err := parseConfig(cb)
	if err != nil {
		return nil, err
	}
	d, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("hf: load: %w", err)
	}
	defer d.Close()
	return build(s, d)
}

func readConfig(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hf: config: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("hf: config: %w", err)
	}
	if len(b) > maxConfigSize {
		return nil, fmt.Errorf("hf: config: larger than %d bytes", maxConfigSize)
	}
	return b, nil
}

// source is the tensor view Load reads from (a *safetensors.Dir).
type source interface {
	Names() []string
	Info(name string) (safetensors.TensorInfo, bool)
	Float32(name string) ([]float32, []int, error)
	Metadata() map[string]string
}

// loader resolves names (following safetensors metadata aliases), checks
// shapes before reading, and records which stored tensors were used.
type loader struct {
	src  source
	meta map[string]string
	used map[string]bool
}

// resolve maps a name to the stored tensor that holds it.
func (l *loader) resolve(name string) (string, bool) {
	if _, ok := l.src.Info(name); ok {
		return name, true
	}
	if alias, ok := l.meta[name]; ok {
		if _, ok := l.src.Info(alias); ok {
			return alias, true
		}
	}
	return "", false
}

func (l *loader) has(name string) bool {
	_, ok := l.resolve(name)
	return ok
}

// get reads a tensor that must exist with exactly the given shape.
func (l *loader) get(name string, shape ...int) ([]float32, error) {
	stored, ok := l.resolve(name)
	if !ok {
		return nil, fmt.Errorf("hf: load: missing tensor %q", name)
	}
	info, _ := l.src.Info(stored)
	if !slices.Equal(info.Shape, shape) {
		return nil, fmt.Errorf("hf: load: tensor %q has shape %v, want %v", name, info.Shape, shape)
	}
	data, _, err := l.src.Float32(stored)
	if err != nil {
		return nil, fmt.Errorf("hf: load: %w", err)
	}
	l.used[stored] = true
	return data, nil
}

// opt reads a tensor only if want is true.
func (l *loader) opt(want bool, name string, shape ...int) ([]float32, error) {
	if !want {
		return nil, nil
	}
	return l.get(name, shape...)
}

// leftovers reports a stored tensor nothing used, unless ignorable.
func (l *loader) leftovers(ignorable func(string) bool) error {
	for _, n := range l.src.Names() {
		if !l.used[n] && !ignorable(n) {
			return fmt.Errorf("hf: load: unexpected tensor %q", n)
		}
	}
	return nil
}

func build(s spec, src source) (*model.Model, error) {
	l := &loader{src: src, meta: src.Metadata(), used: make(map[string]bool)}
	var m *model.Model
	var err error
	if s.cfg.Arch == model.ArchLlama {
		m, err = buildLlama(s, l)
	} else {
		m, err = buildGPT2(s, l)
	}
	if err != nil {
		return nil, err
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("hf: load: %w", err)
	}
	return m, nil
}

// embeddings loads the token table and LM head, tying them as the config
// and the stored tensors dictate.
func embeddings(s spec, l *loader, m *model.Model, embName, headName string) error {
	c := &m.Config
	V, D := c.VocabSize, c.Dim
	embStored, hasEmb := l.resolve(embName)
	headStored, hasHead := l.resolve(headName)
	tie := s.tie || !hasHead
	var err error
	switch {
	case hasEmb && hasHead && embStored == headStored:
		// One stored table under two names (a metadata alias): tied.
		if m.Embed, err = l.get(embName, V, D); err != nil {
			return err
		}
		m.LMHead = m.Embed
		tie = true
	case hasEmb:
		if m.Embed, err = l.get(embName, V, D); err != nil {
			return err
		}
		if tie {
			m.LMHead = m.Embed
			if hasHead {
				// Tied but stored twice: the head must be the same table.
				head, err := l.get(headName, V, D)
				if err != nil {
					return err
				}
				if !slices.Equal(head, m.Embed) {
					return fmt.Errorf("hf: load: tie_word_embeddings is set but %q differs from %q", headName, embName)
				}
			}
		} else if m.LMHead, err = l.get(headName, V, D); err != nil {
			return err
		}
	case hasHead:
		// Only the head is stored (shared-tensor de-duplication).
		if m.LMHead, err = l.get(headName, V, D); err != nil {
			return err
		}
		m.Embed = m.LMHead
		tie = true
	default:
		return fmt.Errorf("hf: load: missing tensor %q", embName)
	}
	c.TiedEmbed = tie
	return nil
}

func buildLlama(s spec, l *loader) (*model.Model, error) {
	c := s.cfg
	m := &model.Model{Config: c}
	if err := embeddings(s, l, m, "model.embed_tokens.weight", "lm_head.weight"); err != nil {
		return nil, err
	}
	D, H, KV := c.Dim, c.HiddenDim, c.KVDim()
	lin := func(name string, out, in int, bias bool) (model.Linear, error) {
		w, err := l.get(name+".weight", out, in)
		if err != nil {
			return model.Linear{}, err
		}
		b, err := l.opt(bias, name+".bias", out)
		return model.Linear{W: w, B: b, Out: out, In: in}, err
	}
	for i := range c.NLayers {
		p := fmt.Sprintf("model.layers.%d.", i)
		var ly model.Layer
		var err error
		for _, e := range []func() error{
			func() (err error) { ly.AttnNorm.W, err = l.get(p+"input_layernorm.weight", D); return },
			func() (err error) { ly.Wq, err = lin(p+"self_attn.q_proj", D, D, s.attnBias); return },
			func() (err error) { ly.Wk, err = lin(p+"self_attn.k_proj", KV, D, s.attnBias); return },
			func() (err error) { ly.Wv, err = lin(p+"self_attn.v_proj", KV, D, s.attnBias); return },
			func() (err error) { ly.Wo, err = lin(p+"self_attn.o_proj", D, D, s.attnBias); return },
			func() (err error) { ly.FFNNorm.W, err = l.get(p+"post_attention_layernorm.weight", D); return },
			func() (err error) { ly.W1, err = lin(p+"mlp.gate_proj", H, D, s.mlpBias); return },
			func() (err error) { ly.W2, err = lin(p+"mlp.down_proj", D, H, s.mlpBias); return },
			func() (err error) { ly.W3, err = lin(p+"mlp.up_proj", H, D, s.mlpBias); return },
		} {
			if err = e(); err != nil {
				return nil, err
			}
		}
		m.Layers = append(m.Layers, ly)
	}
	var err error
	if m.FinalNorm.W, err = l.get("model.norm.weight", D); err != nil {
		return nil, err
	}
	if err := l.leftovers(func(n string) bool { return strings.HasSuffix(n, ".rotary_emb.inv_freq") }); err != nil {
		return nil, err
	}
	return m, nil
}

func buildGPT2(s spec, l *loader) (*model.Model, error) {
	c := s.cfg
	m := &model.Model{Config: c}
	pre := ""
	if l.has("transformer.wte.weight") {
		pre = "transformer."
	}
	if err := embeddings(s, l, m, pre+"wte.weight", "lm_head.weight"); err != nil {
		return nil, err
	}
	D, H := c.Dim, c.HiddenDim
	var err error
	if m.Pos, err = l.get(pre+"wpe.weight", c.MaxSeqLen, D); err != nil {
		return nil, err
	}
	norm := func(name string) (n model.Norm, err error) {
		if n.W, err = l.get(name+".weight", D); err != nil {
			return n, err
		}
		n.B, err = l.get(name+".bias", D)
		return n, err
	}
	// conv1d reads a Conv1D ([in][out]) weight and bias as a Linear.
	conv1d := func(name string, in, out int) (model.Linear, error) {
		w, err := l.get(name+".weight", in, out)
		if err != nil {
			return model.Linear{}, err
		}
		b, err := l.get(name+".bias", out)
		return model.Linear{W: transpose(w, in, out), B: b, Out: out, In: in}, err
	}
	for i := range c.NLayers {
		p := fmt.Sprintf("%sh.%d.", pre, i)
		var ly model.Layer
		if ly.AttnNorm, err = norm(p + "ln_1"); err != nil {
			return nil, err
		}
		qkv, err := conv1d(p+"attn.c_attn", D, 3*D)
		if err != nil {
			return nil, err
		}
		// Rows [0,D) are q, [D,2D) k, [2D,3D) v.
		split := func(j int) model.Linear {
			return model.Linear{W: qkv.W[j*D*D : (j+1)*D*D], B: qkv.B[j*D : (j+1)*D], Out: D, In: D}
		}
		ly.Wq, ly.Wk, ly.Wv = split(0), split(1), split(2)
		if ly.Wo, err = conv1d(p+"attn.c_proj", D, D); err != nil {
			return nil, err
		}
		if ly.FFNNorm, err = norm(p + "ln_2"); err != nil {
			return nil, err
		}
		if ly.W1, err = conv1d(p+"mlp.c_fc", D, H); err != nil {
			return nil, err
		}
		if ly.W2, err = conv1d(p+"mlp.c_proj", H, D); err != nil {
			return nil, err
		}
		m.Layers = append(m.Layers, ly)
	}
	if m.FinalNorm, err = norm(pre + "ln_f"); err != nil {
		return nil, err
	}
	buffer := func(n string) bool {
		return strings.HasSuffix(n, ".attn.bias") || strings.HasSuffix(n, ".attn.masked_bias")
	}
	if err := l.leftovers(buffer); err != nil {
		return nil, err
	}
	return m, nil
}

// transpose returns the [cols][rows] transpose of a row-major [rows][cols]
// matrix.
func transpose(w []float32, rows, cols int) []float32 {
	t := make([]float32, len(w))
	for r := range rows {
		for c := range cols {
			t[c*rows+r] = w[r*cols+c]
		}
	}
	return t
}
