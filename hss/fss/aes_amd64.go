//go:build amd64 && !purego

package fss

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
