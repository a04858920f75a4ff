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
