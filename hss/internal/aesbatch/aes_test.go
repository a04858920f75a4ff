package aesbatch

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// TestExpandKnownAnswer checks both key schedules against FIPS-197: the last round key of the
// expansions of Appendix A.1 (AES-128) and A.3 (AES-256), and of the AES-128 key of Appendix C.1.
func TestExpandKnownAnswer(t *testing.T) {
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var k128, c1 [16]byte
	copy(k128[:], unhex("2b7e151628aed2a6abf7158809cf4f3c"))
	for i := range c1 {
		c1[i] = byte(i)
	}
	var k256 [32]byte
	copy(k256[:], unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"))
	rkA1, rkC1, rkA3 := ExpandKey128(k128), ExpandKey128(c1), ExpandKey256(k256)
	for _, c := range []struct {
		name       string
		last, want string
	}{
		{"A.1", hex.EncodeToString(rkA1[160:]), "d014f9a8c9ee2589e13f0cc8b6630ca6"},
		{"C.1", hex.EncodeToString(rkC1[160:]), "13111d7fe3944a17f307a78b4d2b30c5"},
		{"A.3", hex.EncodeToString(rkA3[224:]), "fe4890d1e6188d0b046df344706c631e"},
	} {
		if c.last != c.want {
			t.Errorf("%s: last round key %s, want %s", c.name, c.last, c.want)
		}
	}
}

// levels lists the levels up to top.
func levels(top Level) []Level {
	var ls []Level
	for l := Portable; l <= top; l++ {
		ls = append(ls, l)
	}
	return ls
}

// TestMMO pins every MMO level this CPU has to crypto/aes, under random keys, for every length up to
// 40 and a few longer ones (the VAES and AES-NI groups and their tails), in place and not.
func TestMMO(t *testing.T) {
	t.Logf("MMO level %d, CTR level %d", MMOLevel, CTRLevel)
	r := rand.New(rand.NewPCG(5, 6))
	for trial := range 6 {
		var key [16]byte
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		rk := ExpandKey128(key)
		c, err := aes.NewCipher(key[:])
		if err != nil {
			t.Fatal(err)
		}
		for n := range 100 {
			if n > 40 && n%9 != 0 {
				continue
			}
			src := make([]Block, n)
			for i := range src {
				src[i] = Block{r.Uint64(), r.Uint64()}
			}
			want := make([]Block, n)
			var buf [16]byte
			for i, x := range src {
				binary.LittleEndian.PutUint64(buf[:8], x.Lo)
				binary.LittleEndian.PutUint64(buf[8:], x.Hi)
				c.Encrypt(buf[:], buf[:])
				want[i] = Block{binary.LittleEndian.Uint64(buf[:8]) ^ x.Lo, binary.LittleEndian.Uint64(buf[8:]) ^ x.Hi}
			}
			for _, l := range levels(MMOLevel) {
				got := make([]Block, n)
				MMO(l, &rk, c, got, src)
				in := append([]Block(nil), src...)
				MMO(l, &rk, c, in, in)
				for i := range want {
					if got[i] != want[i] || in[i] != want[i] {
						t.Fatalf("trial %d level %d n=%d: block %d differs", trial, l, n, i)
					}
				}
			}
		}
	}
}

// TestCTR pins every CTR level this CPU has to crypto/cipher's AES-256-CTR, from counter starts
// at 0 and where the low 32 and 64 bits of the counter block wrap, over reads of uneven lengths.
func TestCTR(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	lv := []Level{Portable}
	if CTRLevel == VAES {
		lv = append(lv, VAES)
	}
	for _, start := range []uint64{0, 1<<32 - 3, 1<<63 - 5} {
		var key [32]byte
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		blk, err := aes.NewCipher(key[:])
		if err != nil {
			t.Fatal(err)
		}
		var iv [16]byte
		binary.BigEndian.PutUint64(iv[8:], start)
		want := make([]byte, 3000)
		cipher.NewCTR(blk, iv[:]).XORKeyStream(want, want)
		for _, l := range lv {
			var s CTR
			s.Init(key, start, l)
			got := make([]byte, len(want))
			for b := got; len(b) > 0; {
				n := min(len(b), r.IntN(700))
				s.Read(b[:n])
				b = b[n:]
			}
			if string(got) != string(want) {
				t.Fatalf("start %d level %d: keystream differs", start, l)
			}
		}
	}
}
