package ring

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchShapes are the prefill projection (128×768×768), a decode projection (1×768×768) and the
// decode LM head (1×288×32000).
var benchShapes = [][3]int{{128, 768, 768}, {1, 768, 768}, {1, 288, 32000}}

// benchMatMul measures f on random operands of shape m×k×n, with either weight type.
func benchMatMul[W uint64 | int32](b *testing.B, m, k, n int, f func(dst, x []uint64, m, k int, w []W, n int) error) {
	x, w, dst := make([]uint64, m*k), make([]W, n*k), make([]uint64, m*n)
	r := rand.New(rand.NewPCG(2, 2))
	for i := range x {
		x[i] = r.Uint64()
	}
	for i := range w {
		w[i] = W(r.Uint64())
	}
	b.ResetTimer()
	for b.Loop() {
		if err := f(dst, x, m, k, w, n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(2*m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
}

// BenchmarkShapes measures Reference and the CPU backend, on one worker and on GOMAXPROCS, for every
// micro-kernel path the CPU runs, with uint64 weights (CPU, CPU1) and int32 weights (CPUW32, CPU1W32):
// go test ./kernel/ring -bench Shapes.
func BenchmarkShapes(b *testing.B) {
	for _, s := range benchShapes {
		m, k, n := s[0], s[1], s[2]
		name := fmt.Sprintf("%dx%dx%d", m, k, n)
		b.Run("Reference/"+name, func(b *testing.B) { benchMatMul(b, m, k, n, Reference) })
		for _, p := range Paths() {
			restore := UsePath(p)
			b.Run("CPU1/"+p+"/"+name, func(b *testing.B) { benchMatMul(b, m, k, n, CPU{Workers: 1}.RingMatMul) })
			b.Run("CPU/"+p+"/"+name, func(b *testing.B) { benchMatMul(b, m, k, n, CPU{}.RingMatMul) })
			b.Run("CPU1W32/"+p+"/"+name, func(b *testing.B) { benchMatMul(b, m, k, n, CPU{Workers: 1}.RingMatMulW32) })
			b.Run("CPUW32/"+p+"/"+name, func(b *testing.B) { benchMatMul(b, m, k, n, CPU{}.RingMatMulW32) })
			restore()
		}
	}
}
