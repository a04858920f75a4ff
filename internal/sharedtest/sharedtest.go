// Package sharedtest locates the read-only ../shared directory (real model
// weights, tokenizers and reference outputs) for tests. Tests that need it
// skip with a clear message when it is absent, and only then.
package sharedtest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir returns the shared directory beside the repository root, or skips tb.
func Dir(tb testing.TB) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	d := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared")
	if _, err := os.Stat(d); err != nil {
		tb.Skipf("shared data directory %s absent: %v", d, err)
	}
	return d
}

// Path returns a path inside the shared directory, skipping tb when the
// directory is absent and failing it when the directory is there but the
// path is not (a broken checkout is not a reason to skip).
func Path(tb testing.TB, elem ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{Dir(tb)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("shared data: %v", err)
	}
	return p
}

// TinyStories is ../shared/models/tinystories-656k.
func TinyStories(tb testing.TB) string {
	tb.Helper()
	return Path(tb, "models", "tinystories-656k")
}

// Golden is ../shared/eval/tinystories-656k-golden.jsonl.
func Golden(tb testing.TB) string {
	tb.Helper()
	return Path(tb, "eval", "tinystories-656k-golden.jsonl")
}
