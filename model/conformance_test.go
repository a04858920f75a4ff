package model_test

import (
	"math"
	"testing"

	"github.com/hssee/hssee/internal/evalset"
	"github.com/hssee/hssee/internal/sharedtest"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/hf"
)

// TestConformanceTinyStories runs the real tinystories-656k checkpoint
// (Hugging Face layout, rotate-half RoPE) on the golden prompts produced by
// an independent C implementation (llama2.c run.c on the converted,
// interleaved checkpoint): the first logits must agree within 1e-3 and the
// 48-token greedy continuations must match for at least 9 of 10 prompts
// (float differences may flip a late near-tie).
func TestConformanceTinyStories(t *testing.T) {
	m, err := hf.Load(sharedtest.TinyStories(t))
	if err != nil {
		t.Fatal(err)
	}
	cases, err := evalset.Load(sharedtest.Golden(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 10 {
		t.Fatalf("%d golden cases, want 10", len(cases))
	}
	r, err := model.NewRunner(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	matched := 0
	for i, g := range cases {
		r.Reset()
		logits, err := r.Forward(g.PromptIDs)
		if err != nil {
			t.Fatal(err)
		}
		if len(logits) != len(g.FirstLogits) {
			t.Fatalf("case %d: %d logits, golden has %d", i, len(logits), len(g.FirstLogits))
		}
		var d float64
		for j := range logits {
			d = math.Max(d, math.Abs(float64(logits[j]-g.FirstLogits[j])))
		}
		if d > 1e-3 {
			t.Errorf("case %d: first logits differ by up to %g (> 1e-3)", i, d)
		}
		got := make([]int, 0, len(g.GreedyIDs))
		for len(got) < len(g.GreedyIDs) {
			next := model.Argmax(logits)
			got = append(got, next)
			if logits, err = r.Forward([]int{next}); err != nil {
				t.Fatal(err)
			}
		}
		same := true
		for j := range got {
			if got[j] != g.GreedyIDs[j] {
				same = false
				t.Logf("case %d: greedy continuation diverges at step %d", i, j)
				break
			}
		}
		if same {
			matched++
		}
		t.Logf("case %d: max |Δ first logits| = %.2g, greedy match %v", i, d, same)
	}
	if matched < 9 {
		t.Errorf("greedy continuations match for %d of %d prompts, want >= 9", matched, len(cases))
	}
}
