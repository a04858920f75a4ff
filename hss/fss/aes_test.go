package fss

import (
	"crypto/aes"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/hssee/hssee/hss/internal/aesbatch"
)

// newAESForTest returns crypto/aes for key (tests compare the batch paths against it).
func newAESForTest(key [16]byte) aesbatch.Encrypter {
	c, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err)
	}
	return c
}

// mmoGeneric is the portable hash of the layer: crypto/aes c, one block at a time.
func mmoGeneric(c aesbatch.Encrypter, dst, src []block) {
	aesbatch.MMO(aesbatch.Portable, nil, c, asBlocks(dst), asBlocks(src))
}

func blocksFromBytes(b []byte) []block {
	out := make([]block, len(b)/16)
	readBlocks(out, b)
	return out
}

// TestAESKnownAnswer checks the key schedule and both hashing paths against FIPS-197 Appendix C.1
// (AES-128: key 000102…0f, plaintext 00112233…ff, ciphertext 69c4e0d8…c55a).
func TestAESKnownAnswer(t *testing.T) {
	var key [16]byte
	for i := range key {
		key[i] = byte(i)
	}
	pt, _ := hex.DecodeString("00112233445566778899aabbccddeeff")
	want, _ := hex.DecodeString("69c4e0d86a7b0430d8cdb78070b4c55a")
	rk := expandKey(key)
	if got := hex.EncodeToString(rk[160:]); got != "13111d7fe3944a17f307a78b4d2b30c5" {
		t.Fatalf("last round key %s", got)
	}
	src := blocksFromBytes(pt)
	wb := blocksFromBytes(want)
	exp := block{wb[0].lo ^ src[0].lo, wb[0].hi ^ src[0].hi} // MMO: AES(x) ⊕ x
	for _, name := range []string{"generic", "batch"} {
		dst := make([]block, 1)
		if name == "generic" {
			mmoGeneric(newAESForTest(key), dst, src)
		} else {
			mmoWith(&rk, newAESForTest(key), dst, src)
		}
		if dst[0] != exp {
			t.Fatalf("%s: got %x, want %x", name, dst[0], exp)
		}
	}
}

// TestMMOAsmMatchesGeneric compares the batch path (assembly where available) with crypto/aes on
// random blocks, for every length up to 40 (full eight-block groups and tails), in place and not.
func TestMMOAsmMatchesGeneric(t *testing.T) {
	t.Logf("AES-NI assembly in use: %v, VAES: %v", useAESNI, useVAES)
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 40; n++ {
		src := make([]block, n)
		for i := range src {
			src[i] = block{r.Uint64(), r.Uint64()}
		}
		want, got := make([]block, n), make([]block, n)
		mmoGeneric(fixedCipher, want, src)
		mmoBlocks(got, src)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("n=%d: block %d differs", n, i)
			}
		}
		mmoBlocks(src, src)
		for i := range want {
			if src[i] != want[i] {
				t.Fatalf("n=%d in place: block %d differs", n, i)
			}
		}
		h := newHasher()
		for range want {
			x := block{r.Uint64(), r.Uint64()}
			var o [1]block
			mmoBlocks(o[:], []block{x})
			if o[0] != h.g(x, 0) {
				t.Fatal("batch and single-block PRG differ")
			}
		}
	}
}

// TestMMOWithKeys compares the batch path under other keys than the fixed one (a Seeded DPF batch
// hashes its level-Top nodes under its seed) with crypto/aes, for lengths covering the VAES groups
// and the tails.
func TestMMOWithKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 8 {
		var key [16]byte
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		rk, c := expandKey(key), newAESForTest(key)
		for _, n := range []int{1, 3, 4, 7, 8, 9, 31, 64, 67} {
			src := make([]block, n)
			for i := range src {
				src[i] = block{r.Uint64(), r.Uint64()}
			}
			want, got := make([]block, n), make([]block, n)
			mmoGeneric(c, want, src)
			mmoWith(&rk, c, got, src)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("key %x n=%d: block %d differs", key, n, i)
				}
			}
		}
	}
}

func BenchmarkMMOBlocks(b *testing.B) {
	src := make([]block, 1024)
	for i := range src {
		src[i] = block{uint64(i), 7}
	}
	b.SetBytes(16 * 1024)
	for b.Loop() {
		mmoBlocks(src, src)
	}
}

func BenchmarkSingleBlock(b *testing.B) {
	h := newHasher()
	s := block{1, 2}
	b.SetBytes(16)
	for b.Loop() {
		s = h.g(s, 0)
	}
}

// TestLeafBlocks16 pins the register-built leaf conversion (VAES where available) to the portable
// one for every count of leaves up to 9 (the two-leaf loop and the one-leaf tail).
func TestLeafBlocks16(t *testing.T) {
	rng := newRNG(41)
	for n := 0; n <= 9; n++ {
		seeds := make([]block, n)
		for i := range seeds {
			var b [16]byte
			rng.Read(b[:])
			seeds[i] = block{binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])}
		}
		got, want := make([]block, 16*n+1), make([]block, 16*n+1)
		leafBlocks16(got, seeds)
		leafBlocks16Generic(want, seeds)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("n=%d block %d: %x, want %x", n, i, got[i], want[i])
			}
		}
	}
}
