// Package kerneltest is the conformance suite every kernel.Backend must
// pass (gonum's blas64 testing pattern): call Conformance from the
// backend's tests. It imports "testing", so it lives apart from kernel.
package kerneltest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hssee/hssee/kernel"
)

// Conformance checks that b computes exactly the reference ring matrix product, RingMatMul and
// RingMatMulW32 (against the reference on the sign-extended weights), on edge-case and random shapes
// (including sizes that are not multiples of any tile), with extreme ring values and extreme int32
// weights, that it overwrites dst, and that inconsistent shapes are errors rather than panics. Every
// backend's tests call it: kerneltest.Conformance(t, myBackend).
func Conformance(t *testing.T, b kernel.Backend) {
	t.Helper()
	r := rand.New(rand.NewPCG(0x5eed, uint64(len(b.Name()))))
	shapes := [][3]int{
		{0, 0, 0}, {0, 5, 3}, {3, 0, 2}, {2, 4, 0}, {1, 1, 1}, {1, 7, 1}, {2, 3, 5}, {4, 4, 4}, {5, 9, 3},
		{16, 64, 64}, {17, 65, 63}, {33, 129, 70}, {64, 768, 8}, {3, 1000, 130},
	}
	fills := []struct {
		name string
		f    func() uint64
	}{
		{"random", r.Uint64},
		{"small-signed", func() uint64 { return uint64(int64(r.IntN(1<<13) - 1<<12)) }},
		{"extremes", func() uint64 {
			return [...]uint64{0, 1, ^uint64(0), 1 << 63, 1<<63 - 1, 1 << 32}[r.IntN(6)]
		}},
	}
	for _, s := range shapes {
		for _, fl := range fills {
			checkProduct(t, b.Name(), "RingMatMul", s, fl.name, fl.f, fl.f, kernel.ReferenceRingMatMul, b.RingMatMul)
		}
	}
	fills32 := []struct {
		name string
		x    func() uint64
		w    func() int32
	}{
		{"random", r.Uint64, func() int32 { return int32(r.Uint32()) }},
		{"fixed-point", func() uint64 { return uint64(int64(r.IntN(1<<20) - 1<<19)) },
			func() int32 { return int32(r.IntN(1<<15) - 1<<14) }},
		{"extremes", func() uint64 {
			return [...]uint64{0, 1, ^uint64(0), 1 << 63, 1<<63 - 1, 1 << 32}[r.IntN(6)]
		}, func() int32 {
			return [...]int32{0, 1, -1, math.MinInt32, math.MaxInt32, 1 << 16, -1 << 16}[r.IntN(7)]
		}},
	}
	for _, s := range shapes {
		for _, fl := range fills32 {
			checkProduct(t, b.Name(), "RingMatMulW32", s, fl.name, fl.x, fl.w, kernel.ReferenceRingMatMulW32, b.RingMatMulW32)
		}
	}
	bad := []struct {
		name          string
		dst, x, w     int
		m, k, n       int
		expectFailure bool
	}{
		{"short dst", 3, 4, 4, 2, 2, 2, true},
		{"short x", 4, 3, 4, 2, 2, 2, true},
		{"long w", 4, 4, 5, 2, 2, 2, true},
		{"negative m", 0, 0, 0, -1, 0, 0, true},
		{"negative shape product", 1, 1, 1, -1, -1, -1, true},
	}
	for _, c := range bad {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: %s: panicked: %v", b.Name(), c.name, p)
				}
			}()
			err := b.RingMatMul(make([]uint64, c.dst), make([]uint64, c.x), c.m, c.k, make([]uint64, c.w), c.n)
			if err == nil {
				t.Errorf("%s: %s: no error", b.Name(), c.name)
			}
			err = b.RingMatMulW32(make([]uint64, c.dst), make([]uint64, c.x), c.m, c.k, make([]int32, c.w), c.n)
			if err == nil {
				t.Errorf("%s: w32: %s: no error", b.Name(), c.name)
			}
		}()
	}
}

// checkProduct fills x and w of shape s (m, k, n) from fx and fw and checks that mul (the backend's
// product called name) computes exactly what ref does, over a dst it must overwrite.
func checkProduct[W uint64 | int32](t *testing.T, backend, name string, s [3]int, fill string, fx func() uint64, fw func() W,
	ref, mul func(dst, x []uint64, m, k int, w []W, n int) error) {
	t.Helper()
	m, k, n := s[0], s[1], s[2]
	x, w := make([]uint64, m*k), make([]W, n*k)
	for i := range x {
		x[i] = fx()
	}
	for i := range w {
		w[i] = fw()
	}
	want, got := make([]uint64, m*n), make([]uint64, m*n)
	for i := range got {
		got[i] = 0xdeadbeef
	}
	if err := ref(want, x, m, k, w, n); err != nil {
		t.Fatalf("%s: reference %s %v: %v", backend, name, s, err)
	}
	if err := mul(got, x, m, k, w, n); err != nil {
		t.Fatalf("%s: %s %v %s: %v", backend, name, s, fill, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: %s %v %s: element %d = %#x, want %#x", backend, name, s, fill, i, got[i], want[i])
		}
	}
}
