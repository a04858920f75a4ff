//go:build !amd64 || purego

package hss

// useVAES is false: no VAES keystream loop here; PRGs use crypto/cipher's CTR.
var useVAES = false

func ctrVAES(rk *aes256Keys, dst *byte, groups int, ctr uint64) {
	panic("hss: prg: no VAES")
}
