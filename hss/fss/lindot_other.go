//go:build !amd64 || purego

package fss

var useLinAVX = false

func linDotAVX(lb *block, n int, fin *block, tc *uint64, p, q *uint64, x uint64) uint64 {
	panic("fss: linDotAVX without AVX-512")
}
