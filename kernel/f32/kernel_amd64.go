//go:build amd64 && !purego

package f32

import "golang.org/x/sys/cpu"

// hasAsm reports whether the CPU can run the AVX2+FMA kernels, has512
// whether it can also run the AVX-512F prefill kernel; useAsm and use512
// select them (tests flip them to exercise every path).
var (
	hasAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	useAsm = hasAsm
	has512 = hasAsm && cpu.X86.HasAVX512F
	use512 = has512
)

// dotAVX2 returns Σ a[i]·b[i], i < n; n is a multiple of 8.
//
//go:noescape
func dotAVX2(a, b *float32, n int) float32

// axpyAVX2 sets y[i] += alpha·x[i], i < n; n is a multiple of 8.
//
//go:noescape
func axpyAVX2(alpha float32, x, y *float32, n int)

// dot4AVX2 sets y[j] = Σ_k w[j*ldw+k]·x[k] for j < 4, k < n; n is a
// multiple of 8.
//
//go:noescape
func dot4AVX2(w *float32, ldw int, x *float32, n int, y *float32)

// gemm3x4AVX2 sets y[i*ldy+j] = Σ_k x[i*ldx+k]·w[j*ldw+k] for i < 3, j < 4,
// k < n; n is a multiple of 8.
//
//go:noescape
func gemm3x4AVX2(x *float32, ldx int, w *float32, ldw int, n int, y *float32, ldy int)

// gemm4x4AVX512 sets y[i*ldy+j] = Σ_k x[i*ldx+k]·w[j*ldw+k] for i, j < 4,
// k < n; n is a multiple of 16.
//
//go:noescape
func gemm4x4AVX512(x *float32, ldx int, w *float32, ldw int, n int, y *float32, ldy int)
