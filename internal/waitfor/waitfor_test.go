package waitfor

import (
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	n := 0
	if !Until(time.Second, time.Millisecond, func() bool { n++; return n == 3 }) || n != 3 {
		t.Fatalf("Until returned after %d calls, want 3 and true", n)
	}
	start := time.Now()
	if Until(20*time.Millisecond, time.Millisecond, func() bool { return false }) {
		t.Fatal("Until reported a condition that never held")
	}
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Fatalf("Until gave up after %v, before its timeout", el)
	}
}
