package f32

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// paths runs f once per available kernel implementation.
func paths(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved, saved512 := useAsm, use512
	defer func() { useAsm, use512 = saved, saved512 }()
	useAsm, use512 = false, false
	t.Run("generic", f)
	if !hasAsm {
		t.Log("AVX2+FMA not available: assembly paths not tested")
		return
	}
	useAsm = true
	t.Run("avx2", f)
	if !has512 {
		t.Log("AVX-512F not available: AVX-512 prefill kernel not tested")
		return
	}
	use512 = true
	t.Run("avx512", f)
}

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// refMatMul is the float64 reference; it also returns Σ|x·w| per output,
// the scale of the float32 rounding error.
func refMatMul(x, w, b []float32, n, out, in int) (y, scale []float64) {
	y = make([]float64, n*out)
	scale = make([]float64, n*out)
	for i := 0; i < n; i++ {
		for o := 0; o < out; o++ {
			var s, a float64
			for k := 0; k < in; k++ {
				p := float64(x[i*in+k]) * float64(w[o*in+k])
				s += p
				a += math.Abs(p)
			}
			if b != nil {
				s += float64(b[o])
				a += math.Abs(float64(b[o]))
			}
			y[i*out+o], scale[i*out+o] = s, a
		}
	}
	return y, scale
}

func checkClose(t *testing.T, what string, got []float32, want, scale []float64) {
	t.Helper()
	for i := range want {
		// float32 accumulation: error well below 1e-5 of Σ|terms| for these sizes.
		if d := math.Abs(float64(got[i]) - want[i]); d > 1e-5*scale[i]+1e-6 {
			t.Fatalf("%s[%d] = %v, want %v (diff %g, scale %g)", what, i, got[i], want[i], d, scale[i])
		}
	}
}

func TestDotAxpy(t *testing.T) {
	paths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, n := range []int{0, 1, 3, 7, 8, 9, 15, 16, 31, 32, 33, 48, 64, 100, 288, 1000} {
			a, b := randVec(r, n), randVec(r, n+3)
			var s, sc float64
			for i := 0; i < n; i++ {
				s += float64(a[i]) * float64(b[i])
				sc += math.Abs(float64(a[i]) * float64(b[i]))
			}
			checkClose(t, fmt.Sprintf("dot n=%d", n), []float32{Dot(a, b)}, []float64{s}, []float64{sc})

			y := randVec(r, n)
			want := make([]float64, n)
			scale := make([]float64, n)
			for i := range want {
				want[i] = float64(y[i]) + 0.75*float64(a[i])
				scale[i] = math.Abs(float64(y[i])) + math.Abs(0.75*float64(a[i]))
			}
			Axpy(0.75, a, y)
			checkClose(t, fmt.Sprintf("axpy n=%d", n), y, want, scale)
		}
	})
}

func TestMatMul(t *testing.T) {
	pool := NewPool(3)
	defer pool.Close()
	paths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, s := range []struct{ n, out, in int }{
			{1, 1, 1}, {1, 4, 8}, {1, 5, 13}, {2, 7, 16}, {3, 4, 8}, {4, 9, 24}, {5, 13, 37},
			{7, 32, 64}, {1, 288, 288}, {9, 100, 96}, {16, 64, 288}, {1, 1001, 40}, {11, 67, 130},
			{4, 4, 16}, {8, 8, 8}, {13, 21, 48}, {64, 36, 288}, {6, 10, 40}, {5, 8, 15},
		} {
			x, w := randVec(r, s.n*s.in), randVec(r, s.out*s.in)
			for _, bias := range []bool{false, true} {
				var b []float32
				if bias {
					b = randVec(r, s.out)
				}
				want, scale := refMatMul(x, w, b, s.n, s.out, s.in)
				name := fmt.Sprintf("%dx%dx%d bias=%v", s.n, s.out, s.in, bias)
				y := make([]float32, s.n*s.out)
				if err := MatMul(y, x, w, b, s.n, s.out, s.in); err != nil {
					t.Fatal(err)
				}
				checkClose(t, name+" serial", y, want, scale)
				clear(y)
				if err := pool.MatMul(y, x, w, b, s.n, s.out, s.in); err != nil {
					t.Fatal(err)
				}
				checkClose(t, name+" pool", y, want, scale)
			}
		}
	})
}

func TestDotRows(t *testing.T) {
	paths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 9))
		for _, c := range []struct{ rows, n, ldw int }{
			{1, 1, 1}, {3, 8, 8}, {4, 16, 20}, {7, 48, 288}, {9, 13, 13}, {130, 64, 256},
		} {
			x := randVec(r, c.n)
			w := randVec(r, (c.rows-1)*c.ldw+c.n)
			y := make([]float32, c.rows)
			if err := DotRows(y, w, c.ldw, x); err != nil {
				t.Fatal(err)
			}
			want, scale := make([]float64, c.rows), make([]float64, c.rows)
			for j := range want {
				for k := 0; k < c.n; k++ {
					p := float64(w[j*c.ldw+k]) * float64(x[k])
					want[j] += p
					scale[j] += math.Abs(p)
				}
			}
			checkClose(t, fmt.Sprintf("dotrows %+v", c), y, want, scale)
		}
	})
	for _, c := range []struct{ rows, n, ldw, lenW int }{
		{2, 8, 4, 16}, {2, 8, 8, 15}, {1, 0, 8, 8}, {3, 4, 4, 11},
	} {
		if err := DotRows(make([]float32, c.rows), make([]float32, c.lenW), c.ldw, make([]float32, c.n)); !errors.Is(err, ErrShape) {
			t.Errorf("%+v: err = %v, want ErrShape", c, err)
		}
	}
}

// TestMatVecLarge covers matrix-vector products over matrices larger than
// the caches (an LM head), with odd widths.
func TestMatVecLarge(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	paths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(10, 10))
		for _, s := range []struct{ out, in int }{{(1<<21)/36 + 3, 37}, {(1 << 21) / 288, 288}} {
			x, w := randVec(r, s.in), randVec(r, s.out*s.in)
			want, scale := refMatMul(x, w, nil, 1, s.out, s.in)
			y := make([]float32, s.out)
			if err := pool.MatMul(y, x, w, nil, 1, s.out, s.in); err != nil {
				t.Fatal(err)
			}
			checkClose(t, fmt.Sprintf("matvec %dx%d", s.out, s.in), y, want, scale)
		}
	})
}

func TestMatMulShapeErrors(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	x, w, y := make([]float32, 6), make([]float32, 12), make([]float32, 8)
	for _, c := range []struct {
		name       string
		y, x, w, b []float32
		n, out, in int
	}{
		{"in zero", y, x, w, nil, 2, 4, 0},
		{"negative n", y, x, w, nil, -1, 4, 3},
		{"short x", y, x, w, nil, 3, 4, 3},
		{"short w", y, x, w, nil, 2, 5, 3},
		{"short y", y[:7], x, w, nil, 2, 4, 3},
		{"short bias", y, x, w, make([]float32, 3), 2, 4, 3},
	} {
		if err := pool.MatMul(c.y, c.x, c.w, c.b, c.n, c.out, c.in); !errors.Is(err, ErrShape) {
			t.Errorf("%s: err = %v, want ErrShape", c.name, err)
		}
		if err := MatMul(c.y, c.x, c.w, c.b, c.n, c.out, c.in); !errors.Is(err, ErrShape) {
			t.Errorf("%s (serial): err = %v, want ErrShape", c.name, err)
		}
	}
	if err := pool.MatMul(y, x, w, nil, 2, 4, 3); err != nil {
		t.Errorf("valid shape: %v", err)
	}
}

func TestPoolFor(t *testing.T) {
	for _, threads := range []int{1, 2, 5} {
		pool := NewPool(threads)
		for _, n := range []int{0, 1, 2, 3, 10, 101} {
			hits := make([]int, n)
			busy := make([]atomic.Bool, threads)
			var bad atomic.Bool
			fn := func(part, lo, hi int) {
				if part < 0 || part >= threads || busy[part].Swap(true) {
					bad.Store(true) // out of range, or two ranges at once for one part
					return
				}
				for i := lo; i < hi; i++ {
					hits[i]++
				}
				busy[part].Store(false)
			}
			for rep := 0; rep < 3; rep++ {
				pool.For(n, fn)
			}
			for i, h := range hits {
				if h != 3 {
					t.Fatalf("threads=%d n=%d: index %d visited %d times, want 3", threads, n, i, h)
				}
			}
			if bad.Load() {
				t.Fatalf("threads=%d n=%d: bad or concurrent part number", threads, n)
			}
		}
		pool.Close()
		// A closed pool still works, serially.
		got := 0
		pool.For(4, func(part, lo, hi int) { got += hi - lo })
		if got != 4 {
			t.Fatalf("closed pool covered %d of 4", got)
		}
	}
}

func TestMatMulNoAllocs(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	x, w, y := make([]float32, 288), make([]float32, 288*288), make([]float32, 288)
	fn := func(part, lo, hi int) {}
	allocs := testing.AllocsPerRun(50, func() {
		_ = pool.MatMul(y, x, w, nil, 1, 288, 288)
		pool.For(8, fn)
	})
	if allocs != 0 {
		t.Errorf("MatMul+For allocate %v times per call", allocs)
	}
}

func BenchmarkMatVec(b *testing.B) {
	for _, s := range []struct{ out, in int }{{288, 288}, {768, 768}, {2048, 768}, {32000, 288}} {
		b.Run(fmt.Sprintf("%dx%d", s.out, s.in), func(b *testing.B) {
			pool := NewPool(0)
			defer pool.Close()
			x, w, y := make([]float32, s.in), make([]float32, s.out*s.in), make([]float32, s.out)
			b.SetBytes(int64(4 * len(w)))
			for b.Loop() {
				_ = pool.MatMul(y, x, w, nil, 1, s.out, s.in)
			}
		})
	}
}

func BenchmarkMatMul(b *testing.B) {
	saved, saved512 := useAsm, use512
	defer func() { useAsm, use512 = saved, saved512 }()
	for _, impl := range []struct {
		name      string
		asm, a512 bool
	}{{"generic", false, false}, {"avx2", true, false}, {"avx512", true, true}} {
		if (impl.asm && !hasAsm) || (impl.a512 && !has512) {
			continue
		}
		useAsm, use512 = impl.asm, impl.a512
		for _, s := range []struct{ n, out, in int }{{64, 768, 768}, {64, 2048, 768}} {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", impl.name, s.n, s.out, s.in), func(b *testing.B) {
				pool := NewPool(0)
				defer pool.Close()
				x, w, y := make([]float32, s.n*s.in), make([]float32, s.out*s.in), make([]float32, s.n*s.out)
				for b.Loop() {
					_ = pool.MatMul(y, x, w, nil, s.n, s.out, s.in)
				}
				b.ReportMetric(float64(2*s.n*s.out*s.in)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestPoolDropsJob checks that a finished call leaves no reference to its
// closure or buffers in the pool.
func TestPoolDropsJob(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	var freed atomic.Int32
	func() {
		buf := make([]float32, 1<<10)
		fn := func(part, lo, hi int) { buf[lo] = 1 }
		runtime.AddCleanup(&buf[0], func(int) { freed.Add(1) }, 0)
		pool.For(64, fn)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for freed.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the pool keeps a finished call's closure alive")
		}
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}
