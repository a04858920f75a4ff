package infer

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/hssee/hssee/dealer"
	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/secure"
)

// Costs are the measured costs of HSS-EE forward passes: online traffic
// (both parties together) and rounds, the dealer's material (both parties'
// keys), and wall-clock time of the offline (dealer) and online (parties)
// phases.
type Costs struct {
	OnlineBytes int64 `json:"online_bytes"`
	Rounds      int64 `json:"rounds"`
	DealerBytes int64 `json:"dealer_bytes"`
	// DealerBytes0 and DealerBytes1 are party 0's and party 1's keys (DealerBytes is their sum).
	DealerBytes0 int64         `json:"dealer_bytes_party0"`
	DealerBytes1 int64         `json:"dealer_bytes_party1"`
	Offline      time.Duration `json:"-"`
	Online       time.Duration `json:"-"`
}

// Add returns the sum of two cost records.
func (c Costs) Add(o Costs) Costs {
	return Costs{OnlineBytes: c.OnlineBytes + o.OnlineBytes, Rounds: c.Rounds + o.Rounds,
		DealerBytes: c.DealerBytes + o.DealerBytes, DealerBytes0: c.DealerBytes0 + o.DealerBytes0,
		DealerBytes1: c.DealerBytes1 + o.DealerBytes1, Offline: c.Offline + o.Offline, Online: c.Online + o.Online}
}

// HSS is an Engine that runs an (EE) model under HSS-EE with both parties
// in this process over a transport pair (hss.Pipe, optionally wrapped by
// hss.WithLink) and the dealer in the client, as the client-aided
// deployment does: for every Forward the dealer walks the pass on shapes
// and makes the material (offline), the client embeds the ids with the EE
// embedding table and secret-shares the activations, the parties run the
// pass on shares keeping the key/value cache as shares (online), and the
// client reconstructs the logits.
//
// The ids given to Forward are those the model expects (EE-encrypted ids
// for an EE model; see Generate). Not safe for concurrent use.
type HSS struct {
	// Prefetch makes the dealer prepare the material of the next decode
	// step (one position after this pass) while the parties run this one,
	// so a decoded token waits for the online phase only. The dealer needs
	// shapes only, so this is exact; material prepared for a step that does
	// not come is discarded. Off by default: on a machine that also runs the
	// parties, the dealer then competes with them for the cores.
	Prefetch bool

	m       *model.Model
	prm     hss.Params
	fx      hss.Fixed // prm.Fixed()
	rng     io.Reader
	deal    *secure.Exec
	sink    *sinkSwitch
	parties Parties
	pos     int
	maxSeq  int
	last    Costs
	total   Costs
	broken  error
	pending chan *material // a prefetched pass, or nil
	passes  uint64         // passes run so far
	last1   bool           // the next Forward is the last one: do not prefetch
	remote  bool           // the parties pull material from a dealer service: make none here
}

// DealerService is implemented by Parties whose material comes from a
// dealer service rather than from this client (party.Client opened with a
// dealer): HSS then runs no dealer, and LastMaterial reports the material
// party 0 and party 1 consumed in the last pass (key bytes).
type DealerService interface {
	DealerService() bool
	LastMaterial() [2]int64
}

// LastPass tells the engine that its next Forward is the last of a
// generation, so Prefetch prepares nothing after it (Generate calls it).
func (h *HSS) LastPass() { h.last1 = true }

// material is the dealer's output for one pass.
type material struct {
	rows, pos0 int
	keys       [2][]hss.MarshalKey
	bytes      int64
	bytes01    [2]int64 // party 0's and party 1's
	took       time.Duration
	err        error
	preloadErr error // sending it ahead to the parties failed
}

// deal1 runs the dealer's walk for a pass of rows positions at pos0.
func (h *HSS) deal1(rows, pos0 int) *material {
	start := time.Now()
	d := dealer.New(h.rng)
	h.sink.d = d
	mt := &material{rows: rows, pos0: pos0}
	if _, err := model.Forward[secure.Tensor](h.deal, h.m, secure.Tensor{Rows: rows, Cols: h.m.Config.Dim}, rows, pos0, true); err != nil {
		h.deal.Truncate(pos0)
		mt.err = fmt.Errorf("dealer: %w", err)
		return mt
	}
	k0, err := d.Keys(0)
	if err != nil {
		h.deal.Truncate(pos0)
		mt.err = err
		return mt
	}
	k1, _ := d.Keys(1)
	db0, db1 := d.Bytes()
	mt.keys, mt.bytes, mt.bytes01, mt.took = [2][]hss.MarshalKey{k0, k1}, db0+db1, [2]int64{db0, db1}, time.Since(start)
	return mt
}

// material returns the dealer's output for a pass of rows at pos0: the
// prefetched one if it is for this pass, else a fresh walk (after undoing
// a prefetch for another pass).
func (h *HSS) material(rows, pos0 int) *material {
	if h.pending != nil {
		mt := <-h.pending
		h.pending = nil
		if mt.err == nil && mt.rows == rows && mt.pos0 == pos0 {
			// A failed Preload is reported by the Preloader's next Forward.
			return mt
		}
		h.deal.Truncate(pos0)
		if mt.preloadErr != nil {
			return &material{err: mt.preloadErr}
		}
	}
	return h.deal1(rows, pos0)
}

// Pass is one forward pass as the client hands it to the parties: the
// positions, party 0's input share as a seed (hss.ExpandShare), party 1's
// input share, and each party's dealer material in consumption order.
type Pass struct {
	Index      uint64 // passes run before this one in the session
	Rows, Pos0 int
	Seed0      [32]byte
	In1        []uint64
	Keys       [2][]hss.MarshalKey
}

// Parties runs the online phase: both parties evaluate a pass on their
// shares, with each other, and return their output shares (the logits of
// the pass's last position) and the traffic between them. Local runs them
// in this process; the deployed form talks to two servers.
type Parties interface {
	Forward(p *Pass) (out [2][]uint64, traffic hss.Stats, err error)
}

// Preloader is implemented by Parties that can take a pass's material
// ahead of the pass (while an earlier one runs); HSS.Prefetch uses it to
// send the next decode step's material during the current step. A pass
// whose material was sent ahead for another shape must replace it.
type Preloader interface {
	Preload(index uint64, keys [2][]hss.MarshalKey) error
}

// Local runs both parties in this process over a transport pair, each with
// its own secure executor and key/value cache.
type Local struct {
	prm   hss.Params
	m     *model.Model
	exec  [2]*secure.Exec
	party [2]*secure.Party
	t     [2]hss.Transport
}

// NewLocal prepares in-process parties for m at parameters prm (t0, t1:
// the parties' ends of a transport; nil: a fresh hss.Pipe).
func NewLocal(m *model.Model, prm hss.Params, maxSeq int, t0, t1 hss.Transport) (*Local, error) {
	w, err := secure.EncodeWeights(m, prm)
	if err != nil {
		return nil, err
	}
	if t0 == nil || t1 == nil {
		t0, t1 = hss.Pipe()
	}
	l := &Local{prm: prm, m: m, t: [2]hss.Transport{t0, t1}}
	for i := range l.exec {
		l.party[i] = &secure.Party{}
		if l.exec[i], err = secure.NewExec(m.Config, prm, w, l.party[i], maxSeq); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Forward runs both parties concurrently (hss.RunPairOver: if either
// fails, its transport end is closed so the other cannot block).
func (l *Local) Forward(ps *Pass) ([2][]uint64, hss.Stats, error) {
	c := l.m.Config
	inputs := [2][]uint64{hss.ExpandShare(ps.Seed0, ps.Rows*c.Dim), ps.In1}
	before := [2]hss.Stats{l.t[0].Stats(), l.t[1].Stats()}
	var mat [2]*hss.Material
	for i := range mat {
		keys := make([]hss.Key, len(ps.Keys[i]))
		for j, k := range ps.Keys[i] {
			keys[j] = k
		}
		mat[i] = hss.NewMaterial(keys...)
	}
	var out [2][]uint64
	s0, s1, err := hss.RunPairOver(l.t[0], l.t[1], l.prm.Fixed(), mat[0], mat[1], func(p *hss.Party) error {
		var err error
		out[p.ID], err = l.exec[p.ID].Pass(l.party[p.ID], l.m, p, inputs[p.ID], ps.Rows, ps.Pos0)
		return err
	})
	if err != nil {
		return out, hss.Stats{}, err
	}
	s0, s1 = s0.Sub(before[0]), s1.Sub(before[1])
	return out, hss.Stats{BytesSent: s0.BytesSent + s1.BytesSent, BytesRecv: s0.BytesRecv + s1.BytesRecv,
		Rounds: max(s0.Rounds, s1.Rounds)}, nil
}

// sinkSwitch lets the dealer executor push into a fresh dealer.Dealer per
// forward pass.
type sinkSwitch struct{ d *dealer.Dealer }

func (s *sinkSwitch) Push(k0, k1 hss.MarshalKey) error { return s.d.Push(k0, k1) }

// NewHSS prepares an in-process HSS-EE engine for m (already transformed by
// EE when the caller wants EE) at parameters prm (hss.DefaultParams, or
// hss.NewParams), for up to
// maxSeq positions (<= 0: the model's context). rng is the dealer's and
// the client's randomness (crypto/rand.Reader in production). t0 and t1
// are the parties' transport ends (nil: a fresh hss.Pipe).
func NewHSS(m *model.Model, prm hss.Params, maxSeq int, rng io.Reader, t0, t1 hss.Transport) (*HSS, error) {
	if m == nil {
		return nil, errors.New("infer: hss: nil model")
	}
	if maxSeq <= 0 {
		maxSeq = m.Config.MaxSeqLen
	}
	if err := prm.Validate(); err != nil {
		return nil, fmt.Errorf("infer: hss: %w", err)
	}
	l, err := NewLocal(m, prm, maxSeq, t0, t1)
	if err != nil {
		return nil, err
	}
	return NewHSSWith(m, prm, maxSeq, rng, l)
}

// NewHSSWith is NewHSS over given parties (for example the deployed
// servers): the client side of HSS-EE — dealer, sharing, reconstruction.
// m is the client's copy of the (EE) model: the dealer needs its shape and
// the client its embedding table. prm must be the parameters the parties
// run at.
func NewHSSWith(m *model.Model, prm hss.Params, maxSeq int, rng io.Reader, parties Parties) (*HSS, error) {
	if m == nil || rng == nil || parties == nil {
		return nil, errors.New("infer: hss: nil model, randomness or parties")
	}
	if err := prm.Validate(); err != nil {
		return nil, fmt.Errorf("infer: hss: %w", err)
	}
	if maxSeq <= 0 {
		maxSeq = m.Config.MaxSeqLen
	}
	h := &HSS{m: m, prm: prm, fx: prm.Fixed(), rng: rng, sink: &sinkSwitch{}, parties: parties, maxSeq: maxSeq}
	if ds, ok := parties.(DealerService); ok && ds.DealerService() {
		h.remote = true
		return h, nil
	}
	var err error
	if h.deal, err = secure.NewExec(m.Config, prm, nil, &secure.Dealer{Rand: rng, Sink: h.sink}, maxSeq); err != nil {
		return nil, err
	}
	return h, nil
}

// Params are the parameters the engine runs at.
func (h *HSS) Params() hss.Params { return h.prm }

// Pos is the number of positions in the parties' cache.
func (h *HSS) Pos() int { return h.pos }

// Close waits for a prefetch in progress (its material is discarded). The
// engine is not usable afterwards.
func (h *HSS) Close() {
	if h.pending != nil {
		<-h.pending
		h.pending = nil
	}
	h.broken = errors.New("engine closed")
}

// MaxSeq is the capacity in positions.
func (h *HSS) MaxSeq() int { return h.maxSeq }

// Last is the cost of the latest Forward; Total the sum since NewHSS.
func (h *HSS) Last() Costs  { return h.last }
func (h *HSS) Total() Costs { return h.total }

// Forward runs ids at the current position under HSS and returns the
// reconstructed logits of the last one. After a failed online phase the
// engine refuses further use (the parties' states may have diverged).
func (h *HSS) Forward(ids []int) ([]float32, error) {
	if h.broken != nil {
		return nil, fmt.Errorf("infer: hss: engine unusable after an earlier failure: %w", h.broken)
	}
	c := h.m.Config
	n, pos0 := len(ids), h.pos
	if n == 0 {
		return nil, errors.New("infer: hss: no tokens")
	}
	if pos0+n > h.maxSeq {
		return nil, fmt.Errorf("%w: infer: hss: %d tokens at position %d exceed capacity %d", model.ErrContext, n, pos0, h.maxSeq)
	}
	x := make([]float32, n*c.Dim)
	if err := h.m.EmbedInto(x, ids, pos0); err != nil {
		return nil, fmt.Errorf("infer: hss: %w", err)
	}

	// Offline: the dealer's walk (or its prefetched result); with a dealer
	// service, the parties pull their material themselves.
	mt := &material{rows: n, pos0: pos0}
	if !h.remote {
		mt = h.material(n, pos0)
	}
	if mt.err != nil {
		return nil, fmt.Errorf("infer: hss: %w", mt.err)
	}
	cost := Costs{DealerBytes: mt.bytes, DealerBytes0: mt.bytes01[0], DealerBytes1: mt.bytes01[1], Offline: mt.took}

	// The client shares its input.
	var seed [32]byte
	var x1 []uint64
	enc, err := secure.EncodeInput(c, h.prm, x) // LayerNorm models run on a centred stream
	if err == nil {
		seed, x1, err = hss.Share(enc, h.rng)
	}
	if err != nil {
		if h.deal != nil {
			h.deal.Truncate(pos0)
		}
		return nil, fmt.Errorf("infer: hss: %w", err)
	}

	// Online: both parties, while the dealer prepares the next decode step.
	if h.Prefetch && !h.remote && !h.last1 && pos0+n < h.maxSeq {
		h.pending = make(chan *material, 1)
		go func(next chan<- *material, pos int, index uint64) {
			mt := h.deal1(1, pos)
			if pl, ok := h.parties.(Preloader); ok && mt.err == nil {
				mt.preloadErr = pl.Preload(index, mt.keys)
			}
			next <- mt
		}(h.pending, pos0+n, h.passes+1)
	}
	h.last1 = false
	start := time.Now()
	out, traffic, err := h.parties.Forward(&Pass{Index: h.passes, Rows: n, Pos0: pos0, Seed0: seed, In1: x1, Keys: mt.keys})
	if err != nil {
		h.broken = err
		return nil, fmt.Errorf("infer: hss: %w", err)
	}
	cost.OnlineBytes, cost.Rounds = traffic.BytesSent, traffic.Rounds
	cost.Online = time.Since(start)
	if h.remote {
		m := h.parties.(DealerService).LastMaterial()
		cost.DealerBytes, cost.DealerBytes0, cost.DealerBytes1 = m[0]+m[1], m[0], m[1]
	}

	// The client reconstructs the logits.
	logits := make([]float32, c.VocabSize)
	sum := hss.Reconstruct(out[0], out[1])
	if len(sum) != c.VocabSize {
		h.broken = errors.New("logit shares of the wrong length")
		return nil, fmt.Errorf("infer: hss: %w", h.broken)
	}
	for i, v := range sum {
		f := h.fx.Decode(v)
		if math.IsNaN(f) {
			f = 0
		}
		logits[i] = float32(f)
	}
	h.pos += n
	h.passes++
	h.last, h.total = cost, h.total.Add(cost)
	return logits, nil
}
