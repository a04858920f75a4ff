package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hssee/hssee/internal/sharedtest"
)

// A step shows its name and elapsed time once it runs longer than the
// threshold, and its line is cleared when it ends; a nil display (-quiet,
// or not a terminal) writes nothing.
func TestStageLine(t *testing.T) {
	var buf syncBuf
	s := newStageLine(&buf, true)
	s.after, s.tick = 20*time.Millisecond, 5*time.Millisecond
	s.Stage("transform: transforming the weights")
	time.Sleep(100 * time.Millisecond)
	s.Stage("quick")
	s.Done()
	s.Done()
	out := buf.String()
	if !strings.Contains(out, "[transform: transforming the weights: 0.") || strings.Contains(out, "quick") {
		t.Fatalf("display: %q", out)
	}
	if !strings.HasSuffix(out, "\r") || strings.Count(out, "\n") != 0 {
		t.Fatalf("the line is not cleared in place: %q", out)
	}
	var none *stageLine = newStageLine(&buf, false)
	none.Stage("x")
	none.Done()
	if buf.String() != out {
		t.Fatal("an off display wrote")
	}
}

// -quiet turns progress off even with -progress; text still streams.
func TestQuiet(t *testing.T) {
	base := sharedtest.TinyStories(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	mustClient(t, "keygen", "-out", key)
	if _, stderr, err := client(t, "transform", "-model", base, "-key", key, "-out", filepath.Join(dir, "ee"), "-progress", "-quiet"); err != nil || stderr != "" {
		t.Fatalf("transform -quiet: %v, stderr %q", err, stderr)
	}
	stdout, stderr, err := client(t, "generate", "-model", base, "-prompt", "Once upon a time", "-n", "4", "-progress", "-quiet")
	if err != nil || !strings.HasPrefix(stdout, "Once upon a time") || strings.Contains(stderr, "[") {
		t.Fatalf("generate -quiet: %v\nstdout %q\nstderr %q", err, stdout, stderr)
	}
}
