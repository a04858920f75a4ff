//go:build !amd64 || purego

package fss

const useAESNI = false

func mmoWith(_ *roundKeys, c interface{ Encrypt(dst, src []byte) }, dst, src []block) {
	mmoGeneric(c, dst, src)
}

func mmoFixed(dst, src []block) { mmoGeneric(fixedCipher, dst, src) }

// useVAES is false: no AVX-512 VAES path here.
var useVAES = false

func leafBlocks16(dst, seeds []block) { leafBlocks16Generic(dst, seeds) }

func dcfEval8(rk *roundKeys, seeds, scw, vcw *block, stride, groups, bits int, tcw8, xs *uint64, fin *block, party uint64, out *uint64) {
	panic("fss: dcfEval8 without AVX-512")
}
