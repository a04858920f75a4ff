package main

// Experiment 6: what a sub-second LLaMA-7B decode step under HSS-EE would
// need. The model of one decode step:
//
//	T = rounds·RTT/2 + (online bytes/2)·8/bandwidth + compute
//
// (a round is one simultaneous exchange: each party sends about half the
// bytes and waits one one-way delay, as hss.WithLink simulates and
// experiment 3 checks), with rounds and bytes exact (secure.Count) and
// compute extrapolated from the passes measured in experiment 2 (the
// compute fit).

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"

	"github.com/hssee/hssee/model"
)

type linkNeed struct {
	Link          link    `json:"link"`
	NetworkMS     float64 `json:"network_ms"`
	TotalMS       float64 `json:"total_ms_at_extrapolated_compute"`
	ComputeBudget float64 `json:"compute_budget_ms"` // 1000 − network; ≤ 0: impossible at any compute
	SpeedupNeeded float64 `json:"compute_speedup_needed"`
}

type subSecondResults struct {
	Model          string     `json:"model"`
	Position       int        `json:"position"`
	Rounds         int64      `json:"rounds"`
	OnlineBytes    int64      `json:"online_bytes"`
	DealerBytes    int64      `json:"dealer_bytes"`
	GMAC           float64    `json:"gmac"`
	ComputeMS      float64    `json:"compute_ms_extrapolated"`
	Fit            computeFit `json:"compute_fit"`
	Links          []linkNeed `json:"links"`
	MaxRTTms       float64    `json:"max_rtt_ms_zero_compute_infinite_bandwidth"`
	MinMbps        float64    `json:"min_mbps_zero_compute_zero_rtt"`
	MaxRTTGPUms    float64    `json:"max_rtt_ms_at_100ms_compute_10gbit"`
	DealerGbitPerS float64    `json:"dealer_gbit_s_at_one_token_per_s"`
	Statements     []string   `json:"statements"`
}

func runSubSecond(o *options, all *results) (*subSecondResults, error) {
	if all.Latency == nil {
		return nil, errors.New("needs experiment 2's measured passes (the compute fit) in the same run")
	}
	const pos = 128
	row, err := countCosts("llama2-7b", pos)
	if err != nil {
		return nil, err
	}
	cfg, err := model.PresetConfig("llama2-7b")
	if err != nil {
		return nil, err
	}
	fit, from := all.Latency.Fit, "experiment 2's passes over loopback gRPC (compute plus material upload)"
	if all.Network != nil {
		var pts []latencyPoint
		for _, row := range all.Network.Rows {
			x := row.Result
			c, err := model.PresetConfig(filepath.Base(x.Model))
			if row.Link.RTT != 0 || err != nil {
				continue
			}
			pts = append(pts, latencyPoint{PrefillMACs: macs(c, x.PromptLen, 0), PrefillCost: costJSON{x.PrefillOnlineB, x.PrefillRounds, x.PrefillDealerB},
				PrefillOnlineMS: x.HSSPrefillMS, DecodeMACs: macs(c, 1, x.PromptLen), DecodeCost: costJSON{x.DecodeOnlineB, x.DecodeRounds, x.DecodeDealerB},
				DecodeOnlineMS: x.HSSDecodeMS})
		}
		if len(pts) >= 2 {
			fit, from = fitCompute(pts), "experiment 3's in-memory passes (both parties in one process, no link: compute only)"
		}
	}
	fit.From = from
	mac := macs(cfg, 1, pos)
	c := fit.predict(mac, row.Decode)
	res := &subSecondResults{Model: "llama2-7b", Position: pos, Rounds: row.Decode.Rounds, OnlineBytes: row.Decode.Online,
		DealerBytes: row.Decode.Dealer, GMAC: round(mac/1e9, 2), ComputeMS: round(c, 0), Fit: fit}
	for _, l := range links[1:] {
		net := l.delayMS(row.Decode.Rounds, row.Decode.Online)
		ln := linkNeed{Link: l, NetworkMS: round(net, 1), TotalMS: round(net+c, 0), ComputeBudget: round(1000-net, 1)}
		if ln.ComputeBudget > 0 {
			ln.SpeedupNeeded = round(c/ln.ComputeBudget, 1)
		}
		res.Links = append(res.Links, ln)
	}
	perParty := float64(row.Decode.Online) / 2
	res.MaxRTTms = round(2*1000/float64(row.Decode.Rounds), 3)
	res.MinMbps = round(perParty*8/1e6, 0)
	res.MaxRTTGPUms = round(2*(1000-100-perParty*8/10e9*1e3)/float64(row.Decode.Rounds), 3)
	res.DealerGbitPerS = round(float64(row.Decode.Dealer)*8/1e9, 2)
	lan := res.Links[0]
	res.Statements = []string{
		fmt.Sprintf("A LLaMA-7B decode step (position %d) under HSS-EE takes %d rounds, %s online and %s of dealer material (exact: secure.Count).",
			pos, res.Rounds, size(res.OnlineBytes), size(res.DealerBytes)),
		fmt.Sprintf("Latency alone: every round waits one one-way delay, so even with infinite bandwidth and zero compute the step is under 1 s only if RTT < %.2f ms.", res.MaxRTTms),
		fmt.Sprintf("Bandwidth alone: with zero RTT and zero compute it needs > %.0f Mbit/s per party.", res.MinMbps),
		fmt.Sprintf("Compute (extrapolated from this machine's measured passes by the fit %s): %.0f s on this 2-core CPU, one step.", fit.Formula, c/1000),
		fmt.Sprintf("On the LAN profile (0.5 ms, 10 Gbit/s) the network takes %.0f ms, leaving %.0f ms for compute: %.0f× faster than this CPU (extrapolated).",
			lan.NetworkMS, lan.ComputeBudget, lan.SpeedupNeeded),
		sameRegion(res.Links[1], res.Links[2]),
		fmt.Sprintf("With GPU-class compute of 100 ms per step at 10 Gbit/s, the RTT must be under %.2f ms.", res.MaxRTTGPUms),
		fmt.Sprintf("Offline: at one token per second the dealer must deliver %.1f Gbit/s of key material (or have made it ahead of time).", res.DealerGbitPerS),
	}
	for _, s := range res.Statements {
		o.progress("  %s", s)
	}
	return res, nil
}

// sameRegion is the statement for the same-region link (and the WAN one after it): the compute
// budget it leaves, or that it leaves none.
func sameRegion(l, wan linkNeed) string {
	if l.ComputeBudget > 0 {
		return fmt.Sprintf("Same-region cross-cloud (2 ms, 1 Gbit/s): the network takes %.0f ms, leaving %.0f ms for compute: %.0f× faster than this CPU (extrapolated); WAN's network alone takes %.0f ms.",
			l.NetworkMS, l.ComputeBudget, l.SpeedupNeeded, wan.NetworkMS)
	}
	return fmt.Sprintf("Same-region cross-cloud (2 ms, 1 Gbit/s): the network alone takes %.0f ms — no compute makes it sub-second; nor does WAN (%.0f ms).",
		l.NetworkMS, wan.NetworkMS)
}

// rttCurve is the modelled step time over RTT for a compute time.
func (s *subSecondResults) rttCurve(computeMS, mbps float64, rtts []float64) []float64 {
	out := make([]float64, len(rtts))
	for i, r := range rtts {
		out[i] = link{RTT: r, Mbps: mbps}.delayMS(s.Rounds, s.OnlineBytes) + computeMS
	}
	return out
}

func logspace(a, b float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = a * math.Pow(b/a, float64(i)/float64(n-1))
	}
	return out
}
