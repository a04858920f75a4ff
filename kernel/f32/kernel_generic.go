//go:build !amd64 || purego

package f32

var (
	hasAsm = false
	useAsm = false
	has512 = false
	use512 = false
)

// The assembly entry points do not exist on this platform; useAsm is always
// false so these are never reached, but they keep the dispatch code portable.

func dotAVX2(a, b *float32, n int) float32 { panic("f32: no assembly kernels") }

func axpyAVX2(alpha float32, x, y *float32, n int) { panic("f32: no assembly kernels") }

func dot4AVX2(w *float32, ldw int, x *float32, n int, y *float32) {
	panic("f32: no assembly kernels")
}

func gemm3x4AVX2(x *float32, ldx int, w *float32, ldw int, n int, y *float32, ldy int) {
	panic("f32: no assembly kernels")
}

func gemm4x4AVX512(x *float32, ldx int, w *float32, ldw int, n int, y *float32, ldy int) {
	panic("f32: no assembly kernels")
}
