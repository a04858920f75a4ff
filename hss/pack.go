package hss

import (
	"encoding/binary"
	"fmt"
	"slices"
	"unsafe"
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

// littleEndian reports whether the machine stores uint64 little-endian, so a []uint64 can be read
// as the bytes of PackBits(·, 64) directly.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// wordBytes views w as its 8·len(w) bytes of memory (little-endian machines only).
func wordBytes(w []uint64) []byte {
	if len(w) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), 8*len(w))
}

// PackBits writes the low bits of every value, little-endian and bit-contiguous, into
// PackedLen(len(vals), bits) bytes appended to dst. bits must be in [1,64]. When dst has the
// capacity, nothing is allocated.
func PackBits(dst []byte, vals []uint64, bits uint) []byte {
	if bits > 64 {
		panic(fmt.Sprintf("hss: pack: width %d out of range [1,64]", bits))
	}
	nb := PackedLen(len(vals), bits)
	start := len(dst)
	dst = slices.Grow(dst, nb)[:start+nb]
	packInto(dst[start:], vals, bits)
	return dst
}

// packInto writes every byte of out = PackBits(nil, vals, bits) (len(out) == PackedLen(len(vals),
// bits), bits in [0,64]).
func packInto(out []byte, vals []uint64, bits uint) {
	switch {
	case bits == 0:
	case bits == 64:
		if littleEndian {
			copy(out, wordBytes(vals))
			return
		}
		for i, v := range vals {
			binary.LittleEndian.PutUint64(out[8*i:], v)
		}
	case bits%8 == 0:
		// Whole bytes: one 8-byte store per value at stride w; the next store overwrites the high
		// bytes, so only the last values (whose store would run past the end) go byte by byte.
		w := int(bits / 8)
		i, o := packBytes(out, vals, w, Mask(bits))
		for ; i < len(vals); i, o = i+1, o+w {
			v := vals[i]
			for j := range w {
				out[o+j] = byte(v >> (8 * j))
			}
		}
	case bits < 32:
		// Two values per step, as one value of 2·bits < 64 bits.
		mask := Mask(bits)
		n2 := len(vals) &^ 1
		var st packState
		i := st.run2(out, vals[:n2], bits, true)
		i += st.run(out, vals[i:n2], bits, true)
		for ; i < n2; i += 2 {
			st.step(out, vals[i]&mask|(vals[i+1]&mask)<<bits, 2*bits)
		}
		if n2 < len(vals) {
			st.step(out, vals[n2]&mask, bits)
		}
		st.tail(out)
	default:
		var st packState
		i := st.run2(out, vals, bits, false)
		i += st.run(out, vals[i:], bits, false)
		mask := Mask(bits)
		for ; i < len(vals); i++ {
			st.step(out, vals[i]&mask, bits)
		}
		st.tail(out)
	}
}

// packBytes stores values of w whole bytes, one 8-byte store at w·i per value, while the store stays
// inside out; it returns the number of values stored and the byte offset reached.
func packBytes(out []byte, vals []uint64, w int, mask uint64) (int, int) {
	i, o := 0, 0
	for ; i < len(vals) && o+8 <= len(out); i, o = i+1, o+w {
		binary.LittleEndian.PutUint64(out[o:o+8], vals[i]&mask)
	}
	return i, o
}

// packState is the bit packer's pending output: the low nacc (< 64) bits of acc go at byte pos.
type packState struct {
	acc  uint64
	nacc uint
	pos  int
}

// run packs values (pairs of values if pair) from the start of vals while a whole word can be stored
// at pos, without data-dependent branches: it stores the accumulator after every value and moves on a
// word when it is full. It returns the number of values consumed.
func (s *packState) run(out []byte, vals []uint64, bits uint, pair bool) int {
	mask := Mask(bits)
	acc, nacc, pos := s.acc, s.nacc, s.pos
	i := 0
	if pair {
		for ; i+1 < len(vals) && pos+8 <= len(out); i += 2 {
			acc, nacc, pos = put(out, pos, acc, vals[i]&mask|(vals[i+1]&mask)<<bits, nacc, 2*bits)
		}
	} else {
		for ; i < len(vals) && pos+8 <= len(out); i++ {
			acc, nacc, pos = put(out, pos, acc, vals[i]&mask, nacc, bits)
		}
	}
	s.acc, s.nacc, s.pos = acc, nacc, pos
	return i
}

// run2 is run over the longest prefix of vals made of two halves of a multiple of 64 values each (so
// both halves start on a word), packed as two independent chains interleaved for instruction-level
// parallelism. It must start on a word (s zero) and returns the number of values consumed, leaving s
// at the end of the prefix (on a word again).
func (s *packState) run2(out []byte, vals []uint64, bits uint, pair bool) int {
	h := len(vals) / 2 &^ 63
	if h == 0 {
		return 0
	}
	mask := Mask(bits)
	a, b := vals[:h], vals[h:2*h]
	oa, ob := out[:h*int(bits)/8], out[h*int(bits)/8:2*h*int(bits)/8]
	var acc0, acc1 uint64
	var nacc uint // the halves' bit offsets agree, so one offset and one position serve both
	pos := 0
	if pair {
		w := 2 * bits
		for i := 0; i+1 < h; i += 2 {
			acc0, acc1, nacc, pos = put2(oa, ob, pos, acc0, acc1, a[i]&mask|(a[i+1]&mask)<<bits, b[i]&mask|(b[i+1]&mask)<<bits, nacc, w)
		}
	} else {
		for i := range h {
			acc0, acc1, nacc, pos = put2(oa, ob, pos, acc0, acc1, a[i]&mask, b[i]&mask, nacc, bits)
		}
	}
	s.acc, s.nacc, s.pos = 0, 0, len(oa)+len(ob)
	return 2 * h
}

// put is one step of run and run2 without data-dependent branches: it stores acc | v<<nacc (v of
// w < 64 bits, reduced) as the word at pos and returns the pending output moved on by w bits: when
// the word is full, pos moves on a word and acc keeps the top nacc bits of v.
func put(out []byte, pos int, acc, v uint64, nacc, w uint) (uint64, uint, int) {
	acc |= v << nacc
	binary.LittleEndian.PutUint64(out[pos:pos+8], acc)
	nacc += w
	full := uint64(nacc >> 6)
	nacc &= 63
	m := -full
	return acc&^m | v>>(w-nacc)&m, nacc, pos + int(full)<<3
}

// put2 is put for run2's two chains, which share the offset and position.
func put2(oa, ob []byte, pos int, acc0, acc1, v0, v1 uint64, nacc, w uint) (uint64, uint64, uint, int) {
	acc0 |= v0 << nacc
	acc1 |= v1 << nacc
	binary.LittleEndian.PutUint64(oa[pos:pos+8], acc0)
	binary.LittleEndian.PutUint64(ob[pos:pos+8], acc1)
	nacc += w
	full := uint64(nacc >> 6)
	nacc &= 63
	m := -full
	return acc0&^m | v0>>(w-nacc)&m, acc1&^m | v1>>(w-nacc)&m, nacc, pos + int(full)<<3
}

// step adds one value of the given width (< 64 bits, already reduced).
func (s *packState) step(out []byte, v uint64, bits uint) {
	s.acc |= v << s.nacc
	s.nacc += bits
	if s.nacc >= 64 {
		binary.LittleEndian.PutUint64(out[s.pos:], s.acc)
		s.pos += 8
		s.nacc -= 64
		s.acc = v >> (bits - s.nacc) // Go defines a shift by 64 as 0
	}
}

// tail writes the remaining bytes (the padding bits are zero).
func (s *packState) tail(out []byte) {
	acc := s.acc
	for pos := s.pos; pos < len(out); pos++ {
		out[pos] = byte(acc)
		acc >>= 8
	}
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
	if err := checkPacked(b, n, bits); err != nil {
		return err
	}
	unpackInto(dst[:n], b, bits)
	return nil
}

// checkPacked checks that b can be PackBits of n values of width bits (in [1,64]): exactly
// PackedLen(n, bits) bytes with zero padding bits.
func checkPacked(b []byte, n int, bits uint) error {
	if len(b) != PackedLen(n, bits) {
		return fmt.Errorf("hss: unpack: got %d bytes, want %d for %d values of %d bits", len(b), PackedLen(n, bits), n, bits)
	}
	if pad := uint(n*int(bits)) % 8; pad != 0 && b[len(b)-1]>>pad != 0 {
		return fmt.Errorf("hss: unpack: non-zero padding bits")
	}
	return nil
}

// unpackAddChunk is how many values unpackAddInto decodes before adding them in, so the decoded
// values are still in L1.
const unpackAddChunk = 512

// unpackAddInto sets dst[i] = (value i of b + add[i]) mod 2^bits for b checked by checkPacked for
// len(dst) values (len(add) == len(dst); add may be dst itself, but not overlap it otherwise).
func unpackAddInto(dst []uint64, b []byte, bits uint, add []uint64) {
	add = add[:len(dst)]
	mask := Mask(bits)
	var t [unpackAddChunk]uint64
	for c := 0; c < len(dst); c += unpackAddChunk {
		e := min(c+unpackAddChunk, len(dst))
		d, a, v := dst[c:e], add[c:e], t[:e-c]
		unpackInto(v, b[c*int(bits)/8:], bits) // c is a multiple of 8: the chunk starts on a byte
		for i := range d {
			d[i] = (v[i] + a[i]) & mask
		}
	}
}

// unpackInto decodes len(dst) values from the start of b, which holds at least PackedLen(len(dst),
// bits) bytes (any more are not read into dst).
func unpackInto(dst []uint64, b []byte, bits uint) {
	if bits == 64 {
		if littleEndian {
			copy(wordBytes(dst), b)
			return
		}
		for i := range dst {
			dst[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
		return
	}
	mask := Mask(bits)
	var i, bp int // value i starts at bit bp = i·bits: byte bp/8, bit bp%8
	switch {
	case bits%8 == 0:
		i, bp = unpackBytes(dst, b, int(bits/8), mask)
	case bits <= 56:
		i, bp = unpackShort(dst, b, bits, mask)
	default:
		i, bp = unpackLong(dst, b, bits, mask)
	}
	for ; i < len(dst); i++ { // the last values: loads clipped to the end of b
		k, off := bp>>3, uint(bp&7)
		var t [9]byte
		copy(t[:], b[k:])
		dst[i] = load9(t[:], off) & mask
		bp += int(bits)
	}
}

// unpackBytes decodes values of w whole bytes (value i is the low bits of the 8 bytes at w·i) while
// such a load stays inside b; it returns the number decoded and the bit position reached.
func unpackBytes(dst []uint64, b []byte, w int, mask uint64) (int, int) {
	i, k := 0, 0
	for ; i < len(dst) && k+8 <= len(b); i, k = i+1, k+w {
		dst[i] = binary.LittleEndian.Uint64(b[k:k+8]) & mask
	}
	return i, 8 * k
}

// unpackShort decodes values of at most 56 bits (bp%8 + bits ≤ 63: one unaligned 8-byte load holds
// the whole value) while the load stays inside b.
func unpackShort(dst []uint64, b []byte, bits uint, mask uint64) (int, int) {
	n := loadable(len(dst), len(b), bits, 8)
	for i := range n {
		bp := i * int(bits)
		dst[i] = binary.LittleEndian.Uint64(b[bp>>3:bp>>3+8]) >> (bp & 7) & mask
	}
	return n, n * int(bits)
}

// unpackLong decodes values of 57..63 bits, which may reach into a ninth byte, while the loads stay
// inside b.
func unpackLong(dst []uint64, b []byte, bits uint, mask uint64) (int, int) {
	n := loadable(len(dst), len(b), bits, 9)
	for i := range n {
		bp := i * int(bits)
		dst[i] = load9(b[bp>>3:bp>>3+9], uint(bp&7)) & mask
	}
	return n, n * int(bits)
}

// loadable is how many of n values of the given width, from the start of nb bytes, can be read with
// a load of span bytes at each value's first byte inside the bytes.
func loadable(n, nb int, bits uint, span int) int {
	if nb < span {
		return 0
	}
	return min(n, (8*(nb-span)+7)/int(bits)+1)
}

// load9 returns the 64 bits from bit off (< 8) of the 9 bytes g.
func load9(g []byte, off uint) uint64 {
	return binary.LittleEndian.Uint64(g[:8])>>off | uint64(g[8])<<1<<(63-off)
}
