package main

// Experiment 3: HSS-EE under simulated links (experiments/hssbench with
// -rtt and -mbps: both parties in one process over an in-memory pipe
// wrapped by hss.WithLink, which delays every round by RTT/2 plus the
// larger direction's bytes over the bandwidth).

import (
	"fmt"
	"time"

	"github.com/hssee/hssee/experiments/internal/records"
	"github.com/hssee/hssee/experiments/internal/stats"
)

type link struct {
	Name string  `json:"name"`
	RTT  float64 `json:"rtt_ms"`
	Mbps float64 `json:"mbps"` // 0: unlimited
}

var links = []link{
	{"in-memory (no link)", 0, 0},
	{"LAN 0.5 ms / 10 Gbit/s", 0.5, 10000},
	{"same-region cross-cloud 2 ms / 1 Gbit/s", 2, 1000},
	{"WAN 40 ms / 400 Mbit/s", 40, 400},
}

// delayMS is what the link adds to a pass (stats.LinkDelayMS).
func (l link) delayMS(rounds, online int64) float64 {
	return stats.LinkDelayMS(rounds, online, l.RTT, l.Mbps)
}

// hssbenchResult is what results.json keeps of experiments/hssbench's JSON.
type hssbenchResult struct {
	Model     string  `json:"model"`
	Params    int64   `json:"params"`
	PromptLen int     `json:"prompt_len"`
	Decode    int     `json:"decode"`
	RTTms     float64 `json:"rtt_ms"`
	Mbps      float64 `json:"mbps"`
	records.HSSTimes
	records.HSSCosts
}

type networkRow struct {
	Link   link           `json:"link"`
	Label  string         `json:"series"`
	Result hssbenchResult `json:"hssbench"`
	Args   []string       `json:"command"`
	// The model: the in-memory run's online time plus the link's delay.
	ModelPrefillMS float64 `json:"modelled_prefill_online_ms"`
	ModelDecodeMS  float64 `json:"modelled_decode_online_ms_per_token"`
}

type networkResults struct {
	// SleepFloorMS is the measured mean of time.Sleep(250µs) here: the
	// simulator cannot delay a round by less.
	SleepFloorMS float64      `json:"sleep_floor_ms"`
	Links        []link       `json:"links"`
	Rows         []networkRow `json:"rows"`
}

func runNetwork(o *options) (*networkResults, error) {
	dir, _ := o.tinystories()
	type cfg struct {
		label  string
		src    []string
		L, d   int
		dWAN   int
		linkOK func(link) bool
	}
	ts := []string{"-model", dir}
	tsName := "tinystories-656k (real)"
	if dir == "" {
		ts, tsName = []string{"-preset", "tinystories-656k"}, "tinystories-656k (random)"
	}
	all := func(link) bool { return true }
	var grid []cfg
	switch o.scale {
	case full:
		grid = []cfg{
			{tsName + ", 32 tokens", ts, 32, 4, 2, all},
			{tsName + ", 128 tokens", ts, 128, 4, 2, all},
			{"stories15M (random), 32 tokens", []string{"-preset", "stories15M"}, 32, 4, 2, all},
		}
	case quick:
		grid = []cfg{{tsName + ", 32 tokens", ts, 32, 2, 1, all}}
	default:
		grid = []cfg{{tsName + ", 16 tokens", ts, 16, 1, 1, func(l link) bool { return l.RTT <= 0.5 }}}
	}
	res := &networkResults{Links: links, SleepFloorMS: sleepFloor()}
	for _, g := range grid {
		var base *hssbenchResult
		for _, l := range links {
			if !g.linkOK(l) {
				continue
			}
			d := g.d
			if l.RTT >= 40 {
				d = g.dWAN
			}
			args := append(append([]string{}, g.src...), "-prompt-len", fmt.Sprint(g.L), "-decode", fmt.Sprint(d), "-runs", "3", "-json")
			if l.RTT > 0 {
				args = append(args, "-rtt", (time.Duration(l.RTT * float64(time.Millisecond))).String(), "-mbps", fmt.Sprint(l.Mbps))
			}
			t := time.Now()
			var r hssbenchResult
			if err := o.program("hssbench", &r, args...); err != nil {
				return nil, err
			}
			if base == nil {
				base = &r
			}
			row := networkRow{Link: l, Label: g.label, Result: r, Args: args,
				ModelPrefillMS: round(base.HSSPrefillMS+l.delayMS(r.PrefillRounds, r.PrefillOnlineB), 1),
				ModelDecodeMS:  round(base.HSSDecodeMS+l.delayMS(r.DecodeRounds, r.DecodeOnlineB), 2)}
			o.progress("  %s, %s: prefill online %.0f ms (model %.0f), decode online %.1f ms/token (model %.1f) [%v]",
				g.label, l.Name, r.HSSPrefillMS, row.ModelPrefillMS, r.HSSDecodeMS, row.ModelDecodeMS, time.Since(t).Round(time.Second))
			res.Rows = append(res.Rows, row)
		}
	}
	return res, nil
}

func sleepFloor() float64 {
	t := time.Now()
	for range 100 {
		time.Sleep(250 * time.Microsecond)
	}
	return round(msSince(t)/100, 3)
}
