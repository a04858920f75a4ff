package hss

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// The reference (pre-fast-path) bit packer and unpacker: one value at a time, no width special cases
// beyond 64 and whole bytes. The fast paths in pack.go must agree with them bit for bit.

func packBitsRef(dst []byte, vals []uint64, bits uint) []byte {
	nb := PackedLen(len(vals), bits)
	start := len(dst)
	dst = append(dst, make([]byte, nb)...)
	out := dst[start:]
	switch {
	case bits == 64:
		for i, v := range vals {
			binary.LittleEndian.PutUint64(out[8*i:], v)
		}
	case bits%8 == 0:
		w := int(bits / 8)
		for i, v := range vals {
			o := out[i*w : i*w+w]
			for j := range o {
				o[j] = byte(v >> (8 * j))
			}
		}
	default:
		mask := Mask(bits)
		var acc uint64
		var nacc uint
		pos := 0
		flush := func() {
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], acc)
			pos += copy(out[pos:], b[:])
		}
		for _, v := range vals {
			v &= mask
			acc |= v << nacc
			if nacc+bits >= 64 {
				flush()
				acc = v >> (64 - nacc) // Go defines a shift by 64 as 0
				nacc = nacc + bits - 64
			} else {
				nacc += bits
			}
		}
		if nacc > 0 {
			flush()
		}
	}
	return dst
}

// UnpackBits decodes n values of the given width from b, which must hold exactly PackedLen(n, bits)
// bytes, into dst (len(dst) ≥ n); every value is in [0, 2^bits).
func unpackBitsRef(dst []uint64, b []byte, n int, bits uint) error {
	if bits < 1 || bits > 64 {
		return fmt.Errorf("hss: unpack: width %d out of range [1,64]", bits)
	}
	if n < 0 || len(dst) < n {
		return fmt.Errorf("hss: unpack: destination holds %d of %d values", len(dst), n)
	}
	if len(b) != PackedLen(n, bits) {
		return fmt.Errorf("hss: unpack: got %d bytes, want %d for %d values of %d bits", len(b), PackedLen(n, bits), n, bits)
	}
	if pad := uint(n*int(bits)) % 8; pad != 0 && b[len(b)-1]>>pad != 0 {
		return fmt.Errorf("hss: unpack: non-zero padding bits")
	}
	switch {
	case bits == 64:
		for i := range n {
			dst[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
	case bits%8 == 0:
		w := int(bits / 8)
		for i := range n {
			var v uint64
			o := b[i*w : i*w+w]
			for j := len(o) - 1; j >= 0; j-- {
				v = v<<8 | uint64(o[j])
			}
			dst[i] = v
		}
	default:
		mask := Mask(bits)
		word := func(k int) uint64 { // k-th little-endian 64-bit word of b, zero-padded
			if 8*k+8 <= len(b) {
				return binary.LittleEndian.Uint64(b[8*k:])
			}
			var t [8]byte
			if 8*k < len(b) {
				copy(t[:], b[8*k:])
			}
			return binary.LittleEndian.Uint64(t[:])
		}
		for i := range n {
			bp := i * int(bits)
			k, off := bp/64, uint(bp%64)
			v := word(k) >> off
			if off+bits > 64 {
				v |= word(k+1) << (64 - off)
			}
			dst[i] = v & mask
		}
	}
	return nil
}

func packTestVals(r *rand.Rand, n int, bits uint, kind int) []uint64 {
	v := make([]uint64, n)
	for i := range v {
		switch kind {
		case 0:
			v[i] = r.Uint64()
		case 1:
			v[i] = ^uint64(0)
		case 2:
			v[i] = r.Uint64() & Mask(bits) // already reduced
		default:
			v[i] = uint64(1) << (r.Uint() % 64)
		}
	}
	return v
}

// TestPackBitsMatchesReference checks the fast packer and unpacker against the reference for every
// width 1..64, lengths around every alignment, and arbitrary prefixes in dst.
func TestPackBitsMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	lens := []int{0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129, 255, 1001, 4097}
	for bits := uint(1); bits <= 64; bits++ {
		for _, n := range lens {
			for kind := range 4 {
				vals := packTestVals(r, n, bits, kind)
				want := packBitsRef([]byte{0xA5, 0x5A}, vals, bits)
				got := PackBits([]byte{0xA5, 0x5A}, vals, bits)
				if !bytes.Equal(got, want) {
					t.Fatalf("bits=%d n=%d kind=%d: PackBits differs from reference", bits, n, kind)
				}
				// Appending into spare capacity (stale bytes there) gives the same bytes.
				buf := make([]byte, 3, 3+len(want)+5)
				for i := range buf[:cap(buf)] {
					buf[:cap(buf)][i] = 0xFF
				}
				got2 := PackBits(buf, vals, bits)
				if !bytes.Equal(got2[3:], want[2:]) || &got2[0] != &buf[0] {
					t.Fatalf("bits=%d n=%d kind=%d: PackBits into spare capacity differs or reallocated", bits, n, kind)
				}
				out, ref := make([]uint64, n+1), make([]uint64, n+1)
				out[n], ref[n] = 0xDEAD, 0xDEAD
				e1, e2 := UnpackBits(out, want[2:], n, bits), unpackBitsRef(ref, want[2:], n, bits)
				if e1 != nil || e2 != nil {
					t.Fatalf("bits=%d n=%d: unpack errors %v / %v", bits, n, e1, e2)
				}
				for i := range out {
					if out[i] != ref[i] {
						t.Fatalf("bits=%d n=%d kind=%d i=%d: UnpackBits %#x, reference %#x", bits, n, kind, i, out[i], ref[i])
					}
				}
			}
		}
	}
}

// TestUnpackBitsMatchesReferenceOnArbitraryBytes feeds random byte strings (right and wrong lengths,
// set padding bits) to both decoders: they must accept and reject the same inputs and decode the same
// values.
func TestUnpackBitsMatchesReferenceOnArbitraryBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for bits := uint(0); bits <= 65; bits++ {
		for _, n := range []int{0, 1, 3, 8, 9, 17, 100} {
			for _, dl := range []int{-1, 0, 1} {
				l := PackedLen(n, bits) + dl
				if l < 0 {
					continue
				}
				b := make([]byte, l)
				for i := range b {
					b[i] = byte(r.Uint())
				}
				for _, fix := range []bool{false, true} {
					if fix && l > 0 && bits > 0 && bits <= 64 {
						if pad := uint(n*int(bits)) % 8; pad != 0 {
							b[l-1] &= byte(1)<<pad - 1
						}
					}
					out, ref := make([]uint64, n), make([]uint64, n)
					e1, e2 := UnpackBits(out, b, n, bits), unpackBitsRef(ref, b, n, bits)
					if (e1 == nil) != (e2 == nil) {
						t.Fatalf("bits=%d n=%d len=%d: errors %v / %v", bits, n, l, e1, e2)
					}
					for i := range out {
						if out[i] != ref[i] {
							t.Fatalf("bits=%d n=%d i=%d: %#x != %#x", bits, n, i, out[i], ref[i])
						}
					}
				}
			}
		}
	}
}

func TestPackBitsWidthZero(t *testing.T) {
	if got := PackBits([]byte{1}, []uint64{5, 6}, 0); !bytes.Equal(got, []byte{1}) {
		t.Fatalf("width 0: %v", got)
	}
}

// FuzzUnpackBitsReference checks the fast decoder against the reference on arbitrary input.
func FuzzUnpackBitsReference(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, uint8(57), uint16(1))
	f.Add(make([]byte, 18), uint8(48), uint16(3))
	f.Fuzz(func(t *testing.T, b []byte, bits uint8, n uint16) {
		out, ref := make([]uint64, n), make([]uint64, n)
		e1, e2 := UnpackBits(out, b, int(n), uint(bits)), unpackBitsRef(ref, b, int(n), uint(bits))
		if (e1 == nil) != (e2 == nil) {
			t.Fatalf("errors %v / %v", e1, e2)
		}
		for i := range out {
			if out[i] != ref[i] {
				t.Fatalf("value %d: %#x != %#x", i, out[i], ref[i])
			}
		}
		if e1 == nil && !bytes.Equal(PackBits(nil, out, uint(bits)), packBitsRef(nil, ref, uint(bits))) {
			t.Fatal("repack differs")
		}
	})
}
