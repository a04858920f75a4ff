package ring_test

import (
	"testing"

	"github.com/hssee/hssee/kernel/kerneltest"
	"github.com/hssee/hssee/kernel/ring"
)

// TestConformancePaths runs the kerneltest Conformance suite on every micro-kernel path.
func TestConformancePaths(t *testing.T) {
	for _, p := range ring.Paths() {
		t.Run(p, func(t *testing.T) {
			defer ring.UsePath(p)()
			for _, workers := range []int{0, 1, 3} {
				kerneltest.Conformance(t, ring.CPU{Workers: workers})
			}
		})
	}
}
