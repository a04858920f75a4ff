package hss

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
)

// PRG is a deterministic pseudorandom generator: AES-256 in counter mode keyed by a 32-byte seed, with
// an all-zero initial counter block, so the stream is the standard AES-256-CTR keystream of the seed.
// On amd64 with AVX-512 VAES the keystream comes from an assembly loop that encrypts 32 counter blocks
// at a time (prg_amd64.s); elsewhere from crypto/cipher's CTR. Both give the same bytes
// (TestPRGMatchesCTR, TestPRGKnownAnswer). A PRG is not safe for concurrent use.
type PRG struct {
	ctr cipher.Stream // nil on the VAES path
	buf []byte

	// VAES path: the expanded key, the next counter block and the unread tail of the last group of
	// four blocks (left[64-nleft:]).
	rk    aes256Keys
	next  uint64
	left  [64]byte
	nleft int
}

// NewPRG returns the PRG for seed.
func NewPRG(seed [32]byte) *PRG {
	if useVAES {
		return &PRG{rk: expandKey256(seed)}
	}
	blk, err := aes.NewCipher(seed[:])
	if err != nil {
		// Unreachable: a 32-byte key is always a valid AES-256 key.
		panic("hss: prg: " + err.Error())
	}
	var iv [aes.BlockSize]byte
	return &PRG{ctr: cipher.NewCTR(blk, iv[:])}
}

// zeros is the all-zero source the keystream is XORed onto (never written).
var zeros [16 << 10]byte

// Read fills b with the next len(b) bytes of the keystream. It never fails.
func (p *PRG) Read(b []byte) (int, error) {
	n := len(b)
	if p.ctr == nil {
		p.readVAES(b)
		return n, nil
	}
	for len(b) > 0 {
		m := min(len(b), len(zeros))
		p.ctr.XORKeyStream(b[:m], zeros[:m])
		b = b[m:]
	}
	return n, nil
}

func (p *PRG) readVAES(b []byte) {
	if p.nleft > 0 {
		k := copy(b, p.left[64-p.nleft:])
		p.nleft -= k
		b = b[k:]
	}
	if g := len(b) / 64; g > 0 {
		ctrVAES(&p.rk, &b[0], g, p.next)
		p.next += 4 * uint64(g)
		b = b[64*g:]
	}
	if len(b) > 0 {
		ctrVAES(&p.rk, &p.left[0], 1, p.next)
		p.next += 4
		p.nleft = 64 - copy(b, p.left[:])
	}
}

// Uint64s fills dst with the next 8·len(dst) keystream bytes read as little-endian words.
func (p *PRG) Uint64s(dst []uint64) {
	if littleEndian { // the words' memory is the keystream itself
		p.Read(wordBytes(dst))
		return
	}
	const chunk = 4096
	if cap(p.buf) < chunk*8 {
		p.buf = make([]byte, chunk*8)
	}
	for len(dst) > 0 {
		n := min(len(dst), chunk)
		b := p.buf[:n*8]
		p.Read(b)
		for i := range n {
			dst[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
		dst = dst[n:]
	}
}

// Uint64 returns the next keystream word.
func (p *PRG) Uint64() uint64 {
	var b [8]byte
	p.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// aes256Keys is an expanded AES-256 key: 15 round keys of 16 bytes in FIPS-197 byte order, the layout
// AESENC expects.
type aes256Keys [240]byte

// sbox is the AES S-box (FIPS-197 §5.1.1): the inverse in GF(2^8) followed by the affine map.
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

// expandKey256 is the AES-256 key schedule (FIPS-197 §5.2, Nk = 8, Nr = 14).
func expandKey256(key [32]byte) (rk aes256Keys) {
	copy(rk[:32], key[:])
	rcon := byte(1)
	for i := 32; i < len(rk); i += 4 {
		t := [4]byte{rk[i-4], rk[i-3], rk[i-2], rk[i-1]}
		switch i % 32 {
		case 0:
			t = [4]byte{sbox[t[1]] ^ rcon, sbox[t[2]], sbox[t[3]], sbox[t[0]]}
			rcon = rcon<<1 ^ (rcon>>7)*0x1b
		case 16:
			t = [4]byte{sbox[t[0]], sbox[t[1]], sbox[t[2]], sbox[t[3]]}
		}
		for j := range 4 {
			rk[i+j] = rk[i-32+j] ^ t[j]
		}
	}
	return rk
}

// streamScratch returns the first n words of seed's stream (as expand draws them) in a pooled
// buffer; the caller putWords it once nothing refers to it.
func streamScratch(seed [32]byte, n int) []uint64 {
	buf := getWords(n)
	NewPRG(seed).Uint64s(buf)
	return buf
}
