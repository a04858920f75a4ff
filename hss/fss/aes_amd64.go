//go:build amd64 && !purego

package fss

import "golang.org/x/sys/cpu"

// useAESNI reports whether mmoBlocks runs the AES-NI assembly.
var useAESNI = cpu.X86.HasAES && cpu.X86.HasSSE2

// useVAES reports whether mmoBlocks hashes groups of four blocks with AVX-512 VAES (aes_vaes_amd64.s);
// cpu reports the AVX-512 features only where the OS saves the ZMM state.
var useVAES = useAESNI && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VAES

// mmoVAES sets dst[i] = AES_rk(src[i]) ⊕ src[i] for i < n, n a multiple of 4 (aes_vaes_amd64.s).
//
//go:noescape
func mmoVAES(rk *roundKeys, dst, src *block, n int)

// mmoAsm sets dst[i] = AES_rk(src[i]) ⊕ src[i] for i < n (aes_amd64.s).
//
//go:noescape
func mmoAsm(rk *roundKeys, dst, src *block, n int)

func mmoWith(rk *roundKeys, c interface{ Encrypt(dst, src []byte) }, dst, src []block) {
	if len(src) == 0 {
		return
	}
	if useVAES && len(src) >= 4 {
		m := len(src) &^ 3
		mmoVAES(rk, &dst[0], &src[0], m)
		if m < len(src) {
			mmoAsm(rk, &dst[m], &src[m], len(src)-m)
		}
		return
	}
	if useAESNI {
		mmoAsm(rk, &dst[0], &src[0], len(src))
		return
	}
	mmoGeneric(c, dst, src)
}

func mmoFixed(dst, src []block) { mmoWith(&fixedRoundKeys, fixedCipher, dst, src) }

// mmoLeaves16 hashes the 16 leaf blocks of every seed (aes_vaes_amd64.s); see leafBlocks16.
//
//go:noescape
func mmoLeaves16(rk *roundKeys, seeds *block, n int, dst *block)

// leafBlocks16 sets dst[16u+j] to the hash of {seeds[u].lo ⊕ (tweakLeaf + 2j), seeds[u].hi} for
// j < 16: the leaf conversion of payload-4, 3-level leaves, inputs built in registers with VAES.
func leafBlocks16(dst, seeds []block) {
	if len(seeds) == 0 {
		return
	}
	if useVAES {
		mmoLeaves16(&fixedRoundKeys, &seeds[0], len(seeds), &dst[0])
		return
	}
	leafBlocks16Generic(dst, seeds)
}

// dcfEval8 evaluates groups·8 consecutive payload-2 DCF keys with AVX-512 VAES (dcf_avx_amd64.s).
//
//go:noescape
func dcfEval8(rk *roundKeys, seeds, scw, vcw *block, stride, groups, bits int, tcw8, xs *uint64, fin *block, party uint64, out *uint64)
