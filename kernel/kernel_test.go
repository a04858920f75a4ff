package kernel_test

import (
	"math/rand/v2"
	"testing"

	"github.com/hssee/hssee/kernel"
	"github.com/hssee/hssee/kernel/kerneltest"
	"github.com/hssee/hssee/kernel/ring"
)

func TestCPUConformance(t *testing.T) {
	kerneltest.Conformance(t, kernel.CPU())
	kerneltest.Conformance(t, ring.CPU{Workers: 1})
	kerneltest.Conformance(t, ring.CPU{Workers: 3})
}

type refBackend struct{}

func (refBackend) Name() string { return "reference" }
func (refBackend) RingMatMul(dst, x []uint64, m, k int, w []uint64, n int) error {
	return kernel.ReferenceRingMatMul(dst, x, m, k, w, n)
}
func (refBackend) RingMatMulW32(dst, x []uint64, m, k int, w []int32, n int) error {
	return kernel.ReferenceRingMatMulW32(dst, x, m, k, w, n)
}

func TestUse(t *testing.T) {
	kerneltest.Conformance(t, refBackend{})
	prev, err := kernel.Use(refBackend{})
	if err != nil || prev.Name() != "cpu" || kernel.Default().Name() != "reference" {
		t.Fatalf("Use: %v %v", prev, err)
	}
	if _, err := kernel.Use(nil); err == nil {
		t.Fatal("nil backend accepted")
	}
	if _, err := kernel.Use(prev); err != nil || kernel.Default().Name() != "cpu" {
		t.Fatal("restore failed")
	}
}

// BenchmarkRingMatMul128x768x768 compares the default backend with the plain single-core triple loop
// at the shape of one GPT-2 projection over 128 tokens. GOPS counts a multiply and an add as 2 ops.
func BenchmarkRingMatMul128x768x768(b *testing.B) {
	const m, k, n = 128, 768, 768
	x, w, dst := make([]uint64, m*k), make([]uint64, n*k), make([]uint64, m*n)
	r := rand.New(rand.NewPCG(2, 2))
	for i := range x {
		x[i] = r.Uint64()
	}
	for i := range w {
		w[i] = r.Uint64()
	}
	for _, bc := range []struct {
		name string
		f    func(dst, x []uint64, m, k int, w []uint64, n int) error
	}{{"reference", kernel.ReferenceRingMatMul}, {kernel.Default().Name(), kernel.RingMatMul}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := bc.f(dst, x, m, k, w, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(2*m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
	}
}
