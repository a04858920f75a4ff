package infer_test

import (
	"testing"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/infer"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/secure"
)

// TestCountMatchesMeasured checks secure.Count against the costs infer.HSS
// measures (transport Stats, dealer.Dealer.Bytes) on small random models:
// a prefill and decode steps, every step equal in online bytes, rounds and
// dealer bytes; at the default parameters and at the edges of the range
// hss.Params accepts (the least width at the least and the largest Frac,
// width 64).
func TestCountMatchesMeasured(t *testing.T) {
	tiny656k, err := model.PresetConfig("tinystories-656k")
	if err != nil {
		t.Fatal(err)
	}
	llama := model.Config{Arch: model.ArchLlama, Dim: 32, HiddenDim: 48, NLayers: 2, NHeads: 4, NKVHeads: 2,
		VocabSize: 40, MaxSeqLen: 32, NormEps: 1e-5, RopeTheta: 10000, RopeStyle: model.RopeInterleaved, BOS: 1, EOS: 2}
	gpt2 := model.Config{Arch: model.ArchGPT2, Dim: 24, HiddenDim: 48, NLayers: 2, NHeads: 3, NKVHeads: 3,
		VocabSize: 50, MaxSeqLen: 32, NormEps: 1e-5, TiedEmbed: true, BOS: 0, EOS: 0}
	for _, tc := range []struct {
		name           string
		cfg            model.Config
		frac, width    uint
		prompt, decode int
	}{
		{"llama-gqa", llama, 14, 48, 5, 3},
		{"gpt2", gpt2, 12, 48, 4, 3},
		{"tinystories-656k", tiny656k, 14, 48, 3, 2},
		{"llama-gqa-frac8-width24", llama, hss.MinFrac, 2*hss.MinFrac + hss.WidthHeadroom, 3, 1},
		{"gpt2-frac14-width36", gpt2, hss.MaxFrac, 2*hss.MaxFrac + hss.WidthHeadroom, 3, 1},
		{"llama-gqa-frac14-width64", llama, hss.MaxFrac, hss.MaxWidth, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prm, err := hss.NewParams(tc.frac, tc.width)
			if err != nil {
				t.Fatal(err)
			}
			m, err := model.RandomModel(tc.cfg, 7)
			if err != nil {
				t.Fatal(err)
			}
			h, err := infer.NewHSS(m, prm, tc.prompt+tc.decode, hss.NewPRG([32]byte{9}), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			count, err := secure.Count(tc.cfg, prm, tc.prompt, tc.decode)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]int, tc.prompt)
			for i := range ids {
				ids[i] = (3*i + 1) % tc.cfg.VocabSize
			}
			steps := append([]secure.Breakdown{count.Prefill}, count.Decode...)
			for s, want := range steps {
				if s > 0 {
					ids = []int{s % tc.cfg.VocabSize}
				}
				if _, err := h.Forward(ids); err != nil {
					t.Fatal(err)
				}
				got := h.Last()
				measured := hss.Cost{Online: got.OnlineBytes, Rounds: got.Rounds, Dealer: got.DealerBytes,
					Dealer0: got.DealerBytes0, Dealer1: got.DealerBytes1}
				if measured != want.Total {
					t.Errorf("step %d: measured %+v, counted %+v", s, measured, want.Total)
				}
				var sum hss.Cost
				for _, c := range want.Ops {
					sum = sum.Add(c)
				}
				if sum != want.Total {
					t.Errorf("step %d: breakdown sums to %+v, total %+v", s, sum, want.Total)
				}
			}
		})
	}
}
