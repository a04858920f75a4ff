//go:build amd64 && !purego

package ring

import "golang.org/x/sys/cpu"

// has512 reports whether the CPU can run the AVX-512 kernels (F for the 512-bit ops and masks, DQ
// for VPMULLQ, VL for the 256-bit EVEX ops of the final reduction), hasAVX2 whether it can run the
// AVX2 kernel; use512 and useAVX2 select them (tests flip them to exercise every path).
var (
	has512  = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL
	use512  = has512
	hasAVX2 = cpu.X86.HasAVX2
	useAVX2 = hasAVX2
)

// gemm4x4AVX512 sets dst[i*ldd+j] = Σ_l x[i*ldx+l]·w[j*ldw+l] mod 2^64 for i, j < 4, l < k; k ≥ 1.
//
//go:noescape
func gemm4x4AVX512(x *uint64, ldx int, w *uint64, ldw int, k int, dst *uint64, ldd int)

// gemm2x2AVX2 sets dst = [s00, s01, s10, s11], s_ij = Σ_l x[i*ldx+l]·w[j*ldw+l] mod 2^64 for
// l < k&^3.
//
//go:noescape
func gemm2x2AVX2(x *uint64, ldx int, w *uint64, ldw int, k int, dst *[4]uint64)

// dotAVX512 returns Σ_l x[l]·w[l] mod 2^64 for l < k; k ≥ 0.
//
//go:noescape
func dotAVX512(x *uint64, w *uint64, k int) uint64

// gemm4x4W32AVX512 is gemm4x4AVX512 with int32 weights, sign-extended to 64 bits as they are loaded.
//
//go:noescape
func gemm4x4W32AVX512(x *uint64, ldx int, w *int32, ldw int, k int, dst *uint64, ldd int)

// gemm2x2W32AVX2 is gemm2x2AVX2 with int32 weights, sign-extended to 64 bits as they are loaded.
//
//go:noescape
func gemm2x2W32AVX2(x *uint64, ldx int, w *int32, ldw int, k int, dst *[4]uint64)

// gemv1x4W32AVX2 sets dst[j] = Σ_l x[l]·int64(w[j*ldw+l]) mod 2^64 for j < 4, l < k&^3: one row of x
// against four weight rows (a decode step's matrix-vector products).
//
//go:noescape
func gemv1x4W32AVX2(x *uint64, w *int32, ldw int, k int, dst *[4]uint64)

// dotW32AVX512 returns Σ_l x[l]·int64(w[l]) mod 2^64 for l < k; k ≥ 0.
//
//go:noescape
func dotW32AVX512(x *uint64, w *int32, k int) uint64

// gemv1x4AVX512 sets dst[j] = Σ_l x[l]·w[j*ldw+l] mod 2^64 for j < 4, l < k; k ≥ 1.
//
//go:noescape
func gemv1x4AVX512(x *uint64, w *uint64, ldw int, k int, dst *uint64)

// gemv1x4W32AVX512 is gemv1x4AVX512 with int32 weights, sign-extended to 64 bits as they are loaded.
//
//go:noescape
func gemv1x4W32AVX512(x *uint64, w *int32, ldw int, k int, dst *uint64)
