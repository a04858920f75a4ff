package ee

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/hssee/hssee/model"
)

// Transform returns the EE model F' of m under k: a new, standard model of
// the same architecture that runs on the unmodified plain engine and
// satisfies k.DecryptLogits(F'(k.EncryptIDs(p))) = F(p) up to float32
// rounding. m is not modified.
//
// An unbound key is bound to m (its fingerprint and vocabulary size are
// recorded in k) when Transform succeeds; a key bound to another model is
// refused with "ee: key was made for a different model".
//
// perm mode (Nesa's published scheme): vocabulary permutation π (embedding
// and LM-head rows; a tied head stays tied), one residual permutation P
// (embedding and position columns, norm gains and biases, input columns of
// Wq/Wk/Wv/W1/W3, output rows and biases of Wo/W2, LM-head columns), and a
// per-layer permutation of the FFN hidden units. Exact: activations are
// permuted copies of the plaintext ones.
//
// rotate mode: π as above; the residual stream is multiplied by a random
// orthogonal Q (Haar; for LayerNorm models Q·1 = 1 so centring commutes);
// norm gains and LayerNorm biases are folded into the following linear
// layers (the EE model's gains are 1 and biases 0; the LM head absorbs the
// final norm and is untied); per layer: a permutation of the KV heads and
// of the query heads inside each GQA group, an invertible map on each head's
// queries and keys that leaves q·k unchanged (LLaMA: a random 2×2 rotation
// and scale s per RoPE pair, s on Q and 1/s on K, shared by the query heads
// of a KV group, which commutes with RoPE; GPT-2: a Haar orthogonal O and
// diagonal D, D·O on Q and D⁻¹·O on K), a Haar orthogonal U per KV head on V
// with Uᵀ on the matching input columns of Wo, and a permutation of the FFN
// hidden units with the up projection's rows scaled by s_i and the down
// projection's columns by 1/s_i (LLaMA only; GeLU does not commute with
// scaling, so GPT-2 gets the permutation only).
func Transform(m *model.Model, k *Key) (*model.Model, error) {
	if m == nil || k == nil {
		return nil, errors.New("ee: transform: nil model or key")
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("ee: transform: %w", err)
	}
	fp := model.Fingerprint(m)
	if err := k.bind(fp, m.Config.VocabSize, false); err != nil {
		return nil, err
	}
	c, err := deriveComponents(k, m.Config)
	if err != nil {
		return nil, fmt.Errorf("ee: transform: %w", err)
	}
	out := c.apply(m)
	if err := out.Check(); err != nil {
		return nil, fmt.Errorf("ee: transform: internal error: %w", err)
	}
	if err := k.bind(fp, m.Config.VocabSize, true); err != nil {
		return nil, err
	}
	return out, nil
}

// layerComponents are the secret per-layer transformations.
type layerComponents struct {
	ffnPerm  []int     // hidden unit i moves to ffnPerm[i]
	ffnScale []float64 // up-projection row i is scaled by ffnScale[i]; nil = 1
	// Head transforms (rotate mode only; nil in perm mode).
	kvPerm []int        // KV head j moves to kvPerm[j]
	qPerm  [][]int      // query head r of group j moves to slot qPerm[j][r] of its group
	aq, ak []*mat.Dense // per KV head: hd×hd maps on q (shared by the group) and k
	vMix   []*mat.Dense // per KV head: orthogonal U on v; Uᵀ on Wo's columns
}

// components is everything a key derives for one model configuration.
type components struct {
	mode   Mode
	vocab  []int // token v moves to vocab[v]
	resid  residual
	layers []layerComponents
}

func deriveComponents(k *Key, cfg model.Config) (*components, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sec := &k.secret
	d, hid, hd := cfg.Dim, cfg.HiddenDim, cfg.HeadDim()
	nkv, g := cfg.NKVHeads, cfg.NHeads/cfg.NKVHeads
	gpt := cfg.Arch == model.ArchGPT2
	c := &components{mode: k.mode, vocab: deriveVocabPerm(sec, cfg.VocabSize)}
	switch k.mode {
	case ModePerm:
		c.resid = permResidual(newStream(sec, labelResidPerm, d).perm(d))
	case ModeRotate:
		if gpt {
			c.resid = orthoResidual{newStream(sec, labelResidRotate, d, 1).haarFixingOnes(d)}
		} else {
			c.resid = orthoResidual{newStream(sec, labelResidRotate, d, 0).haar(d)}
		}
	default:
		return nil, fmt.Errorf("unknown mode %q", k.mode)
	}
	c.layers = make([]layerComponents, cfg.NLayers)
	for l := range c.layers {
		lc := &c.layers[l]
		lc.ffnPerm = newStream(sec, labelFFNPerm, l, hid).perm(hid)
		if k.mode != ModeRotate {
			continue
		}
		if !gpt {
			s := newStream(sec, labelFFNScale, l, hid)
			lc.ffnScale = make([]float64, hid)
			for i := range lc.ffnScale {
				lc.ffnScale[i] = s.scale()
			}
		}
		lc.kvPerm = newStream(sec, labelKVHeadPerm, l, nkv).perm(nkv)
		lc.qPerm = make([][]int, nkv)
		lc.aq = make([]*mat.Dense, nkv)
		lc.ak = make([]*mat.Dense, nkv)
		lc.vMix = make([]*mat.Dense, nkv)
		for j := 0; j < nkv; j++ {
			lc.qPerm[j] = newStream(sec, labelQHeadPerm, l, j, g).perm(g)
			if gpt {
				o := newStream(sec, labelQKMix, l, j, hd).haar(hd)
				s := newStream(sec, labelQKScale, l, j, hd)
				aq, ak := mat.NewDense(hd, hd, nil), mat.NewDense(hd, hd, nil)
				for i := 0; i < hd; i++ {
					f := s.scale()
					for c := 0; c < hd; c++ {
						aq.Set(i, c, f*o.At(i, c))
						ak.Set(i, c, o.At(i, c)/f)
					}
				}
				lc.aq[j], lc.ak[j] = aq, ak
			} else {
				lc.aq[j], lc.ak[j] = newStream(sec, labelQKRope, l, j, hd).ropeMaps(cfg.RopeStyle, hd)
			}
			lc.vMix[j] = newStream(sec, labelVMix, l, j, hd).haar(hd)
		}
	}
	return c, nil
}

// ropeMaps draws one KV head's query and key maps: for every RoPE pair a
// rotation R(θ) with θ uniform in [0, 2π) and a scale f log-uniform in
// [1/2, 2]; the query map is f·R(θ) and the key map (1/f)·R(θ), so
// (f·R·q)·((1/f)·R·k) = q·k, and both commute with RoPE's rotation of the
// same pair.
func (s *stream) ropeMaps(style model.RopeStyle, hd int) (aq, ak *mat.Dense) {
	aq, ak = mat.NewDense(hd, hd, nil), mat.NewDense(hd, hd, nil)
	for _, p := range ropePairs(style, hd) {
		theta := 2 * math.Pi * s.float()
		f := s.scale()
		setRot(aq, p, theta, f)
		setRot(ak, p, theta, 1/f)
	}
	return aq, ak
}

// ropePairs lists the (a, b) dimension pairs RoPE rotates together in one
// head: (i, i+hd/2) for RopeHalf, (2i, 2i+1) for RopeInterleaved.
func ropePairs(style model.RopeStyle, hd int) [][2]int {
	pairs := make([][2]int, hd/2)
	for i := range pairs {
		if style == model.RopeInterleaved {
			pairs[i] = [2]int{2 * i, 2*i + 1}
		} else {
			pairs[i] = [2]int{i, i + hd/2}
		}
	}
	return pairs
}

// setRot writes f·R(θ) into the (a, b) plane of m.
func setRot(m *mat.Dense, p [2]int, theta, f float64) {
	sin, cos := math.Sincos(theta)
	m.Set(p[0], p[0], f*cos)
	m.Set(p[0], p[1], -f*sin)
	m.Set(p[1], p[0], f*sin)
	m.Set(p[1], p[1], f*cos)
}

// residual is the secret transformation of the residual stream, x ↦ Q·x.
type residual interface {
	left(w *mat.Dense) *mat.Dense   // Q·W
	rightT(w *mat.Dense) *mat.Dense // W·Qᵀ
	vec(b []float64) []float64      // Q·b (nil stays nil)
}

// permResidual is the permutation x'[p[i]] = x[i].
type permResidual []int

func (p permResidual) left(w *mat.Dense) *mat.Dense {
	r, c := w.Dims()
	out := mat.NewDense(r, c, nil)
	for i := 0; i < r; i++ {
		out.SetRow(p[i], w.RawRowView(i))
	}
	return out
}

func (p permResidual) rightT(w *mat.Dense) *mat.Dense {
	r, c := w.Dims()
	out := mat.NewDense(r, c, nil)
	for i := 0; i < r; i++ {
		src, dst := w.RawRowView(i), out.RawRowView(i)
		for j, v := range src {
			dst[p[j]] = v
		}
	}
	return out
}

func (p permResidual) vec(b []float64) []float64 {
	if b == nil {
		return nil
	}
	out := make([]float64, len(b))
	for i, v := range b {
		out[p[i]] = v
	}
	return out
}

// orthoResidual is multiplication by an orthogonal matrix.
type orthoResidual struct{ q *mat.Dense }

func (o orthoResidual) left(w *mat.Dense) *mat.Dense {
	var out mat.Dense
	out.Mul(o.q, w)
	return &out
}

func (o orthoResidual) rightT(w *mat.Dense) *mat.Dense {
	var out mat.Dense
	out.Mul(w, o.q.T())
	return &out
}

func (o orthoResidual) vec(b []float64) []float64 {
	if b == nil {
		return nil
	}
	return mulVec(o.q, b)
}

func mulVec(a mat.Matrix, b []float64) []float64 {
	r, _ := a.Dims()
	out := mat.NewVecDense(r, nil)
	out.MulVec(a, mat.NewVecDense(len(b), b))
	return out.RawVector().Data
}

// apply builds the EE model. m must have passed Check.
func (c *components) apply(m *model.Model) *model.Model {
	cfg := m.Config
	d, v := cfg.Dim, cfg.VocabSize
	rot := c.mode == ModeRotate
	out := &model.Model{Config: cfg}

	out.Embed = to32(c.permRows(c.resid.rightT(dense(m.Embed, v, d))))
	if m.Pos != nil {
		out.Pos = to32(c.resid.rightT(dense(m.Pos, cfg.MaxSeqLen, d)))
	}
	out.Layers = make([]model.Layer, len(m.Layers))
	for i := range m.Layers {
		out.Layers[i] = c.layer(cfg, &m.Layers[i], &c.layers[i])
	}

	// Final norm and LM head.
	fn := m.FinalNorm
	if !rot {
		out.FinalNorm = c.norm(fn, false)
		if cfg.TiedEmbed {
			out.LMHead = out.Embed
		} else {
			out.LMHead = to32(c.permRows(c.resid.rightT(dense(m.LMHead, v, d))))
		}
		return out
	}
	h := dense(m.LMHead, v, d)
	var hb []float64 // H·β: the per-token constant the final LayerNorm bias adds
	if fn.B != nil {
		hb = mulVec(h, vec64(fn.B))
	}
	h = c.resid.rightT(scaleCols(h, vec64(fn.W)))
	out.FinalNorm = model.Norm{W: ones(d)}
	if fn.B != nil {
		// The LM head has no bias, so H·β rides on the all-ones direction,
		// which the normalised (centred) stream never occupies: the EE
		// final norm has bias 1 and the head maps 1 to H·β while acting on
		// the centred subspace as before: row_v ← row_v − mean(row_v) + (Hβ)_v/d.
		out.FinalNorm.B = ones(d)
		for r := 0; r < v; r++ {
			row := h.RawRowView(r)
			var mean float64
			for _, x := range row {
				mean += x
			}
			mean /= float64(d)
			for j := range row {
				row[j] += hb[r]/float64(d) - mean
			}
		}
	}
	out.LMHead = to32(c.permRows(h))
	out.Config.TiedEmbed = false
	return out
}

// permRows moves row t of w (token t) to row vocab[t].
func (c *components) permRows(w *mat.Dense) *mat.Dense {
	return permResidual(c.vocab).left(w)
}

// norm returns the EE model's copy of a norm layer: permuted (perm mode) or
// neutral (rotate mode: gain 1, bias 0, the original folded elsewhere).
func (c *components) norm(n model.Norm, rot bool) model.Norm {
	if rot {
		out := model.Norm{W: ones(len(n.W))}
		if n.B != nil {
			out.B = make([]float32, len(n.B))
		}
		return out
	}
	return model.Norm{W: to32v(c.resid.vec(vec64(n.W))), B: to32v(c.resid.vec(vec64(n.B)))}
}

// in transforms a linear layer that reads the normalised residual stream:
// rotate mode folds the norm, W(g⊙n + β) + b = (W·diag(g))·n + (b + W·β),
// then W ← W·Qᵀ so that W'·(Q·n) = W·n.
func (c *components) in(l model.Linear, n model.Norm) (*mat.Dense, []float64) {
	w := dense(l.W, l.Out, l.In)
	b := vec64(l.B)
	if c.mode == ModeRotate {
		if n.B != nil {
			wb := mulVec(w, vec64(n.B))
			if b == nil {
				b = wb
			} else {
				for i := range b {
					b[i] += wb[i]
				}
			}
		}
		w = scaleCols(w, vec64(n.W))
	}
	return c.resid.rightT(w), b
}

// out transforms a linear layer that writes into the residual stream.
func (c *components) out(w *mat.Dense, b []float64) model.Linear {
	r, cols := w.Dims()
	w = c.resid.left(w)
	return model.Linear{W: to32(w), B: to32v(c.resid.vec(b)), Out: r, In: cols}
}

func (c *components) layer(cfg model.Config, l *model.Layer, lc *layerComponents) model.Layer {
	rot := c.mode == ModeRotate
	d, hid, hd := cfg.Dim, cfg.HiddenDim, cfg.HeadDim()
	nq, nkv := cfg.NHeads, cfg.NKVHeads
	var o model.Layer

	// Attention.
	wq, bq := c.in(l.Wq, l.AttnNorm)
	wk, bk := c.in(l.Wk, l.AttnNorm)
	wv, bv := c.in(l.Wv, l.AttnNorm)
	wo := dense(l.Wo.W, d, d)
	if rot {
		g := nq / nkv
		qDst := func(h int) (int, int) { // old query head -> new head, KV group
			j := h / g
			return lc.kvPerm[j]*g + lc.qPerm[j][h%g], j
		}
		kvDst := func(j int) (int, int) { return lc.kvPerm[j], j }
		wq, bq = headRows(wq, bq, hd, nq, qDst, lc.aq)
		wk, bk = headRows(wk, bk, hd, nkv, kvDst, lc.ak)
		wv, bv = headRows(wv, bv, hd, nkv, kvDst, lc.vMix)
		wo = headCols(wo, hd, nq, qDst, lc.vMix)
	}
	o.AttnNorm = c.norm(l.AttnNorm, rot)
	o.Wq = linear(wq, bq)
	o.Wk = linear(wk, bk)
	o.Wv = linear(wv, bv)
	o.Wo = c.out(wo, vec64(l.Wo.B))

	// Feed-forward.
	o.FFNNorm = c.norm(l.FFNNorm, rot)
	w1, b1 := c.in(l.W1, l.FFNNorm)
	w1, b1 = permRowsScaled(w1, b1, lc.ffnPerm, nil)
	o.W1 = linear(w1, b1)
	if l.W3.Out > 0 {
		w3, b3 := c.in(l.W3, l.FFNNorm)
		w3, b3 = permRowsScaled(w3, b3, lc.ffnPerm, lc.ffnScale)
		o.W3 = linear(w3, b3)
	} else {
		o.W3 = model.Linear{W: slices.Clone(l.W3.W), B: slices.Clone(l.W3.B), Out: l.W3.Out, In: l.W3.In}
	}
	// Down projection: column i (hidden unit i) moves to ffnPerm[i] and is
	// divided by the scale its up-projection row received.
	w2 := dense(l.W2.W, d, hid)
	w2p := mat.NewDense(d, hid, nil)
	for r := 0; r < d; r++ {
		src, dst := w2.RawRowView(r), w2p.RawRowView(r)
		for i, x := range src {
			if lc.ffnScale != nil {
				x /= lc.ffnScale[i]
			}
			dst[lc.ffnPerm[i]] = x
		}
	}
	o.W2 = c.out(w2p, vec64(l.W2.B))
	return o
}

// headRows applies a per-head map to the output rows of a projection: the
// rows of head h (hd of them) are multiplied by maps[group] and moved to
// head dst(h). Biases follow their rows.
func headRows(w *mat.Dense, b []float64, hd, heads int, dst func(int) (int, int), maps []*mat.Dense) (*mat.Dense, []float64) {
	_, cols := w.Dims()
	out := mat.NewDense(heads*hd, cols, nil)
	var ob []float64
	if b != nil {
		ob = make([]float64, len(b))
	}
	for h := 0; h < heads; h++ {
		nh, j := dst(h)
		a := maps[j]
		out.Slice(nh*hd, (nh+1)*hd, 0, cols).(*mat.Dense).Mul(a, w.Slice(h*hd, (h+1)*hd, 0, cols))
		if b != nil {
			copy(ob[nh*hd:(nh+1)*hd], mulVec(a, b[h*hd:(h+1)*hd]))
		}
	}
	return out, ob
}

// headCols moves the input columns of Wo that read query head h to head
// dst(h), multiplied on the right by maps[group]ᵀ (undoing the V mix).
func headCols(w *mat.Dense, hd, heads int, dst func(int) (int, int), maps []*mat.Dense) *mat.Dense {
	rows, cols := w.Dims()
	out := mat.NewDense(rows, cols, nil)
	for h := 0; h < heads; h++ {
		nh, j := dst(h)
		out.Slice(0, rows, nh*hd, (nh+1)*hd).(*mat.Dense).Mul(w.Slice(0, rows, h*hd, (h+1)*hd), maps[j].T())
	}
	return out
}

// permRowsScaled moves row i to perm[i], multiplied by scale[i] (if any).
func permRowsScaled(w *mat.Dense, b []float64, perm []int, scale []float64) (*mat.Dense, []float64) {
	r, cols := w.Dims()
	out := mat.NewDense(r, cols, nil)
	var ob []float64
	if b != nil {
		ob = make([]float64, len(b))
	}
	for i := 0; i < r; i++ {
		f := 1.0
		if scale != nil {
			f = scale[i]
		}
		dst := out.RawRowView(perm[i])
		for j, x := range w.RawRowView(i) {
			dst[j] = f * x
		}
		if b != nil {
			ob[perm[i]] = f * b[i]
		}
	}
	return out, ob
}

func linear(w *mat.Dense, b []float64) model.Linear {
	r, c := w.Dims()
	return model.Linear{W: to32(w), B: to32v(b), Out: r, In: c}
}

// scaleCols returns W·diag(g) (in place).
func scaleCols(w *mat.Dense, g []float64) *mat.Dense {
	r, _ := w.Dims()
	for i := 0; i < r; i++ {
		row := w.RawRowView(i)
		for j := range row {
			row[j] *= g[j]
		}
	}
	return w
}

func dense(w []float32, r, c int) *mat.Dense {
	return mat.NewDense(r, c, vec64(w))
}

// vec64 and to32v widen and narrow a vector (nil stays nil).
var (
	vec64 = convert[float64, float32]
	to32v = convert[float32, float64]
)

func convert[To, From float32 | float64](x []From) []To {
	if x == nil {
		return nil
	}
	out := make([]To, len(x))
	for i, v := range x {
		out[i] = To(v)
	}
	return out
}

func to32(m *mat.Dense) []float32 {
	r, c := m.Dims()
	out := make([]float32, 0, r*c)
	for i := 0; i < r; i++ {
		for _, v := range m.RawRowView(i) {
			out = append(out, float32(v))
		}
	}
	return out
}

func ones(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = 1
	}
	return out
}
