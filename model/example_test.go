package model_test

import (
	"fmt"

	"github.com/hssee/hssee/model"
)

// Generate a few tokens greedily from a random-weight preset.
func ExampleRunner() {
	m, err := model.Preset("tinystories-656k", 1)
	if err != nil {
		panic(err)
	}
	r, err := model.NewRunner(m, 64)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	s, err := model.NewSampler(model.SamplerConfig{Temperature: 0}) // greedy
	if err != nil {
		panic(err)
	}
	logits, err := r.Forward([]int{m.Config.BOS, 80, 147, 201}) // batched prefill
	if err != nil {
		panic(err)
	}
	for i := 0; i < 8; i++ {
		if logits, err = r.Forward([]int{s.Sample(logits)}); err != nil {
			panic(err)
		}
	}
	fmt.Println(r.Pos(), len(logits))
	// Output: 12 2048
}
