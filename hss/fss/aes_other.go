//go:build !amd64 || purego

package fss

func leafBlocks16(dst, seeds []block) { leafBlocks16Generic(dst, seeds) }

func dcfEval8(rk *roundKeys, seeds, scw, vcw *block, stride, groups, bits int, tcw8, xs *uint64, fin *block, party uint64, out *uint64) {
	panic("fss: dcfEval8 without AVX-512")
}
