//go:build !amd64 || purego

package fss

var useLinAVX = false

func linDotAVX(lb *block, n int, fin *block, tc *uint64, p, q *uint64, x uint64) uint64 {
	panic("fss: linDotAVX without AVX-512")
}

func polyDotAVX(lb *block, n, halves int, fin *block, tc *uint64, t *uint64, st int, s *[4]uint64) {
	panic("fss: polyDotAVX without AVX-512")
}
