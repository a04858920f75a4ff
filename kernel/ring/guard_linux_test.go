package ring

import (
	"syscall"
	"testing"
	"unsafe"
)

// guarded returns a slice of n T that ends exactly where an inaccessible page begins, so a kernel
// that reads past the end of its operands (a masked tail without fault suppression, say) faults.
func guarded[T uint64 | int32](t *testing.T, n int) []T {
	t.Helper()
	page := syscall.Getpagesize()
	size := int(unsafe.Sizeof(T(0))) * n
	pages := (size+page-1)/page + 1
	mem, err := syscall.Mmap(-1, 0, pages*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[(pages-1)*page:], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	end := (pages - 1) * page
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&mem[end-size])), n)
}

// TestTailsStayInBounds runs both matmuls on operands that end at a guard page, with k tails of
// every length: the masked loads of the AVX-512 kernels must not touch the bytes past the operands.
func TestTailsStayInBounds(t *testing.T) {
	paths(t, func(t *testing.T) {
		for _, s := range [][3]int{{1, 1, 1}, {1, 3, 1}, {1, 7, 2}, {1, 9, 1}, {4, 5, 4}, {4, 1, 4}, {5, 13, 5}, {4, 33, 4}, {1, 39, 3},
			{1, 3, 4}, {1, 9, 4}, {1, 47, 8}, {5, 13, 8}, {1, 40, 4}, {3, 33, 5}} { // the 1×4 kernel too
			m, k, n := s[0], s[1], s[2]
			x, w, w32 := guarded[uint64](t, m*k), guarded[uint64](t, n*k), guarded[int32](t, n*k)
			for i := range x {
				x[i] = uint64(i)*0x9e3779b97f4a7c15 + 1
			}
			for i := range w32 {
				w32[i] = int32(i*2654435761) | 1
				w[i] = uint64(int64(w32[i]))
			}
			want, got, got32 := make([]uint64, m*n), make([]uint64, m*n), make([]uint64, m*n)
			if err := Reference(want, x, m, k, w, n); err != nil {
				t.Fatal(err)
			}
			if err := (CPU{Workers: 1}).RingMatMul(got, x, m, k, w, n); err != nil {
				t.Fatal(err)
			}
			if err := (CPU{Workers: 1}).RingMatMulW32(got32, x, m, k, w32, n); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if got[i] != want[i] || got32[i] != want[i] {
					t.Fatalf("%v: element %d = %#x, w32 %#x, want %#x", s, i, got[i], got32[i], want[i])
				}
			}
		}
	})
}
