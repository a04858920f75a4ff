// Package aesbatch is the one AES layer under hss and hss/fss: the key schedules, the batched block
// routines and the choice between them on the running CPU.
//
// Two constructions use it. hss's PRG is AES-256 in counter mode (NIST SP 800-38A) keyed by a 32-byte
// seed (CTR). hss/fss hashes tree nodes with fixed-key AES-128 in Matyas–Meyer–Oseas form,
// H(x) = AES_K(x) ⊕ x (MMO); a fixed public key K makes the hash a random permutation plus a
// feed-forward, which is how Guo, Katz, Wang and Yu ("Efficient and Secure Multiparty Computation from
// Fixed-Key Block Ciphers", IEEE S&P 2020) model and prove it. Both are batch workloads: many
// independent blocks under one key, so the amd64 routines keep several blocks in flight to hide the
// AESENC latency (the pipelining of Gueron, "Intel Advanced Encryption Standard (AES) New Instructions
// Set", 2010), eight XMM blocks with AES-NI, or 32 blocks in eight ZMM registers with AVX-512 VAES.
//
// Each routine has up to three implementations, named by Level: Portable (crypto/aes and crypto/cipher,
// which use the platform's own AES instructions where Go has them, e.g. on arm64), AESNI and VAES.
// MMOLevel and CTRLevel are the highest this CPU runs; a caller passes the highest it wants and gets
// the lower of the two, so tests and benchmarks can time a lower path on a faster machine. All levels
// give the same bytes; the tests pin them to crypto/aes and to FIPS-197's known answers.
package aesbatch

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
)

// Block is one 128-bit AES block as two words: Lo holds bytes 0..7 and Hi bytes 8..15, little endian.
// On amd64 its memory is the block's 16 bytes in order, which the assembly relies on.
type Block struct{ Lo, Hi uint64 }

// Level names an implementation of the batched routines; a higher level uses wider instructions.
type Level uint8

const (
	Portable Level = iota // crypto/aes (or crypto/cipher's CTR), one call per block or per buffer
	AESNI                 // 128-bit AES-NI, eight blocks in flight (MMO only)
	VAES                  // AVX-512 VAES, four blocks per ZMM register
)

// Keys128 is an expanded AES-128 key: 11 round keys of 16 bytes in FIPS-197 byte order, the layout
// AESENC and VAESENC expect.
type Keys128 [176]byte

// Keys256 is an expanded AES-256 key: 15 round keys of 16 bytes, laid out as Keys128.
type Keys256 [240]byte

// sbox is the AES S-box (FIPS-197 §5.1.1): the inverse in GF(2^8), then the affine map.
var sbox = func() (s [256]byte) {
	// Powers of the generator 3 give log and exp tables, so inverses are exp[255 − log x].
	var exp [256]byte
	var log [256]int
	x := byte(1)
	for i := range 255 {
		exp[i], log[x] = x, i
		x ^= x<<1 ^ (x>>7)*0x1b // x·3 = x·2 ⊕ x
	}
	rot := func(b byte, n uint) byte { return b<<n | b>>(8-n) }
	for v := range 256 {
		var inv byte
		if v != 0 {
			inv = exp[(255-log[v])%255]
		}
		s[v] = inv ^ rot(inv, 1) ^ rot(inv, 2) ^ rot(inv, 3) ^ rot(inv, 4) ^ 0x63
	}
	return s
}()

// expand is the key expansion of FIPS-197 §5.2 for a key of nk words into rk (4·(nk+7) words): every
// nk-th word is RotWord, SubWord and the round constant, and for nk = 8 the word halfway also SubWord.
func expand(rk, key []byte) {
	nk := len(key)
	copy(rk[:nk], key)
	rcon := byte(1)
	for i := nk; i < len(rk); i += 4 {
		t := [4]byte{rk[i-4], rk[i-3], rk[i-2], rk[i-1]}
		switch {
		case i%nk == 0:
			t = [4]byte{sbox[t[1]] ^ rcon, sbox[t[2]], sbox[t[3]], sbox[t[0]]}
			rcon = rcon<<1 ^ (rcon>>7)*0x1b
		case nk == 32 && i%nk == 16:
			t = [4]byte{sbox[t[0]], sbox[t[1]], sbox[t[2]], sbox[t[3]]}
		}
		for j := range 4 {
			rk[i+j] = rk[i-nk+j] ^ t[j]
		}
	}
}

// ExpandKey128 is the AES-128 key schedule (FIPS-197 §5.2, Nk = 4, Nr = 10).
func ExpandKey128(key [16]byte) (rk Keys128) {
	expand(rk[:], key[:])
	return rk
}

// ExpandKey256 is the AES-256 key schedule (FIPS-197 §5.2, Nk = 8, Nr = 14).
func ExpandKey256(key [32]byte) (rk Keys256) {
	expand(rk[:], key[:])
	return rk
}

// Encrypter is the part of cipher.Block the portable MMO path uses.
type Encrypter interface{ Encrypt(dst, src []byte) }

// MMO sets dst[i] = AES_rk(src[i]) ⊕ src[i] for every i < len(src), at the lower of limit and MMOLevel:
// VAES on the largest multiple of four blocks and AES-NI on the rest, AES-NI alone, or c (crypto/aes
// under the same key) one block at a time. dst and src may be the same slice (not partially
// overlapping); len(dst) ≥ len(src). rk is not read at level Portable.
func MMO(limit Level, rk *Keys128, c Encrypter, dst, src []Block) {
	if len(src) == 0 {
		return
	}
	_ = dst[len(src)-1]
	switch min(limit, MMOLevel) {
	case VAES:
		if len(src) >= 4 {
			m := len(src) &^ 3
			mmoVAES(rk, &dst[0], &src[0], m)
			if m < len(src) {
				mmoAESNI(rk, &dst[m], &src[m], len(src)-m)
			}
			return
		}
		mmoAESNI(rk, &dst[0], &src[0], len(src))
	case AESNI:
		mmoAESNI(rk, &dst[0], &src[0], len(src))
	default:
		mmoPortable(c, dst, src)
	}
}

func mmoPortable(c Encrypter, dst, src []Block) {
	var buf [16]byte
	for i, x := range src {
		binary.LittleEndian.PutUint64(buf[0:8], x.Lo)
		binary.LittleEndian.PutUint64(buf[8:16], x.Hi)
		c.Encrypt(buf[:], buf[:])
		dst[i] = Block{binary.LittleEndian.Uint64(buf[0:8]) ^ x.Lo, binary.LittleEndian.Uint64(buf[8:16]) ^ x.Hi}
	}
}

// CTR is the AES-256 counter-mode keystream of a key (NIST SP 800-38A): the encryptions of the 128-bit
// big-endian counter blocks start, start+1, … (high 64 bits zero). At level VAES it comes from an
// assembly loop that encrypts 32 counter blocks at a time; at Portable from crypto/cipher's CTR. A CTR
// is not safe for concurrent use.
type CTR struct {
	stream cipher.Stream // Portable; nil at VAES

	// VAES: the expanded key, the next counter block and the unread tail of the last group of four
	// blocks (left[64-nleft:]).
	rk    Keys256
	next  uint64
	left  [64]byte
	nleft int
}

// Init (re)starts s as the keystream of key from counter block start, at the lower of limit and
// CTRLevel.
func (s *CTR) Init(key [32]byte, start uint64, limit Level) {
	*s = CTR{}
	if min(limit, CTRLevel) == VAES {
		s.rk, s.next = ExpandKey256(key), start
		return
	}
	blk, err := aes.NewCipher(key[:])
	if err != nil {
		// Unreachable: a 32-byte key is always a valid AES-256 key.
		panic("aesbatch: " + err.Error())
	}
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[8:], start)
	s.stream = cipher.NewCTR(blk, iv[:])
}

// zeros is the all-zero source the portable keystream is XORed onto (never written).
var zeros [16 << 10]byte

// Read fills b with the next len(b) bytes of the keystream.
func (s *CTR) Read(b []byte) {
	if s.stream != nil {
		for len(b) > 0 {
			m := min(len(b), len(zeros))
			s.stream.XORKeyStream(b[:m], zeros[:m])
			b = b[m:]
		}
		return
	}
	if s.nleft > 0 {
		k := copy(b, s.left[64-s.nleft:])
		s.nleft -= k
		b = b[k:]
	}
	if g := len(b) / 64; g > 0 {
		ctrVAES(&s.rk, &b[0], g, s.next)
		s.next += 4 * uint64(g)
		b = b[64*g:]
	}
	if len(b) > 0 {
		ctrVAES(&s.rk, &s.left[0], 1, s.next)
		s.next += 4
		s.nleft = 64 - copy(b, s.left[:])
	}
}
