// Package secure runs the transformer forward pass of package model on
// secret-shared activations: Exec implements model.Executor on Tensors
// whose values are one party's additive shares in Z_2^64 (fixed point, see
// hss.Fixed), and delegates every interactive step to a Backend:
//
//   - Party: evaluates hss gates with the peer over an hss.Transport,
//     consuming dealer material;
//   - Dealer: walks the same pass on shapes only and generates each gate's
//     material for both parties, in exactly the order the parties will
//     consume it (into a Sink: dealer.Dealer in the client, or the dealer
//     service's session);
//   - Counter: walks it on shapes only and adds up each gate's exact cost
//     (Count).
//
// Local steps (residual additions, row selection, head slicing, RoPE's
// public rotation, the key/value cache) are done here, the same for every
// backend, so the dealer's walk and the parties' cannot drift apart. Linear
// layers use the public (EE-transformed) weights, encoded once by
// EncodeWeights.
//
// Protocol per layer (LLaMA; GPT-2 replaces RMSNorm by LayerNorm, SiLU·up
// by GeLU and has no RoPE), with each truncation in the round of the gate
// after it: RMSNorm up to its row factor r, whose first round also
// truncates the residual stream's pending addend (hss.NormScale); Linear
// Q, K, V (the norm's gain folded in) and RoPE on the norm's input (local,
// untruncated), then q, k, v times r with their truncation in one round
// (hss.ScaleRows, pendingScale); the scores Q·Kᵀ, whose opening is q's,
// k's and v's truncation (hss.CacheMatMulTrunc); the causal softmax of all heads at
// once with its product with the value caches (rows masked once when
// appended), normalised after the product (hss.SoftmaxValues), its output
// left untruncated (hss.SMVFrac fractional bits); Linear O (local, reading
// that output raw, its truncation pending for the next RMSNorm); RMSNorm without
// its gain and output truncation (hss.NormRaw, pendingNorm); Linear W1, W3
// (local, the norm's gain folded into their weights); SiLU(W1)·W3 with
// both projections' truncations in SiLU's lookup round (hss.SiLUMulRaw);
// Linear W2 (local, pending likewise). The head reads the final norm's
// raw output the same way: the head's truncation is the norm's.
//
// LayerNorm models (GPT-2) run on a centred residual stream: every row
// of the input has mean zero (CenterInput: the client centres the
// embeddings it shares) and the layers that write to the stream (Wo, W2)
// are encoded with columns and bias of sum zero (EncodeWeights), so the
// stream keeps mean zero up to the truncations' rounding, and each
// LayerNorm is computed as the RMSNorm of its centred input with the
// bias added (LayerNorm(x) = LayerNorm(x − mean(x)) exactly; the
// centring of the writing weights of Nanda et al.'s TransformerLens).
// The norms then take the residual's pending truncation into their
// squares' round as RMSNorm does: GPT-2's layers, like LLaMA's, have no
// linear truncation round of their own. The stream's mean drifts by at
// most one unit of the last place per addition (2·NLayers units in all),
// which enters a LayerNorm's output as γ·drift/σ, like the mean's
// rounding in hss.LayerNorm. 1/√HeadDim is
// folded into the encoded Wq. See the hss gates for each step's error
// bound and cost.
package secure

import (
	"errors"
	"fmt"
	"math"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
)

// Tensor is a row-major [Rows][Cols] matrix of one party's shares. V is
// nil in the dealer's shape-only walk.
type Tensor struct {
	Rows, Cols int
	V          []uint64
	// Raw marks an untruncated value: a product (Backend.Mul, the products
	// with the values: 2·Frac fractional bits, correct mod 2^64), which
	// Linear consumes directly (one truncation by 2·Frac after the local
	// product: the SwiGLU product costs no truncation round of its own), or
	// one of the pending kinds below (grp, lin, rope), each with its own
	// rule; every other step of Exec truncates it first (settle).
	Raw bool
	// grp is set on the outputs of Linears (Raw, untruncated, 2·Frac
	// fractional bits): the first step that needs one of them truncates
	// the whole group in one round (Backend.Settle), as Linears did
	// before; Rope instead folds q's and k's truncation into its own with
	// v's (Backend.TruncWide), one round where Linears and Rope took two.
	grp *rawGroup
	idx int
	// silu is set on Act's output for SiLU: the activation is deferred
	// (silu holds its input) so that Mul can take it with its product in
	// one gate (Backend.SiLUMul); any other step computes it first
	// (settle).
	silu *Tensor
	// lin is set on the output of a Linear of an untruncated product
	// (x Raw): the layer is deferred (V nil) so that AddInto can leave its
	// truncation to the next norm; any other step computes it as
	// Backend.Linear does (settle).
	lin *rawLinear
	// res is set on AddInto's output when the addend's truncation waits
	// for the next norm (V nil): see residual.
	res *residual
	// rope is set on Rope's q and k (idx 0, 1) when their truncation waits
	// for Attend (V nil): see ropeOut.
	rope *ropeOut
	// width is, for untruncated attention scores, the width they are
	// correct at (0: Params.Width).
	width uint
	// extra is, for a Raw tensor, its fractional bits beyond Frac (0:
	// Frac, a product's); a norm's raw output (hss.NormRaw) has more.
	extra uint
	// nrm is set on Norm's output while it waits for its consumer (V
	// nil): see pendingNorm.
	nrm *pendingNorm
}

// extraBits is x's fractional bits beyond Frac when x is Raw (see Tensor.extra).
func (x Tensor) extraBits(frac uint) uint {
	if x.extra != 0 {
		return x.extra
	}
	return frac
}

// pendingNorm is a Norm whose output waits for its consumer. The FFN's
// up projections (a Linears call of HiddenDim outputs) and the LM head
// read the norm's raw output d·r (hss.NormRaw: 4 rounds, 3 for one row, no output
// truncation) through weights with the norm's gain folded in (W·diag(γ),
// bias b + W·β: Weights.folded), so their outputs carry 3·Frac +
// hss.NormRawExtra fractional bits and their one truncation (by
// hss.NormRawFrac, at width 64) is the activation's lookup round
// (GeLURaw, SiLUMulRaw) or the head's own: the norm's output truncation
// round is gone. Any other step computes the norm as before (settle).
// Folding γ into the int32 weights rounds W·γ to 2^-Frac: where the gains
// are small (tinystories-656k's FFN gains average 0.18 and 0.34) the
// pre-activations' rounding grows by 1/γ against a separate gain (that
// model's first-step |Δlogit| went from 0.0121 to 0.0133, bound 0.02).
type pendingNorm struct {
	x    Tensor // the norm's input: shares, or a pending residual
	n    *model.Norm
	raw  *Tensor // NormRaw's output, once computed
	done *Tensor // the norm's output, once computed
}

// ropeOut is Rope's untruncated output for one Linears group of q, k and
// v: per row the rotated queries then keys (3·Frac fractional bits), then
// v shifted to 3·Frac. Attend truncates them in its scores' round
// (Backend.AttendScoresTrunc); any other step truncates all three by
// 2·Frac at width 64 first (TruncWide), once (done).
type ropeOut struct {
	y           Tensor
	rows, d, kv int
	pos0        int
	g           *rawGroup
	done        []Tensor // q, k once truncated
	used        bool     // Attend took them
}

// rawLinear is a deferred Linear of an untruncated product.
type rawLinear struct {
	x Tensor
	w *EncLinear
}

// residual is a residual stream whose last addition waits for its
// truncation: acc + Trunc(t), t untruncated — a linear layer's output
// (shift 0: by Frac at Params.Width), or a linear layer's of an
// untruncated input x (by shift = Frac + x's extra bits at width 64: 2·Frac
// for SwiGLU's product, hss.SMVFrac for the attention's output). The next norm
// takes the truncation into its squares' round (Backend.NormRes or
// NormRaw; GPT-2's LayerNorm too, on the centred stream) and records the
// sum in done; any other step truncates and adds first (settle).
type residual struct {
	acc, t Tensor
	shift  uint
	done   *Tensor
}

// rawGroup is the untruncated outputs of one Linears call and, once
// truncated, their truncations (done); rotated marks a group whose q and k
// went through Rope's fused truncation (only v may be used after it).
type rawGroup struct {
	ts      []Tensor
	shift   uint // the truncation that brings ts to Frac bits: 0 for Frac at Params.Width, else by shift at width 64
	done    []Tensor
	rotated bool
	rope    *ropeOut // set with rotated: the truncation of v waits with q's and k's
	taken   bool     // AddInto (a group of one) or Attend (q, k, v) took the outputs
	// scale is set on the attention's projections of a norm's input whose
	// row factor waits (see pendingScale).
	scale *pendingScale
}

// pendingScale is the row factor r of the norm whose input d the
// attention's projections read (hss.NormScale: W·(γ ⊙ d·r) = r·(W·diag(γ)·d)),
// with the layers' folded biases (b + W·β, Frac bits; nil for none), which
// come after it. The projections run on d untruncated (2·Frac fractional
// bits, RoPE's 3·Frac); whatever truncates them first multiplies them by r
// in the same round (Backend.ScaleRows, scaleQKV): the norm's output
// truncation round is gone.
type pendingScale struct {
	s    *Scale
	bias [][]uint64
}

// shape returns an empty tensor of the given shape, with values when vals.
func shape(rows, cols int, vals bool) Tensor {
	t := Tensor{Rows: rows, Cols: cols}
	if vals {
		t.V = make([]uint64, rows*cols)
	}
	return t
}

// Backend evaluates (or, in the dealer, generates material for) the
// interactive steps at the hss.Params that NewExec hands it. Inputs and
// outputs have Params.Frac fractional bits unless stated. Party, Dealer and
// Counter are the backends.
type Backend interface {
	// bind sets the parameters (NewExec); it fails if the backend already
	// runs at others.
	bind(prm hss.Params) error
	// Values reports whether tensors carry values (false for the dealer).
	Values() bool
	// Linear is x·Wᵀ + b with public encoded weights, truncated back to
	// Frac bits (by Frac at Params.Width; a Raw x by Frac + its extra bits
	// at 64).
	Linear(x Tensor, w *EncLinear) (Tensor, error)
	// Linears is Linear for several layers of the same input, truncated in
	// one round.
	Linears(x Tensor, ws []*EncLinear) ([]Tensor, error)
	// Trunc divides x (with 2·Frac fractional bits) by 2^Frac.
	Trunc(x Tensor) (Tensor, error)
	// LinearsRaw is Linears without the truncation (local, no material):
	// x·Wᵀ + b·2^Frac with 2·Frac fractional bits, correct mod 2^64.
	LinearsRaw(x Tensor, ws []*EncLinear) ([]Tensor, error)
	// Settle truncates LinearsRaw outputs (concatenated, 2·Frac
	// fractional bits) by Frac at the linear layers' width (Params.Width): the round and
	// material of Linears's truncation.
	Settle(x Tensor) (Tensor, error)
	// TruncWide divides x (Frac + frac fractional bits, |x| < 2^(62−Frac−frac)
	// in real units) by 2^frac at width 64: with frac = 2·Frac, RoPE's
	// rotation of the untruncated q and k, with v, in one round when they do
	// not go to Attend, and a pending wide residual's addend when no RMSNorm
	// takes it (the Counter books both under OpRope); with frac =
	// hss.NormRawFrac, linear layers of a norm's raw output that no
	// activation takes (OpLinear).
	TruncWide(x Tensor, frac uint) (Tensor, error)
	// Mul is the elementwise product, untruncated: a Raw tensor with
	// 2·Frac fractional bits, correct mod 2^64 (one round). Linear given a
	// Raw input truncates x·Wᵀ + b by 2·Frac at width 64 (the
	// truncate-reduce of SIGMA, Gupta et al., PETS 2024: the product's
	// truncation folded into the next linear layer's).
	Mul(a, b Tensor) (Tensor, error)
	// AttendScores appends the new keys (one tensor [rows × HeadDim] per KV
	// head) to layer's key cache and returns every query head's scores
	// qs[h]·K_gᵀ [rows × T], g = h/group, T the cache length after,
	// untruncated (2·Frac fractional bits, correct mod 2^Params.Width: the
	// softmax reads them raw, hss.SoftmaxValues).
	AttendScores(layer int, qs, newK []Tensor, group int) ([]Tensor, error)
	// AttendScoresTrunc is AttendScores on untruncated queries and new keys
	// (frac extra fractional bits), with v: their truncation by frac (at
	// width frac + hss.ScoreBits, so |q|, |k|, |v| < 2^(Frac+6) in real
	// units) is the products' opening (hss.CacheMatMulTrunc); the key
	// cache's rows are then correct mod 2^ScoreBits only, and AttendScores
	// refuses it. It returns the scores untruncated at width
	// hss.ScoreBits and v truncated.
	AttendScoresTrunc(layer int, qs, newK []Tensor, v Tensor, group int, frac uint) ([]Tensor, Tensor, error)
	// Truncate drops every cache's positions from pos on.
	Truncate(pos int)
	// Norm is RMSNorm (plus n's bias, if any: a LayerNorm's on a centred
	// stream) or (center) LayerNorm of each row.
	Norm(x Tensor, n *EncNorm, eps float64, center bool) (Tensor, error)
	// Act is SiLU or (gelu) tanh-GeLU, elementwise.
	Act(x Tensor, gelu bool) (Tensor, error)
	// SiLUMul is SiLU(g)·u, untruncated like Mul (a Raw tensor with
	// 2·Frac fractional bits): SwiGLU's activation and product in the
	// rounds of the activation alone (hss.SiLUMul).
	SiLUMul(g, u Tensor) (Tensor, error)
	// GeLURaw is tanh-GeLU of an untruncated linear output (Frac + frac
	// fractional bits: frac = Frac, or hss.NormRawFrac for a linear layer of
	// a norm's raw output) with its truncation by frac in the lookup's round
	// (hss.GeLURaw).
	GeLURaw(x Tensor, frac uint) (Tensor, error)
	// SiLUMulRaw is SiLUMul of untruncated gate and up projections (as
	// GeLURaw's x), their truncations in SiLU's lookup round
	// (hss.SiLUMulRaw).
	SiLUMulRaw(g, u Tensor, frac uint) (Tensor, error)
	// SoftmaxValues is the causal softmax of each row of heads stacked
	// score matrices x [heads·rows × pos0+rows] (row i of each sees its
	// first pos0+i+1 columns) and its product with layer's value caches,
	// normalised after the product (hss.SoftmaxValues): appends newV (one tensor
	// [rows × HeadDim] per KV head) to layer's value caches and returns
	// every head's softmax(x_h)·V_{h/group} [rows × HeadDim] untruncated, with hss.SMVFrac
	// fractional bits, x the heads' stacked scores (untruncated, correct
	// mod 2^x.width: hss.SoftmaxValues' rawBits).
	SoftmaxValues(layer int, x Tensor, heads, pos0 int, newV []Tensor, group int) ([]Tensor, error)
	// NormRaw is hss.NormRaw: the norm (LayerNorm if center) of x, or
	// (t not nil, RMSNorm) of the residual x + Trunc(t) (shift as for
	// NormRes), without gain, bias and output truncation; it returns the
	// norm's input (the residual's sum) and its raw output d·r, a Raw tensor
	// with hss.NormRawFrac fractional bits.
	NormRaw(x Tensor, t *Tensor, shift uint, eps float64, center bool) (in, z Tensor, err error)
	// NormRes is RMSNorm of the residual stream x + Trunc(t) (see
	// residual; shift selects the truncation) with the truncation in the
	// squares' round (hss.RMSNormRes): it returns the sum and its norm.
	NormRes(x, t Tensor, shift uint, n *EncNorm, eps float64) (z, y Tensor, err error)
	// NormScale is hss.NormScale: RMSNorm of x, or of the residual x +
	// Trunc(t) (t not nil; shift as for NormRes), up to its row factor r:
	// it returns the norm's input (the residual's sum) and r, for
	// ScaleRows.
	NormScale(x Tensor, t *Tensor, shift uint, eps float64) (in Tensor, s *Scale, err error)
	// ScaleRows is hss.ScaleRows: every row of x (s.Rows rows, inFrac
	// fractional bits: hss.ScaleIn) truncated and multiplied by r, plus
	// add (public, party 0's; nil for none), untruncated with
	// hss.ScaledFrac fractional bits (one round).
	ScaleRows(x Tensor, s *Scale, add []uint64, inFrac uint) (Tensor, error)
}

// Scale is NormScale's row factor: its shape, and in the parties its
// shares.
type Scale struct {
	Rows, Dim int
	v         *hss.RowScale
}

// CenterInput centres every row of x [rows × cfg.Dim] (fixed point, the
// client's encoded input before sharing) for a LayerNorm model: each row
// then sums to exactly zero (the row's mean subtracted, its remainder
// spread one unit each over the first elements). Exec computes a
// LayerNorm model's norms on a centred stream (see the package comment),
// so the input it is given must be centred — the parties cannot check it
// on shares, and an uncentred input gives wrong outputs silently. Use
// EncodeInput, which encodes and centres; for RMSNorm models CenterInput
// does nothing.
func CenterInput(cfg model.Config, x []uint64) error {
	if cfg.Arch != model.ArchGPT2 {
		return nil
	}
	D := cfg.Dim
	if D <= 0 || len(x)%D != 0 {
		return fmt.Errorf("secure: center input: %d values for rows of %d", len(x), D)
	}
	for r := 0; r < len(x); r += D {
		row := x[r : r+D]
		var sum int64
		for _, v := range row {
			sum += int64(v)
		}
		q := sum / int64(D)
		rem := sum - q*int64(D)
		if rem < 0 {
			q, rem = q-1, rem+int64(D)
		}
		for j := range row {
			row[j] -= uint64(q)
			if int64(j) < rem {
				row[j]--
			}
		}
	}
	return nil
}

// EncodeInput encodes the input activations x [rows × cfg.Dim] (the
// embeddings the client shares) at prm's fixed point and centres them for
// a LayerNorm model (CenterInput): the plaintext Exec expects, before
// sharing.
func EncodeInput(cfg model.Config, prm hss.Params, x []float32) ([]uint64, error) {
	fx := prm.Fixed()
	enc := make([]uint64, len(x))
	for i, v := range x {
		enc[i] = fx.Encode(float64(v))
	}
	if err := CenterInput(cfg, enc); err != nil {
		return nil, err
	}
	return enc, nil
}

// Exec is the secure executor of one model for one party or the dealer: a
// model.Executor[Tensor]. It keeps the key/value cache (as shares, or
// shapes in the dealer) and the RoPE tables. Not safe for concurrent use.
type Exec struct {
	cfg  model.Config
	prm  hss.Params
	fx   hss.Fixed // prm.Fixed()
	b    Backend
	w    *Weights // nil in the dealer
	vals bool

	cos, sin []uint64 // RoPE tables [maxSeq][HeadDim/2], Frac bits
	maxSeq   int
	pos      []int // cached positions per layer (the caches live in the backend)
}

// NewExec returns an executor for a model with config cfg at parameters
// prm over backend b, for up to maxSeq positions. prm is validated here and
// handed to the backend, which runs at it from then on (a backend serves
// one executor, or several at the same parameters). w holds the encoded
// weights; it is needed (and checked against cfg and prm) only when the
// backend carries values. The input activations it is run on must come
// from EncodeInput (for a LayerNorm model, centred rows).
func NewExec(cfg model.Config, prm hss.Params, w *Weights, b Backend, maxSeq int) (*Exec, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("secure: %w", err)
	}
	if err := prm.Validate(); err != nil {
		return nil, fmt.Errorf("secure: %w", err)
	}
	if b == nil {
		return nil, errors.New("secure: nil backend")
	}
	if maxSeq <= 0 || maxSeq > cfg.MaxSeqLen {
		return nil, fmt.Errorf("secure: max seq %d out of range [1, %d]", maxSeq, cfg.MaxSeqLen)
	}
	fx := prm.Fixed()
	e := &Exec{cfg: cfg, prm: prm, fx: fx, b: b, w: w, vals: b.Values(), maxSeq: maxSeq, pos: make([]int, cfg.NLayers)}
	if e.vals {
		if w == nil || w.cfg != cfg || w.fx != fx {
			return nil, errors.New("secure: weights missing or encoded for another model or encoding")
		}
	}
	if err := b.bind(prm); err != nil {
		return nil, err
	}
	if cfg.Arch == model.ArchLlama {
		half := cfg.HeadDim() / 2
		e.cos, e.sin = make([]uint64, maxSeq*half), make([]uint64, maxSeq*half)
		for p := range maxSeq {
			for i := range half {
				a := float64(p) * math.Pow(float64(cfg.RopeTheta), -2*float64(i)/float64(cfg.HeadDim()))
				e.cos[p*half+i] = fx.Encode(math.Cos(a))
				e.sin[p*half+i] = fx.Encode(math.Sin(a))
			}
		}
	}
	return e, nil
}

// Params are the parameters the executor and its backend run at.
func (e *Exec) Params() hss.Params { return e.prm }

// Pos is the number of cached positions.
func (e *Exec) Pos() int { return e.pos[0] }

// Reset empties the cache.
func (e *Exec) Reset() { e.Truncate(0) }

// Truncate drops cached positions from pos on (undoing a failed pass).
func (e *Exec) Truncate(pos int) {
	pos = max(pos, 0)
	for l := range e.pos {
		e.pos[l] = min(e.pos[l], pos)
	}
	e.b.Truncate(pos)
}

var _ model.Executor[Tensor] = (*Exec)(nil)

func (e *Exec) BeginLayer(int) error { return nil }

// settle truncates a Raw tensor (an untruncated product, see Tensor.Raw) to
// Frac fractional bits, for every step but Linear. model.Forward passes the
// only product (SwiGLU's) straight to W2, so this never runs there.
func (e *Exec) settle(xs ...*Tensor) error {
	for _, x := range xs {
		if p := x.nrm; p != nil {
			if err := e.settleNorm(p); err != nil {
				return err
			}
			*x = *p.done
			continue
		}
		if r := x.res; r != nil {
			if err := e.settleRes(r); err != nil {
				return err
			}
			*x = *r.done
			continue
		}
		if r := x.rope; r != nil {
			if err := e.settleRope(r); err != nil {
				return err
			}
			*x = r.done[x.idx]
			continue
		}
		if l := x.lin; l != nil {
			y, err := e.b.Linear(l.x, l.w)
			if err != nil {
				return err
			}
			*x = y
			continue
		}
		if x.silu != nil {
			in := *x.silu
			if err := e.settle(&in); err != nil {
				return err
			}
			y, err := e.b.Act(in, false)
			if err != nil {
				return err
			}
			*x = y
			continue
		}
		if !x.Raw {
			continue
		}
		if g := x.grp; g != nil {
			if g.taken {
				return errors.New("secure: a linear output used after a fused gate took it")
			}
			if g.rope != nil {
				if err := e.settleRope(g.rope); err != nil {
					return err
				}
			}
			if err := e.settleGroup(g); err != nil {
				return err
			}
			if g.rotated && x.idx < 2 {
				return errors.New("secure: q or k used after RoPE's fused truncation")
			}
			*x = g.done[x.idx]
			continue
		}
		trunc := e.b.Trunc
		if x.extra != 0 { // more fractional bits than a product's: by them, at width 64
			extra := x.extra
			trunc = func(x Tensor) (Tensor, error) { return e.b.TruncWide(x, extra) }
		}
		t, err := trunc(*x)
		if err != nil {
			return err
		}
		t.Raw, t.extra = false, 0
		*x = t
	}
	return nil
}

// settlePending settles the tensors whose values a gate's fusion does not take as they are (a
// deferred Linear, a pending residual, Rope's pending q or k: V nil), leaving raw groups and
// deferred activations to the caller's fusion rules.
func (e *Exec) settlePending(xs ...*Tensor) error {
	for _, x := range xs {
		if x.lin != nil || x.res != nil || x.rope != nil || x.nrm != nil {
			if err := e.settle(x); err != nil {
				return err
			}
		}
	}
	return nil
}

// settleRes truncates a pending residual's addend and adds it, once.
func (e *Exec) settleRes(r *residual) error {
	if r.done != nil {
		return nil
	}
	trunc := e.b.Settle
	if r.shift != 0 {
		trunc = func(x Tensor) (Tensor, error) { return e.b.TruncWide(x, r.shift) }
	}
	t, err := trunc(r.t)
	if err != nil {
		return err
	}
	sum := Tensor{Rows: r.acc.Rows, Cols: r.acc.Cols}
	if e.vals {
		sum.V = make([]uint64, len(r.acc.V))
		for i, v := range r.acc.V {
			sum.V[i] = v + t.V[i]
		}
	}
	r.done = &sum
	return nil
}

// settleRope truncates Rope's pending q, k and v (TruncWide), once.
func (e *Exec) settleRope(r *ropeOut) error {
	if r.done != nil {
		return nil
	}
	if r.used {
		return errors.New("secure: q or k used after the attention took them")
	}
	y, frac := r.y, 2*e.fx.Frac
	if ps := r.g.scale; ps != nil {
		q, k, v := e.ropeParts(r)
		q, k, v, err := e.scaleQKV(ps, q, k, v, true, r.pos0, 3*e.fx.Frac)
		if err != nil {
			return err
		}
		y, frac = e.ropeJoin(q, k, v), hss.ScaledFrac(e.fx)-e.fx.Frac
	}
	t, err := e.b.TruncWide(y, frac)
	if err != nil {
		return err
	}
	rows, D, KV := r.rows, r.d, r.kv
	qo, ko := shape(rows, D, e.vals), shape(rows, KV, e.vals)
	vo := Tensor{Rows: r.g.ts[2].Rows, Cols: r.g.ts[2].Cols}
	if e.vals {
		for i := range rows {
			copy(qo.V[i*D:(i+1)*D], t.V[i*(D+KV):i*(D+KV)+D])
			copy(ko.V[i*KV:(i+1)*KV], t.V[i*(D+KV)+D:(i+1)*(D+KV)])
		}
		vo.V = t.V[rows*(D+KV):]
	}
	r.done, r.g.done = []Tensor{qo, ko}, []Tensor{{}, {}, vo}
	return nil
}

// settleGroup truncates every output of a Linears call in one round
// (Backend.Settle), once.
func (e *Exec) settleGroup(g *rawGroup) error {
	if g.done != nil {
		return nil
	}
	ts := g.ts
	trunc := e.b.Settle
	if g.shift != 0 {
		trunc = func(x Tensor) (Tensor, error) { return e.b.TruncWide(x, g.shift) }
	}
	if ps := g.scale; ps != nil {
		// Times the norm's factor, then truncated.
		q, k, v, err := e.scaleLinears(ps, ts[0], ts[1], ts[2])
		if err != nil {
			return err
		}
		ts = []Tensor{q, k, v}
		frac := hss.ScaledFrac(e.fx) - e.fx.Frac
		trunc = func(x Tensor) (Tensor, error) { return e.b.TruncWide(x, frac) }
	}
	total := 0
	for _, t := range ts {
		total += t.Rows * t.Cols
	}
	all := Tensor{Rows: 1, Cols: total}
	if e.vals {
		all.V = make([]uint64, 0, total)
		for _, t := range ts {
			all.V = append(all.V, t.V...)
		}
	}
	y, err := trunc(all)
	if err != nil {
		return err
	}
	g.done = make([]Tensor, len(g.ts))
	off := 0
	for i, t := range g.ts {
		n := t.Rows * t.Cols
		g.done[i] = Tensor{Rows: t.Rows, Cols: t.Cols}
		if e.vals {
			g.done[i].V = y.V[off : off+n]
		}
		off += n
	}
	return nil
}

func (e *Exec) checkRows(op string, x Tensor, rows, cols int) error {
	if x.Rows != rows || x.Cols != cols || (e.vals && len(x.V) != rows*cols) {
		return fmt.Errorf("secure: %s: tensor %dx%d, want %dx%d", op, x.Rows, x.Cols, rows, cols)
	}
	return nil
}

// Norm defers the norm to its consumer (pendingNorm).
func (e *Exec) Norm(x Tensor, n *model.Norm, rows int) (Tensor, error) {
	if x.Rows != rows || x.Cols != e.cfg.Dim {
		return Tensor{}, fmt.Errorf("secure: norm: tensor %dx%d, want %dx%d", x.Rows, x.Cols, rows, e.cfg.Dim)
	}
	if n == nil {
		return Tensor{}, errors.New("secure: norm: nil norm")
	}
	// x is not written in place by any step (AddInto makes a fresh sum), so the norm may read it later.
	return Tensor{Rows: rows, Cols: e.cfg.Dim, nrm: &pendingNorm{x: x, n: n}}, nil
}

// normInput settles the norm's input unless it is a pending residual an RMSNorm takes (then t is its
// addend, x its accumulator and r the residual, whose sum the caller records).
func (e *Exec) normInput(p *pendingNorm) (x Tensor, r *residual, err error) {
	x = p.x
	r = x.res
	if r == nil || r.done != nil {
		if err := e.settle(&x); err != nil {
			return Tensor{}, nil, err
		}
		r = nil
	} else {
		x = r.acc
	}
	if err := e.checkRows("norm", x, p.x.Rows, e.cfg.Dim); err != nil {
		return Tensor{}, nil, err
	}
	return x, r, nil
}

// settleNorm computes a pending norm's output (its gain, bias and output truncation included), once.
func (e *Exec) settleNorm(p *pendingNorm) error {
	if p.done != nil {
		return nil
	}
	x, r, err := e.normInput(p)
	if err != nil {
		return err
	}
	var en *EncNorm
	if e.vals {
		if en, err = e.w.norm(p.n); err != nil {
			return err
		}
	}
	var y Tensor
	if r != nil {
		// The residual's truncation rides on the squares' round.
		var z Tensor
		if z, y, err = e.b.NormRes(r.acc, r.t, r.shift, en, float64(e.cfg.NormEps)); err != nil {
			return err
		}
		r.done = &z
	} else if y, err = e.b.Norm(x, en, float64(e.cfg.NormEps), false); err != nil {
		return err
	}
	p.done = &y
	return nil
}

// normRaw computes a pending norm's raw output (hss.NormRaw), once.
func (e *Exec) normRaw(p *pendingNorm) (Tensor, error) {
	if p.raw != nil {
		return *p.raw, nil
	}
	x, r, err := e.normInput(p)
	if err != nil {
		return Tensor{}, err
	}
	var t *Tensor
	var shift uint
	if r != nil {
		t, shift = &r.t, r.shift
	}
	in, z, err := e.b.NormRaw(x, t, shift, float64(e.cfg.NormEps), false)
	if err != nil {
		return Tensor{}, err
	}
	if r != nil {
		r.done = &in
	}
	p.raw = &z
	return z, nil
}

// ffnUp reports whether ls are linear layers that read a norm's raw output: the FFN's up
// projections, one or two layers Dim → HiddenDim (Q, K and V are three, to Dim or KVDim).
func (e *Exec) ffnUp(ls [3]*model.Linear) bool {
	n := 0
	for _, l := range ls {
		if l == nil {
			continue
		}
		if l.Out != e.cfg.HiddenDim || l.In != e.cfg.Dim {
			return false
		}
		n++
	}
	return n == 1 || n == 2
}

func (e *Exec) Linear(x Tensor, l *model.Linear, rows int) (Tensor, error) {
	if x.grp != nil || x.silu != nil || x.lin != nil || x.res != nil || x.rope != nil || x.nrm != nil && !e.ffnUp([3]*model.Linear{l}) { // a Linears output: truncated with its group (a Mul's product goes in untruncated)
		if err := e.settle(&x); err != nil {
			return Tensor{}, err
		}
	}
	if !x.Raw {
		// Untruncated, as a group of one: its consumer truncates it (the
		// same round and key as Linear's own truncation), or, GeLU,
		// truncates it in its lookup's round (Backend.GeLURaw).
		out, err := e.Linears(x, [3]*model.Linear{l}, rows)
		return out[0], err
	}
	if err := e.checkRows("linear", x, rows, l.In); err != nil {
		return Tensor{}, err
	}
	el := &EncLinear{Out: l.Out, In: l.In}
	if e.vals {
		var err error
		if el, err = e.w.linear(l); err != nil {
			return Tensor{}, err
		}
	}
	// Deferred: AddInto may leave its truncation to the next norm.
	return Tensor{Rows: rows, Cols: l.Out, Raw: true, lin: &rawLinear{x: x, w: el}}, nil
}

// Linears computes up to three linear layers of the same input, untruncated
// (local): the outputs are one raw group, truncated in one round for all by
// the first step that needs one (or, for q, k and v, by Rope's).
func (e *Exec) Linears(x Tensor, ls [3]*model.Linear, rows int) ([3]Tensor, error) {
	if p := x.nrm; p != nil && p.done == nil && p.raw == nil && e.qkvScale(ls) {
		return e.linearsScaled(p, ls, rows)
	}
	var shift uint
	var fold *model.Norm
	if p := x.nrm; p != nil && e.ffnUp(ls) && (p.done == nil || p.raw != nil) {
		// The norm's raw output, its gain folded into the layers: their
		// truncation (by NormRawFrac) waits for the activation. (A norm
		// already settled by another consumer is read as it is.)
		if e.vals {
			for _, l := range ls {
				if l != nil {
					if _, err := e.w.folded(l, p.n); err != nil {
						return [3]Tensor{}, err
					}
				}
			}
		}
		z, err := e.normRaw(p)
		if err != nil {
			return [3]Tensor{}, err
		}
		x, shift, fold = z, hss.NormRawFrac(e.fx), p.n
	} else if err := e.settle(&x); err != nil {
		return [3]Tensor{}, err
	}
	var out [3]Tensor
	var ws []*EncLinear
	var idx []int
	for i, l := range ls {
		if l == nil {
			continue
		}
		if err := e.checkRows("linear", x, rows, l.In); err != nil {
			return out, err
		}
		el := &EncLinear{Out: l.Out, In: l.In}
		if e.vals {
			var err error
			if fold != nil {
				el, err = e.w.folded(l, fold)
			} else {
				el, err = e.w.linear(l)
			}
			if err != nil {
				return out, err
			}
		}
		ws, idx = append(ws, el), append(idx, i)
	}
	ys, err := e.b.LinearsRaw(x, ws)
	if err != nil {
		return out, err
	}
	g := &rawGroup{ts: ys, shift: shift}
	for j, i := range idx {
		y := ys[j]
		y.Raw, y.grp, y.idx = true, g, j
		out[i] = y
	}
	return out, nil
}

func (e *Exec) Head(x Tensor, rows int) (Tensor, error) {
	if p := x.nrm; p != nil && (p.done == nil || p.raw != nil) {
		// The final norm's raw output, its gain folded into the head: the
		// head's truncation (by NormRawFrac at width 64) is the norm's.
		el := &EncLinear{Out: e.cfg.VocabSize, In: e.cfg.Dim}
		if e.vals {
			var err error
			if el, err = e.w.foldedHead(p.n); err != nil { // before the norm spends material
				return Tensor{}, err
			}
		}
		z, err := e.normRaw(p)
		if err != nil {
			return Tensor{}, err
		}
		if err := e.checkRows("head", z, rows, e.cfg.Dim); err != nil {
			return Tensor{}, err
		}
		return e.b.Linear(z, el)
	}
	if err := e.settle(&x); err != nil {
		return Tensor{}, err
	}
	if err := e.checkRows("head", x, rows, e.cfg.Dim); err != nil {
		return Tensor{}, err
	}
	el := &EncLinear{Out: e.cfg.VocabSize, In: e.cfg.Dim}
	if e.vals {
		var err error
		if el, err = e.w.unfoldedHead(); err != nil {
			return Tensor{}, err
		}
	}
	return e.b.Linear(x, el)
}

func (e *Exec) AddInto(acc, y Tensor) (Tensor, error) {
	if err := e.settle(&acc); err != nil {
		return Tensor{}, err
	}
	if acc.Rows == y.Rows && acc.Cols == y.Cols {
		// The residual stream's next consumer is a norm, which takes the
		// addend's truncation into its first round (residual; LayerNorm
		// too, on the centred stream: see CenterInput).
		if fusable(y, 1) {
			y.grp.taken = true // its truncation is the residual's now
			return Tensor{Rows: acc.Rows, Cols: acc.Cols, res: &residual{acc: acc, t: y.grp.ts[0]}}, nil
		}
		if l := y.lin; l != nil {
			ts, err := e.b.LinearsRaw(l.x, []*EncLinear{l.w})
			if err != nil {
				return Tensor{}, err
			}
			return Tensor{Rows: acc.Rows, Cols: acc.Cols, res: &residual{acc: acc, t: ts[0], shift: e.fx.Frac + l.x.extraBits(e.fx.Frac)}}, nil
		}
	}
	if err := e.settle(&y); err != nil {
		return Tensor{}, err
	}
	if acc.Rows != y.Rows || acc.Cols != y.Cols || len(acc.V) != len(y.V) {
		return Tensor{}, fmt.Errorf("secure: add: shapes %dx%d and %dx%d", acc.Rows, acc.Cols, y.Rows, y.Cols)
	}
	// A fresh sum: acc may be the input of a norm that waits for its
	// consumer (pendingNorm), or a residual's recorded sum.
	sum := Tensor{Rows: acc.Rows, Cols: acc.Cols}
	if e.vals {
		sum.V = make([]uint64, len(acc.V))
		for i, v := range y.V {
			sum.V[i] = acc.V[i] + v
		}
	}
	return sum, nil
}

// Rope multiplies each RoPE pair of q and k by the public rotation of its
// position (locally, giving 2·Frac fractional bits) and truncates both in
// one round. Given the untruncated q, k and v of one Linears call (the
// attention's projections), it rotates the untruncated q and k (3·Frac
// fractional bits), shifts v to 3·Frac bits and truncates all three by
// 2·Frac at width 64 in one round (TruncWide): the projections' truncation
// and RoPE's are one (truncate-reduce, SIGMA, Gupta et al., PETS 2024);
// Attend then finds v truncated.
func (e *Exec) Rope(q, k Tensor, rows, pos0 int) (Tensor, Tensor, error) {
	g := q.grp
	fused := fusable(q, 3) && k.Raw && k.grp == g && q.idx == 0 && k.idx == 1
	if !fused {
		if err := e.settle(&q, &k); err != nil {
			return Tensor{}, Tensor{}, err
		}
	}
	c := e.cfg
	D, KV := c.Dim, c.KVDim()
	if err := e.checkRows("rope", q, rows, D); err != nil {
		return Tensor{}, Tensor{}, err
	}
	if err := e.checkRows("rope", k, rows, KV); err != nil {
		return Tensor{}, Tensor{}, err
	}
	if pos0 < 0 || pos0+rows > e.maxSeq {
		return Tensor{}, Tensor{}, fmt.Errorf("secure: rope: positions beyond the context")
	}
	var v Tensor
	nv := 0
	if fused {
		v = g.ts[2]
		nv = v.Rows * v.Cols
	}
	// One tensor: per row its queries, then its keys; then (fused) v.
	y := Tensor{Rows: 1, Cols: rows*(D+KV) + nv}
	if e.vals {
		y.V = make([]uint64, rows*(D+KV)+nv)
		hd := c.HeadDim()
		half := hd / 2
		for i := range rows {
			p := pos0 + i
			cs, sn := e.cos[p*half:(p+1)*half], e.sin[p*half:(p+1)*half]
			dst := y.V[i*(D+KV) : (i+1)*(D+KV)]
			rotateRow(dst[:D], q.V[i*D:(i+1)*D], hd, c.RopeStyle, cs, sn)
			rotateRow(dst[D:], k.V[i*KV:(i+1)*KV], hd, c.RopeStyle, cs, sn)
		}
		for i, x := range v.V {
			y.V[rows*(D+KV)+i] = x << e.fx.Frac
		}
	}
	if fused {
		// Untruncated: Attend truncates q, k and v in its scores' round.
		r := &ropeOut{y: y, rows: rows, d: D, kv: KV, pos0: pos0, g: g}
		g.rotated, g.rope = true, r
		return Tensor{Rows: rows, Cols: D, Raw: true, rope: r, idx: 0}, Tensor{Rows: rows, Cols: KV, Raw: true, rope: r, idx: 1}, nil
	}
	y.Rows, y.Cols = rows, D+KV
	t, err := e.b.Trunc(y)
	if err != nil {
		return Tensor{}, Tensor{}, err
	}
	qo, ko := shape(rows, D, e.vals), shape(rows, KV, e.vals)
	if e.vals {
		for i := range rows {
			copy(qo.V[i*D:(i+1)*D], t.V[i*(D+KV):i*(D+KV)+D])
			copy(ko.V[i*KV:(i+1)*KV], t.V[i*(D+KV)+D:(i+1)*(D+KV)])
		}
	}
	return qo, ko, nil
}

// rotateRow writes the RoPE rotation (cos/sin with Frac bits) of every
// head of src into dst.
func rotateRow(dst, src []uint64, hd int, style model.RopeStyle, cs, sn []uint64) {
	half := hd / 2
	for h := 0; h+hd <= len(src); h += hd {
		s, d := src[h:h+hd], dst[h:h+hd]
		for j := range half {
			a, b := ropePair(style, half, j)
			xa, xb := s[a], s[b]
			d[a] = xa*cs[j] - xb*sn[j]
			d[b] = xa*sn[j] + xb*cs[j]
		}
	}
}

// ropePair returns the two dimensions of pair j of a head.
func ropePair(style model.RopeStyle, half, j int) (int, int) {
	if style == model.RopeHalf {
		return j, j + half
	}
	return 2 * j, 2*j + 1
}

// Attend appends k and v to the layer's cache and runs, for every query
// head, scores = q_h·K_gᵀ, the causal softmax and P·V_g (g the head's KV
// group); the 1/√HeadDim scale is in the encoded Wq.
func (e *Exec) Attend(layer int, q, k, v Tensor, rows, pos0 int) (Tensor, error) {
	c := e.cfg
	KV, D, hd := c.KVDim(), c.Dim, c.HeadDim()
	// The projections untruncated (Rope's pending output, or a Linears
	// group without RoPE): their truncation is the scores' opening.
	var frac uint
	switch r := q.rope; {
	case r != nil && k.rope == r && r.done == nil && !r.used && v.grp == r.g && v.idx == 2 && r.rows == rows:
		frac = 2 * e.fx.Frac
		r.used, r.g.taken = true, true
		q, k, v = e.ropeParts(r)
		if ps := r.g.scale; ps != nil {
			// The norm's row factor with the projections' truncation.
			var err error
			if q, k, v, err = e.scaleQKV(ps, q, k, v, true, r.pos0, 3*e.fx.Frac); err != nil {
				return Tensor{}, err
			}
			frac = hss.ScaledFrac(e.fx) - e.fx.Frac
		}
	case fusable(q, 3) && k.grp == q.grp && v.grp == q.grp && q.idx == 0 && k.idx == 1 && v.idx == 2:
		frac = e.fx.Frac
		q.grp.taken = true
		if ps := q.grp.scale; ps != nil {
			var err error
			if q, k, v, err = e.scaleLinears(ps, q, k, v); err != nil {
				return Tensor{}, err
			}
			frac = hss.ScaledFrac(e.fx) - e.fx.Frac
		}
		q.Raw, k.Raw, v.Raw, q.grp, k.grp, v.grp = false, false, false, nil, nil, nil
	default:
		if err := e.settle(&q, &k, &v); err != nil {
			return Tensor{}, err
		}
	}
	if err := e.checkRows("attention q", q, rows, D); err != nil {
		return Tensor{}, err
	}
	if err := e.checkRows("attention k", k, rows, KV); err != nil {
		return Tensor{}, err
	}
	if err := e.checkRows("attention v", v, rows, KV); err != nil {
		return Tensor{}, err
	}
	if layer < 0 || layer >= len(e.pos) || e.pos[layer] != pos0 || pos0+rows > e.maxSeq {
		return Tensor{}, fmt.Errorf("secure: attention: layer %d cache holds %d positions, call is at %d (context %d)",
			layer, e.pos[min(max(layer, 0), len(e.pos)-1)], pos0, e.maxSeq)
	}
	T := pos0 + rows
	group := c.NHeads / c.NKVHeads
	qs := make([]Tensor, c.NHeads)
	for h := range qs {
		qs[h] = cols(q, h*hd, hd, e.vals)
	}
	ks, vs := make([]Tensor, c.NKVHeads), make([]Tensor, c.NKVHeads)
	for g := range ks {
		ks[g], vs[g] = cols(k, g*hd, hd, e.vals), cols(v, g*hd, hd, e.vals)
	}
	var scores []Tensor
	var err error
	if frac > 0 {
		var vt Tensor
		scores, vt, err = e.b.AttendScoresTrunc(layer, qs, ks, v, group, frac)
		for g := range vs {
			vs[g] = cols(vt, g*hd, hd, e.vals)
		}
	} else {
		scores, err = e.b.AttendScores(layer, qs, ks, group)
	}
	if err != nil {
		return Tensor{}, fmt.Errorf("scores: %w", err)
	}
	e.pos[layer] = T
	stacked := shape(c.NHeads*rows, T, e.vals)
	stacked.width = scores[0].width
	for h, s := range scores {
		if s.Rows != rows || s.Cols != T {
			return Tensor{}, fmt.Errorf("secure: attention: scores %dx%d, want %dx%d", s.Rows, s.Cols, rows, T)
		}
		if e.vals {
			copy(stacked.V[h*rows*T:], s.V)
		}
	}
	// The softmax with its product with the values, normalised after the
	// product (hss.SoftmaxValues): the attention's output untruncated, with
	// hss.SMVFrac fractional bits. Linear O reads it raw, and its
	// truncation is the residual's (AddInto, then the next norm's squares'
	// round).
	heads, err := e.b.SoftmaxValues(layer, stacked, c.NHeads, pos0, vs, group)
	if err != nil {
		return Tensor{}, fmt.Errorf("softmax and values: %w", err)
	}
	out := shape(rows, D, e.vals)
	out.Raw, out.extra = true, hss.SMVFrac(e.fx)-e.fx.Frac
	if e.vals {
		for h, o := range heads {
			for i := range rows {
				copy(out.V[i*D+h*hd:i*D+(h+1)*hd], o.V[i*hd:(i+1)*hd])
			}
		}
	}
	return out, nil
}

// cols returns columns [from, from+n) of t as a new tensor.
func cols(t Tensor, from, n int, vals bool) Tensor {
	out := shape(t.Rows, n, vals)
	if vals {
		for i := range t.Rows {
			copy(out.V[i*n:(i+1)*n], t.V[i*t.Cols+from:i*t.Cols+from+n])
		}
	}
	return out
}

func (e *Exec) Act(x Tensor, rows int) (Tensor, error) {
	if err := e.settlePending(&x); err != nil {
		return Tensor{}, err
	}
	if err := e.checkRows("activation", x, rows, e.cfg.HiddenDim); err != nil {
		return Tensor{}, err
	}
	if e.cfg.Arch == model.ArchGPT2 {
		if frac, ok := fusableAct(x, 1, e.fx.Frac); ok {
			return e.b.GeLURaw(x, frac)
		}
		if err := e.settle(&x); err != nil {
			return Tensor{}, err
		}
		return e.b.Act(x, true)
	}
	// SiLU is deferred, on its input as it is (truncated or not): Mul
	// (SwiGLU's product, the only consumer in the model) takes it in one
	// gate with its product.
	in := x
	return Tensor{Rows: x.Rows, Cols: x.Cols, silu: &in}, nil
}

// fusable reports whether x is an untruncated output of a Linears group
// of size outputs that nothing has truncated yet: a gate may then take its
// truncation into its own first round.
func fusable(x Tensor, size int) bool {
	_, ok := fusableAct(x, size, 0)
	return ok && x.grp.shift == 0
}

// fusableAct is fusable for the activations, which also take the truncation of a linear layer of a
// norm's raw output (rawGroup.shift); it returns the truncation's shift.
func fusableAct(x Tensor, size int, frac uint) (uint, bool) {
	g := x.grp
	if !x.Raw || g == nil || g.done != nil || g.rotated || g.taken || len(g.ts) != size {
		return 0, false
	}
	if g.shift != 0 {
		return g.shift, true
	}
	return frac, true
}

func (e *Exec) Mul(a, b Tensor, rows int) (Tensor, error) {
	if err := e.settlePending(&a, &b); err != nil {
		return Tensor{}, err
	}
	if a.silu == nil && b.silu != nil {
		a, b = b, a
	}
	if a.silu != nil && b.silu == nil {
		g := *a.silu
		if err := e.checkRows("mul", g, rows, e.cfg.HiddenDim); err != nil {
			return Tensor{}, err
		}
		if err := e.checkRows("mul", b, rows, e.cfg.HiddenDim); err != nil {
			return Tensor{}, err
		}
		// The gate and up projections of one Linears call, untruncated:
		// their truncations ride on SiLU's lookup round.
		if frac, ok := fusableAct(g, 2, e.fx.Frac); ok && g.grp == b.grp && g.idx != b.idx {
			return e.b.SiLUMulRaw(g, b, frac)
		}
		if err := e.settle(&g, &b); err != nil {
			return Tensor{}, err
		}
		return e.b.SiLUMul(g, b)
	}
	if err := e.settle(&a, &b); err != nil {
		return Tensor{}, err
	}
	if err := e.checkRows("mul", a, rows, e.cfg.HiddenDim); err != nil {
		return Tensor{}, err
	}
	if err := e.checkRows("mul", b, rows, e.cfg.HiddenDim); err != nil {
		return Tensor{}, err
	}
	return e.b.Mul(a, b)
}

func (e *Exec) Rows(x Tensor, from, n, cols int) (Tensor, error) {
	if r := x.res; r != nil && r.done == nil {
		// A pending residual keeps waiting, on the rows taken (the final
		// norm of a prefill's last row).
		if x.Cols != cols || from < 0 || n < 0 || from+n > x.Rows {
			return Tensor{}, fmt.Errorf("secure: rows %d…%d of a %dx%d tensor", from, from+n, x.Rows, x.Cols)
		}
		acc, t := e.rows(r.acc, from, n), e.rows(r.t, from, n)
		return Tensor{Rows: n, Cols: cols, res: &residual{acc: acc, t: t, shift: r.shift}}, nil
	}
	if err := e.settle(&x); err != nil {
		return Tensor{}, err
	}
	if x.Cols != cols || from < 0 || n < 0 || from+n > x.Rows {
		return Tensor{}, fmt.Errorf("secure: rows %d…%d of a %dx%d tensor", from, from+n, x.Rows, x.Cols)
	}
	return e.rows(x, from, n), nil
}

// rows returns rows from…from+n−1 of x (a view).
func (e *Exec) rows(x Tensor, from, n int) Tensor {
	out := Tensor{Rows: n, Cols: x.Cols}
	if e.vals {
		out.V = x.V[from*x.Cols : (from+n)*x.Cols]
	}
	return out
}
