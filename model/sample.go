package model

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// SamplerConfig chooses how the next token is drawn from the logits.
type SamplerConfig struct {
	// Temperature divides the logits; 0 means greedy (argmax).
	Temperature float32 `json:"temperature"`
	// TopK keeps only the K most likely tokens; 0 keeps all.
	TopK int `json:"top_k"`
	// TopP keeps the smallest most-likely set whose probability reaches P
	// (nucleus sampling, Holtzman et al., "The Curious Case of Neural Text
	// Degeneration", ICLR 2020); 0 or 1 keeps all.
	TopP float32 `json:"top_p"`
	// Seed seeds the PCG generator.
	Seed uint64 `json:"seed"`
}

// Sampler draws token ids from logits. It reuses scratch space between
// calls and is not safe for concurrent use.
type Sampler struct {
	cfg  SamplerConfig
	rng  *rand.Rand
	p    []float64
	cand []int
}

// NewSampler checks cfg and returns a sampler seeded with cfg.Seed.
func NewSampler(cfg SamplerConfig) (*Sampler, error) {
	switch {
	case !(cfg.Temperature >= 0) || math.IsInf(float64(cfg.Temperature), 0):
		return nil, errors.New("model: sampler: temperature must be finite and >= 0")
	case cfg.TopK < 0:
		return nil, errors.New("model: sampler: top-k must be >= 0")
	case !(cfg.TopP >= 0 && cfg.TopP <= 1):
		return nil, fmt.Errorf("model: sampler: top-p must be in [0, 1]")
	}
	return &Sampler{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))}, nil
}

// Argmax returns the index of the largest logit (the first on ties; NaNs
// are ignored), or -1 for an empty or all-NaN slice.
func Argmax(logits []float32) int {
	best := -1
	for i, v := range logits {
		if v == v && (best < 0 || v > logits[best]) {
			best = i
		}
	}
	return best
}

// Sample returns the next token id: the argmax when the temperature is 0,
// otherwise a draw from softmax(logits/T) restricted by top-k and then
// top-p (renormalised at each step). It returns -1 for empty logits and the
// argmax when the logits hold no finite probability mass.
func (s *Sampler) Sample(logits []float32) int {
	if len(logits) == 0 {
		return -1
	}
	if s.cfg.Temperature == 0 {
		return Argmax(logits)
	}
	V := len(logits)
	if cap(s.p) < V {
		s.p = make([]float64, V)
	}
	p := s.p[:V]
	mx := math.Inf(-1)
	for _, v := range logits {
		if f := float64(v); f > mx {
			mx = f
		}
	}
	if math.IsInf(mx, 0) || math.IsNaN(mx) {
		return Argmax(logits)
	}
	invT := 1 / float64(s.cfg.Temperature)
	var total float64
	for i, v := range logits {
		e := 0.0
		if f := float64(v); f == f {
			e = math.Exp((f - mx) * invT)
		}
		p[i] = e
		total += e
	}
	k, topP := s.cfg.TopK, float64(s.cfg.TopP)
	filterK := k > 0 && k < V
	filterP := topP > 0 && topP < 1
	if !filterK && !filterP {
		return s.draw(p, nil, total)
	}

	// Candidates in decreasing probability (index order on ties).
	cand := s.cand[:0]
	if filterK {
		cand = topKIndices(p, k, cand)
	} else {
		// Only tokens with p >= (1-topP)/(V-1) of the total can be in the
		// nucleus (the argument of llama2.c's sample_topp): skip the rest
		// before sorting.
		cut := (1 - topP) / float64(V-1) * total
		for i, v := range p {
			if v >= cut {
				cand = append(cand, i)
			}
		}
		slices.SortFunc(cand, func(a, b int) int {
			if c := cmp.Compare(p[b], p[a]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
	}
	s.cand = cand
	mass := 0.0
	for _, i := range cand {
		mass += p[i]
	}
	if filterP {
		limit := topP * mass
		acc := 0.0
		for j, i := range cand {
			acc += p[i]
			if acc >= limit {
				cand = cand[:j+1]
				break
			}
		}
		mass = acc
	}
	return s.draw(p, cand, mass)
}

// draw samples index i with probability p[i]/mass among cand (all indices
// when cand is nil).
func (s *Sampler) draw(p []float64, cand []int, mass float64) int {
	u := s.rng.Float64() * mass
	acc := 0.0
	if cand == nil {
		last := 0
		for i, v := range p {
			if v > 0 {
				acc += v
				last = i
				if u < acc {
					return i
				}
			}
		}
		return last // rounding: u landed at the very top
	}
	for _, i := range cand {
		acc += p[i]
		if u < acc {
			return i
		}
	}
	return cand[len(cand)-1]
}

// topKIndices appends the indices of the k largest values of p to dst, in
// decreasing order (lower index first on ties), using a size-k min-heap.
func topKIndices(p []float64, k int, dst []int) []int {
	less := func(a, b int) bool { // a ranks below b
		if p[a] != p[b] {
			return p[a] < p[b]
		}
		return a > b
	}
	h := dst[:0]
	down := func(i int) {
		for {
			c := 2*i + 1
			if c >= len(h) {
				return
			}
			if c+1 < len(h) && less(h[c+1], h[c]) {
				c++
			}
			if !less(h[c], h[i]) {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for i := range p {
		if len(h) < k {
			h = append(h, i)
			for j := len(h) - 1; j > 0; {
				par := (j - 1) / 2
				if !less(h[j], h[par]) {
					break
				}
				h[j], h[par] = h[par], h[j]
				j = par
			}
		} else if less(h[0], i) {
			h[0] = i
			down(0)
		}
	}
	slices.SortFunc(h, func(a, b int) int {
		if less(a, b) {
			return 1
		}
		if less(b, a) {
			return -1
		}
		return 0
	})
	return h
}
