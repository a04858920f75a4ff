// Command costs prints the exact costs of HSS-EE inference for model
// presets, counted (secure.Count: the forward pass on a count-only backend,
// no weights, no material, instant even for llama2-7b), not measured: online
// bytes (both parties together), rounds, and dealer bytes (both parties'
// keys, and party 0's and party 1's apart: party 0's keys are seed-compressed,
// so most of the material goes to party 1) for the prefill of -seq tokens and
// per decoded token (the mean of
// -decode single-token steps after the prefill), with the breakdown by
// operation, beside SIGMA's published GPT-2 figures (Gupta et al., PETS
// 2024: 128 tokens, online 0.824 GiB, 1128 rounds, keys 14.3 GiB) and the
// project's bars for gpt2-124m at 128 tokens (at most SIGMA's figures).
//
//	go run ./experiments/costs -config NAME|all -seq N [-decode M] [-frac F] [-json] [-breakdown]
//
// -breakdown adds a table per config by gate stage (each operation's gates
// split into their sub-gates: a norm's squares, its rsqrt's comparison, …):
// calls, rounds, the rounds on the critical path (rounds that cannot overlap
// other stages: today every stage opens after the previous one, so they equal
// the rounds; a stage batched into another's exchanges would show fewer),
// online bytes and dealer bytes per party, for the prefill and per decoded
// token. The JSON lines always carry it (stages, decode_stages,
// critical_rounds, decode_critical_rounds).
//
// The counts equal what infer.HSS measures (infer's TestCountMatchesMeasured).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hssee/hssee/experiments/internal/stats"
	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/secure"
)

type costJSON struct {
	Online  int64 `json:"online_bytes"`
	Rounds  int64 `json:"rounds"`
	Dealer  int64 `json:"dealer_bytes"`
	Dealer0 int64 `json:"dealer_bytes_party0"`
	Dealer1 int64 `json:"dealer_bytes_party1"`
}

func toJSON(c hss.Cost) costJSON { return costJSON{c.Online, c.Rounds, c.Dealer, c.Dealer0, c.Dealer1} }

// stageJSON is one stage of an operation's gates over a pass.
type stageJSON struct {
	Op    string `json:"op"`
	Stage string `json:"stage"`
	Calls int64  `json:"calls"`
	costJSON
	Crit int64 `json:"critical_rounds"`
}

func stages(b secure.Breakdown) ([]stageJSON, int64) {
	out := make([]stageJSON, len(b.Stages))
	var crit int64
	for i, s := range b.Stages {
		out[i] = stageJSON{Op: s.Op.String(), Stage: s.Name, Calls: s.Calls, costJSON: toJSON(s.Cost), Crit: s.Crit}
		crit += s.Crit
	}
	return out, crit
}

func breakdown(b secure.Breakdown) map[string]costJSON {
	m := map[string]costJSON{}
	for o := range secure.NumOps {
		m[o.String()] = toJSON(b.Ops[o])
	}
	return m
}

type result struct {
	Config             string              `json:"config"`
	Seq                int                 `json:"seq"`
	Decode             int                 `json:"decode"`
	Frac               uint                `json:"frac"`
	OnlineBytes        int64               `json:"online_bytes"`
	Rounds             int64               `json:"rounds"`
	DealerBytes        int64               `json:"dealer_bytes"`
	DealerBytes0       int64               `json:"dealer_bytes_party0"`
	DealerBytes1       int64               `json:"dealer_bytes_party1"`
	DecodeOnlineBytes  int64               `json:"decode_online_bytes"`
	DecodeRounds       int64               `json:"decode_rounds"`
	DecodeDealerBytes  int64               `json:"decode_dealer_bytes"`
	DecodeDealerBytes0 int64               `json:"decode_dealer_bytes_party0"`
	DecodeDealerBytes1 int64               `json:"decode_dealer_bytes_party1"`
	Breakdown          map[string]costJSON `json:"breakdown"`
	DecodeBreakdown    map[string]costJSON `json:"decode_breakdown"`
	// Stages is the breakdown by gate stage, CriticalRounds the rounds on
	// the critical path (the sum of the stages' critical rounds).
	Stages               []stageJSON `json:"stages"`
	DecodeStages         []stageJSON `json:"decode_stages"`
	CriticalRounds       int64       `json:"critical_rounds"`
	DecodeCriticalRounds int64       `json:"decode_critical_rounds"`
	// MeetsBars is set for gpt2-124m at 128 tokens: whether the prefill is
	// within SIGMA's online bytes, rounds and key bytes.
	MeetsBars *bool `json:"meets_sigma_bars,omitempty"`
}

func main() {
	if err := run(os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "costs:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, args []string) error {
	fs := flag.NewFlagSet("costs", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("config", "gpt2-124m", "model preset ("+strings.Join(model.PresetNames(), ", ")+") or all")
	seq := fs.Int("seq", 128, "prompt tokens (prefill)")
	decode := fs.Int("decode", 1, "decode steps after the prefill (per-token costs are their mean)")
	frac := fs.Uint("frac", hss.DefaultParams().Frac, "fixed-point fractional bits")
	jsonOut := fs.Bool("json", false, "one JSON object per config per line")
	stagesOut := fs.Bool("breakdown", false, "add a table by gate stage with the critical path (the JSON always has it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if *seq < 1 || *decode < 0 {
		return errors.New("-seq must be at least 1 and -decode not negative")
	}
	names := []string{*name}
	if *name == "all" {
		names = model.PresetNames()
	}
	prm, err := hss.DefaultParams().WithFrac(*frac)
	if err != nil {
		return fmt.Errorf("-frac: %w", err)
	}
	for _, n := range names {
		cfg, err := model.PresetConfig(n)
		if err != nil {
			return err
		}
		if *seq+*decode > cfg.MaxSeqLen {
			if *name == "all" {
				if !*jsonOut {
					fmt.Fprintf(w, "## %s: skipped (%d+%d positions exceed its context of %d)\n\n", n, *seq, *decode, cfg.MaxSeqLen)
				}
				continue
			}
			return fmt.Errorf("%s: %d+%d positions exceed its context of %d", n, *seq, *decode, cfg.MaxSeqLen)
		}
		r, err := secure.Count(cfg, prm, *seq, *decode)
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		if *jsonOut {
			if err := writeJSON(w, n, r, *decode); err != nil {
				return err
			}
			continue
		}
		writeTable(w, n, r, *decode)
		if *stagesOut {
			writeStages(w, n, r, *decode)
		}
	}
	return nil
}

func newResult(name string, r secure.CountResult, decode int) result {
	p, d := r.Prefill, r.DecodeMean()
	res := result{Config: name, Seq: r.Prompt, Decode: decode, Frac: r.Params.Frac,
		OnlineBytes: p.Total.Online, Rounds: p.Total.Rounds, DealerBytes: p.Total.Dealer,
		DealerBytes0: p.Total.Dealer0, DealerBytes1: p.Total.Dealer1,
		DecodeOnlineBytes: d.Total.Online, DecodeRounds: d.Total.Rounds, DecodeDealerBytes: d.Total.Dealer,
		DecodeDealerBytes0: d.Total.Dealer0, DecodeDealerBytes1: d.Total.Dealer1,
		Breakdown: breakdown(p), DecodeBreakdown: breakdown(d)}
	res.Stages, res.CriticalRounds = stages(p)
	res.DecodeStages, res.DecodeCriticalRounds = stages(d)
	if name == "gpt2-124m" && r.Prompt == stats.SigmaSeq {
		ok := meets(p.Total)
		res.MeetsBars = &ok
	}
	return res
}

func meets(c hss.Cost) bool {
	return float64(c.Online) <= stats.SigmaOnline && c.Rounds <= stats.SigmaRounds && float64(c.Dealer) <= stats.SigmaDealer
}

func writeJSON(w io.Writer, name string, r secure.CountResult, decode int) error {
	b, err := json.Marshal(newResult(name, r, decode))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func writeTable(w io.Writer, name string, r secure.CountResult, decode int) {
	p, d := r.Prefill, r.DecodeMean()
	steps := "steps"
	if decode == 1 {
		steps = "step"
	}
	fmt.Fprintf(w, "## %s: prefill of %d tokens, per decoded token (mean of %d %s), frac %d\n\n", name, r.Prompt, decode, steps, r.Params.Frac)
	fmt.Fprintln(w, "| operation | prefill online | prefill rounds | prefill dealer | party 0 / party 1 | decode online | decode rounds | decode dealer | party 0 / party 1 |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	split := func(c hss.Cost) string { return stats.Size(c.Dealer0) + " / " + stats.Size(c.Dealer1) }
	row := func(label string, a, b hss.Cost) {
		dec := [4]string{"–", "–", "–", "–"}
		if decode > 0 {
			dec = [4]string{stats.Size(b.Online), fmt.Sprint(b.Rounds), stats.Size(b.Dealer), split(b)}
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", label, stats.Size(a.Online), a.Rounds, stats.Size(a.Dealer), split(a),
			dec[0], dec[1], dec[2], dec[3])
	}
	for o := range secure.NumOps {
		if p.Ops[o] != (hss.Cost{}) || d.Ops[o] != (hss.Cost{}) {
			row(o.String(), p.Ops[o], d.Ops[o])
		}
	}
	row("**total**", p.Total, d.Total)
	if name == "gpt2-124m" {
		fmt.Fprintf(w, "| SIGMA GPT-2, %d tokens | 0.824 GiB | %d | 14.3 GiB | | | | | |\n", stats.SigmaSeq, stats.SigmaRounds)
		if r.Prompt == stats.SigmaSeq {
			fmt.Fprintf(w, "\nBars (≤ SIGMA at 128 tokens): online %s (%.2f×), rounds %s (%.2f×), dealer %s (%.2f×)\n",
				verdict(float64(p.Total.Online) <= stats.SigmaOnline), float64(p.Total.Online)/stats.SigmaOnline,
				verdict(p.Total.Rounds <= stats.SigmaRounds), float64(p.Total.Rounds)/stats.SigmaRounds,
				verdict(float64(p.Total.Dealer) <= stats.SigmaDealer), float64(p.Total.Dealer)/stats.SigmaDealer)
		}
	}
	fmt.Fprintln(w)
}

// writeStages prints the breakdown by gate stage: per operation and stage the calls, rounds, critical
// rounds, online bytes and dealer bytes per party of the prefill and of a decoded token, and per layer.
func writeStages(w io.Writer, name string, r secure.CountResult, decode int) {
	p, d := r.Prefill, r.DecodeMean()
	L := int64(r.Config.NLayers)
	fmt.Fprintf(w, "### %s by gate stage (critical path: rounds that cannot overlap; per layer: decode rounds / %d layers)\n\n", name, L)
	fmt.Fprintln(w, "| op | stage | prefill calls | prefill rounds | critical | online | dealer p0 / p1 | decode rounds | critical | per layer | online | dealer p0 / p1 |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	dec := map[string]secure.StageCost{}
	for _, s := range d.Stages {
		dec[s.Key()] = s
	}
	split := func(c hss.Cost) string { return stats.Size(c.Dealer0) + " / " + stats.Size(c.Dealer1) }
	decRow := func(t secure.StageCost) string {
		return fmt.Sprintf("| %d | %d | %.2f | %s | %s |", t.Rounds, t.Crit, float64(t.Rounds)/float64(L), stats.Size(t.Online), split(t.Cost))
	}
	var pc, dc int64
	pre := map[string]bool{}
	for _, s := range p.Stages {
		pre[s.Key()] = true
		row := "| – | – | – | – | – |"
		if t, ok := dec[s.Key()]; ok && decode > 0 {
			row = decRow(t)
			dc += t.Crit
		}
		pc += s.Crit
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %s | %s %s\n", s.Op, s.Name, s.Calls, s.Rounds, s.Crit, stats.Size(s.Online), split(s.Cost), row)
	}
	// Stages only the decode steps run (a decode step's counting max: hist, zero, …) follow, in
	// decode order, with "–" in the prefill columns.
	if decode > 0 {
		for _, t := range d.Stages {
			if pre[t.Key()] {
				continue
			}
			dc += t.Crit
			fmt.Fprintf(w, "| %s | %s | – | – | – | – | – %s\n", t.Op, t.Name, decRow(t))
		}
	}
	fmt.Fprintf(w, "| **total** | | | %d | %d | %s | %s | %d | %d | %.2f | %s | %s |\n\n", p.Total.Rounds, pc, stats.Size(p.Total.Online),
		split(p.Total), d.Total.Rounds, dc, float64(d.Total.Rounds)/float64(L), stats.Size(d.Total.Online), split(d.Total))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
