package secure

import (
	"fmt"
	"io"

	"github.com/hssee/hssee/hss"
)

// params holds a backend's hss.Params, set once by NewExec (bind). The
// linear layers' truncations open their masked values at prm.Width bits
// (see hss.Params for the range that gives); the SwiGLU product and its
// linear layer, and the products with the values (hss.SoftmaxValues), at
// 64; the attention's q, k, v truncation at Frac + hss.ScoreBits (or
// 4·Frac + 8 for LLaMA's rotated values) and its scores at hss.ScoreBits.
type params struct {
	prm   hss.Params
	bound bool
}

// resTrunc is a pending residual's truncation (see residual): a linear
// layer's (shift 0), or by shift at width 64, a linear layer's of an
// untruncated input.
func (s *params) resTrunc(shift uint) hss.ResTrunc {
	if shift != 0 {
		return hss.ResTrunc{Frac: shift, Bits: 64}
	}
	return hss.ResTrunc{Frac: s.prm.Frac, Bits: s.prm.Width}
}

// rawWidth is the width at which a raw-input activation (GeLURaw, SiLUMulRaw) truncates by frac: a
// linear layer's output (frac = Frac) at the linear layers' width, a linear layer's of a norm's raw
// output (NormRaw, frac = hss.NormRawFrac) at 64.
func (s *params) rawWidth(frac uint) uint {
	if frac == s.prm.Frac {
		return s.prm.Width
	}
	return 64
}

// normRawOut is NormRaw's output tensor: untruncated, hss.NormRawFrac fractional bits.
func (s *params) normRawOut(x Tensor, v []uint64) Tensor {
	return Tensor{Rows: x.Rows, Cols: x.Cols, V: v, Raw: true, extra: hss.NormRawFrac(s.prm.Fixed()) - s.prm.Frac}
}

// scoreWidth is the width untruncated scores x are correct at: x.width
// (AttendScoresTrunc's hss.ScoreBits) or Params.Width (AttendScores).
func (s *params) scoreWidth(x Tensor) uint {
	if x.width != 0 {
		return x.width
	}
	return s.prm.Width
}

func (s *params) bind(prm hss.Params) error {
	if s.bound && s.prm != prm {
		return fmt.Errorf("secure: backend runs at %v, executor at %v", s.prm, prm)
	}
	s.prm, s.bound = prm, true
	return nil
}

// Party is the party-side Backend: it evaluates each step with the peer
// through P (set by Exec.Pass, whose encoding must be the parameters'),
// consuming P.Keys in order. It keeps the layers' key and value caches
// (masked once per row; see hss.CacheMatMul). Use it by pointer.
type Party struct {
	P *hss.Party
	params
	kc, vc [][]*hss.MaskedCache // [layer][kv head]
}

func (b *Party) Values() bool { return true }

func (b *Party) Linear(x Tensor, w *EncLinear) (Tensor, error) {
	if x.Raw {
		y, err := b.P.LinearW32Raw(x.V, x.Rows, w.In, w.W, w.Out, w.B, x.extraBits(b.prm.Frac))
		return Tensor{Rows: x.Rows, Cols: w.Out, V: y}, err
	}
	y, err := b.P.LinearW32(x.V, x.Rows, w.In, w.W, w.Out, w.B, b.prm.Width)
	return Tensor{Rows: x.Rows, Cols: w.Out, V: y}, err
}

func (b *Party) Linears(x Tensor, ws []*EncLinear) ([]Tensor, error) {
	ls := make([]hss.LayerW32, len(ws))
	for i, w := range ws {
		if w.In != x.Cols {
			return nil, fmt.Errorf("secure: linears: layer %d takes %d inputs, tensor has %d columns", i, w.In, x.Cols)
		}
		ls[i] = hss.LayerW32{Out: w.Out, W: w.W, Bias: w.B}
	}
	ys, err := b.P.LinearsW32(x.V, x.Rows, x.Cols, ls, b.prm.Width)
	if err != nil {
		return nil, err
	}
	out := make([]Tensor, len(ws))
	for i, w := range ws {
		out[i] = Tensor{Rows: x.Rows, Cols: w.Out, V: ys[i]}
	}
	return out, nil
}

func (b *Party) LinearsRaw(x Tensor, ws []*EncLinear) ([]Tensor, error) {
	out := make([]Tensor, len(ws))
	for i, w := range ws {
		if w.In != x.Cols {
			return nil, fmt.Errorf("secure: linears: layer %d takes %d inputs, tensor has %d columns", i, w.In, x.Cols)
		}
		y, err := hss.MatMulPublicW32(x.V, x.Rows, w.In, w.W, w.Out)
		if err != nil {
			return nil, fmt.Errorf("secure: linears: %w", err)
		}
		if w.B != nil && b.P.ID == 0 {
			if len(w.B) != w.Out {
				return nil, fmt.Errorf("secure: linears: bias of %d values for %d outputs", len(w.B), w.Out)
			}
			sh := b.prm.Frac // the bias at the output's scale: 2·Frac, or more for a Raw x
			if x.Raw {
				sh += x.extraBits(b.prm.Frac)
			}
			for r := range x.Rows {
				row := y[r*w.Out : (r+1)*w.Out]
				for j, v := range w.B {
					row[j] += v << sh
				}
			}
		}
		out[i] = Tensor{Rows: x.Rows, Cols: w.Out, V: y}
	}
	return out, nil
}

func (b *Party) Settle(x Tensor) (Tensor, error) {
	y, err := b.P.Trunc(x.V, b.prm.Frac, b.prm.Width)
	return Tensor{Rows: x.Rows, Cols: x.Cols, V: y}, err
}

func (b *Party) TruncWide(x Tensor, frac uint) (Tensor, error) {
	y, err := b.P.Trunc(x.V, frac, 64)
	return Tensor{Rows: x.Rows, Cols: x.Cols, V: y}, err
}

func (b *Party) Trunc(x Tensor) (Tensor, error) {
	y, err := b.P.Trunc(x.V, b.prm.Frac, b.prm.Width)
	return Tensor{Rows: x.Rows, Cols: x.Cols, V: y}, err
}

func (b *Party) Mul(x, y Tensor) (Tensor, error) {
	z, err := b.P.Mul(x.V, y.V, 64)
	return Tensor{Rows: x.Rows, Cols: x.Cols, V: z, Raw: true}, err
}

// caches returns layer's caches in cs, creating n of width k.
func caches[C any](cs *[][]*C, layer, n int, mk func() *C) []*C {
	for len(*cs) <= layer {
		*cs = append(*cs, nil)
	}
	if (*cs)[layer] == nil {
		for range n {
			(*cs)[layer] = append((*cs)[layer], mk())
		}
	}
	return (*cs)[layer]
}

// cacheProds checks one attention step's query heads qs against its new
// keys (one tensor per KV head, heads = group·KV heads) and lists its score
// products: query head h against key cache h/group.
func cacheProds(qs, newK []Tensor, group int) ([]hss.CacheProd, error) {
	if len(newK) == 0 || group < 1 || len(qs) != len(newK)*group {
		return nil, fmt.Errorf("secure: attention: %d heads for %d caches of group %d", len(qs), len(newK), group)
	}
	prods := make([]hss.CacheProd, len(qs))
	for h, x := range qs {
		prods[h] = hss.CacheProd{Cache: h / group, M: x.Rows}
	}
	return prods, nil
}

func (b *Party) AttendScores(layer int, qs, newK []Tensor, group int) ([]Tensor, error) {
	prods, err := cacheProds(qs, newK, group)
	if err != nil {
		return nil, err
	}
	k := newK[0].Cols
	c := caches(&b.kc, layer, len(newK), func() *hss.MaskedCache { return &hss.MaskedCache{K: k} })
	rows, xv := make([][]uint64, len(newK)), make([][]uint64, len(qs))
	for i, a := range newK {
		rows[i] = a.V
	}
	for i, x := range qs {
		xv[i] = x.V
	}
	// Untruncated: the softmax reads the raw scores (hss.SoftmaxValues).
	zv, err := b.P.CacheMatMulRaw(c, rows, xv, prods, b.prm.Width)
	if err != nil {
		return nil, err
	}
	out := make([]Tensor, len(qs))
	for h, z := range zv {
		out[h] = Tensor{Rows: qs[h].Rows, Cols: c[prods[h].Cache].Rows, V: z, width: b.prm.Width}
	}
	return out, nil
}

func (b *Party) AttendScoresTrunc(layer int, qs, newK []Tensor, v Tensor, group int, frac uint) ([]Tensor, Tensor, error) {
	prods, err := cacheProds(qs, newK, group)
	if err != nil {
		return nil, Tensor{}, err
	}
	k := newK[0].Cols
	c := caches(&b.kc, layer, len(newK), func() *hss.MaskedCache { return &hss.MaskedCache{K: k} })
	rows, xv := make([][]uint64, len(newK)), make([][]uint64, len(qs))
	for i, a := range newK {
		rows[i] = a.V
	}
	for i, x := range qs {
		xv[i] = x.V
	}
	bits := hss.ScoreBits(b.prm.Fixed())
	zv, vt, err := b.P.CacheMatMulTrunc(c, rows, xv, v.V, prods, frac, bits, true)
	if err != nil {
		return nil, Tensor{}, err
	}
	out := make([]Tensor, len(qs))
	for h, z := range zv {
		out[h] = Tensor{Rows: qs[h].Rows, Cols: c[prods[h].Cache].Rows, V: z, width: bits}
	}
	return out, Tensor{Rows: v.Rows, Cols: v.Cols, V: vt}, nil
}

func (b *Party) Truncate(pos int) {
	for _, cs := range [][][]*hss.MaskedCache{b.kc, b.vc} {
		for _, l := range cs {
			for _, c := range l {
				c.Truncate(pos)
			}
		}
	}
}

// smvArgs checks a SoftmaxValues call and returns its rows per head and the width its untruncated
// scores are correct at.
func (s *params) smvArgs(x Tensor, heads int, newV []Tensor) (rows int, rawBits uint, err error) {
	if heads < 1 || x.Rows%heads != 0 || len(newV) == 0 {
		return 0, 0, fmt.Errorf("secure: softmax: %d rows for %d heads, %d value caches", x.Rows, heads, len(newV))
	}
	return x.Rows / heads, s.scoreWidth(x), nil
}

func (b *Party) SoftmaxValues(layer int, x Tensor, heads, pos0 int, newV []Tensor, group int) ([]Tensor, error) {
	rows, rawBits, err := b.smvArgs(x, heads, newV)
	if err != nil {
		return nil, err
	}
	k := newV[0].Cols
	c := caches(&b.vc, layer, len(newV), func() *hss.MaskedCache { return &hss.MaskedCache{K: k} })
	nr := make([][]uint64, len(newV))
	for i, v := range newV {
		nr[i] = v.V
	}
	ys, err := b.P.SoftmaxValues(x.V, heads, rows, x.Cols, pos0, rawBits, c, nr, group)
	if err != nil {
		return nil, err
	}
	out := make([]Tensor, heads)
	for h, y := range ys {
		out[h] = Tensor{Rows: rows, Cols: k, V: y}
	}
	return out, nil
}

func (b *Party) NormRes(x, t Tensor, shift uint, n *EncNorm, eps float64) (Tensor, Tensor, error) {
	z, y, err := b.P.RMSNormRes(x.V, t.V, b.resTrunc(shift), x.Rows, x.Cols, n.Gain, eps)
	b.addBias(y, n)
	return Tensor{Rows: x.Rows, Cols: x.Cols, V: z}, Tensor{Rows: x.Rows, Cols: x.Cols, V: y}, err
}

// addBias adds a LayerNorm's bias to the RMSNorm of its centred input (party 0).
func (b *Party) addBias(y []uint64, n *EncNorm) {
	if n.Bias == nil || b.P.ID != 0 || len(y)%len(n.Bias) != 0 {
		return
	}
	for i := range y {
		y[i] += n.Bias[i%len(n.Bias)]
	}
}

func (b *Party) NormRaw(x Tensor, t *Tensor, shift uint, eps float64, center bool) (Tensor, Tensor, error) {
	var tv []uint64
	var res *hss.ResTrunc
	if t != nil {
		r := b.resTrunc(shift)
		tv, res = t.V, &r
	}
	in, z, err := b.P.NormRaw(x.V, tv, res, x.Rows, x.Cols, eps, center)
	return Tensor{Rows: x.Rows, Cols: x.Cols, V: in}, b.normRawOut(x, z), err
}

func (b *Party) NormScale(x Tensor, t *Tensor, shift uint, eps float64) (Tensor, *Scale, error) {
	var tv []uint64
	var res *hss.ResTrunc
	if t != nil {
		r := b.resTrunc(shift)
		tv, res = t.V, &r
	}
	in, _, s, err := b.P.NormScale(x.V, tv, res, x.Rows, x.Cols, eps, false)
	return Tensor{Rows: x.Rows, Cols: x.Cols, V: in}, &Scale{Rows: x.Rows, Dim: x.Cols, v: s}, err
}

func (b *Party) ScaleRows(x Tensor, s *Scale, add []uint64, inFrac uint) (Tensor, error) {
	if s == nil || x.Rows != s.Rows || len(x.V) != x.Rows*x.Cols || add != nil && len(add) != len(x.V) {
		return Tensor{}, fmt.Errorf("secure: scale rows: a %dx%d tensor for the factor of %d rows", x.Rows, x.Cols, scaleRows(s))
	}
	y, err := b.P.ScaleRows(s.v, x.V, hss.UniformLens(x.Rows, x.Cols), inFrac)
	if err != nil {
		return Tensor{}, err
	}
	if b.P.ID == 0 {
		for i, v := range add {
			y[i] += v
		}
	}
	return Tensor{Rows: x.Rows, Cols: x.Cols, V: y}, nil
}

// scaleRows is the rows of a row factor (0 for none).
func scaleRows(s *Scale) int {
	if s == nil {
		return 0
	}
	return s.Rows
}

func (b *Party) Norm(x Tensor, n *EncNorm, eps float64, center bool) (Tensor, error) {
	var y []uint64
	var err error
	if center {
		y, err = b.P.LayerNorm(x.V, x.Rows, x.Cols, n.Gain, n.Bias, eps)
	} else {
		y, err = b.P.RMSNorm(x.V, x.Rows, x.Cols, n.Gain, eps)
		b.addBias(y, n)
	}
	return Tensor{Rows: x.Rows, Cols: x.Cols, V: y}, err
}

func (b *Party) Act(x Tensor, gelu bool) (Tensor, error) {
	var y []uint64
	var err error
	if gelu {
		y, err = b.P.GeLU(x.V)
	} else {
		y, err = b.P.SiLU(x.V)
	}
	return Tensor{Rows: x.Rows, Cols: x.Cols, V: y}, err
}

func (b *Party) SiLUMul(g, u Tensor) (Tensor, error) {
	z, err := b.P.SiLUMul(g.V, u.V)
	return Tensor{Rows: g.Rows, Cols: g.Cols, V: z, Raw: true}, err
}

func (b *Party) GeLURaw(x Tensor, frac uint) (Tensor, error) {
	y, err := b.P.GeLURaw(x.V, frac, b.rawWidth(frac))
	return Tensor{Rows: x.Rows, Cols: x.Cols, V: y}, err
}

func (b *Party) SiLUMulRaw(g, u Tensor, frac uint) (Tensor, error) {
	z, err := b.P.SiLUMulRaw(g.V, u.V, frac, b.rawWidth(frac))
	return Tensor{Rows: g.Rows, Cols: g.Cols, V: z, Raw: true}, err
}

// Sink receives the dealer's key pairs in consumption order (party 0's key
// first); *dealer.Dealer is one.
type Sink interface {
	Push(k0, k1 hss.MarshalKey) error
}

// Dealer is the dealer-side Backend: on shapes only, it generates each
// step's material, at the parameters NewExec hands it, with randomness
// from Rand and pushes it to Sink. It keeps the masks of the parties' key
// and value caches. Use it by pointer.
type Dealer struct {
	Rand io.Reader
	Sink Sink
	params
	kc, vc [][]*hss.DealerCache
}

func (d *Dealer) Values() bool { return false }

func (d *Dealer) push(k0, k1 hss.Key, err error) error {
	if err != nil {
		return err
	}
	m0, ok0 := k0.(hss.MarshalKey)
	m1, ok1 := k1.(hss.MarshalKey)
	if !ok0 || !ok1 {
		return fmt.Errorf("secure: dealer: %s keys are not serialisable", k0.Kind())
	}
	return d.Sink.Push(m0, m1)
}

func pair[K hss.Key](k0, k1 K, err error) (hss.Key, hss.Key, error) { return k0, k1, err }

func (d *Dealer) Linear(x Tensor, w *EncLinear) (Tensor, error) {
	y := Tensor{Rows: x.Rows, Cols: w.Out}
	if x.Raw {
		return y, d.push(pair(hss.GenLinear(d.Rand, x.Rows, w.Out, d.prm.Frac+x.extraBits(d.prm.Frac), 64)))
	}
	return y, d.push(pair(hss.GenLinear(d.Rand, x.Rows, w.Out, d.prm.Frac, d.prm.Width)))
}

func (d *Dealer) Linears(x Tensor, ws []*EncLinear) ([]Tensor, error) {
	out := make([]Tensor, len(ws))
	total := 0
	for i, w := range ws {
		out[i] = Tensor{Rows: x.Rows, Cols: w.Out}
		total += x.Rows * w.Out
	}
	return out, d.push(pair(hss.GenTrunc(d.Rand, total, d.prm.Frac, d.prm.Width)))
}

func (d *Dealer) LinearsRaw(x Tensor, ws []*EncLinear) ([]Tensor, error) {
	return linearShapes(x, ws), nil
}

// linearShapes is the outputs' shapes of linear layers ws on x (the shape-only backends' LinearsRaw:
// the layers are local, with no material).
func linearShapes(x Tensor, ws []*EncLinear) []Tensor {
	out := make([]Tensor, len(ws))
	for i, w := range ws {
		out[i] = Tensor{Rows: x.Rows, Cols: w.Out}
	}
	return out
}

func (d *Dealer) Settle(x Tensor) (Tensor, error) {
	return x, d.push(pair(hss.GenTrunc(d.Rand, x.Rows*x.Cols, d.prm.Frac, d.prm.Width)))
}

func (d *Dealer) TruncWide(x Tensor, frac uint) (Tensor, error) {
	return x, d.push(pair(hss.GenTrunc(d.Rand, x.Rows*x.Cols, frac, 64)))
}

func (d *Dealer) Trunc(x Tensor) (Tensor, error) {
	return x, d.push(pair(hss.GenTrunc(d.Rand, x.Rows*x.Cols, d.prm.Frac, d.prm.Width)))
}

func (d *Dealer) Mul(x, y Tensor) (Tensor, error) {
	x.Raw = true
	return x, d.push(pair(hss.GenMul(d.Rand, x.Rows*x.Cols, 64)))
}

func (d *Dealer) AttendScores(layer int, qs, newK []Tensor, group int) ([]Tensor, error) {
	prods, err := cacheProds(qs, newK, group)
	if err != nil {
		return nil, err
	}
	k := newK[0].Cols
	c := caches(&d.kc, layer, len(newK), func() *hss.DealerCache { return &hss.DealerCache{K: k} })
	if err := d.push(pair(hss.GenCacheMatMulRaw(d.Rand, c, newK[0].Rows, prods, d.prm.Width))); err != nil {
		return nil, err
	}
	out := make([]Tensor, len(qs))
	for h, p := range prods {
		out[h] = Tensor{Rows: qs[h].Rows, Cols: c[p.Cache].Rows, width: d.prm.Width}
	}
	return out, nil
}

func (d *Dealer) AttendScoresTrunc(layer int, qs, newK []Tensor, v Tensor, group int, frac uint) ([]Tensor, Tensor, error) {
	prods, err := cacheProds(qs, newK, group)
	if err != nil {
		return nil, Tensor{}, err
	}
	k := newK[0].Cols
	c := caches(&d.kc, layer, len(newK), func() *hss.DealerCache { return &hss.DealerCache{K: k} })
	bits := hss.ScoreBits(d.prm.Fixed())
	if err := d.push(hss.GenCacheMatMulTrunc(d.Rand, c, newK[0].Rows, prods, v.Rows*v.Cols, frac, bits, d.prm.Fixed(), true)); err != nil {
		return nil, Tensor{}, err
	}
	out := make([]Tensor, len(qs))
	for h, p := range prods {
		out[h] = Tensor{Rows: qs[h].Rows, Cols: c[p.Cache].Rows, width: bits}
	}
	return out, Tensor{Rows: v.Rows, Cols: v.Cols}, nil
}

func (d *Dealer) Truncate(pos int) {
	for _, cs := range [][][]*hss.DealerCache{d.kc, d.vc} {
		for _, l := range cs {
			for _, c := range l {
				c.Truncate(pos)
			}
		}
	}
}

func (d *Dealer) SoftmaxValues(layer int, x Tensor, heads, pos0 int, newV []Tensor, group int) ([]Tensor, error) {
	rows, rawBits, err := d.smvArgs(x, heads, newV)
	if err != nil {
		return nil, err
	}
	k := newV[0].Cols
	c := caches(&d.vc, layer, len(newV), func() *hss.DealerCache { return &hss.DealerCache{K: k} })
	if err := d.push(hss.GenSoftmaxValues(d.Rand, heads, rows, pos0, d.prm.Fixed(), rawBits, c, group)); err != nil {
		return nil, err
	}
	out := make([]Tensor, heads)
	for h := range out {
		out[h] = Tensor{Rows: rows, Cols: k}
	}
	return out, nil
}

func (d *Dealer) NormRes(x, _ Tensor, shift uint, _ *EncNorm, _ float64) (Tensor, Tensor, error) {
	return x, x, d.push(hss.GenRMSNormRes(d.Rand, x.Rows, x.Cols, d.prm.Fixed(), d.resTrunc(shift)))
}

func (d *Dealer) NormRaw(x Tensor, t *Tensor, shift uint, _ float64, center bool) (Tensor, Tensor, error) {
	var res *hss.ResTrunc
	if t != nil {
		r := d.resTrunc(shift)
		res = &r
	}
	return x, d.normRawOut(x, nil), d.push(hss.GenNormRaw(d.Rand, x.Rows, x.Cols, d.prm.Fixed(), center, res))
}

func (d *Dealer) NormScale(x Tensor, t *Tensor, shift uint, _ float64) (Tensor, *Scale, error) {
	var res *hss.ResTrunc
	if t != nil {
		r := d.resTrunc(shift)
		res = &r
	}
	return x, &Scale{Rows: x.Rows, Dim: x.Cols}, d.push(hss.GenNormScale(d.Rand, x.Rows, x.Cols, d.prm.Fixed(), false, res))
}

func (d *Dealer) ScaleRows(x Tensor, s *Scale, _ []uint64, inFrac uint) (Tensor, error) {
	if s == nil || x.Rows != s.Rows {
		return Tensor{}, fmt.Errorf("secure: scale rows: %d rows for the factor of %d rows", x.Rows, scaleRows(s))
	}
	return x, d.push(hss.GenScaleRows(d.Rand, hss.UniformLens(x.Rows, x.Cols), s.Dim, d.prm.Fixed(), inFrac))
}

func (d *Dealer) Norm(x Tensor, _ *EncNorm, _ float64, center bool) (Tensor, error) {
	if center {
		return x, d.push(hss.GenLayerNorm(d.Rand, x.Rows, x.Cols, d.prm.Fixed()))
	}
	return x, d.push(hss.GenRMSNorm(d.Rand, x.Rows, x.Cols, d.prm.Fixed()))
}

func (d *Dealer) Act(x Tensor, gelu bool) (Tensor, error) {
	if gelu {
		return x, d.push(hss.GenGeLU(d.Rand, x.Rows*x.Cols, d.prm.Fixed()))
	}
	return x, d.push(hss.GenSiLU(d.Rand, x.Rows*x.Cols, d.prm.Fixed()))
}

func (d *Dealer) SiLUMul(g, _ Tensor) (Tensor, error) {
	return Tensor{Rows: g.Rows, Cols: g.Cols, Raw: true}, d.push(hss.GenSiLUMul(d.Rand, g.Rows*g.Cols, d.prm.Fixed()))
}

func (d *Dealer) GeLURaw(x Tensor, frac uint) (Tensor, error) {
	return Tensor{Rows: x.Rows, Cols: x.Cols}, d.push(hss.GenGeLURaw(d.Rand, x.Rows*x.Cols, d.prm.Fixed(), frac, d.rawWidth(frac)))
}

func (d *Dealer) SiLUMulRaw(g, _ Tensor, frac uint) (Tensor, error) {
	return Tensor{Rows: g.Rows, Cols: g.Cols, Raw: true}, d.push(hss.GenSiLUMulRaw(d.Rand, g.Rows*g.Cols, d.prm.Fixed(), frac, d.rawWidth(frac)))
}
