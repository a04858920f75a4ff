package main

// Experiment 7: HSS-EE deployed on three hosts (party 0, party 1 and the
// dealer service as separate processes with gRPC and TLS) through the
// userspace link emulator: experiments/deploy.

import (
	"fmt"
	"strings"

	"github.com/hssee/hssee/experiments/internal/records"
)

// deployResult mirrors experiments/deploy's JSON.
type deployResult struct {
	Config struct {
		Model     string `json:"model"`
		Weights   string `json:"weights"`
		PromptLen int    `json:"prompt_len"`
		Decode    int    `json:"decode"`
		records.DeployLinks
	} `json:"config"`
	InProcPrefillMS float64 `json:"inproc_prefill_online_ms"`
	InProcDecodeMS  float64 `json:"inproc_decode_online_ms_per_token"`
	PrefillRounds   int64   `json:"prefill_rounds"`
	PrefillOnline   int64   `json:"prefill_online_bytes"`
	PrefillDealer   int64   `json:"prefill_dealer_bytes"`
	DecodeRounds    int64   `json:"decode_rounds_per_token"`
	DecodeOnline    int64   `json:"decode_online_bytes_per_token"`
	DecodeDealer    int64   `json:"decode_dealer_bytes_per_token"`
	Points          []struct {
		RTTms float64       `json:"rtt_ms"`
		Cold  deploySession `json:"cold"`
		Warm  deploySession `json:"warm"`
		MWarm float64       `json:"model_prefill_warm_ms"`
		MCold float64       `json:"model_prefill_cold_ms"`
		MDec  float64       `json:"model_decode_ms_per_token"`
		Bar   float64       `json:"decode_bar_ms"`
	} `json:"points"`
	Baseline *records.DeployBaseline `json:"baseline"`
}

// deploySession is a measured session as results.json keeps it (with a
// cold session's zero prepare_ms).
type deploySession struct {
	PrepareMS float64 `json:"prepare_ms"`
	records.DeploySession
}

type deployResults struct {
	Args   []string     `json:"command"`
	Result deployResult `json:"deploy"`
}

func runDeploy(o *options) (*deployResults, error) {
	args := []string{"-json", "-preset", "stories15M", "-prompt-len", "128", "-decode", "32", "-rtt", "0.5ms,2ms,10ms", "-baseline"}
	switch o.scale {
	case quick:
		args = []string{"-json", "-preset", "stories15M", "-prompt-len", "32", "-decode", "8", "-rtt", "2ms"}
	case smoke:
		args = []string{"-json", "-preset", "tinystories-656k", "-prompt-len", "4", "-decode", "2", "-rtt", "2ms",
			"-client-rtt", "2ms", "-baseline", "-baseline-prompt", "2", "-baseline-decode", "1"}
	}
	r := &deployResults{Args: append([]string{"go", "run", "./experiments/deploy"}, args...)}
	if err := o.program("deploy", &r.Result, args...); err != nil {
		return nil, err
	}
	for _, p := range r.Result.Points {
		if !p.Cold.IDsEqual || !p.Warm.IDsEqual {
			return nil, fmt.Errorf("deployed tokens differ from the in-process run at %g ms", p.RTTms)
		}
	}
	return r, nil
}

func reportDeploy(m *md, r *results, dir string) error {
	d := r.Deploy
	if d == nil {
		return nil
	}
	x := d.Result
	c := x.Config
	m.p("## 7. Deployed on three hosts, through emulated links")
	m.p("")
	m.p("`%s`: party 0, party 1 and the dealer service (`cmd/dealer`) as separate processes with gRPC and TLS 1.3, every connection through `experiments/internal/netem` (a userspace TCP proxy adding one-way delay and a serialisation bottleneck per direction); the client in the experiment's process. Links: party ↔ party at each RTT and %g Mbit/s; each party ↔ dealer %.1f ms / %g Mbit/s; client ↔ servers %.0f ms through one shared %g Mbit/s link per direction. %s (%s weights), %d-token prompt, %d decoded tokens (medians). *Cold*: the prompt is submitted as the session opens, so the prefill includes making and streaming its material; *warm*: submitted once the parties hold it (prepare = how long that took). *Model* = in-process compute + rounds·RTT/2 + bytes/bandwidth on each link (+ the larger party's material over its dealer link, cold). The decode bar is 2 × (in-process decode + rounds·RTT).",
		strings.Join(d.Args, " "), c.PartyMbps, c.DealerRTTms, c.DealerMbps, c.ClientRTTms, c.ClientMbps, c.Model, c.Weights, c.PromptLen, c.Decode)
	m.p("")
	m.p("In process (same run, no network): prefill %.0f ms online, %d rounds, %s online, %s of material; decode %.1f ms/token, %d rounds, %s online, %s of material per token.",
		x.InProcPrefillMS, x.PrefillRounds, size(x.PrefillOnline), size(x.PrefillDealer), x.InProcDecodeMS, x.DecodeRounds,
		size(x.DecodeOnline), size(x.DecodeDealer))
	m.p("")
	m.p("| RTT | prefill cold | prefill warm (prepare) | modelled warm / cold | decode ms/token cold / warm | modelled decode | decode bar | client up / down per session (wire) | dealer → party 0 / 1 (wire) |")
	m.p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var rtts, cold, warm, mwarm, mcold, dcold, dwarm, mdec, bar []float64
	for _, p := range x.Points {
		m.p("| %g ms | %.0f ms | %.0f ms (%.1f s) | %.0f / %.0f ms | %.0f / %.0f | %.0f | %.0f | %s / %s | %s / %s |", p.RTTms,
			p.Cold.PrefillMS, p.Warm.PrefillMS, p.Warm.PrepareMS/1e3, p.MWarm, p.MCold, p.Cold.DecodeMS, p.Warm.DecodeMS, p.MDec,
			p.Bar, size(p.Cold.ClientUp), size(p.Cold.ClientDown), size(p.Cold.DealerWire[0]), size(p.Cold.DealerWire[1]))
		rtts = append(rtts, p.RTTms)
		cold, warm, mwarm, mcold = append(cold, p.Cold.PrefillMS), append(warm, p.Warm.PrefillMS), append(mwarm, p.MWarm), append(mcold, p.MCold)
		dcold, dwarm, mdec, bar = append(dcold, p.Cold.DecodeMS), append(dwarm, p.Warm.DecodeMS), append(mdec, p.MDec), append(bar, p.Bar)
	}
	m.p("")
	if b := x.Baseline; b != nil {
		m.p("Before the dealer service (the client makes the material and uploads it over its %g Mbit/s link), measured on a %d-token prompt at %g ms: prefill %.0f ms, decode %.0f ms/token, %s uploaded; for the %d-token prompt the upload alone models to a %.0f s prefill and %.1f s per decoded token.",
			c.ClientMbps, b.PromptLen, b.RTTms, b.PrefillMS, b.DecodeMS, size(b.ClientUp), c.PromptLen, b.ModelFullPrefMS/1e3, b.ModelFullDecMS/1e3)
		m.p("")
	}
	// Both charts: the measured cold and warm sessions and two modelled
	// series over the parties' RTT.
	rttChart := func(phase, yLabel string, ss ...series) chart {
		for i := range ss {
			ss[i].X = rtts
		}
		return chart{Title: "Deployed " + phase + " (" + c.Model + ", three processes, emulated links)", XLabel: "RTT between the parties (ms)",
			YLabel: yLabel, LogY: true, LogX: true, XTicks: rtts, Series: ss}
	}
	prefill := rttChart("prefill", "prefill wall time (ms)",
		series{Name: "cold (material made and streamed during the prefill)", Y: cold, Color: 0, Shape: 0},
		series{Name: "warm (material in place)", Y: warm, Color: 1, Shape: 1},
		series{Name: "cold: modelled", Y: mcold, Color: 0, Modelled: true},
		series{Name: "warm: modelled", Y: mwarm, Color: 1, Modelled: true})
	prefill.HLine, prefill.HLineName = 3000, "3 s bar"
	if err := m.figure(dir, "deploy_prefill.png", "deploy_prefill.png", prefill); err != nil {
		return err
	}
	return m.figure(dir, "deploy_decode.png", "deploy_decode.png", rttChart("decode", "ms per decoded token",
		series{Name: "cold session", Y: dcold, Color: 0, Shape: 0},
		series{Name: "warm session", Y: dwarm, Color: 1, Shape: 1},
		series{Name: "modelled", Y: mdec, Color: 2, Modelled: true},
		series{Name: "bar: 2 × (in-process + rounds·RTT)", Y: bar, Color: 3, Modelled: true}))
}
