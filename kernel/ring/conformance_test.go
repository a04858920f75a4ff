package ring_test

import (
	"testing"

	"github.com/hssee/hssee/kernel"
	"github.com/hssee/hssee/kernel/ring"
)

// TestConformancePaths runs kernel's exported Conformance suite on every micro-kernel path.
func TestConformancePaths(t *testing.T) {
	for _, p := range ring.Paths() {
		t.Run(p, func(t *testing.T) {
			defer ring.UsePath(p)()
			for _, workers := range []int{0, 1, 3} {
				kernel.Conformance(t, ring.CPU{Workers: workers})
			}
		})
	}
}
