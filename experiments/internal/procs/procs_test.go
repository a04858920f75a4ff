package procs

import (
	"os"
	"testing"
	"time"
)

// SelfCPU reads this process's CPU time from /proc and it grows with work.
func TestSelfCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	before := SelfCPU()
	x := 0
	for start := time.Now(); time.Since(start) < 150*time.Millisecond; x++ {
	}
	after := SelfCPU()
	if after <= before || after-before > 2*time.Second {
		t.Fatalf("cpu time %v -> %v after 150 ms of spinning (%d)", before, after, x)
	}
	if cpuOf("/proc/self/nonexistent") != 0 || cpuOf("/dev/null") != 0 {
		t.Fatal("unreadable stat files must give 0")
	}
}
