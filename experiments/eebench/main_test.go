package main

import (
	"io"
	"strings"
	"testing"

	"github.com/hssee/hssee/ee"
	"github.com/hssee/hssee/internal/sharedtest"
)

func small() config {
	return config{preset: "tinystories-656k", modes: []ee.Mode{ee.ModePerm, ee.ModeRotate}, seed: 1,
		promptLen: 8, decode: 4, runs: 1, threads: 2, prompts: 2, gen: 6}
}

func TestRunPreset(t *testing.T) {
	var out strings.Builder
	rep, err := run(small(), &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Modes) != 2 || rep.TokenAgreementPct != 100 || rep.MaxAbsLogitDiff > 1e-3 || rep.MaxAbsLogitDiff <= 0 {
		t.Fatalf("report %+v", rep)
	}
	for _, m := range rep.Modes {
		if m.GreedyIdentical != 2 || m.PositionsCompared != 2*(16+6) || m.VanillaMS <= 0 || m.EEMS <= 0 {
			t.Fatalf("mode %+v", m)
		}
	}
	if !strings.Contains(out.String(), "| rotate |") {
		t.Fatalf("table:\n%s", out.String())
	}
}

func TestRunGolden(t *testing.T) {
	cfg := small()
	cfg.preset, cfg.path, cfg.eval = "", sharedtest.TinyStories(t), sharedtest.Golden(t)
	cfg.modes = []ee.Mode{ee.ModeRotate}
	rep, err := run(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Modes[0]
	if m.Prompts != 10 || m.GoldenGreedy < 9 || m.GreedyIdentical < 9 || rep.MaxAbsLogitDiff > 1e-3 {
		t.Fatalf("mode %+v", m)
	}
}

func TestRunErrors(t *testing.T) {
	for name, mod := range map[string]func(*config){
		"no source":     func(c *config) { c.preset = "" },
		"both sources":  func(c *config) { c.path = "x" },
		"bad preset":    func(c *config) { c.preset = "nope" },
		"zero runs":     func(c *config) { c.runs = 0 },
		"no modes":      func(c *config) { c.modes = nil },
		"long prompt":   func(c *config) { c.promptLen = 1000 },
		"missing eval":  func(c *config) { c.eval = "/nonexistent.jsonl" },
		"long fidelity": func(c *config) { c.gen = 600 },
	} {
		cfg := small()
		mod(&cfg)
		if _, err := run(cfg, io.Discard); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
