package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSamplerGreedyAndTinyTopP(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for trial := 0; trial < 50; trial++ {
		logits := randSlice(r, 1+r.IntN(500), 3)
		want := Argmax(logits)
		for i, v := range logits {
			if v > logits[want] || (v == logits[want] && i < want) {
				t.Fatalf("Argmax = %d but logit %d is larger", want, i)
			}
		}
		for _, cfg := range []SamplerConfig{
			{Temperature: 0, Seed: uint64(trial)},
			{Temperature: 1, TopP: 1e-9, Seed: uint64(trial)},
			{Temperature: 2, TopK: 1, Seed: uint64(trial)},
		} {
			s, err := NewSampler(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Sample(logits); got != want {
				t.Fatalf("%+v: Sample = %d, argmax %d", cfg, got, want)
			}
		}
	}
	s, _ := NewSampler(SamplerConfig{Temperature: 1})
	if s.Sample(nil) != -1 {
		t.Error("empty logits")
	}
	if got := Argmax([]float32{float32(math.NaN()), 1, 3, 3}); got != 2 {
		t.Errorf("Argmax with NaN and tie = %d, want 2", got)
	}
}

func TestSamplerConfigErrors(t *testing.T) {
	for _, cfg := range []SamplerConfig{
		{Temperature: -1}, {Temperature: float32(math.NaN())}, {Temperature: float32(math.Inf(1))},
		{TopK: -1}, {TopP: 1.5}, {TopP: -0.1},
	} {
		if _, err := NewSampler(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestSamplerSeeded(t *testing.T) {
	logits := randSlice(rand.New(rand.NewPCG(6, 6)), 1000, 2)
	draw := func(seed uint64) []int {
		s, err := NewSampler(SamplerConfig{Temperature: 0.9, TopK: 50, TopP: 0.95, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]int, 200)
		for i := range out {
			out[i] = s.Sample(logits)
		}
		return out
	}
	a, b, c := draw(1), draw(1), draw(2)
	same := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("draw %d differs between equal seeds", i)
		}
		if a[i] == c[i] {
			same++
		}
	}
	if same == len(a) {
		t.Error("different seeds gave identical draws")
	}
}

// chiSquare returns Pearson's statistic of counts against probabilities p
// (bins with p == 0 must have no counts) and the degrees of freedom.
func chiSquare(t *testing.T, counts []int, p []float64, n int) (float64, int) {
	t.Helper()
	var x float64
	df := -1
	for i, c := range counts {
		if p[i] == 0 {
			if c != 0 {
				t.Fatalf("token %d drawn %d times but has probability 0", i, c)
			}
			continue
		}
		e := p[i] * float64(n)
		x += (float64(c) - e) * (float64(c) - e) / e
		df++
	}
	return x, df
}

func softmax64(logits []float32, temp float64) []float64 {
	p := make([]float64, len(logits))
	var s float64
	for i, v := range logits {
		p[i] = math.Exp(float64(v) / temp)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

func TestSamplerDistribution(t *testing.T) {
	logits := []float32{1, 2, 0.5, -1, 3, 0, 2.5, -0.5}
	const n = 40000
	// Critical values of χ² at p = 0.001 for the degrees of freedom used.
	crit := map[int]float64{1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52, 6: 22.46, 7: 24.32}
	for _, c := range []struct {
		cfg  SamplerConfig
		keep []int // kept tokens (nil: all)
	}{
		{SamplerConfig{Temperature: 1, Seed: 1}, nil},
		{SamplerConfig{Temperature: 0.5, Seed: 2}, nil},
		{SamplerConfig{Temperature: 2, Seed: 3}, nil},
		{SamplerConfig{Temperature: 1, TopK: 3, Seed: 4}, []int{4, 6, 1}},
		// Sorted probs at T=1: 4 (.40), 6 (.24), 1 (.15), 0 (.05)…; the
		// nucleus of 0.75 is {4, 6, 1}.
		{SamplerConfig{Temperature: 1, TopP: 0.75, Seed: 5}, []int{4, 6, 1}},
		{SamplerConfig{Temperature: 1, TopK: 5, TopP: 0.5, Seed: 6}, []int{4, 6}},
	} {
		p := softmax64(logits, float64(c.cfg.Temperature))
		if c.keep != nil {
			q := make([]float64, len(p))
			var s float64
			for _, i := range c.keep {
				q[i] = p[i]
				s += p[i]
			}
			for i := range q {
				q[i] /= s
			}
			p = q
		}
		s, err := NewSampler(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		counts := make([]int, len(logits))
		for i := 0; i < n; i++ {
			counts[s.Sample(logits)]++
		}
		x, df := chiSquare(t, counts, p, n)
		if x > crit[df] {
			t.Errorf("%+v: χ² = %.1f with %d d.f. (counts %v, p %v)", c.cfg, x, df, counts, p)
		}
	}
}

func TestTopKIndices(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for trial := 0; trial < 100; trial++ {
		n := 1 + r.IntN(300)
		p := make([]float64, n)
		for i := range p {
			p[i] = float64(r.IntN(20)) // many ties
		}
		k := 1 + r.IntN(n)
		got := topKIndices(p, k, nil)
		if len(got) != k {
			t.Fatalf("len %d, want %d", len(got), k)
		}
		// Reference: stable order by decreasing p, then index.
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		for i := 1; i < n; i++ {
			for j := i; j > 0 && p[idx[j]] > p[idx[j-1]]; j-- {
				idx[j], idx[j-1] = idx[j-1], idx[j]
			}
		}
		for i := 0; i < k; i++ {
			if got[i] != idx[i] {
				t.Fatalf("trial %d: topK[%d] = %d, want %d", trial, i, got[i], idx[i])
			}
		}
	}
}
