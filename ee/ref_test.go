package ee

// Float64 reference implementation of the two model families, written from
// the definitions (Touvron et al. 2023 for LLaMA; Radford et al. 2019 for
// GPT-2), used to check equivariance op by op and end to end independently
// of the plain engine.

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hssee/hssee/model"
)

func llamaConfig(style model.RopeStyle, heads, kvHeads int, tied bool) model.Config {
	return model.Config{
		Arch: model.ArchLlama, Dim: 32, HiddenDim: 48, NLayers: 2, NHeads: heads, NKVHeads: kvHeads,
		VocabSize: 61, MaxSeqLen: 16, NormEps: 1e-5, RopeTheta: 10000, RopeStyle: style,
		TiedEmbed: tied, BOS: 1, EOS: 2,
	}
}

func gpt2Config() model.Config {
	return model.Config{
		Arch: model.ArchGPT2, Dim: 32, HiddenDim: 64, NLayers: 2, NHeads: 4, NKVHeads: 4,
		VocabSize: 53, MaxSeqLen: 16, NormEps: 1e-5, TiedEmbed: true, BOS: -1, EOS: 0,
	}
}

// randomModel builds a model with Gaussian weights (std 1/√in), gains in
// [0.5, 1.5] and, for GPT-2, biases of size ~0.2 everywhere.
func randomModel(t testing.TB, cfg model.Config, seed uint64) *model.Model {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	gauss := func(n int, std float64) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * std)
		}
		return x
	}
	gain := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(0.5 + r.Float64())
		}
		return x
	}
	gpt := cfg.Arch == model.ArchGPT2
	lin := func(out, in int) model.Linear {
		l := model.Linear{W: gauss(out*in, 1/math.Sqrt(float64(in))), Out: out, In: in}
		if gpt {
			l.B = gauss(out, 0.2)
		}
		return l
	}
	norm := func() model.Norm {
		n := model.Norm{W: gain(cfg.Dim)}
		if gpt {
			n.B = gauss(cfg.Dim, 0.2)
		}
		return n
	}
	m := &model.Model{Config: cfg, Embed: gauss(cfg.VocabSize*cfg.Dim, 1)}
	if gpt {
		m.Pos = gauss(cfg.MaxSeqLen*cfg.Dim, 0.3)
	}
	for range cfg.NLayers {
		l := model.Layer{
			AttnNorm: norm(), FFNNorm: norm(),
			Wq: lin(cfg.Dim, cfg.Dim), Wk: lin(cfg.KVDim(), cfg.Dim), Wv: lin(cfg.KVDim(), cfg.Dim),
			Wo: lin(cfg.Dim, cfg.Dim), W1: lin(cfg.HiddenDim, cfg.Dim), W2: lin(cfg.Dim, cfg.HiddenDim),
		}
		if !gpt {
			l.W3 = lin(cfg.HiddenDim, cfg.Dim)
		}
		m.Layers = append(m.Layers, l)
	}
	m.FinalNorm = norm()
	if cfg.TiedEmbed {
		m.LMHead = m.Embed
	} else {
		m.LMHead = gauss(cfg.VocabSize*cfg.Dim, 1)
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	return m
}

func refLinear(l model.Linear, x []float64) []float64 {
	y := make([]float64, l.Out)
	for o := range y {
		var s float64
		for i, w := range l.W[o*l.In : (o+1)*l.In] {
			s += float64(w) * x[i]
		}
		if l.B != nil {
			s += float64(l.B[o])
		}
		y[o] = s
	}
	return y
}

// refNorm is RMSNorm (n.B == nil) or LayerNorm, with gain and bias.
func refNorm(n model.Norm, eps float32, x []float64) []float64 {
	d := float64(len(x))
	var mean float64
	if n.B != nil {
		for _, v := range x {
			mean += v
		}
		mean /= d
	}
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	inv := 1 / math.Sqrt(ss/d+float64(eps))
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = (v - mean) * inv * float64(n.W[i])
		if n.B != nil {
			y[i] += float64(n.B[i])
		}
	}
	return y
}

func refRope(cfg model.Config, v []float64, pos int) {
	hd := cfg.HeadDim()
	for h := 0; h < len(v)/hd; h++ {
		head := v[h*hd : (h+1)*hd]
		for i, p := range ropePairs(cfg.RopeStyle, hd) {
			freq := math.Pow(float64(cfg.RopeTheta), -2*float64(i)/float64(hd))
			sin, cos := math.Sincos(float64(pos) * freq)
			a, b := head[p[0]], head[p[1]]
			head[p[0]], head[p[1]] = a*cos-b*sin, a*sin+b*cos
		}
	}
}

// refAttn returns the attention block's contribution to the residual
// stream at every position (causal; query head h reads KV head h/(NHeads/NKVHeads)).
func refAttn(cfg model.Config, l *model.Layer, xs [][]float64) [][]float64 {
	hd, g := cfg.HeadDim(), cfg.NHeads/cfg.NKVHeads
	qs, ks, vs := make([][]float64, len(xs)), make([][]float64, len(xs)), make([][]float64, len(xs))
	for t, x := range xs {
		n := refNorm(l.AttnNorm, cfg.NormEps, x)
		qs[t], ks[t], vs[t] = refLinear(l.Wq, n), refLinear(l.Wk, n), refLinear(l.Wv, n)
		if cfg.Arch == model.ArchLlama {
			refRope(cfg, qs[t], t)
			refRope(cfg, ks[t], t)
		}
	}
	out := make([][]float64, len(xs))
	for t := range xs {
		att := make([]float64, cfg.Dim)
		for h := 0; h < cfg.NHeads; h++ {
			kv := h / g
			q := qs[t][h*hd : (h+1)*hd]
			sc := make([]float64, t+1)
			mx := math.Inf(-1)
			for s := 0; s <= t; s++ {
				var dot float64
				for i, k := range ks[s][kv*hd : (kv+1)*hd] {
					dot += q[i] * k
				}
				sc[s] = dot / math.Sqrt(float64(hd))
				mx = max(mx, sc[s])
			}
			var z float64
			for s := range sc {
				sc[s] = math.Exp(sc[s] - mx)
				z += sc[s]
			}
			for s := range sc {
				for i, v := range vs[s][kv*hd : (kv+1)*hd] {
					att[h*hd+i] += sc[s] / z * v
				}
			}
		}
		out[t] = refLinear(l.Wo, att)
	}
	return out
}

func silu(x float64) float64 { return x / (1 + math.Exp(-x)) }

func gelu(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

// refFFN returns the feed-forward block's contribution (SwiGLU or GeLU MLP).
func refFFN(cfg model.Config, l *model.Layer, x []float64) []float64 {
	n := refNorm(l.FFNNorm, cfg.NormEps, x)
	h := refLinear(l.W1, n)
	if cfg.Arch == model.ArchGPT2 {
		for i := range h {
			h[i] = gelu(h[i])
		}
	} else {
		u := refLinear(l.W3, n)
		for i := range h {
			h[i] = silu(h[i]) * u[i]
		}
	}
	return refLinear(l.W2, h)
}

func refEmbed(m *model.Model, ids []int) [][]float64 {
	d := m.Config.Dim
	xs := make([][]float64, len(ids))
	for t, id := range ids {
		xs[t] = make([]float64, d)
		for i := range xs[t] {
			xs[t][i] = float64(m.Embed[id*d+i])
			if m.Pos != nil {
				xs[t][i] += float64(m.Pos[t*d+i])
			}
		}
	}
	return xs
}

// refForward returns the logits at every position.
func refForward(m *model.Model, ids []int) [][]float64 {
	cfg := m.Config
	xs := refEmbed(m, ids)
	for li := range m.Layers {
		l := &m.Layers[li]
		for t, a := range refAttn(cfg, l, xs) {
			addTo(xs[t], a)
		}
		for t := range xs {
			addTo(xs[t], refFFN(cfg, l, xs[t]))
		}
	}
	head := model.Linear{W: m.LMHead, Out: cfg.VocabSize, In: cfg.Dim}
	logits := make([][]float64, len(xs))
	for t, x := range xs {
		logits[t] = refLinear(head, refNorm(m.FinalNorm, cfg.NormEps, x))
	}
	return logits
}

func addTo(x, y []float64) {
	for i := range x {
		x[i] += y[i]
	}
}

func maxAbsDiff(a, b []float64) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

func randomIDs(r *rand.Rand, n, vocab int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = r.IntN(vocab)
	}
	return ids
}
