package hss

import (
	"encoding/binary"
	"fmt"
)

// Mask returns 2^bits − 1 (all ones for bits ≥ 64).
func Mask(bits uint) uint64 {
	if bits >= 64 {
		return ^uint64(0)
	}
	return 1<<bits - 1
}

// PackedLen is the number of bytes PackBits uses for n values of the given width.
func PackedLen(n int, bits uint) int { return (n*int(bits) + 7) / 8 }

// PackBits writes the low bits of every value, little-endian and bit-contiguous, into
// PackedLen(len(vals), bits) bytes appended to dst. bits must be in [1,64].
func PackBits(dst []byte, vals []uint64, bits uint) []byte {
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
func UnpackBits(dst []uint64, b []byte, n int, bits uint) error {
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
