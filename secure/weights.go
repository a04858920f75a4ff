package secure

import (
	"errors"
	"fmt"
	"math"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
)

// EncLinear is a linear layer's public weights in fixed point: W [Out][In]
// and B [Out] (nil for none), Frac fractional bits, as two's-complement
// ring elements.
type EncLinear struct {
	Out, In int
	W, B    []uint64
}

// EncNorm is a norm's public gain (and LayerNorm bias), Frac bits.
type EncNorm struct {
	Gain, Bias []uint64
}

// Weights are a model's public weights encoded for the parties, found by
// the address of each tensor's first element (the model must not be
// changed afterwards).
type Weights struct {
	cfg   model.Config
	fx    hss.Fixed
	lin   map[*float32]*EncLinear
	norms map[*float32]*EncNorm
	head  *EncLinear
}

// EncodeWeights encodes every weight of m with fx. Wq (and its bias) is
// scaled by 1/√HeadDim, the attention scale, so scores need no extra
// rescaling.
func EncodeWeights(m *model.Model, fx hss.Fixed) (*Weights, error) {
	if m == nil {
		return nil, errors.New("secure: encode weights: nil model")
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("secure: encode weights: %w", err)
	}
	if err := fx.Validate(); err != nil {
		return nil, fmt.Errorf("secure: encode weights: %w", err)
	}
	w := &Weights{cfg: m.Config, fx: fx, lin: map[*float32]*EncLinear{}, norms: map[*float32]*EncNorm{}}
	scale := 1 / math.Sqrt(float64(m.Config.HeadDim()))
	enc := func(v []float32, s float64) []uint64 {
		if v == nil {
			return nil
		}
		out := make([]uint64, len(v))
		for i, x := range v {
			out[i] = fx.Encode(float64(x) * s)
		}
		return out
	}
	addLin := func(l *model.Linear, s float64) {
		if len(l.W) > 0 {
			w.lin[&l.W[0]] = &EncLinear{Out: l.Out, In: l.In, W: enc(l.W, s), B: enc(l.B, s)}
		}
	}
	addNorm := func(n *model.Norm) {
		w.norms[&n.W[0]] = &EncNorm{Gain: enc(n.W, 1), Bias: enc(n.B, 1)}
	}
	for i := range m.Layers {
		L := &m.Layers[i]
		addLin(&L.Wq, scale)
		for _, l := range []*model.Linear{&L.Wk, &L.Wv, &L.Wo, &L.W1, &L.W2, &L.W3} {
			addLin(l, 1)
		}
		addNorm(&L.AttnNorm)
		addNorm(&L.FFNNorm)
	}
	addNorm(&m.FinalNorm)
	w.head = &EncLinear{Out: m.Config.VocabSize, In: m.Config.Dim, W: enc(m.LMHead, 1)}
	return w, nil
}

func (w *Weights) linear(l *model.Linear) (*EncLinear, error) {
	if len(l.W) == 0 {
		return nil, errors.New("secure: linear layer without weights")
	}
	el, ok := w.lin[&l.W[0]]
	if !ok || el.Out != l.Out || el.In != l.In {
		return nil, errors.New("secure: linear layer not among the encoded weights")
	}
	return el, nil
}

func (w *Weights) norm(n *model.Norm) (*EncNorm, error) {
	if len(n.W) == 0 {
		return nil, errors.New("secure: norm without gains")
	}
	en, ok := w.norms[&n.W[0]]
	if !ok {
		return nil, errors.New("secure: norm not among the encoded weights")
	}
	return en, nil
}
