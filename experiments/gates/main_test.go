package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hssee/hssee/hss"
)

// TestRunJSON runs every gate at a small size and checks the JSON lines and the bounds the gates
// document (cheap enough for plain go test).
func TestRunJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := run(&buf, true, 64, gatesParams(), "", false, 1); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(allGates()) {
		t.Fatalf("%d lines for %d gates", len(lines), len(allGates()))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"gate", "max_abs_err", "online_bytes_per_elem", "rounds", "dealer_bytes_per_elem", "ns_per_elem"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("%s: missing key %q", l, k)
			}
		}
		name := m["gate"].(string)
		if e := m["max_abs_err"].(float64); e > 0.05 {
			t.Errorf("%s: max abs error %v", name, e)
		}
		// The rounds each gate documents: max and softmax grow with the row length (⌈log2 cols⌉
		// levels, plus 5 for the softmax: exp's lookup 1, its truncation with the reciprocal's
		// comparisons 1, the reciprocal's lookup 1, its truncation with the row product 1
		// (evalOctMul3) and the product's truncation 1); the norms take 4 on this test's one row
		// (the octave spline; 5 on more rows, the octave lookup), LayerNorm's mean truncated in the
		// squares' round.
		want := map[string]float64{"trunc/64": 1, "trunc/40": 1, "linear768/64": 1, "linear768/44": 1, "mulfx/64": 2,
			"mulfx/40": 2, "squarefx/40": 2, "qkT64/64": 2, "qkT64/44": 2, "gelu": 2, "silu": 2, "exp": 2, "relu": 1,
			"recip": 4, "rsqrt": 4, "max/64": 6, "softmax/causal": 3 + 5, "layernorm768": 4, "rmsnorm768": 4}
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: no round expectation", name)
		}
		if r := m["rounds"].(float64); r != w {
			t.Errorf("%s: %v rounds, want %v", name, r, w)
		}
	}
}

func TestRunMarkdownAndFlags(t *testing.T) {
	var buf bytes.Buffer
	if err := run(&buf, false, 32, gatesParams(), "trunc", false, 2); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "| trunc/64 |") || strings.Contains(buf.String(), "mulfx") {
		t.Fatalf("unexpected table:\n%s", buf.String())
	}
	if run(&buf, false, 0, gatesParams(), "", false, 1) == nil {
		t.Fatal("n=0 accepted")
	}
	if run(&buf, false, 8, hss.Params{Frac: 70, Width: 64}, "", false, 1) == nil {
		t.Fatal("frac 70 accepted")
	}
}
