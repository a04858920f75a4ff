//go:build amd64 && !purego

package fss

import "golang.org/x/sys/cpu"

// useAESNI reports whether mmoBlocks runs the AES-NI assembly.
var useAESNI = cpu.X86.HasAES && cpu.X86.HasSSE2

// mmoAsm sets dst[i] = AES_rk(src[i]) ⊕ src[i] for i < n (aes_amd64.s).
//
//go:noescape
func mmoAsm(rk *roundKeys, dst, src *block, n int)

func mmoWith(rk *roundKeys, c interface{ Encrypt(dst, src []byte) }, dst, src []block) {
	if len(src) == 0 {
		return
	}
	if useAESNI {
		mmoAsm(rk, &dst[0], &src[0], len(src))
		return
	}
	mmoGeneric(c, dst, src)
}

func mmoFixed(dst, src []block) { mmoWith(&fixedRoundKeys, fixedCipher, dst, src) }
