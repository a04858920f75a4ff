package main

// Experiment 2: HSS-EE vs plain latency, both parties as separate
// processes (this binary re-executed as party0 and party1) over loopback
// gRPC with TLS (mutual TLS between the parties), the dealer in the
// client, as deployed (docs/DEPLOY.md).

import (
	"crypto/rand"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hssee/hssee/ee"
	"github.com/hssee/hssee/experiments/internal/procs"
	"github.com/hssee/hssee/experiments/internal/stats"
	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/infer"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/loader"
	"github.com/hssee/hssee/party"
	"github.com/hssee/hssee/secure"
)

// latencyPoint is one (model, prompt length): measured, or modelled from
// the cost model and the compute fit.
type latencyPoint struct {
	Model    string `json:"model"`
	Weights  string `json:"weights"` // real or random
	Len      int    `json:"prompt_len"`
	Decode   int    `json:"decode_tokens"`
	Modelled bool   `json:"modelled"`

	PlainPrefillMS float64 `json:"plain_prefill_ms,omitempty"`
	PlainDecodeMS  float64 `json:"plain_decode_ms_per_token,omitempty"`
	// HSS prefill: wall clock as the client sees it (dealer, upload, online),
	// and the online and offline (dealer) phases.
	PrefillWallMS    float64 `json:"hss_prefill_wall_ms,omitempty"`
	PrefillOnlineMS  float64 `json:"hss_prefill_online_ms"`
	PrefillOfflineMS float64 `json:"hss_prefill_offline_ms,omitempty"`
	DecodeWallMS     float64 `json:"hss_decode_wall_ms_per_token,omitempty"`
	DecodeOnlineMS   float64 `json:"hss_decode_online_ms_per_token"`
	DecodeOfflineMS  float64 `json:"hss_decode_offline_ms_per_token,omitempty"`

	PrefillCost costJSON `json:"prefill_cost"` // measured (counters) or counted
	DecodeCost  costJSON `json:"decode_cost_per_token"`
	PrefillMACs float64  `json:"prefill_macs"`
	DecodeMACs  float64  `json:"decode_macs_per_token"`
	MaxAbsDiff  float64  `json:"prefill_max_abs_logit_diff,omitempty"`
}

type costJSON struct {
	Online int64 `json:"online_bytes"`
	Rounds int64 `json:"rounds"`
	Dealer int64 `json:"dealer_bytes"`
}

type latencyResults struct {
	Transport string         `json:"transport"`
	Frac      uint           `json:"frac"`
	Points    []latencyPoint `json:"points"`
	Fit       computeFit     `json:"compute_fit"`
}

type latencyModel struct {
	name, preset, dir string
	lens              []int
	decode            int
	modelled          []int // lengths from the cost model only
}

func runLatency(o *options) (*latencyResults, error) {
	dir, _ := o.tinystories()
	ts := latencyModel{name: "tinystories-656k", dir: dir}
	if dir == "" {
		ts.preset = "tinystories-656k"
	}
	var grid []latencyModel
	switch o.scale {
	case full:
		ts.lens, ts.decode, ts.modelled = []int{32, 64, 128, 256}, 4, []int{512}
		grid = []latencyModel{ts,
			{name: "stories15M", preset: "stories15M", lens: []int{32, 64, 128}, decode: 4, modelled: []int{256}},
			{name: "stories110M", preset: "stories110M", lens: []int{32}, decode: 2, modelled: []int{64, 128, 256, 512}}}
	case quick:
		ts.lens, ts.decode, ts.modelled = []int{32, 64}, 2, []int{128, 256, 512}
		grid = []latencyModel{ts, {name: "stories15M", preset: "stories15M", lens: []int{32}, decode: 2, modelled: []int{64, 128, 256}}}
	default:
		ts.lens, ts.decode, ts.modelled = []int{16}, 1, []int{32}
		grid = []latencyModel{ts}
	}
	prm := hss.DefaultParams()
	res := &latencyResults{Frac: prm.Frac,
		Transport: "party 0 and party 1 as separate processes (this binary re-executed as cmd/party0 and cmd/party1), gRPC over loopback TCP with TLS 1.3 (mutual TLS between the parties); dealer in the client process"}
	work, err := os.MkdirTemp("", "hssee-latency-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	pki, err := party.NewPKI(nil)
	if err != nil {
		return nil, err
	}
	certs := filepath.Join(work, "certs")
	if err := pki.WriteFiles(certs); err != nil {
		return nil, err
	}
	creds, err := pki.Credentials("client")
	if err != nil {
		return nil, err
	}
	for _, lm := range grid {
		pts, err := measureModel(o, lm, prm, work, certs, creds)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", lm.name, err)
		}
		res.Points = append(res.Points, pts...)
	}
	res.Fit = fitCompute(res.Points)
	for _, lm := range grid {
		cfg, err := configOf(lm)
		if err != nil {
			return nil, err
		}
		for _, L := range lm.modelled {
			p, err := modelledPoint(lm.name, cfg, prm, L, res.Fit)
			if err != nil {
				return nil, err
			}
			res.Points = append(res.Points, p)
		}
	}
	return res, nil
}

func configOf(lm latencyModel) (model.Config, error) {
	return model.PresetConfig(lm.name)
}

// macs counts the multiply-accumulates of a pass of rows at pos0: the
// linear layers on every row, the LM head on the last row, and attention
// against the cache.
func macs(c model.Config, rows, pos0 int) float64 {
	D, H, KV := float64(c.Dim), float64(c.HiddenDim), float64(c.KVDim())
	ffn := 2.0
	if c.Arch == model.ArchLlama {
		ffn = 3
	}
	perRow := float64(c.NLayers) * (D*(2*D+2*KV) + ffn*D*H)
	attn := 0.0
	for i := range rows {
		attn += 2 * float64(pos0+i+1) * D
	}
	return float64(rows)*perRow + float64(c.NLayers)*attn + float64(c.VocabSize)*D
}

func modelledPoint(name string, cfg model.Config, prm hss.Params, L int, fit computeFit) (latencyPoint, error) {
	pre, err := secure.Count(cfg, prm, L, 0)
	if err != nil {
		return latencyPoint{}, err
	}
	dec, err := secure.Count(cfg, prm, L-1, 1)
	if err != nil {
		return latencyPoint{}, err
	}
	d := dec.DecodeMean().Total
	p := latencyPoint{Model: name, Weights: "(cost model)", Len: L, Decode: 1, Modelled: true,
		PrefillCost: costJSON{pre.Prefill.Total.Online, pre.Prefill.Total.Rounds, pre.Prefill.Total.Dealer},
		DecodeCost:  costJSON{d.Online, d.Rounds, d.Dealer},
		PrefillMACs: macs(cfg, L, 0), DecodeMACs: macs(cfg, 1, L-1)}
	p.PrefillOnlineMS = round(fit.predict(p.PrefillMACs, p.PrefillCost), 1)
	p.DecodeOnlineMS = round(fit.predict(p.DecodeMACs, p.DecodeCost), 2)
	return p, nil
}

func startParty(id int, args ...string) (*procs.Proc, error) {
	return procs.Start(roleEnv, fmt.Sprintf("party%d", id), args...)
}

func measureModel(o *options, lm latencyModel, prm hss.Params, work, certs string, creds *party.Credentials) ([]latencyPoint, error) {
	m, _, err := loader.Source(lm.preset, lm.dir, 1)
	if err != nil {
		return nil, err
	}
	weights := "real"
	if lm.preset != "" {
		weights = "random"
	}
	eeDir := filepath.Join(work, lm.name+"-ee")
	em, key, err := procs.EEModel(m, eeDir)
	if err != nil {
		return nil, err
	}
	tls := func(id int) []string {
		n := fmt.Sprintf("party%d", id)
		return []string{"-tls-ca", filepath.Join(certs, "ca.pem"), "-tls-cert", filepath.Join(certs, n+".pem"),
			"-tls-key", filepath.Join(certs, n+"-key.pem"), "-listen", "127.0.0.1:0", "-model", eeDir}
	}
	o.progress("  %s: starting party 1 and party 0 processes", lm.name)
	p1, err := startParty(1, tls(1)...)
	if err != nil {
		return nil, err
	}
	defer p1.Stop()
	p0, err := startParty(0, append(tls(0), "-peer", p1.Addr)...)
	if err != nil {
		return nil, err
	}
	defer p0.Stop()
	addrs := [2]string{p0.Addr, p1.Addr}

	var pts []latencyPoint
	for _, L := range lm.lens {
		p, err := measurePoint(m, em, key, L, lm.decode, prm, addrs, creds)
		if err != nil {
			return nil, fmt.Errorf("length %d: %w (party 0: %s; party 1: %s)", L, err, tail(p0.Log()), tail(p1.Log()))
		}
		p.Model, p.Weights = lm.name, weights
		o.progress("  %s, %d tokens: plain prefill %.1f ms, decode %.2f ms/token; HSS-EE prefill %.0f ms wall (online %.0f, dealer %.0f), decode %.1f ms/token wall (online %.1f)",
			lm.name, L, p.PlainPrefillMS, p.PlainDecodeMS, p.PrefillWallMS, p.PrefillOnlineMS, p.PrefillOfflineMS, p.DecodeWallMS, p.DecodeOnlineMS)
		pts = append(pts, p)
	}
	return pts, nil
}

func tail(s string) string {
	if len(s) > 600 {
		return "…" + s[len(s)-600:]
	}
	return s
}

func measurePoint(m, em *model.Model, key *ee.Key, L, decode int, prm hss.Params, addrs [2]string, creds *party.Credentials) (latencyPoint, error) {
	c := m.Config
	p := latencyPoint{Len: L, Decode: decode, PrefillMACs: macs(c, L, 0)}
	for i := range decode {
		p.DecodeMACs += macs(c, 1, L+i) / float64(decode)
	}
	rng := mrand.New(mrand.NewPCG(uint64(L), 11))
	prompt := make([]int, L)
	for i := range prompt {
		prompt[i] = rng.IntN(c.VocabSize)
	}
	if c.BOS >= 0 {
		prompt[0] = c.BOS
	}
	// Plain: median of 3.
	r, err := model.NewRunnerThreads(m, L+decode, 0)
	if err != nil {
		return p, err
	}
	defer r.Close()
	var pre, dec []float64
	var plainFirst []float32
	var ids []int
	for range 3 {
		r.Reset()
		t := time.Now()
		l, err := r.Forward(prompt)
		if err != nil {
			return p, err
		}
		pre = append(pre, msSince(t))
		plainFirst = slices.Clone(l)
		ids = ids[:0]
		t = time.Now()
		for range decode {
			id := model.Argmax(l)
			ids = append(ids, id)
			if l, err = r.Forward([]int{id}); err != nil {
				return p, err
			}
		}
		dec = append(dec, msSince(t)/float64(decode))
	}
	p.PlainPrefillMS, p.PlainDecodeMS = round(median(pre), 3), round(median(dec), 4)

	// HSS-EE over the deployed parties.
	pc, err := party.Dial(addrs, creds)
	if err != nil {
		return p, err
	}
	defer pc.Close()
	if err := pc.Open(party.Session{Fingerprint: model.Fingerprint(em), Params: prm, MaxSeq: L + decode}); err != nil {
		return p, err
	}
	h, err := infer.NewHSSWith(em, prm, L+decode, rand.Reader, pc)
	if err != nil {
		return p, err
	}
	h.Prefetch = true // as client generate runs deployed parties
	enc, err := key.EncryptIDs(prompt)
	if err != nil {
		return p, err
	}
	t := time.Now()
	logits, err := h.Forward(enc)
	if err != nil {
		return p, err
	}
	p.PrefillWallMS = round(msSince(t), 1)
	lc := h.Last()
	p.PrefillOnlineMS, p.PrefillOfflineMS = round(ms(lc.Online), 1), round(ms(lc.Offline), 1)
	p.PrefillCost = costJSON{lc.OnlineBytes, lc.Rounds, lc.DealerBytes}
	if logits, err = key.DecryptLogits(logits); err != nil {
		return p, err
	}
	for i, v := range logits {
		p.MaxAbsDiff = max(p.MaxAbsDiff, math.Abs(float64(v)-float64(plainFirst[i])))
	}
	p.MaxAbsDiff = round(p.MaxAbsDiff, 5)
	// Decode the plain run's greedy ids, so both walk the same positions.
	var d infer.Costs
	t = time.Now()
	for _, id := range ids {
		e, err := key.EncryptIDs([]int{id})
		if err != nil {
			return p, err
		}
		if _, err := h.Forward(e); err != nil {
			return p, err
		}
		d = d.Add(h.Last())
	}
	n := float64(decode)
	p.DecodeWallMS = round(msSince(t)/n, 2)
	p.DecodeOnlineMS, p.DecodeOfflineMS = round(ms(d.Online)/n, 2), round(ms(d.Offline)/n, 2)
	p.DecodeCost = costJSON{d.OnlineBytes / int64(decode), d.Rounds / int64(decode), d.DealerBytes / int64(decode)}
	return p, nil
}

func ms(d time.Duration) float64  { return float64(d.Nanoseconds()) / 1e6 }
func msSince(t time.Time) float64 { return ms(time.Since(t)) }

// round, median and size are the shared report helpers (experiments/internal/stats).
var round, median, size = stats.Round, stats.Median, stats.Size
