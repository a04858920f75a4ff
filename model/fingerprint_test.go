package model

import (
	"encoding/hex"
	"math"
	"math/rand/v2"
	"testing"
)

// fpTestModel builds a small random model of either family.
func fpTestModel(arch Arch, seed uint64) *Model {
	r := rand.New(rand.NewPCG(seed, 99))
	c := Config{Arch: arch, Dim: 8, HiddenDim: 12, NLayers: 2, NHeads: 2, NKVHeads: 2, VocabSize: 11,
		MaxSeqLen: 6, NormEps: 1e-5, BOS: 1, EOS: 2}
	if arch == ArchLlama {
		c.NKVHeads = 1
		c.RopeTheta = 10000
		c.RopeStyle = RopeHalf
		c.TiedEmbed = true
	}
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			// PCG's Uint64 stream is stable across Go releases (the KAT needs it).
			v[i] = float32(int64(r.Uint64()>>40)-1<<23) / (1 << 22)
		}
		return v
	}
	gpt := arch == ArchGPT2
	lin := func(out, in int, bias bool) Linear {
		l := Linear{W: vec(out * in), Out: out, In: in}
		if bias {
			l.B = vec(out)
		}
		return l
	}
	norm := func() Norm {
		n := Norm{W: vec(c.Dim)}
		if gpt {
			n.B = vec(c.Dim)
		}
		return n
	}
	m := &Model{Config: c, Embed: vec(c.VocabSize * c.Dim), FinalNorm: norm()}
	if gpt {
		m.Pos = vec(c.MaxSeqLen * c.Dim)
		m.LMHead = vec(c.VocabSize * c.Dim)
	} else {
		m.LMHead = m.Embed
	}
	for range c.NLayers {
		l := Layer{AttnNorm: norm(), FFNNorm: norm(),
			Wq: lin(c.Dim, c.Dim, gpt), Wk: lin(c.KVDim(), c.Dim, gpt), Wv: lin(c.KVDim(), c.Dim, gpt),
			Wo: lin(c.Dim, c.Dim, gpt), W1: lin(c.HiddenDim, c.Dim, gpt), W2: lin(c.Dim, c.HiddenDim, gpt)}
		if !gpt {
			l.W3 = lin(c.HiddenDim, c.Dim, false)
		}
		m.Layers = append(m.Layers, l)
	}
	if err := m.Check(); err != nil {
		panic(err)
	}
	return m
}

// fpTensors lists pointers to every tensor of m.
func fpTensors(m *Model) []*[]float32 {
	ts := []*[]float32{&m.Embed, &m.Pos, &m.FinalNorm.W, &m.FinalNorm.B, &m.LMHead}
	for i := range m.Layers {
		l := &m.Layers[i]
		ts = append(ts, &l.AttnNorm.W, &l.AttnNorm.B, &l.FFNNorm.W, &l.FFNNorm.B)
		for _, lin := range []*Linear{&l.Wq, &l.Wk, &l.Wv, &l.Wo, &l.W1, &l.W2, &l.W3} {
			ts = append(ts, &lin.W, &lin.B)
		}
	}
	return ts
}

func TestFingerprintKnownAnswer(t *testing.T) {
	// Pins the encoding: changing it must also change fingerprintDomain.
	for _, c := range []struct {
		arch Arch
		want string
	}{
		{ArchLlama, "df3bd17e727f26404340e8e30dabd09bd76101db306b35f5aaccbf57354d1688"},
		{ArchGPT2, "9e2e977892d98d69b8587a0fc51d84b79a6f165682e4eedb4c323a59f8c649a2"},
	} {
		got := Fingerprint(fpTestModel(c.arch, 1))
		if hex.EncodeToString(got[:]) != c.want {
			t.Errorf("%s: Fingerprint = %x, want %s", c.arch, got, c.want)
		}
	}
}

func TestFingerprintSensitivity(t *testing.T) {
	for _, arch := range []Arch{ArchLlama, ArchGPT2} {
		base := Fingerprint(fpTestModel(arch, 2))
		if again := Fingerprint(fpTestModel(arch, 2)); again != base {
			t.Fatalf("%s: fingerprint not deterministic", arch)
		}
		seen := map[[32]byte]string{base: "base"}
		note := func(what string, fp [32]byte) {
			t.Helper()
			if prev, dup := seen[fp]; dup {
				t.Errorf("%s: %s collides with %s", arch, what, prev)
			}
			seen[fp] = what
		}
		// Every element of every tensor matters, down to one bit.
		ts := fpTensors(fpTestModel(arch, 2))
		for ti := range ts {
			n := len(*ts[ti])
			for _, i := range []int{0, n / 2, n - 1} {
				if n == 0 {
					continue
				}
				m := fpTestModel(arch, 2)
				if arch == ArchLlama {
					m.LMHead = append([]float32(nil), m.Embed...) // untie so one edit touches one tensor
				}
				p := fpTensors(m)[ti]
				(*p)[i] = math.Float32frombits(math.Float32bits((*p)[i]) ^ 1)
				note("bit flip", Fingerprint(m))
			}
		}
		// Config fields.
		for name, edit := range map[string]func(c *Config){
			"norm_eps": func(c *Config) { c.NormEps *= 2 },
			"bos":      func(c *Config) { c.BOS = -1 },
			"eos":      func(c *Config) { c.EOS = 7 },
			"max_seq":  func(c *Config) { c.MaxSeqLen++ },
			"tied":     func(c *Config) { c.TiedEmbed = !c.TiedEmbed },
			"style":    func(c *Config) { c.RopeStyle = RopeInterleaved },
			"theta":    func(c *Config) { c.RopeTheta = 500000 },
			"nan eps":  func(c *Config) { c.NormEps = float32(math.NaN()) },
		} {
			m := fpTestModel(arch, 2)
			edit(&m.Config)
			note(name, Fingerprint(m))
		}
		// Structure: nil versus empty, and moving an element across tensors.
		m := fpTestModel(arch, 2)
		if m.Layers[0].Wo.B == nil {
			m.Layers[0].Wo.B = []float32{}
		} else {
			m.Layers[0].Wo.B = nil
		}
		note("bias presence", Fingerprint(m))
		m = fpTestModel(arch, 2)
		m.FinalNorm.W = append(m.FinalNorm.W, m.LMHead[0])
		m.LMHead = m.LMHead[1:]
		note("shifted boundary", Fingerprint(m))
		m = fpTestModel(arch, 2)
		m.Layers = m.Layers[:1]
		note("fewer layers", Fingerprint(m))
		m = fpTestModel(arch, 2)
		m.Layers[0].Wq.Out, m.Layers[0].Wq.In = m.Layers[0].Wq.In, m.Layers[0].Wq.Out+1
		note("linear shape", Fingerprint(m))
	}
}
