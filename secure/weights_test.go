package secure

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
)

// TestCentredStream checks what a LayerNorm model's centred stream rests on: the encoded Wo and W2
// have columns and bias of sum exactly zero, each value within one unit of its exact centred
// value; CenterInput leaves rows of sum exactly zero, each value within one unit of the row minus
// its mean; and an RMSNorm model's weights and input are left as they are.
func TestCentredStream(t *testing.T) {
	for _, arch := range []model.Arch{model.ArchGPT2, model.ArchLlama} {
		c := model.Config{Arch: arch, Dim: 24, HiddenDim: 40, NLayers: 2, NHeads: 2, NKVHeads: 2, VocabSize: 30,
			MaxSeqLen: 8, NormEps: 1e-5, RopeTheta: 10000, RopeStyle: model.RopeHalf, BOS: 1, EOS: 2}
		m, err := model.RandomModel(c, 3)
		if err != nil {
			t.Fatal(err)
		}
		prm := hss.DefaultParams()
		w, err := EncodeWeights(m, prm)
		if err != nil {
			t.Fatal(err)
		}
		sc := prm.Fixed().Scale()
		for i := range m.Layers {
			for _, l := range []*model.Linear{&m.Layers[i].Wo, &m.Layers[i].W2} {
				el := w.lin[&l.W[0]]
				for k := range l.In {
					var sum int64
					var mean float64
					for j := range l.Out {
						sum += int64(el.W[j*l.In+k])
						mean += float64(l.W[j*l.In+k])
					}
					mean /= float64(l.Out)
					for j := range l.Out {
						want := float64(l.W[j*l.In+k])
						if arch == model.ArchGPT2 {
							want -= mean
						}
						if d := math.Abs(float64(el.W[j*l.In+k]) - want*sc); d > 1 {
							t.Fatalf("%v layer %d: weight %d,%d off by %.2f units", arch, i, j, k, d)
						}
					}
					if arch == model.ArchGPT2 && sum != 0 {
						t.Fatalf("layer %d: column %d sums to %d", i, k, sum)
					}
				}
				if arch == model.ArchGPT2 {
					var sum int64
					for _, b := range el.B {
						sum += int64(b)
					}
					if len(el.B) != l.Out || sum != 0 {
						t.Fatalf("layer %d: bias of %d values sums to %d", i, len(el.B), sum)
					}
				}
			}
		}
		pr := rand.New(rand.NewPCG(1, 2))
		x := make([]uint64, 3*c.Dim)
		for i := range x {
			x[i] = uint64(int64(pr.NormFloat64() * 40000))
		}
		x0 := append([]uint64(nil), x...)
		if err := CenterInput(c, x); err != nil {
			t.Fatal(err)
		}
		for r := range 3 {
			var mean float64
			var isum int64
			for j := range c.Dim {
				mean += float64(int64(x0[r*c.Dim+j])) / float64(c.Dim)
				isum += int64(x[r*c.Dim+j])
			}
			if arch == model.ArchLlama {
				mean = 0
			}
			for j := range c.Dim {
				d := float64(int64(x[r*c.Dim+j])) - (float64(int64(x0[r*c.Dim+j])) - mean)
				if math.Abs(d) > 1 {
					t.Fatalf("%v row %d element %d off by %.2f", arch, r, j, d)
				}
			}
			if arch == model.ArchGPT2 && isum != 0 {
				t.Fatalf("row %d sums to %d", r, isum)
			}
		}
	}
	if CenterInput(model.Config{Arch: model.ArchGPT2, Dim: 4}, make([]uint64, 5)) == nil {
		t.Error("center input: ragged rows accepted")
	}
}
