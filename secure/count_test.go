package secure

import (
	"testing"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
)

// BenchmarkCountLarge: counting llama2-7b at 512 tokens and two decode
// steps, the exact cost model's speed.
func BenchmarkCountLarge(b *testing.B) {
	cfg, err := model.PresetConfig("llama2-7b")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Count(cfg, hss.Fixed{Frac: 14}, 512, 2); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCountLarge counts llama2-7b at 512 tokens and checks the structure
// of the breakdown (how long counting takes is BenchmarkCountLarge's). Exactness against measured costs
// is infer's TestCountMatchesMeasured.
func TestCountLarge(t *testing.T) {
	cfg, err := model.PresetConfig("llama2-7b")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Count(cfg, hss.Fixed{Frac: 14}, 512, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Decode) != 2 {
		t.Fatalf("%d decode steps", len(r.Decode))
	}
	for _, b := range append([]Breakdown{r.Prefill}, r.Decode...) {
		var sum hss.Cost
		for o, c := range b.Ops {
			if c.Rounds <= 0 || c.Online <= 0 || c.Dealer <= 0 || c.Dealer0+c.Dealer1 != c.Dealer || c.Dealer0 > c.Dealer1 {
				t.Errorf("%v: %+v", Op(o), c)
			}
			sum = sum.Add(c)
		}
		if sum != b.Total {
			t.Errorf("breakdown sums to %+v, total %+v", sum, b.Total)
		}
		// One head round; one RoPE truncation per layer.
		if b.Ops[OpHead].Rounds != 1 || b.Ops[OpRope].Rounds != int64(cfg.NLayers) {
			t.Errorf("head %d, rope %d rounds", b.Ops[OpHead].Rounds, b.Ops[OpRope].Rounds)
		}
	}
	m := r.DecodeMean()
	if m.Total.Rounds != (r.Decode[0].Total.Rounds+r.Decode[1].Total.Rounds)/2 {
		t.Errorf("mean rounds %d", m.Total.Rounds)
	}
}

func TestCountErrors(t *testing.T) {
	cfg, _ := model.PresetConfig("stories15M")
	for _, c := range []struct{ prompt, decode int }{{0, 1}, {1, -1}, {256, 1}} {
		if _, err := Count(cfg, hss.Fixed{Frac: 14}, c.prompt, c.decode); err == nil {
			t.Errorf("prompt %d decode %d: no error", c.prompt, c.decode)
		}
	}
	if _, err := Count(cfg, hss.Fixed{Frac: 20}, 4, 0); err == nil {
		t.Error("frac 20 (beyond the norms' range): no error")
	}
	if _, err := ShapeModel(model.Config{}); err == nil {
		t.Error("invalid config: no error")
	}
}
