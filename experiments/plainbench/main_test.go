package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRunPreset(t *testing.T) {
	if err := run("tinystories-656k", "", 1, 8, 4, 2, 1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		preset, path   string
		prompt, decode int
	}{
		{"", "", 8, 4},                     // neither source
		{"stories15M", "x", 8, 4},          // both sources
		{"nope", "", 8, 4},                 // unknown preset
		{"tinystories-656k", "", 500, 100}, // beyond the context
		{"tinystories-656k", "", 0, 4},     // empty prompt
		{"", filepath.Join(t.TempDir(), "missing.bin"), 8, 4},
	} {
		if err := run(c.preset, c.path, 1, c.prompt, c.decode, 1, 1); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

func TestWriteLlama2cRoundTrip(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.bin")
	if err := writeLlama2c("tinystories-656k", "", 3, out); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Fatalf("exported file: %v", err)
	}
	if err := run("", out, 1, 8, 4, 2, 1); err != nil {
		t.Fatal(err)
	}
}
