//go:build !amd64 || purego

package fss

var useDotAVX = false

func polyDotAVX(lb *block, n, halves int, fin *block, tc *uint64, t *uint64, st int, s *[4]uint64) {
	panic("fss: polyDotAVX without AVX-512")
}
