package hf_test

import (
	"fmt"
	"os"

	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/hf"
)

func ExampleSave() {
	c := model.Config{Arch: model.ArchLlama, Dim: 4, HiddenDim: 8, NLayers: 1, NHeads: 2, NKVHeads: 1,
		VocabSize: 5, MaxSeqLen: 8, NormEps: 1e-5, RopeTheta: 10000, RopeStyle: model.RopeHalf,
		TiedEmbed: true, BOS: 1, EOS: 2}
	lin := func(out, in int) model.Linear { return model.Linear{W: make([]float32, out*in), Out: out, In: in} }
	ones := []float32{1, 1, 1, 1}
	m := &model.Model{Config: c, Embed: make([]float32, 20), FinalNorm: model.Norm{W: ones},
		Layers: []model.Layer{{AttnNorm: model.Norm{W: ones}, FFNNorm: model.Norm{W: ones},
			Wq: lin(4, 4), Wk: lin(2, 4), Wv: lin(2, 4), Wo: lin(4, 4), W1: lin(8, 4), W2: lin(4, 8), W3: lin(8, 4)}}}
	m.LMHead = m.Embed

	dir, _ := os.MkdirTemp("", "hf-example")
	defer os.RemoveAll(dir)
	if err := hf.Save(dir, m); err != nil {
		panic(err)
	}
	back, err := hf.Load(dir)
	if err != nil {
		panic(err)
	}
	fmt.Println(back.Config.Arch, back.Config.RopeStyle, back.Config.TiedEmbed, model.Fingerprint(back) == model.Fingerprint(m))
	// Output: llama half true true
}
