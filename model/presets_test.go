package model

import (
	"slices"
	"strings"
	"testing"
)

// countWeights counts the distinct float32s a model stores.
func countWeights(m *Model) int64 {
	n := len(m.Embed) + len(m.Pos) + len(m.FinalNorm.W) + len(m.FinalNorm.B)
	if !m.Config.TiedEmbed {
		n += len(m.LMHead)
	}
	for _, L := range m.Layers {
		for _, nm := range []Norm{L.AttnNorm, L.FFNNorm} {
			n += len(nm.W) + len(nm.B)
		}
		for _, l := range []Linear{L.Wq, L.Wk, L.Wv, L.Wo, L.W1, L.W2, L.W3} {
			n += len(l.W) + len(l.B)
		}
	}
	return int64(n)
}

func TestPresets(t *testing.T) {
	want := []string{"gpt2-124m", "llama2-7b", "stories110M", "stories15M", "tinystories-656k"}
	if got := PresetNames(); !slices.Equal(got, want) {
		t.Fatalf("PresetNames = %v, want %v", got, want)
	}
	for _, name := range want {
		c, err := PresetConfig(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Published parameter counts (tied head counted once).
	for name, n := range map[string]int64{"gpt2-124m": 124439808, "llama2-7b": 6738415616} {
		c, _ := PresetConfig(name)
		if got := c.WeightCount(); got != n {
			t.Errorf("%s: WeightCount = %d, want %d", name, got, n)
		}
	}
	if _, err := PresetConfig("nope"); err == nil {
		t.Error("unknown preset accepted")
	}
	if _, err := Preset("llama2-7b", 1); err == nil || !strings.Contains(err.Error(), "GiB") {
		t.Errorf("llama2-7b: err = %v, want a size refusal", err)
	}
	names := []string{"tinystories-656k", "stories15M"}
	if !testing.Short() {
		names = append(names, "gpt2-124m")
	}
	for _, name := range names {
		m, err := Preset(name, 7)
		if err != nil {
			t.Fatal(err)
		}
		if got, w := countWeights(m), m.Config.WeightCount(); got != w {
			t.Errorf("%s: %d weights stored, WeightCount says %d", name, got, w)
		}
		if m.Config.TiedEmbed && &m.LMHead[0] != &m.Embed[0] {
			t.Errorf("%s: tied head does not alias the embedding", name)
		}
		// Rough statistics of the init.
		var s, ss float64
		for _, v := range m.Layers[0].Wq.W {
			s += float64(v)
			ss += float64(v) * float64(v)
		}
		n := float64(len(m.Layers[0].Wq.W))
		if mean, std := s/n, ss/n; mean > 1e-3 || mean < -1e-3 || std < 0.019*0.019 || std > 0.021*0.021 {
			t.Errorf("%s: wq mean %g var %g, want ~0 and 4e-4", name, mean, std)
		}
		if m.Layers[0].AttnNorm.W[0] != 1 {
			t.Errorf("%s: norm gain %v, want 1", name, m.Layers[0].AttnNorm.W[0])
		}
	}
	a, _ := Preset("tinystories-656k", 1)
	b, _ := Preset("tinystories-656k", 1)
	c, _ := Preset("tinystories-656k", 2)
	if !slices.Equal(a.Layers[1].W2.W, b.Layers[1].W2.W) || !slices.Equal(a.Embed, b.Embed) {
		t.Error("same seed gave different weights")
	}
	if slices.Equal(a.Layers[1].W2.W, c.Layers[1].W2.W) {
		t.Error("different seeds gave equal weights")
	}
	if slices.Equal(a.Layers[0].Wq.W, a.Layers[0].Wk.W[:len(a.Layers[0].Wq.W)/2]) {
		t.Error("tensors share a random stream")
	}
}
