//go:build amd64 && !purego

package hss

import "golang.org/x/sys/cpu"

// useVAES reports whether PRGs generate their keystream with the AVX-512 VAES loop (prg_amd64.s),
// four counter blocks per ZMM register; cpu reports the AVX-512 features only where the OS saves the
// ZMM state.
var useVAES = cpu.X86.HasAES && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VAES

// ctrVAES writes groups·64 bytes of AES-256-CTR keystream to dst: the encryptions under rk of the
// counter blocks ctr, ctr+1, …, ctr+4·groups−1 (128-bit big-endian, high 64 bits zero). groups ≥ 1.
//
//go:noescape
func ctrVAES(rk *aes256Keys, dst *byte, groups int, ctr uint64)
