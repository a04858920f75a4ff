package fss

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
)

// block is a 128-bit PRG seed: lo holds bytes 0..7 and hi bytes 8..15 (little endian).
type block struct{ lo, hi uint64 }

func (b block) xor(c block) block { return block{b.lo ^ c.lo, b.hi ^ c.hi} }

// fixedKey is the public fixed AES key of the PRG (the first 16 bytes of SHA-256("hssee/fss/v1")).
var fixedKey = [16]byte{0x5d, 0x1b, 0x8e, 0x0c, 0x27, 0x94, 0x3a, 0x61, 0xf0, 0x4c, 0x9d, 0x12, 0xb3, 0x7e, 0x05, 0xa8}

var fixedCipher cipher.Block

func init() {
	c, err := aes.NewCipher(fixedKey[:])
	if err != nil {
		panic("fss: fixed AES key: " + err.Error()) // impossible: the key length is constant
	}
	fixedCipher = c
}

// Tweaks of the PRG blocks. Seeds of the left and right child use tweaks 0 and 1; value blocks of the
// DCF use 2+2j+c for child c and value block j; the DPF leaf conversion uses tweakLeaf+j.
const (
	tweakL    = 0
	tweakR    = 1
	tweakV    = 2
	tweakLeaf = 64
)

// hasher evaluates G_j(s) = AES_K(s ⊕ j) ⊕ s ⊕ j with a private scratch buffer, so calls do not allocate.
// A hasher is not safe for concurrent use; each worker owns one.
type hasher struct {
	c   cipher.Block
	buf [16]byte
}

func newHasher() *hasher { return &hasher{c: fixedCipher} }

func (h *hasher) g(s block, tweak uint64) block {
	x := block{s.lo ^ tweak, s.hi}
	binary.LittleEndian.PutUint64(h.buf[0:8], x.lo)
	binary.LittleEndian.PutUint64(h.buf[8:16], x.hi)
	h.c.Encrypt(h.buf[:], h.buf[:])
	return block{binary.LittleEndian.Uint64(h.buf[0:8]) ^ x.lo, binary.LittleEndian.Uint64(h.buf[8:16]) ^ x.hi}
}

// child returns the seed and control bit of child c (0 left, 1 right) of seed s.
func (h *hasher) child(s block, c uint64) (block, uint64) {
	o := h.g(s, tweakL+c)
	t := o.lo & 1
	o.lo &^= 1
	return o, t
}

// values writes the P payload-group elements Convert(v^c) of child c of seed s into dst (len P).
func (h *hasher) values(dst []uint64, s block, c uint64) {
	for j := 0; j < len(dst); j += 2 {
		o := h.g(s, tweakV+uint64(j)+c) // j even: blocks 2+j+c are distinct for all (j, c)
		dst[j] = o.lo
		if j+1 < len(dst) {
			dst[j+1] = o.hi
		}
	}
}

// leaf writes Convert(s) (P group elements) into dst.
func (h *hasher) leaf(dst []uint64, s block) {
	for j := 0; j < len(dst); j += 2 {
		o := h.g(s, tweakLeaf+uint64(j))
		dst[j] = o.lo
		if j+1 < len(dst) {
			dst[j+1] = o.hi
		}
	}
}

func readBlock(rng io.Reader) (block, error) {
	var b [16]byte
	if _, err := io.ReadFull(rng, b[:]); err != nil {
		return block{}, fmt.Errorf("randomness: %w", err)
	}
	return block{binary.LittleEndian.Uint64(b[0:8]), binary.LittleEndian.Uint64(b[8:16])}, nil
}

// bit returns bit i (0 = most significant) of the n-bit value x.
func bit(x uint64, n uint, i uint) uint64 { return (x >> (n - 1 - i)) & 1 }

// sel returns mask-selected a when t == 1, else zero (t is 0 or 1).
func mask64(t uint64) uint64 { return -t }

// leafBlocks16Generic is leafBlocks16 with the portable hash.
func leafBlocks16Generic(dst, seeds []block) {
	dst = dst[:16*len(seeds)]
	for u, s := range seeds {
		for j := range 16 {
			dst[16*u+j] = block{s.lo ^ (tweakLeaf + 2*uint64(j)), s.hi}
		}
	}
	mmoBlocks(dst, dst)
}
