package hss

import (
	"encoding/binary"

	"github.com/hssee/hssee/hss/internal/aesbatch"
)

// PRG is a deterministic pseudorandom generator: AES-256 in counter mode keyed by a 32-byte seed, with
// an all-zero initial counter block, so the stream is the standard AES-256-CTR keystream of the seed.
// The keystream comes from hss/internal/aesbatch's CTR: on amd64 with AVX-512 VAES an assembly loop
// that encrypts 32 counter blocks at a time, elsewhere crypto/cipher's CTR. Both give the same bytes
// (TestPRGMatchesCTR). A PRG is not safe for concurrent use.
type PRG struct {
	ks  aesbatch.CTR
	buf []byte
}

// NewPRG returns the PRG for seed.
func NewPRG(seed [32]byte) *PRG {
	p := new(PRG)
	p.ks.Init(seed, 0, aesbatch.VAES)
	return p
}

// Read fills b with the next len(b) bytes of the keystream. It never fails.
func (p *PRG) Read(b []byte) (int, error) {
	p.ks.Read(b)
	return len(b), nil
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

// streamScratch returns the first n words of seed's stream (as expand draws them) in a pooled
// buffer; the caller putWords it once nothing refers to it.
func streamScratch(seed [32]byte, n int) []uint64 {
	buf := getWords(n)
	NewPRG(seed).Uint64s(buf)
	return buf
}
