package model

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
)

// PresetMaxBytes is the largest float32 weight footprint Preset will
// allocate.
const PresetMaxBytes = 8 << 30

var presets = map[string]Config{
	// raincandy-u/TinyStories-656K (Hugging Face layout).
	"tinystories-656k": {Arch: ArchLlama, Dim: 128, HiddenDim: 384, NLayers: 2, NHeads: 8, NKVHeads: 4,
		VocabSize: 2048, MaxSeqLen: 512, NormEps: 1e-6, RopeTheta: 10000, RopeStyle: RopeHalf,
		TiedEmbed: true, BOS: 1, EOS: 2},
	// Karpathy's llama2.c TinyStories models (shared classifier).
	"stories15M": {Arch: ArchLlama, Dim: 288, HiddenDim: 768, NLayers: 6, NHeads: 6, NKVHeads: 6,
		VocabSize: 32000, MaxSeqLen: 256, NormEps: 1e-5, RopeTheta: 10000, RopeStyle: RopeInterleaved,
		TiedEmbed: true, BOS: 1, EOS: 2},
	"stories110M": {Arch: ArchLlama, Dim: 768, HiddenDim: 2048, NLayers: 12, NHeads: 12, NKVHeads: 12,
		VocabSize: 32000, MaxSeqLen: 1024, NormEps: 1e-5, RopeTheta: 10000, RopeStyle: RopeInterleaved,
		TiedEmbed: true, BOS: 1, EOS: 2},
	// OpenAI GPT-2 small.
	"gpt2-124m": {Arch: ArchGPT2, Dim: 768, HiddenDim: 3072, NLayers: 12, NHeads: 12, NKVHeads: 12,
		VocabSize: 50257, MaxSeqLen: 1024, NormEps: 1e-5, TiedEmbed: true, BOS: 50256, EOS: 50256},
	// Meta Llama 2 7B (Hugging Face layout).
	"llama2-7b": {Arch: ArchLlama, Dim: 4096, HiddenDim: 11008, NLayers: 32, NHeads: 32, NKVHeads: 32,
		VocabSize: 32000, MaxSeqLen: 4096, NormEps: 1e-5, RopeTheta: 10000, RopeStyle: RopeHalf,
		TiedEmbed: false, BOS: 1, EOS: 2},
}

// PresetNames lists the names Preset and PresetConfig accept, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// PresetConfig returns the configuration of a named preset without
// allocating its weights.
func PresetConfig(name string) (Config, error) {
	c, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("model: preset: unknown name %q (have %v)", name, PresetNames())
	}
	return c, nil
}

// Preset returns the named preset's shape with random weights drawn from
// seed (see RandomModel). It refuses presets whose float32 weights would
// exceed PresetMaxBytes.
func Preset(name string, seed uint64) (*Model, error) {
	c, err := PresetConfig(name)
	if err != nil {
		return nil, err
	}
	m, err := RandomModel(c, seed)
	if err != nil {
		return nil, fmt.Errorf("model: preset %s: %w", name, err)
	}
	return m, nil
}

// WeightCount is the number of float32 parameters a model of config c
// stores (a tied LM head counted once).
func (c Config) WeightCount() int64 {
	D, H, KV, V := int64(c.Dim), int64(c.HiddenDim), int64(c.KVDim()), int64(c.VocabSize)
	gpt := c.Arch == ArchGPT2
	normLen := D
	if gpt {
		normLen = 2 * D
	}
	layer := 2*normLen + 2*D*D + 2*KV*D + 2*H*D
	if gpt {
		layer += 2*D + 2*KV + H + D // biases of q, o, k, v, w1, w2
	} else {
		layer += H * D // w3
	}
	n := V*D + int64(c.NLayers)*layer + normLen
	if gpt {
		n += int64(c.MaxSeqLen) * D
	}
	if !c.TiedEmbed {
		n += V * D
	}
	return n
}

// Standard deviations of the random initialisation (GPT-2's: 0.02 for
// weights, 0.01 for learned positions; small random biases and LayerNorm
// shifts so that code paths using them are exercised).
const (
	initStd     = 0.02
	initPosStd  = 0.01
	initBiasStd = 0.01
)

// RandomModel allocates a model of config c with weights ≈ N(0, 0.02²),
// norm gains 1, and (GPT-2) positions and biases ≈ N(0, 0.01²) (see
// fillNormal). The weights are a function of seed alone: every tensor is
// filled in blocks, each from its own stream, in parallel.
func RandomModel(c Config, seed uint64) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("model: random: %w", err)
	}
	if b := c.WeightCount() * 4; b > PresetMaxBytes {
		return nil, fmt.Errorf("model: random: %.1f GiB of float32 weights exceed the %d GiB limit",
			float64(b)/(1<<30), PresetMaxBytes>>30)
	}
	D, H, KV := c.Dim, c.HiddenDim, c.KVDim()
	gpt := c.Arch == ArchGPT2
	var fills []fillJob
	tensor := func(n int, std float32) []float32 {
		s := make([]float32, n)
		if std != 0 {
			fills = append(fills, fillJob{s, std})
		}
		return s
	}
	ones := func() []float32 {
		s := make([]float32, D)
		for i := range s {
			s[i] = 1
		}
		return s
	}
	norm := func() Norm {
		n := Norm{W: ones()}
		if gpt {
			n.B = tensor(D, initBiasStd)
		}
		return n
	}
	lin := func(out, in int) Linear {
		l := Linear{W: tensor(out*in, initStd), Out: out, In: in}
		if gpt {
			l.B = tensor(out, initBiasStd)
		}
		return l
	}
	m := &Model{Config: c, Embed: tensor(c.VocabSize*D, initStd)}
	if gpt {
		m.Pos = tensor(c.MaxSeqLen*D, initPosStd)
	}
	m.Layers = make([]Layer, c.NLayers)
	for i := range m.Layers {
		L := &m.Layers[i]
		L.AttnNorm = norm()
		L.Wq, L.Wk, L.Wv, L.Wo = lin(D, D), lin(KV, D), lin(KV, D), lin(D, D)
		L.FFNNorm = norm()
		L.W1, L.W2 = lin(H, D), lin(D, H)
		if !gpt {
			L.W3 = Linear{W: tensor(H*D, initStd), Out: H, In: D}
		}
	}
	m.FinalNorm = norm()
	if c.TiedEmbed {
		m.LMHead = m.Embed
	} else {
		m.LMHead = tensor(c.VocabSize*D, initStd)
	}
	fillNormal(fills, seed)
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("model: random: %w", err)
	}
	return m, nil
}

// mix64 is SplitMix64's finaliser.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

type fillJob struct {
	s   []float32
	std float32
}

const fillBlock = 1 << 16

// fillNormal fills every job's slice with approximately N(0, std²)
// samples: Irwin–Hall sums of four 16-bit uniforms (bell-shaped, mean 0,
// variance std², tails cut at ±3.46·std), drawn from a SplitMix64 stream
// (Steele, Lea and Flood, "Fast Splittable Pseudorandom Number Generators",
// OOPSLA 2014) keyed by (seed, tensor, block), so the result does not depend
// on scheduling. It is fast (~1 ns a value) and not cryptographic.
func fillNormal(jobs []fillJob, seed uint64) {
	type block struct{ t, b int }
	var blocks []block
	for t, j := range jobs {
		for b := 0; b*fillBlock < len(j.s); b++ {
			blocks = append(blocks, block{t, b})
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(blocks) {
					return
				}
				bl := blocks[i]
				j := jobs[bl.t]
				s := j.s[bl.b*fillBlock : min((bl.b+1)*fillBlock, len(j.s))]
				state := mix64(seed ^ mix64(uint64(bl.t)<<32|uint64(bl.b)))
				// Four uniforms on [0, 65535]: mean 131070, variance
				// 4·(65536²−1)/12 ≈ (65536/√3)².
				scale := j.std * float32(math.Sqrt(3)) / 65536
				for k := range s {
					state += 0x9e3779b97f4a7c15
					u := mix64(state)
					sum := int64(u&0xffff) + int64(u>>16&0xffff) + int64(u>>32&0xffff) + int64(u>>48)
					s[k] = float32(sum-131070) * scale
				}
			}
		})
	}
	wg.Wait()
}
