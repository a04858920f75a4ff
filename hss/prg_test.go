package hss

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/hssee/hssee/hss/internal/aesbatch"
)

// ctrStream is the reference: crypto/cipher's AES-256-CTR of seed from counter block start.
func ctrStream(seed [32]byte, start uint64) cipher.Stream {
	blk, err := aes.NewCipher(seed[:])
	if err != nil {
		panic(err)
	}
	var iv [16]byte
	binary.BigEndian.PutUint64(iv[8:], start)
	return cipher.NewCTR(blk, iv[:])
}

// TestPRGMatchesCTR checks every keystream path this CPU has against crypto/cipher for random
// sequences of reads (byte reads of every small length, word reads, large reads), many seeds and
// counter starts near the 32-bit boundary.
func TestPRGMatchesCTR(t *testing.T) {
	levels := []aesbatch.Level{aesbatch.Portable}
	if aesbatch.CTRLevel == aesbatch.VAES {
		levels = append(levels, aesbatch.VAES)
	}
	r := rand.New(rand.NewPCG(21, 22))
	for _, level := range levels {
		for trial := range 60 {
			var seed [32]byte
			for i := range seed {
				seed[i] = byte(r.Uint())
			}
			var start uint64
			if trial%3 == 1 {
				start = 1<<32 - uint64(r.IntN(40))
			} else if trial%3 == 2 {
				start = 1<<63 + uint64(r.IntN(1000))
			}
			p := new(PRG)
			p.ks.Init(seed, start, level)
			ref := ctrStream(seed, start)
			for step := range 40 {
				var n int
				switch r.IntN(4) {
				case 0:
					n = r.IntN(80)
				case 1:
					n = 8 * r.IntN(40)
				case 2:
					n = r.IntN(3000)
				default:
					n = 512*r.IntN(8) + r.IntN(130)
				}
				want := make([]byte, n)
				ref.XORKeyStream(want, want)
				got := make([]byte, n)
				if step%2 == 0 && n%8 == 0 {
					w := make([]uint64, n/8)
					p.Uint64s(w)
					for i, v := range w {
						binary.LittleEndian.PutUint64(got[8*i:], v)
					}
				} else {
					p.Read(got)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("level %d trial %d step %d: %d-byte read differs from AES-256-CTR", level, trial, step, n)
				}
			}
		}
	}
}
