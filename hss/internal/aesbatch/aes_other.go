//go:build !amd64 || purego

package aesbatch

// MMOLevel and CTRLevel are Portable: no assembly here (crypto/aes brings the platform's own).
var (
	MMOLevel = Portable
	CTRLevel = Portable
)

func mmoAESNI(rk *Keys128, dst, src *Block, n int) { panic("aesbatch: no AES-NI") }
func mmoVAES(rk *Keys128, dst, src *Block, n int)  { panic("aesbatch: no VAES") }

func ctrVAES(rk *Keys256, dst *byte, groups int, ctr uint64) { panic("aesbatch: no VAES") }
