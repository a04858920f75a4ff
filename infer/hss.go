package infer

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/hssee/hssee/dealer"
	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/secure"
)

// DefaultFrac is the fixed-point precision of HSS inference: 14 fractional
// bits (the norms' gates accept up to 14). On tinystories-656k, 12 bits
// left the first-step logits up to 0.059 from plain and 7 of 10 greedy
// 48-token continuations identical; 14 bits gave 0.030 and 9 of 10.
const DefaultFrac = 14

// Costs are the measured costs of HSS-EE forward passes: online traffic
// (both parties together) and rounds, the dealer's material (both parties'
// keys), and wall-clock time of the offline (dealer) and online (parties)
// phases.
type Costs struct {
	OnlineBytes int64         `json:"online_bytes"`
	Rounds      int64         `json:"rounds"`
	DealerBytes int64         `json:"dealer_bytes"`
	Offline     time.Duration `json:"-"`
	Online      time.Duration `json:"-"`
}

// Add returns the sum of two cost records.
func (c Costs) Add(o Costs) Costs {
	return Costs{OnlineBytes: c.OnlineBytes + o.OnlineBytes, Rounds: c.Rounds + o.Rounds,
		DealerBytes: c.DealerBytes + o.DealerBytes, Offline: c.Offline + o.Offline, Online: c.Online + o.Online}
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
	m      *model.Model
	fx     hss.Fixed
	rng    io.Reader
	deal   *secure.Exec
	sink   *sinkSwitch
	exec   [2]*secure.Exec
	party  [2]*secure.Party
	t      [2]hss.Transport
	pos    int
	maxSeq int
	last   Costs
	total  Costs
	broken error
}

// sinkSwitch lets the dealer executor push into a fresh dealer.Dealer per
// forward pass.
type sinkSwitch struct{ d *dealer.Dealer }

func (s *sinkSwitch) Push(k0, k1 hss.MarshalKey) error { return s.d.Push(k0, k1) }

// NewHSS prepares an in-process HSS-EE engine for m (already transformed by
// EE when the caller wants EE) with fixed-point encoding fx, for up to
// maxSeq positions (<= 0: the model's context). rng is the dealer's and
// the client's randomness (crypto/rand.Reader in production). t0 and t1
// are the parties' transport ends (nil: a fresh hss.Pipe).
func NewHSS(m *model.Model, fx hss.Fixed, maxSeq int, rng io.Reader, t0, t1 hss.Transport) (*HSS, error) {
	if m == nil || rng == nil {
		return nil, errors.New("infer: hss: nil model or randomness")
	}
	if maxSeq <= 0 {
		maxSeq = m.Config.MaxSeqLen
	}
	w, err := secure.EncodeWeights(m, fx)
	if err != nil {
		return nil, err
	}
	if t0 == nil || t1 == nil {
		t0, t1 = hss.Pipe()
	}
	h := &HSS{m: m, fx: fx, rng: rng, sink: &sinkSwitch{}, t: [2]hss.Transport{t0, t1}, maxSeq: maxSeq}
	if h.deal, err = secure.NewExec(m.Config, fx, nil, secure.Dealer{Rand: rng, Fx: fx, Sink: h.sink}, maxSeq); err != nil {
		return nil, err
	}
	for i := range h.exec {
		h.party[i] = &secure.Party{}
		if h.exec[i], err = secure.NewExec(m.Config, fx, w, h.party[i], maxSeq); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Pos is the number of positions in the parties' cache.
func (h *HSS) Pos() int { return h.pos }

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

	// Offline: the dealer's walk.
	start := time.Now()
	d := dealer.New(h.rng)
	h.sink.d = d
	if _, err := model.Forward[secure.Tensor](h.deal, h.m, secure.Tensor{Rows: n, Cols: c.Dim}, n, pos0, true); err != nil {
		h.deal.Truncate(pos0)
		return nil, fmt.Errorf("infer: hss: dealer: %w", err)
	}
	m0, m1 := d.Material()
	b0, b1 := d.Bytes()
	cost := Costs{DealerBytes: b0 + b1, Offline: time.Since(start)}

	// The client shares its input.
	enc := make([]uint64, len(x))
	for i, v := range x {
		enc[i] = h.fx.Encode(float64(v))
	}
	seed, x1, err := hss.Share(enc, h.rng)
	if err != nil {
		h.deal.Truncate(pos0)
		return nil, fmt.Errorf("infer: hss: %w", err)
	}
	inputs := [2][]uint64{hss.ExpandShare(seed, len(enc)), x1}

	// Online: both parties.
	start = time.Now()
	before := [2]hss.Stats{h.t[0].Stats(), h.t[1].Stats()}
	var out [2]secure.Tensor
	var errs [2]error
	var wg sync.WaitGroup
	mats := [2]*hss.Material{m0, m1}
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					errs[i] = fmt.Errorf("party %d: internal error: %v", i, r)
				}
				if errs[i] != nil {
					if cl, ok := h.t[i].(io.Closer); ok {
						cl.Close()
					}
				}
			}()
			h.party[i].P = &hss.Party{ID: i, T: h.t[i], Fx: h.fx, Keys: mats[i]}
			in := secure.Tensor{Rows: n, Cols: c.Dim, V: inputs[i]}
			o, err := model.Forward[secure.Tensor](h.exec[i], h.m, in, n, pos0, true)
			if err == nil && mats[i].Remaining() != 0 {
				err = fmt.Errorf("%d keys of dealer material left unused (dealer and party walks differ)", mats[i].Remaining())
			}
			if err != nil {
				errs[i] = fmt.Errorf("party %d: %w", i, err)
			}
			out[i] = o
		}()
	}
	wg.Wait()
	if err := errors.Join(errs[0], errs[1]); err != nil {
		h.broken = err
		return nil, fmt.Errorf("infer: hss: %w", err)
	}
	s0, s1 := h.t[0].Stats().Sub(before[0]), h.t[1].Stats().Sub(before[1])
	cost.OnlineBytes = s0.BytesSent + s1.BytesSent
	cost.Rounds = max(s0.Rounds, s1.Rounds)
	cost.Online = time.Since(start)

	// The client reconstructs the logits.
	logits := make([]float32, c.VocabSize)
	sum := hss.Reconstruct(out[0].V, out[1].V)
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
	h.last, h.total = cost, h.total.Add(cost)
	return logits, nil
}
