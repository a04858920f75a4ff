package fss

import (
	"unsafe"

	"github.com/hssee/hssee/hss/internal/aesbatch"
)

// Batched fixed-key hashing. The tree expansions of this package call the PRG G_j(s) = AES_K(s ⊕ j) ⊕
// s ⊕ j (fixed public key K, Matyas–Meyer–Oseas with a tweak: Guo et al., S&P 2020, see doc.go) on many
// independent blocks at once; mmoBlocks computes dst[i] = AES_K(src[i]) ⊕ src[i] for a whole slice.
// The key schedule, the AES-NI and VAES loops, the choice between them and the crypto/aes fallback are
// those of hss/internal/aesbatch; this package keeps only its fused VAES kernels (mmoLeaves16 in
// aes_vaes_amd64.s, dcfEval8 in dcf_avx_amd64.s), which read the same round keys.

// roundKeys is an expanded AES-128 key (11 round keys in FIPS-197 byte order), as the kernels read it.
type roundKeys = aesbatch.Keys128

// expandKey is the AES-128 key schedule.
func expandKey(key [16]byte) roundKeys { return aesbatch.ExpandKey128(key) }

var fixedRoundKeys = expandKey(fixedKey)

// useAESNI reports whether mmoBlocks runs AES-NI assembly.
var useAESNI = aesbatch.MMOLevel >= aesbatch.AESNI

// useVAES reports whether mmoBlocks hashes groups of four blocks with AVX-512 VAES and the fused VAES
// kernels of this package run (the benchmarks clear it to time the AES-NI loop).
var useVAES = aesbatch.MMOLevel >= aesbatch.VAES

// asBlocks views b as the layer's blocks: the same two little-endian words per block.
func asBlocks(b []block) []aesbatch.Block {
	return unsafe.Slice((*aesbatch.Block)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
}

// mmoWith sets dst[i] = AES_rk(src[i]) ⊕ src[i] with the fastest path allowed here; c is crypto/aes
// under the same key, for the portable path.
func mmoWith(rk *roundKeys, c aesbatch.Encrypter, dst, src []block) {
	limit := aesbatch.AESNI
	if useVAES {
		limit = aesbatch.VAES
	}
	aesbatch.MMO(limit, rk, c, asBlocks(dst), asBlocks(src))
}

// mmoBlocks sets dst[i] = AES_K(src[i]) ⊕ src[i] for the fixed key K; dst and src may be the same
// slice (not partially overlapping); len(dst) ≥ len(src).
func mmoBlocks(dst, src []block) { mmoWith(&fixedRoundKeys, fixedCipher, dst, src) }
