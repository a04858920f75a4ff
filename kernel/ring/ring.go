package ring

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Check validates the shapes of a ring matmul: x is [m][k], w is [n][k], dst is [m][n], all
// row-major.
func Check(dst, x []uint64, m, k int, w []uint64, n int) error {
	return checkLens(len(dst), len(x), m, k, len(w), n)
}

// checkLens is Check on the slices' lengths (lx of x, lw of w, ld of dst).
func checkLens(ld, lx, m, k, lw, n int) error {
	if m < 0 || k < 0 || n < 0 {
		return fmt.Errorf("ring: matmul: negative shape %dx%dx%d", m, k, n)
	}
	if lx != m*k || lw != n*k || ld != m*n {
		return fmt.Errorf("ring: matmul: shape %dx%dx%d needs x %d, w %d, dst %d values; got %d, %d, %d",
			m, k, n, m*k, n*k, m*n, lx, lw, ld)
	}
	return nil
}

// Reference computes dst[i][j] = Σ_l x[i][l]·w[j][l] mod 2^64 with a plain triple loop on one core.
// It is the correctness oracle and the performance baseline.
func Reference(dst, x []uint64, m, k int, w []uint64, n int) error {
	if err := Check(dst, x, m, k, w, n); err != nil {
		return err
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s uint64
			for l := 0; l < k; l++ {
				s += x[i*k+l] * w[j*k+l]
			}
			dst[i*n+j] = s
		}
	}
	return nil
}

// CheckW32 is Check for int32 weights.
func CheckW32(dst, x []uint64, m, k int, w []int32, n int) error {
	return checkLens(len(dst), len(x), m, k, len(w), n)
}

// ReferenceW32 is the oracle of RingMatMulW32: it widens w (sign extension to int64, then the
// two's-complement uint64) and runs Reference.
func ReferenceW32(dst, x []uint64, m, k int, w []int32, n int) error {
	if err := CheckW32(dst, x, m, k, w, n); err != nil {
		return err
	}
	return Reference(dst, x, m, k, Widen(w), n)
}

// Widen returns w sign-extended to 64-bit ring elements.
func Widen(w []int32) []uint64 {
	out := make([]uint64, len(w))
	for i, v := range w {
		out[i] = uint64(int64(v))
	}
	return out
}

// CPU is the CPU backend: output tiles are distributed over worker goroutines, and each tile is
// computed by a register-blocked micro-kernel (AVX-512 4×4, AVX2 2×2 with a 1×4 for single rows of
// int32 weights, or pure-Go 2×2; see block).
type CPU struct {
	// Workers is the number of goroutines (0: GOMAXPROCS).
	Workers int
}

// Name returns "cpu".
func (CPU) Name() string { return "cpu" }

const (
	tileM = 16 // rows of x per tile
	tileN = 64 // rows of w per tile
)

// RingMatMul computes dst[i][j] = Σ_l x[i][l]·w[j][l] mod 2^64 (x [m][k], w [n][k], dst [m][n]).
func (c CPU) RingMatMul(dst, x []uint64, m, k int, w []uint64, n int) error {
	if err := Check(dst, x, m, k, w, n); err != nil {
		return err
	}
	c.tiles(dst, m, k, n, func(i0, i1, j0, j1 int) { block(dst, x, w, k, n, i0, i1, j0, j1, kernels64) })
	return nil
}

// RingMatMulW32 computes dst[i][j] = Σ_l x[i][l]·int64(w[j][l]) mod 2^64 (x [m][k], w [n][k],
// dst [m][n]): RingMatMul with every weight sign-extended to 64 bits, reading half the weight bytes.
func (c CPU) RingMatMulW32(dst, x []uint64, m, k int, w []int32, n int) error {
	if err := CheckW32(dst, x, m, k, w, n); err != nil {
		return err
	}
	c.tiles(dst, m, k, n, func(i0, i1, j0, j1 int) { block(dst, x, w, k, n, i0, i1, j0, j1, kernels32) })
	return nil
}

// tiles cuts the [m][n] output into tileM×tileN tiles and runs tile on each of them, over the
// workers; shapes are checked. k = 0 clears dst.
func (c CPU) tiles(dst []uint64, m, k, n int, tile func(i0, i1, j0, j1 int)) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		clear(dst)
		return
	}
	tm, tn := (m+tileM-1)/tileM, (n+tileN-1)/tileN
	tiles := tm * tn
	workers := c.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// Small products are not worth a goroutine: waking another thread costs tens of microseconds
	// here, the time the AVX-512 kernels take for about 2^20 multiply-adds (a 1×768×768 decode
	// projection measured 19.6 GOPS on one worker of a 2-core EPYC, 14 on two).
	small := int64(1) << 16
	if use512 {
		small = 1 << 20
	}
	if int64(m)*int64(n)*int64(k) < small {
		workers = 1
	}
	workers = min(workers, tiles)
	run := func(t int) {
		i0, j0 := (t/tn)*tileM, (t%tn)*tileN
		tile(i0, min(i0+tileM, m), j0, min(j0+tileN, n))
	}
	if workers == 1 {
		for t := range tiles {
			run(t)
		}
		return
	}
	// The caller is one of the workers: it starts on the tiles while the others wake up.
	var next atomic.Int64
	work := func() {
		for {
			t := int(next.Add(1) - 1)
			if t >= tiles {
				return
			}
			run(t)
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}

// kernels are the assembly micro-kernels for one weight type (int32 weights are sign-extended as
// they are loaded: VPMOVSXDQ, 8 int32 to 8 int64 lanes, then VPMULLQ as for uint64).
type kernels[W uint64 | int32] struct {
	gemm4x4 func(x *uint64, ldx int, w *W, ldw int, k int, dst *uint64, ldd int) // AVX-512
	gemv1x4 func(x *uint64, w *W, ldw int, k int, dst *uint64)                   // AVX-512
	dot     func(x *uint64, w *W, k int) uint64                                  // AVX-512
	gemm2x2 func(x *uint64, ldx int, w *W, ldw int, k int, dst *[4]uint64)       // AVX2
	gemv4   func(x *uint64, w *W, ldw int, k int, dst *[4]uint64)                // AVX2; nil: the Go dot
}

var (
	kernels64 = &kernels[uint64]{gemm4x4AVX512, gemv1x4AVX512, dotAVX512, gemm2x2AVX2, nil}
	kernels32 = &kernels[int32]{gemm4x4W32AVX512, gemv1x4W32AVX512, dotW32AVX512, gemm2x2W32AVX2, gemv1x4W32AVX2}
)

// block computes dst rows [i0,i1) × columns [j0,j1) with the best micro-kernel the CPU runs (ks:
// the assembly kernels for w's type).
func block[W uint64 | int32](dst, x []uint64, w []W, k, n, i0, i1, j0, j1 int, ks *kernels[W]) {
	switch {
	case use512:
		block512(dst, x, w, k, n, i0, i1, j0, j1, ks)
	case useAVX2:
		blockAVX2(dst, x, w, k, n, i0, i1, j0, j1, ks.gemm2x2, ks.gemv4)
	default:
		blockGo(dst, x, w, k, n, i0, i1, j0, j1)
	}
}

// block512 runs the AVX-512 4×4 kernel over full 4×4 sub-blocks, the AVX-512 1×4 kernel over the
// last m%4 rows (every row for the decode shapes, m = 1), and the AVX-512 dot product over the last
// n%4 columns. The slicing bounds-checks every row the assembly reads or writes.
func block512[W uint64 | int32](dst, x []uint64, w []W, k, n, i0, i1, j0, j1 int, ks *kernels[W]) {
	gemm, gemv, dot := ks.gemm4x4, ks.gemv1x4, ks.dot
	j4 := j0 + (j1-j0)&^3
	i := i0
	for ; i+4 <= i1; i += 4 {
		xi := x[i*k : (i+4)*k]
		for j := j0; j < j4; j += 4 {
			wj := w[j*k : (j+4)*k]
			d := dst[i*n+j : (i+3)*n+j+4]
			gemm(&xi[0], k, &wj[0], k, k, &d[0], n)
		}
		for ii := i; ii < i+4; ii++ {
			for j := j4; j < j1; j++ {
				dst[ii*n+j] = dot(&x[ii*k : (ii+1)*k][0], &w[j*k : (j+1)*k][0], k)
			}
		}
	}
	for ; i < i1; i++ {
		xi := x[i*k : (i+1)*k]
		for j := j0; j < j4; j += 4 {
			gemv(&xi[0], &w[j*k : (j+4)*k][0], k, k, &dst[i*n+j : i*n+j+4][0])
		}
		for j := j4; j < j1; j++ {
			dst[i*n+j] = dot(&xi[0], &w[j*k : (j+1)*k][0], k)
		}
	}
}

// blockAVX2 runs the AVX2 2×2 kernel over full 2×2 sub-blocks (adding the last k%4 products in Go),
// the Go 1×1 path over the last n%2 columns of those rows, and over the last m%2 rows the AVX2 1×4
// kernel gemv on groups of 4 columns (int32 weights; nil for uint64) and the Go 1×1 path on the
// rest, for either weight type (int32 weights are sign-extended: the kernels load them with
// VPMOVSXDQ, Go converts them).
func blockAVX2[W uint64 | int32](dst, x []uint64, w []W, k, n, i0, i1, j0, j1 int,
	gemm func(x *uint64, ldx int, w *W, ldw int, k int, dst *[4]uint64), gemv func(x *uint64, w *W, ldw int, k int, dst *[4]uint64)) {
	k4 := k &^ 3
	i := i0
	for ; i+2 <= i1; i += 2 {
		x0, x1 := x[i*k:(i+1)*k], x[(i+1)*k:(i+2)*k]
		j := j0
		for ; j+2 <= j1; j += 2 {
			w0, w1 := w[j*k:(j+1)*k], w[(j+1)*k:(j+2)*k]
			var s [4]uint64
			gemm(&x0[0], k, &w0[0], k, k4, &s)
			for l := k4; l < k; l++ {
				c, d := uint64(w0[l]), uint64(w1[l])
				s[0] += x0[l] * c
				s[1] += x0[l] * d
				s[2] += x1[l] * c
				s[3] += x1[l] * d
			}
			dst[i*n+j], dst[i*n+j+1] = s[0], s[1]
			dst[(i+1)*n+j], dst[(i+1)*n+j+1] = s[2], s[3]
		}
		for ; j < j1; j++ {
			wj := w[j*k : (j+1)*k]
			dst[i*n+j], dst[(i+1)*n+j] = dot(x0, wj), dot(x1, wj)
		}
	}
	for ; i < i1; i++ {
		xi := x[i*k : (i+1)*k]
		j := j0
		if gemv != nil && k4 > 0 {
			for ; j+4 <= j1; j += 4 {
				wj := w[j*k : (j+4)*k]
				var s [4]uint64
				gemv(&xi[0], &wj[0], k, k4, &s)
				for c := range 4 {
					wc := wj[c*k : (c+1)*k]
					for l := k4; l < k; l++ {
						s[c] += xi[l] * uint64(wc[l])
					}
				}
				copy(dst[i*n+j:i*n+j+4], s[:])
			}
		}
		for ; j < j1; j++ {
			dst[i*n+j] = dot(xi, w[j*k:(j+1)*k])
		}
	}
}

// blockGo is the pure-Go path: a 2×2 register-blocked micro-kernel (four dot products share every
// load; measured faster than 4×2, which spills registers on amd64), for either weight type.
func blockGo[W uint64 | int32](dst, x []uint64, w []W, k, n, i0, i1, j0, j1 int) {
	i := i0
	for ; i+2 <= i1; i += 2 {
		x0, x1 := x[i*k:i*k+k], x[(i+1)*k:(i+1)*k+k]
		j := j0
		for ; j+2 <= j1; j += 2 {
			s00, s01, s10, s11 := dot2x2(x0, x1, w[j*k:j*k+k], w[(j+1)*k:(j+1)*k+k])
			dst[i*n+j], dst[i*n+j+1] = s00, s01
			dst[(i+1)*n+j], dst[(i+1)*n+j+1] = s10, s11
		}
		for ; j < j1; j++ {
			wj := w[j*k : j*k+k]
			dst[i*n+j], dst[(i+1)*n+j] = dot(x0, wj), dot(x1, wj)
		}
	}
	for ; i < i1; i++ {
		xi := x[i*k : i*k+k]
		for j := j0; j < j1; j++ {
			dst[i*n+j] = dot(xi, w[j*k:j*k+k])
		}
	}
}

// dot is Σ a[l]·b[l] mod 2^64 (int32 weights sign-extended).
func dot[W uint64 | int32](a []uint64, b []W) uint64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 uint64
	l := 0
	for ; l+4 <= len(a); l += 4 {
		s0 += a[l] * uint64(b[l])
		s1 += a[l+1] * uint64(b[l+1])
		s2 += a[l+2] * uint64(b[l+2])
		s3 += a[l+3] * uint64(b[l+3])
	}
	for ; l < len(a); l++ {
		s0 += a[l] * uint64(b[l])
	}
	return s0 + s1 + s2 + s3
}

func dot2x2[W uint64 | int32](x0, x1 []uint64, w0, w1 []W) (s00, s01, s10, s11 uint64) {
	x1, w0, w1 = x1[:len(x0)], w0[:len(x0)], w1[:len(x0)]
	for l, a := range x0 {
		b := x1[l]
		c, d := uint64(w0[l]), uint64(w1[l])
		s00 += a * c
		s01 += a * d
		s10 += b * c
		s11 += b * d
	}
	return
}
