package hss

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
)

// PRG is a deterministic pseudorandom generator: AES-256 in counter mode keyed by a 32-byte seed, with
// an all-zero initial counter block, so the stream is the standard AES-256-CTR keystream of the seed.
// A PRG is not safe for concurrent use.
type PRG struct {
	ctr cipher.Stream
	buf []byte
}

// NewPRG returns the PRG for seed.
func NewPRG(seed [32]byte) *PRG {
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
	for len(b) > 0 {
		m := min(len(b), len(zeros))
		p.ctr.XORKeyStream(b[:m], zeros[:m])
		b = b[m:]
	}
	return n, nil
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
