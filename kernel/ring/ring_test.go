package ring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// paths runs f once per micro-kernel path the CPU can run: pure Go, AVX2, AVX-512 (Paths).
func paths(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, p := range Paths() {
		t.Run(p, func(t *testing.T) {
			defer UsePath(p)()
			f(t)
		})
	}
}

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
		if err := Reference(want, x, m, k, w, n); err != nil {
			t.Fatal(err)
		}
		paths(t, func(t *testing.T) {
			for _, workers := range []int{1, 2, 3} {
				for i := range got {
					got[i] = 12345 // must be overwritten
				}
				if err := (CPU{Workers: workers}).RingMatMul(got, x, m, k, w, n); err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%v workers=%d: element %d differs", s, workers, i)
					}
				}
			}
		})
	}
	if (CPU{}).RingMatMul(make([]uint64, 3), make([]uint64, 4), 2, 2, make([]uint64, 4), 2) == nil {
		t.Fatal("bad dst length accepted")
	}
}

// TestPathsMatchReference compares every path, at several worker counts, with Reference on
// full-range ring values, on shapes that exercise every tail: m or n of 1, m%4 and n%4 of 1..3, k
// below and above the vector widths and not a multiple of 4, 8 or 32, tiles cut at the edges.
func TestPathsMatchReference(t *testing.T) {
	shapes := [][3]int{
		{1, 1, 1}, {1, 7, 1}, {1, 8, 4}, {1, 9, 5}, {1, 288, 37}, {1, 31, 130}, {2, 3, 5}, {2, 2, 2},
		{3, 15, 7}, {4, 1, 4}, {4, 3, 4}, {4, 7, 4}, {4, 8, 4}, {4, 9, 4}, {4, 17, 8}, {5, 31, 9},
		{6, 4, 6}, {7, 33, 13}, {8, 64, 8}, {13, 100, 11}, {16, 768, 64}, {17, 65, 63}, {33, 129, 70},
		{64, 767, 67}, {130, 260, 75}, {19, 1, 66}, {128, 768, 768},
	}
	r := rand.New(rand.NewPCG(3, 3))
	extremes := []uint64{0, 1, ^uint64(0), 1 << 63, 1<<63 - 1, 1 << 32, 1<<32 - 1}
	type problem struct {
		name      string
		m, k, n   int
		x, w, ref []uint64
	}
	var problems []problem
	for _, s := range shapes {
		m, k, n := s[0], s[1], s[2]
		for _, fill := range []string{"random", "extremes"} {
			x, w := make([]uint64, m*k), make([]uint64, n*k)
			for _, v := range [][]uint64{x, w} {
				for i := range v {
					if fill == "random" {
						v[i] = r.Uint64()
					} else {
						v[i] = extremes[r.IntN(len(extremes))]
					}
				}
			}
			ref := make([]uint64, m*n)
			if err := Reference(ref, x, m, k, w, n); err != nil {
				t.Fatal(err)
			}
			problems = append(problems, problem{fmt.Sprintf("%dx%dx%d/%s", m, k, n, fill), m, k, n, x, w, ref})
		}
	}
	paths(t, func(t *testing.T) {
		for _, p := range problems {
			for _, workers := range []int{1, 2, 3} {
				got := make([]uint64, p.m*p.n)
				for i := range got {
					got[i] = 0xdeadbeef // must be overwritten
				}
				if err := (CPU{Workers: workers}).RingMatMul(got, p.x, p.m, p.k, p.w, p.n); err != nil {
					t.Fatal(err)
				}
				for i := range got {
					if got[i] != p.ref[i] {
						t.Fatalf("%s workers=%d: element (%d,%d) = %#x, want %#x",
							p.name, workers, i/p.n, i%p.n, got[i], p.ref[i])
					}
				}
			}
		}
	})
}

// TestPathsMatchReferenceW32 is TestPathsMatchReference for RingMatMulW32: full-range x, full-range
// and extreme int32 weights (MinInt32, MaxInt32, ±1, ±2^16), compared on every path and worker count
// with Reference on the sign-extended weights and with RingMatMul on them (the uint64 path the int32
// one replaces must give the same ring elements).
func TestPathsMatchReferenceW32(t *testing.T) {
	shapes := [][3]int{
		{1, 1, 1}, {1, 7, 1}, {1, 8, 4}, {1, 9, 5}, {1, 288, 37}, {1, 31, 130}, {1, 33, 3}, {2, 3, 5},
		{2, 2, 2}, {3, 15, 7}, {4, 1, 4}, {4, 3, 4}, {4, 7, 4}, {4, 8, 4}, {4, 9, 4}, {4, 17, 8},
		{5, 31, 9}, {6, 4, 6}, {7, 33, 13}, {8, 64, 8}, {13, 100, 11}, {16, 768, 64}, {17, 65, 63},
		{33, 129, 70}, {64, 767, 67}, {130, 260, 75}, {19, 1, 66}, {128, 768, 768}, {1, 288, 1001},
	}
	r := rand.New(rand.NewPCG(4, 4))
	xext := []uint64{0, 1, ^uint64(0), 1 << 63, 1<<63 - 1, 1 << 32, 1<<32 - 1}
	wext := []int32{0, 1, -1, math.MinInt32, math.MaxInt32, math.MinInt32 + 1, 1 << 16, -1 << 16}
	type problem struct {
		name    string
		m, k, n int
		x, ref  []uint64
		w       []int32
	}
	var problems []problem
	for _, s := range shapes {
		m, k, n := s[0], s[1], s[2]
		for _, fill := range []string{"random", "extremes"} {
			x, w := make([]uint64, m*k), make([]int32, n*k)
			for i := range x {
				if fill == "random" {
					x[i] = r.Uint64()
				} else {
					x[i] = xext[r.IntN(len(xext))]
				}
			}
			for i := range w {
				if fill == "random" {
					w[i] = int32(r.Uint32())
				} else {
					w[i] = wext[r.IntN(len(wext))]
				}
			}
			ref := make([]uint64, m*n)
			if err := Reference(ref, x, m, k, Widen(w), n); err != nil {
				t.Fatal(err)
			}
			problems = append(problems, problem{fmt.Sprintf("%dx%dx%d/%s", m, k, n, fill), m, k, n, x, ref, w})
		}
	}
	paths(t, func(t *testing.T) {
		for _, p := range problems {
			wide := Widen(p.w)
			for _, workers := range []int{1, 2, 3} {
				got, got64 := make([]uint64, p.m*p.n), make([]uint64, p.m*p.n)
				for i := range got {
					got[i] = 0xdeadbeef // must be overwritten
				}
				c := CPU{Workers: workers}
				if err := c.RingMatMulW32(got, p.x, p.m, p.k, p.w, p.n); err != nil {
					t.Fatal(err)
				}
				if err := c.RingMatMul(got64, p.x, p.m, p.k, wide, p.n); err != nil {
					t.Fatal(err)
				}
				for i := range got {
					if got[i] != p.ref[i] || got64[i] != p.ref[i] {
						t.Fatalf("%s workers=%d: element (%d,%d) = %#x (uint64 path %#x), want %#x",
							p.name, workers, i/p.n, i%p.n, got[i], got64[i], p.ref[i])
					}
				}
			}
		}
	})
	if (CPU{}).RingMatMulW32(make([]uint64, 4), make([]uint64, 4), 2, 2, make([]int32, 3), 2) == nil {
		t.Fatal("short w accepted")
	}
}
