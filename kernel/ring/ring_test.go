package ring

import (
	"math/rand/v2"
	"testing"
)

func TestCPUMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range [][3]int{{0, 3, 4}, {1, 1, 1}, {3, 5, 7}, {4, 8, 2}, {17, 33, 65}, {33, 100, 131}, {5, 0, 3}} {
		m, k, n := s[0], s[1], s[2]
		x, w := make([]uint64, m*k), make([]uint64, n*k)
		for i := range x {
			x[i] = r.Uint64()
		}
		for i := range w {
			w[i] = uint64(int64(r.IntN(1<<16) - 1<<15))
		}
		want, got := make([]uint64, m*n), make([]uint64, m*n)
		for i := range got {
			got[i] = 12345 // must be overwritten
		}
		if err := Reference(want, x, m, k, w, n); err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{1, 2, 3} {
			if err := (CPU{Workers: workers}).RingMatMul(got, x, m, k, w, n); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%v workers=%d: element %d differs", s, workers, i)
				}
			}
		}
	}
	if (CPU{}).RingMatMul(make([]uint64, 3), make([]uint64, 4), 2, 2, make([]uint64, 4), 2) == nil {
		t.Fatal("bad dst length accepted")
	}
}

func benchShape(b *testing.B, f func(dst, x []uint64, m, k int, w []uint64, n int) error) {
	const m, k, n = 128, 768, 768
	x, w, dst := make([]uint64, m*k), make([]uint64, n*k), make([]uint64, m*n)
	r := rand.New(rand.NewPCG(2, 2))
	for i := range x {
		x[i] = r.Uint64()
	}
	for i := range w {
		w[i] = r.Uint64()
	}
	b.ResetTimer()
	for b.Loop() {
		if err := f(dst, x, m, k, w, n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(2*m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
}

func BenchmarkReference128x768x768(b *testing.B) { benchShape(b, Reference) }
func BenchmarkCPU1_128x768x768(b *testing.B)     { benchShape(b, CPU{Workers: 1}.RingMatMul) }
func BenchmarkCPU_128x768x768(b *testing.B)      { benchShape(b, CPU{}.RingMatMul) }
