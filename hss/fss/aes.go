package fss

import (
	"crypto/aes"
	"encoding/binary"
)

// Batched fixed-key hashing. The tree expansions of this package call the PRG G_j(s) = AES_K(s ⊕ j) ⊕
// s ⊕ j (fixed public key K, Matyas–Meyer–Oseas with a tweak) on many independent blocks at once;
// mmoBlocks computes dst[i] = AES_K(src[i]) ⊕ src[i] for a whole slice. On amd64 with AES-NI it runs
// an assembly loop that keeps eight blocks in flight (aes_amd64.s, as in the pipelined AES-NI
// implementations of Gueron, "Intel Advanced Encryption Standard (AES) New Instructions Set", 2010);
// elsewhere (or with the purego build tag) it uses crypto/aes one block at a time. Both give the same
// bytes (TestMMOAsmMatchesGeneric, TestAESKnownAnswer).

// roundKeys is an expanded AES-128 key: 11 round keys of 16 bytes in FIPS-197 byte order, the layout
// AESENC expects.
type roundKeys [176]byte

var sbox = func() (s [256]byte) {
	mul := func(a, b byte) byte {
		var p byte
		for b != 0 {
			if b&1 != 0 {
				p ^= a
			}
			hi := a & 0x80
			a <<= 1
			if hi != 0 {
				a ^= 0x1b
			}
			b >>= 1
		}
		return p
	}
	for x := 0; x < 256; x++ {
		var inv byte
		for y := 1; y < 256 && x != 0; y++ {
			if mul(byte(x), byte(y)) == 1 {
				inv = byte(y)
				break
			}
		}
		rot := func(b byte, n uint) byte { return b<<n | b>>(8-n) }
		s[x] = inv ^ rot(inv, 1) ^ rot(inv, 2) ^ rot(inv, 3) ^ rot(inv, 4) ^ 0x63
	}
	return s
}()

// expandKey is the AES-128 key schedule (FIPS-197 §5.2).
func expandKey(key [16]byte) (rk roundKeys) {
	copy(rk[:16], key[:])
	rcon := byte(1)
	for i := 16; i < len(rk); i += 4 {
		t := [4]byte{rk[i-4], rk[i-3], rk[i-2], rk[i-1]}
		if i%16 == 0 {
			t = [4]byte{sbox[t[1]] ^ rcon, sbox[t[2]], sbox[t[3]], sbox[t[0]]}
			rcon = rcon<<1 ^ (rcon>>7)*0x1b
		}
		for j := range 4 {
			rk[i+j] = rk[i-16+j] ^ t[j]
		}
	}
	return rk
}

var fixedRoundKeys = expandKey(fixedKey)

// mmoGeneric is the portable mmoBlocks for the key whose crypto/aes cipher is c.
func mmoGeneric(c interface{ Encrypt(dst, src []byte) }, dst, src []block) {
	var buf [16]byte
	for i, x := range src {
		binary.LittleEndian.PutUint64(buf[0:8], x.lo)
		binary.LittleEndian.PutUint64(buf[8:16], x.hi)
		c.Encrypt(buf[:], buf[:])
		dst[i] = block{binary.LittleEndian.Uint64(buf[0:8]) ^ x.lo, binary.LittleEndian.Uint64(buf[8:16]) ^ x.hi}
	}
}

// mmoBlocks sets dst[i] = AES_K(src[i]) ⊕ src[i] for the fixed key K; dst and src may be the same
// slice (not partially overlapping); len(dst) ≥ len(src).
func mmoBlocks(dst, src []block) {
	if len(src) == 0 {
		return
	}
	_ = dst[len(src)-1]
	mmoFixed(dst, src)
}

// newAESForTest returns crypto/aes for key (tests compare the batch paths against it).
func newAESForTest(key [16]byte) interface{ Encrypt(dst, src []byte) } {
	c, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err)
	}
	return c
}
