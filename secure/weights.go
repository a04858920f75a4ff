package secure

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
)

// EncLinear is a linear layer's public weights in fixed point, Frac
// fractional bits: W [Out][In] as int32 (the kernels sign-extend them to
// ring elements; half the bytes of uint64, and decode streams every weight
// once per token and party) and B [Out] (nil for none) as two's-complement
// ring elements.
type EncLinear struct {
	Out, In int
	W       []int32
	B       []uint64
}

// EncNorm is a norm's public gain (and LayerNorm bias), Frac bits.
type EncNorm struct {
	Gain, Bias []uint64
}

// Weights are a model's public weights encoded for the parties, found by
// the address of each tensor's first element (the model must not be
// changed afterwards). Safe for concurrent use by several executors (a
// party server's sessions).
type Weights struct {
	cfg   model.Config
	fx    hss.Fixed // the encoding of prm.Frac
	lin   map[*float32]*EncLinear
	norms map[*float32]*EncNorm
	head  *EncLinear
	// fold holds the layers that read a norm's raw output (hss.NormRaw) or
	// its input scaled after them (hss.NormScale) with the norm folded in,
	// by layer and norm: each layer's W1 and W3 with its FFNNorm, Wq, Wk
	// and Wv with its AttnNorm; headFold is the head with the final norm
	// (whose gains start at finalNorm).
	fold      map[foldKey]*EncLinear
	headFold  *EncLinear
	finalNorm *float32
	// The layers model.Forward reads only through their folded encodings
	// (each layer's Wq, Wk, Wv, W1 and W3, the head) are encoded on first
	// use by another path (mu guards lin, lazy and head): keeping both would
	// add ~70% to a LLaMA's encoded weights.
	mu     sync.Mutex
	lazy   map[*float32]lazyLinear
	lmHead []float32
}

type foldKey struct{ w, n *float32 }

// lazyLinear is a linear layer encoded on first use, with its scale.
type lazyLinear struct {
	l *model.Linear
	s float64
}

// EncodeWeights encodes the weights of m with prm's fixed-point encoding
// (prm.Fixed(); the width plays no part, but prm is validated). Wq (and its bias) is
// scaled by 1/√HeadDim, the attention scale, so scores need no extra
// rescaling. Linear weights are stored as int32: it fails if one of them
// is not finite or |w·2^Frac| does not fit (|w| < 2^(31−Frac), 131072 at
// Frac 14). The plain encodings of W1, W3 and the head, which model.Forward
// does not read (it reads them with their norm folded in), are only checked
// here and made on first use by another path.
func EncodeWeights(m *model.Model, prm hss.Params) (*Weights, error) {
	if m == nil {
		return nil, errors.New("secure: encode weights: nil model")
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("secure: encode weights: %w", err)
	}
	if err := prm.Validate(); err != nil {
		return nil, fmt.Errorf("secure: encode weights: %w", err)
	}
	fx := prm.Fixed()
	w := &Weights{cfg: m.Config, fx: fx, lin: map[*float32]*EncLinear{}, norms: map[*float32]*EncNorm{}, fold: map[foldKey]*EncLinear{},
		lazy: map[*float32]lazyLinear{}}
	scale := 1 / math.Sqrt(float64(m.Config.HeadDim()))
	addLin := func(name string, l *model.Linear, s float64) error {
		if len(l.W) == 0 {
			return nil
		}
		ew, err := encode32(fx, name, l.W, s, true)
		if err != nil {
			return err
		}
		w.lin[&l.W[0]] = &EncLinear{Out: l.Out, In: l.In, W: ew, B: encodeVec(fx, l.B, s)}
		return nil
	}
	// Wq, Wk, Wv, W1 and W3: checked now, encoded on first use (lazy).
	addLazy := func(name string, l *model.Linear, s float64) error {
		if len(l.W) == 0 {
			return nil
		}
		if _, err := encode32(fx, name, l.W, s, false); err != nil {
			return err
		}
		w.lazy[&l.W[0]] = lazyLinear{l, s}
		return nil
	}
	// A layer with its norm folded in, keyed by both.
	addFold := func(i int, l *model.Linear, n *model.Norm, s float64) error {
		if len(l.W) == 0 {
			return nil
		}
		el, err := foldNorm(fx, l.W, l.B, l.Out, l.In, n, s)
		if err != nil {
			return fmt.Errorf("secure: encode weights: layer %d: %w", i, err)
		}
		w.fold[foldKey{&l.W[0], &n.W[0]}] = el
		return nil
	}
	addNorm := func(n *model.Norm) {
		w.norms[&n.W[0]] = &EncNorm{Gain: encodeVec(fx, n.W, 1), Bias: encodeVec(fx, n.B, 1)}
	}
	for i := range m.Layers {
		L := &m.Layers[i]
		for j, l := range []*model.Linear{&L.Wo, &L.W2} {
			if err := addLin(fmt.Sprintf("layer %d %s", i, [...]string{"wo", "w2"}[j]), l, 1); err != nil {
				return nil, err
			}
		}
		for j, l := range []*model.Linear{&L.Wq, &L.Wk, &L.Wv, &L.W1, &L.W3} {
			s := 1.0
			if j == 0 {
				s = scale
			}
			if err := addLazy(fmt.Sprintf("layer %d %s", i, [...]string{"wq", "wk", "wv", "w1", "w3"}[j]), l, s); err != nil {
				return nil, err
			}
		}
		if m.Config.Arch == model.ArchGPT2 {
			// The layers that write to the residual stream, centred (see
			// CenterInput).
			for _, l := range []*model.Linear{&L.Wo, &L.W2} {
				if err := centreWriting(fx, w.lin[&l.W[0]], l); err != nil {
					return nil, fmt.Errorf("secure: encode weights: layer %d: %w", i, err)
				}
			}
		}
		addNorm(&L.AttnNorm)
		addNorm(&L.FFNNorm)
		for j, l := range []*model.Linear{&L.Wq, &L.Wk, &L.Wv} {
			s := 1.0
			if j == 0 {
				s = scale
			}
			if err := addFold(i, l, &L.AttnNorm, s); err != nil {
				return nil, err
			}
		}
		for _, l := range []*model.Linear{&L.W1, &L.W3} {
			if err := addFold(i, l, &L.FFNNorm, 1); err != nil {
				return nil, err
			}
		}
	}
	addNorm(&m.FinalNorm)
	if _, err := encode32(fx, "lm head", m.LMHead, 1, false); err != nil {
		return nil, err
	}
	w.lmHead = m.LMHead // encoded on first use (unfoldedHead)
	fh, err := foldNorm(fx, m.LMHead, nil, m.Config.VocabSize, m.Config.Dim, &m.FinalNorm, 1)
	if err != nil {
		return nil, fmt.Errorf("secure: encode weights: lm head: %w", err)
	}
	w.headFold, w.finalNorm = fh, &m.FinalNorm.W[0]
	return w, nil
}

// centreWriting re-encodes el, the encoding of l, with every column and the bias of sum exactly
// zero: l's weights minus their column means (and the bias minus its mean), rounded so that each
// encoded value is within one unit of the exact one (the largest remainders take the carries). A
// layer so encoded adds a row of mean zero to the residual stream before its truncation:
// LayerNorm, which reads the stream only through x − mean(x), sees the same function.
func centreWriting(fx hss.Fixed, el *EncLinear, l *model.Linear) error {
	out, in := l.Out, l.In
	if el == nil || len(el.W) != out*in || len(l.W) != out*in {
		return errors.New("centre writing layer: no encoding")
	}
	sc := fx.Scale()
	exact := make([]float64, out)
	idx := make([]int, out)
	for k := range in {
		var mean float64
		for j := range out {
			mean += float64(l.W[j*in+k])
		}
		mean /= float64(out)
		var sum int64
		for j := range out {
			exact[j] = (float64(l.W[j*in+k]) - mean) * sc
			v := math.Round(exact[j])
			if math.Abs(v) >= 1<<31 {
				return fmt.Errorf("centred weight %d out of range", j*in+k)
			}
			el.W[j*in+k] = int32(v)
			sum += int64(v)
		}
		if err := spreadCarry(sum, exact, idx, func(j int) int64 { return int64(el.W[j*in+k]) }, func(j int, d int64) { el.W[j*in+k] += int32(d) }); err != nil {
			return err
		}
	}
	if l.B == nil {
		return nil
	}
	var mean float64
	for _, v := range l.B {
		mean += float64(v)
	}
	mean /= float64(out)
	var sum int64
	for j, v := range l.B {
		exact[j] = (float64(v) - mean) * sc
		el.B[j] = uint64(int64(math.Round(exact[j])))
		sum += int64(el.B[j])
	}
	return spreadCarry(sum, exact, idx, func(j int) int64 { return int64(el.B[j]) }, func(j int, d int64) { el.B[j] += uint64(d) })
}

// spreadCarry makes values of sum sum add up to zero: it moves the |sum| values whose rounding went
// furthest in sum's direction (got(j) − exact[j]) one unit back (idx is scratch of len(exact)).
func spreadCarry(sum int64, exact []float64, idx []int, got func(int) int64, add func(int, int64)) error {
	if sum == 0 {
		return nil
	}
	if sum > int64(len(exact)) || -sum > int64(len(exact)) {
		return errors.New("centring carry out of range")
	}
	for j := range idx {
		idx[j] = j
	}
	sign := int64(1)
	if sum < 0 {
		sign, sum = -1, -sum
	}
	sort.Slice(idx, func(a, b int) bool { // ties by index: both parties' encodings must agree
		da := float64(got(idx[a])) - exact[idx[a]]
		db := float64(got(idx[b])) - exact[idx[b]]
		if da != db {
			return da*float64(sign) > db*float64(sign)
		}
		return idx[a] < idx[b]
	})
	for _, j := range idx[:sum] {
		add(j, -sign)
	}
	return nil
}

// foldNorm encodes the linear layer s·W [out][in], s·b that reads norm n's raw output (hss.NormRaw:
// the normalised row over hss.NormRawGain; or hss.NormScale's input, scaled after the layer):
// s·W·diag(γ·NormRawGain(in)) and s·(b + W·β) (β the norm's bias, LayerNorm), Frac bits, W as
// int32 (it fails where a folded weight does not fit).
func foldNorm(fx hss.Fixed, W, b []float32, out, in int, n *model.Norm, s float64) (*EncLinear, error) {
	if len(n.W) != in || n.B != nil && len(n.B) != in || len(W) != out*in || b != nil && len(b) != out {
		return nil, errors.New("norm and linear layer do not match")
	}
	g := hss.NormRawGain(in)
	el := &EncLinear{Out: out, In: in, W: make([]int32, len(W))}
	for i := range out {
		row := W[i*in : (i+1)*in]
		var bias float64
		if b != nil {
			bias = float64(b[i])
		}
		for j, v := range row {
			e, err := fx.EncodeW32(float64(v) * float64(n.W[j]) * g * s)
			if err != nil {
				return nil, fmt.Errorf("folded weight %d: %w", i*in+j, err)
			}
			el.W[i*in+j] = e
			if n.B != nil {
				bias += float64(v) * float64(n.B[j])
			}
		}
		if b != nil || n.B != nil {
			if el.B == nil {
				el.B = make([]uint64, out)
			}
			el.B[i] = fx.Encode(bias * s)
		}
	}
	return el, nil
}

// folded is linear layer l with norm n folded in (see Weights.fold).
func (w *Weights) folded(l *model.Linear, n *model.Norm) (*EncLinear, error) {
	if len(l.W) == 0 || len(n.W) == 0 {
		return nil, errors.New("secure: linear layer or norm without weights")
	}
	el, ok := w.fold[foldKey{&l.W[0], &n.W[0]}]
	if !ok || el.Out != l.Out || el.In != l.In {
		return nil, errors.New("secure: linear layer after a norm not among the encoded weights (only Wq, Wk, Wv, W1 and W3 read their norm folded in)")
	}
	return el, nil
}

// foldedHead is the LM head with norm n folded in: only the final norm's is encoded.
func (w *Weights) foldedHead(n *model.Norm) (*EncLinear, error) {
	if len(n.W) == 0 {
		return nil, errors.New("secure: norm without gains")
	}
	if &n.W[0] != w.finalNorm {
		return nil, errors.New("secure: LM head after a norm other than the final one")
	}
	return w.headFold, nil
}

// encode32 encodes v·s as int32 (EncodeW32); with keep false it only checks that it can.
func encode32(fx hss.Fixed, name string, v []float32, s float64, keep bool) ([]int32, error) {
	var out []int32
	if keep {
		out = make([]int32, len(v))
	}
	for i, x := range v {
		e, err := fx.EncodeW32(float64(x) * s)
		if err != nil {
			return nil, fmt.Errorf("secure: encode weights: %s weight %d: %w", name, i, err)
		}
		if keep {
			out[i] = e
		}
	}
	return out, nil
}

// encodeVec encodes v·s as ring elements (nil for nil).
func encodeVec(fx hss.Fixed, v []float32, s float64) []uint64 {
	if v == nil {
		return nil
	}
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = fx.Encode(float64(x) * s)
	}
	return out
}

// unfoldedHead is the LM head's plain encoding, made on first use (outside the lock: other sessions'
// lookups go on meanwhile).
func (w *Weights) unfoldedHead() (*EncLinear, error) {
	w.mu.Lock()
	h := w.head
	w.mu.Unlock()
	if h != nil {
		return h, nil
	}
	hw, err := encode32(w.fx, "lm head", w.lmHead, 1, true)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.head == nil {
		w.head = &EncLinear{Out: w.cfg.VocabSize, In: w.cfg.Dim, W: hw}
	}
	return w.head, nil
}

func (w *Weights) linear(l *model.Linear) (*EncLinear, error) {
	if len(l.W) == 0 {
		return nil, errors.New("secure: linear layer without weights")
	}
	key := &l.W[0]
	w.mu.Lock()
	el, ok := w.lin[key]
	src := w.lazy[key]
	w.mu.Unlock()
	if !ok && src.l != nil {
		// A plain Wq, Wk, Wv, W1 or W3 on first use, encoded outside the lock.
		ew, err := encode32(w.fx, "lazy layer", src.l.W, src.s, true)
		if err != nil {
			return nil, err
		}
		built := &EncLinear{Out: src.l.Out, In: src.l.In, W: ew, B: encodeVec(w.fx, src.l.B, src.s)}
		w.mu.Lock()
		if el, ok = w.lin[key]; !ok {
			el, ok = built, true
			w.lin[key] = built
			delete(w.lazy, key)
		}
		w.mu.Unlock()
	}
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
