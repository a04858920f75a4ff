//go:build !amd64 || purego

package ring

var (
	has512  = false
	use512  = false
	hasAVX2 = false
	useAVX2 = false
)

// The assembly entry points do not exist on this platform; use512 and useAVX2 are always false so
// these are never reached, but they keep the dispatch code portable.

func gemm4x4AVX512(x *uint64, ldx int, w *uint64, ldw int, k int, dst *uint64, ldd int) {
	panic("ring: no assembly kernels")
}

func gemm2x2AVX2(x *uint64, ldx int, w *uint64, ldw int, k int, dst *[4]uint64) {
	panic("ring: no assembly kernels")
}

func dotAVX512(x *uint64, w *uint64, k int) uint64 { panic("ring: no assembly kernels") }

func gemm4x4W32AVX512(x *uint64, ldx int, w *int32, ldw int, k int, dst *uint64, ldd int) {
	panic("ring: no assembly kernels")
}

func gemm2x2W32AVX2(x *uint64, ldx int, w *int32, ldw int, k int, dst *[4]uint64) {
	panic("ring: no assembly kernels")
}

func dotW32AVX512(x *uint64, w *int32, k int) uint64 { panic("ring: no assembly kernels") }

func gemv1x4W32AVX2(x *uint64, w *int32, ldw int, k int, dst *[4]uint64) {
	panic("ring: no assembly kernels")
}

func gemv1x4AVX512(x *uint64, w *uint64, ldw int, k int, dst *uint64) {
	panic("ring: no assembly kernels")
}

func gemv1x4W32AVX512(x *uint64, w *int32, ldw int, k int, dst *uint64) {
	panic("ring: no assembly kernels")
}
