package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestRunTable prints the table for a small config and checks its rows.
func TestRunTable(t *testing.T) {
	var buf bytes.Buffer
	if err := run(&buf, []string{"-config", "tinystories-656k", "-seq", "8", "-decode", "2"}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// No "linear" or "rope" row: in a LLaMA layer every linear layer's truncation rides on a later
	// gate's round (the norms', the scores', the activation's).
	for _, s := range []string{"## tinystories-656k", "| attention |", "| softmax |", "| norm |", "| act |", "| head |", "| **total** |",
		"| party 0 / party 1 |"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
}

// TestRunJSON checks the JSON lines of every config that fits, and the
// SIGMA bars verdict for gpt2-124m at 128 tokens.
func TestRunJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := run(&buf, []string{"-config", "all", "-seq", "128", "-json"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(lines), buf.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"config", "seq", "online_bytes", "rounds", "dealer_bytes", "dealer_bytes_party0",
			"dealer_bytes_party1", "decode_online_bytes", "decode_rounds", "decode_dealer_bytes",
			"decode_dealer_bytes_party0", "decode_dealer_bytes_party1", "breakdown", "decode_breakdown"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("%s: missing key %q", l, k)
			}
		}
		// The parties' dealer bytes add up to the total (one decode step: no rounding of the mean),
		// and both are positive (party 0's keys are seed-compressed but hold the lookups' level-Top
		// nodes, so either may be the larger).
		for _, pre := range []string{"", "decode_"} {
			d, d0, d1 := m[pre+"dealer_bytes"].(float64), m[pre+"dealer_bytes_party0"].(float64), m[pre+"dealer_bytes_party1"].(float64)
			if d0+d1 != d || d0 <= 0 || d1 <= 0 {
				t.Errorf("%s: %sdealer bytes %v = %v + %v?", m["config"], pre, d, d0, d1)
			}
		}
		for _, op := range m["breakdown"].(map[string]any) {
			c := op.(map[string]any)
			if c["dealer_bytes_party0"].(float64)+c["dealer_bytes_party1"].(float64) != c["dealer_bytes"].(float64) {
				t.Errorf("%s: breakdown entry %v: the parties' dealer bytes do not add up", m["config"], c)
			}
		}
		if m["rounds"].(float64) <= 0 || m["decode_rounds"].(float64) <= 0 {
			t.Errorf("%s: no rounds", l)
		}
		if m["config"] == "gpt2-124m" {
			if _, ok := m["meets_sigma_bars"]; !ok {
				t.Errorf("gpt2-124m at 128 tokens without the bars verdict")
			}
		}
	}
}

// TestRunBreakdown checks the table by gate stage and that the stages' critical rounds add up to the
// rounds in the JSON.
func TestRunBreakdown(t *testing.T) {
	var buf bytes.Buffer
	if err := run(&buf, []string{"-config", "tinystories-656k", "-seq", "8", "-decode", "2", "-breakdown"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"by gate stage", "| norm | rmsnorm/square |", "| norm | rmsnorm/rsqrt/cmp |", "| softmax | max/relu |",
		"| act | silumulr/trunc+lut |", "| act | silumulr/tprod |", "| attention | qkv+qk/trunc+product |", "| norm | rmsnorm/res+square |",
		"| head | trunc | 1 |"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("breakdown lacks %q:\n%s", s, buf.String())
		}
	}
	// The decode steps' counting max (hist, zero) has no prefill stage: its rows follow the prefill's
	// with "–" in the prefill columns, and the decode critical total counts them, so it equals the
	// decode rounds (here and in the JSON).
	table := buf.String()[strings.Index(buf.String(), "by gate stage"):]
	for _, s := range []string{"| softmax | max/hist | – | – | – | – | – |", "| softmax | max/zero | – | – | – | – | – |"} {
		if !strings.Contains(table, s) {
			t.Errorf("breakdown lacks the decode-only row %q:\n%s", s, table)
		}
	}
	var total []string
	for _, l := range strings.Split(table, "\n") {
		if strings.HasPrefix(l, "| **total** |") {
			total = strings.Split(l, "|")
			break
		}
	}
	// "", "**total**", "", "", prefill rounds, critical, online, dealer, decode rounds, critical, …
	if len(total) != 14 {
		t.Fatalf("breakdown total row %q", total)
	}
	pr, pcrit := strings.TrimSpace(total[4]), strings.TrimSpace(total[5])
	dr, dcrit := strings.TrimSpace(total[8]), strings.TrimSpace(total[9])
	if pcrit != pr || dcrit != dr {
		t.Errorf("breakdown totals: prefill critical %s of %s rounds, decode critical %s of %s rounds", pcrit, pr, dcrit, dr)
	}
	buf.Reset()
	if err := run(&buf, []string{"-config", "tinystories-656k", "-seq", "8", "-decode", "2", "-json"}); err != nil {
		t.Fatal(err)
	}
	var tiny struct {
		Rounds int64 `json:"rounds"`
		Decode int64 `json:"decode_rounds"`
	}
	if err := json.Unmarshal(buf.Bytes(), &tiny); err != nil {
		t.Fatal(err)
	}
	if pr != fmt.Sprint(tiny.Rounds) || dr != fmt.Sprint(tiny.Decode) || tiny.Decode == 0 {
		t.Errorf("breakdown totals: rounds %s / %s, JSON %d / %d", pr, dr, tiny.Rounds, tiny.Decode)
	}
	buf.Reset()
	if err := run(&buf, []string{"-config", "gpt2-124m", "-seq", "16", "-json"}); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Rounds     int64                         `json:"rounds"`
		Decode     int64                         `json:"decode_rounds"`
		Crit       int64                         `json:"critical_rounds"`
		DecodeCrit int64                         `json:"decode_critical_rounds"`
		Breakdown  map[string]map[string]float64 `json:"breakdown"`
	}
	var raw map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	stages := raw["stages"].([]any)
	var crit, rounds float64
	ops := map[string]float64{}
	for _, s := range stages {
		e := s.(map[string]any)
		crit += e["critical_rounds"].(float64)
		rounds += e["rounds"].(float64)
		ops[e["op"].(string)] += e["online_bytes"].(float64)
	}
	if int64(crit) != m.Rounds || m.Crit != m.Rounds || int64(rounds) != m.Rounds || m.DecodeCrit != m.Decode {
		t.Errorf("stages: critical %v, rounds %v, critical_rounds %d / %d, want %d / %d", crit, rounds, m.Crit, m.DecodeCrit, m.Rounds, m.Decode)
	}
	for op, v := range ops {
		if want := m.Breakdown[op]["online_bytes"]; v != want {
			t.Errorf("%s: stages' online bytes %v, breakdown %v", op, v, want)
		}
	}
	// A decode step takes its softmax maxima by counting (hist, zero), the prefill by the tree.
	var drounds float64
	names := map[string]bool{}
	for _, s := range raw["decode_stages"].([]any) {
		e := s.(map[string]any)
		drounds += e["rounds"].(float64)
		names[e["stage"].(string)] = true
	}
	if int64(drounds) != m.Decode || !names["max/hist"] || !names["max/zero"] || names["max/relu"] {
		t.Errorf("decode stages: rounds %v want %d, stages %v", drounds, m.Decode, names)
	}
}

func TestRunErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-config", "nope"},
		{"-config", "stories15M", "-seq", "256"}, // 256+1 positions exceed the context
		{"-seq", "0"},
		{"-decode", "-1"},
		{"extra"},
		{"-frac", "16"}, // beyond the norms' range: refused by hss.Params before counting
	} {
		if err := run(&bytes.Buffer{}, args); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
