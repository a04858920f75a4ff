//go:build amd64 && !purego

package aesbatch

import "golang.org/x/sys/cpu"

// MMOLevel is the highest level MMO runs here: VAES with AVX-512F and VAES (cpu reports the AVX-512
// features only where the OS saves the ZMM state), AESNI with AES-NI and SSE2.
var MMOLevel = func() Level {
	switch {
	case !cpu.X86.HasAES || !cpu.X86.HasSSE2:
		return Portable
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512VAES:
		return VAES
	}
	return AESNI
}()

// CTRLevel is the highest level CTR runs here: VAES with AES-NI, AVX-512F, AVX-512BW (the counter
// shuffle is a ZMM VPSHUFB) and VAES; otherwise Portable.
var CTRLevel = func() Level {
	if cpu.X86.HasAES && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VAES {
		return VAES
	}
	return Portable
}()

// mmoAESNI sets dst[i] = AES_rk(src[i]) ⊕ src[i] for i < n (mmo_amd64.s).
//
//go:noescape
func mmoAESNI(rk *Keys128, dst, src *Block, n int)

// mmoVAES sets dst[i] = AES_rk(src[i]) ⊕ src[i] for i < n, n a multiple of 4 (mmo_vaes_amd64.s).
//
//go:noescape
func mmoVAES(rk *Keys128, dst, src *Block, n int)

// ctrVAES writes groups·64 bytes of AES-256-CTR keystream to dst: the encryptions under rk of the
// counter blocks ctr, ctr+1, …, ctr+4·groups−1 (128-bit big-endian, high 64 bits zero). groups ≥ 1
// (ctr_vaes_amd64.s).
//
//go:noescape
func ctrVAES(rk *Keys256, dst *byte, groups int, ctr uint64)
