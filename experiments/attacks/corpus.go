package main

import (
	"fmt"
	"sync"

	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/tokenizer"
)

// corpusSpec describes a reproducible synthetic corpus: stories the plain
// model samples (temperature, one seed per story) from prompts. The public
// corpus (the attacker's) starts every story from BOS alone; the private
// sessions (the victim's) start from the given prompts, round robin, with
// seeds from a disjoint range. Both are the same domain (TinyStories-like
// text from one model), which is the attacker's best realistic case: a
// public corpus of the victim's kind of text.
type corpusSpec struct {
	Stories int
	MaxLen  int // tokens per story including the prompt (stops early at EOS)
	Temp    float32
	Seed    uint64
	Prompts []string // nil: BOS only
}

// generate samples the corpus on threads goroutines, each with its own
// single-threaded runner; the result does not depend on threads.
func generate(m *model.Model, tok tokenizer.Tokenizer, spec corpusSpec, threads int) ([][]int, error) {
	out := make([][]int, spec.Stories)
	errs := make([]error, threads)
	var wg sync.WaitGroup
	for w := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := model.NewRunnerThreads(m, spec.MaxLen, 1)
			if err != nil {
				errs[w] = err
				return
			}
			defer r.Close()
			for i := w; i < spec.Stories; i += threads {
				var prompt []int
				if len(spec.Prompts) == 0 {
					prompt = []int{tok.BOS()}
				} else if prompt, err = tok.Encode(spec.Prompts[i%len(spec.Prompts)], true); err != nil {
					errs[w] = err
					return
				}
				if out[i], err = story(r, prompt, spec, spec.Seed*1_000_003+uint64(i), tok.EOS()); err != nil {
					errs[w] = fmt.Errorf("story %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func story(r *model.Runner, prompt []int, spec corpusSpec, seed uint64, eos int) ([]int, error) {
	s, err := model.NewSampler(model.SamplerConfig{Temperature: spec.Temp, Seed: seed})
	if err != nil {
		return nil, err
	}
	r.Reset()
	ids := append([]int(nil), prompt...)
	logits, err := r.Forward(prompt)
	for err == nil && len(ids) < spec.MaxLen {
		id := s.Sample(logits)
		if id < 0 || id == eos {
			break
		}
		ids = append(ids, id)
		if len(ids) == spec.MaxLen {
			break
		}
		logits, err = r.Forward([]int{id})
	}
	return ids, err
}

func countTokens(seqs [][]int) int {
	n := 0
	for _, s := range seqs {
		n += len(s)
	}
	return n
}
