package fss

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Serialised layout (little endian), shared by DCF and DPF batches:
//
//	magic[4] ("DCF1" or "DPF1") | party u8 | bits u8 | P u8 | N u32 |
//	seeds 16·N | scw 16·N·bits | tcw 2 bits per level, packed, ⌈2·N·bits/8⌉ | [DCF: vcw 8·N·bits·P] | fin 8·N·P
//
// A narrow batch (DPFKeys.SetWidth, DCFKeys.SetWidth) sets bit 7 of the bits byte, follows the header
// with its width (one byte, 1..63) and stores its value words (DCF: vcw and fin; DPF: fin) packed at
// that width.
const headerLen = 11

// maxKeys bounds N in a decoded batch (2^28 keys) to refuse absurd allocations early.
const maxKeys = 1 << 28

var errTruncated = errors.New("length does not match header")

func putHeader(b []byte, magic string, party int, bits uint, p, n int) []byte {
	b = append(b, magic...)
	b = append(b, byte(party), byte(bits), byte(p))
	return binary.LittleEndian.AppendUint32(b, uint32(n))
}

func appendBlocks(b []byte, bl []block) []byte {
	for _, x := range bl {
		b = binary.LittleEndian.AppendUint64(b, x.lo)
		b = binary.LittleEndian.AppendUint64(b, x.hi)
	}
	return b
}

func appendU64s(b []byte, v []uint64) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, x)
	}
	return b
}

// appendTCW packs control corrections (tL | tR<<1), four to a byte, low bits first.
func appendTCW(b []byte, t []uint8) []byte { return appendFields(b, t, 2) }

func readBlocks(dst []block, b []byte) []byte {
	for i := range dst {
		dst[i] = block{binary.LittleEndian.Uint64(b[16*i:]), binary.LittleEndian.Uint64(b[16*i+8:])}
	}
	return b[16*len(dst):]
}

func readU64s(dst []uint64, b []byte) []byte {
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return b[8*len(dst):]
}

// readTCW unpacks len(dst) control corrections written by appendTCW; the padding bits must be zero.
func readTCW(dst []uint8, b []byte) ([]byte, error) { return readFields(dst, b, 2) }

// stripWidth returns a narrow batch's encoding without its width (the flag in the bits byte, the byte
// after the header: a transient copy) and the width, or b and 0 for a full-width batch.
func stripWidth(b []byte) ([]byte, uint, error) {
	if len(b) <= headerLen || b[5]&0x80 == 0 {
		return b, 0, nil
	}
	w := uint(b[headerLen])
	if w < 1 || w > 63 {
		return nil, 0, fmt.Errorf("width %d out of range [1,63]", w)
	}
	c := make([]byte, headerLen, len(b)-1)
	copy(c, b[:headerLen])
	c[5] &^= 0x80
	return append(c, b[headerLen+1:]...), w, nil
}

func parseHeader(b []byte, magic string) (party int, bits uint, p, n int, rest []byte, err error) {
	if len(b) < headerLen || string(b[:4]) != magic {
		return 0, 0, 0, 0, nil, errors.New("bad header")
	}
	party, bits, p = int(b[4]), uint(b[5]), int(b[6])
	n = int(binary.LittleEndian.Uint32(b[7:11]))
	if party != 0 && party != 1 {
		return 0, 0, 0, 0, nil, fmt.Errorf("party %d", party)
	}
	if err := checkShape(bits, p); err != nil {
		return 0, 0, 0, 0, nil, err
	}
	if n > maxKeys {
		return 0, 0, 0, 0, nil, fmt.Errorf("%d keys exceed the limit", n)
	}
	return party, bits, p, n, b[headerLen:], nil
}

// MarshalBinary encodes the batch.
func (k *DCFKeys) MarshalBinary() ([]byte, error) {
	if k == nil {
		return nil, errors.New("fss: dcf marshal: nil keys")
	}
	if k.Width > 64 {
		return nil, errors.New("fss: dcf marshal: width above 64")
	}
	b := make([]byte, 0, headerLen+k.Size())
	b = putHeader(b, "DCF1", k.Party, k.Bits, k.P, k.N)
	if k.narrow() { // as DPFKeys: the width flagged in the bits byte, then one byte
		b[5] |= 0x80
		b = append(b, byte(k.Width))
	}
	b = appendBlocks(b, k.seeds)
	b = appendBlocks(b, k.scw)
	b = appendTCW(b, k.tcw)
	if k.narrow() {
		b = appendPacked(b, k.vcw, k.Width)
		return appendPacked(b, k.fin, k.Width), nil
	}
	b = appendU64s(b, k.vcw)
	return appendU64s(b, k.fin), nil
}

// UnmarshalBinary decodes a batch written by MarshalBinary, replacing k's contents.
func (k *DCFKeys) UnmarshalBinary(b []byte) error {
	b, width, err := stripWidth(b)
	if err != nil {
		return fmt.Errorf("fss: dcf unmarshal: %w", err)
	}
	party, bits, p, n, rest, err := parseHeader(b, "DCF1")
	if err != nil {
		return fmt.Errorf("fss: dcf unmarshal: %w", err)
	}
	nk := newDCFKeysSized(party, bits, p, n)
	nk.Width = width
	extra := 0
	if nk.narrow() {
		extra = 1 // the width byte, already taken
	}
	if len(rest) != nk.Size()-extra {
		return fmt.Errorf("fss: dcf unmarshal: %w", errTruncated)
	}
	nk.alloc()
	rest = readBlocks(nk.seeds, rest)
	rest = readBlocks(nk.scw, rest)
	if rest, err = readTCW(nk.tcw, rest); err != nil {
		return fmt.Errorf("fss: dcf unmarshal: %w", err)
	}
	if width > 0 {
		if rest, err = readPacked(nk.vcw, rest, width); err != nil {
			return fmt.Errorf("fss: dcf unmarshal: %w", err)
		}
		if _, err = readPacked(nk.fin, rest, width); err != nil {
			return fmt.Errorf("fss: dcf unmarshal: %w", err)
		}
	} else {
		rest = readU64s(nk.vcw, rest)
		readU64s(nk.fin, rest)
	}
	if err := nk.checkSeeds(); err != nil {
		return fmt.Errorf("fss: dcf unmarshal: %w", err)
	}
	*k = *nk
	return nil
}

func newDCFKeysSized(party int, bits uint, p, n int) *DCFKeys {
	return &DCFKeys{Party: party, Bits: bits, P: p, N: n}
}

func (k *DCFKeys) alloc() {
	w := k.Width
	*k = *newDCFKeys(k.Party, k.Bits, k.P, k.N)
	k.Width = w
}

func (k *DCFKeys) checkSeeds() error { return checkSeedBits(k.seeds, k.scw) }

// checkSeedBits rejects seeds with the control-bit position set: Gen never produces them, so the
// encoding stays canonical.
func checkSeedBits(seeds, scw []block) error {
	for _, s := range seeds {
		if s.lo&1 != 0 {
			return errors.New("non-canonical seed")
		}
	}
	for _, s := range scw {
		if s.lo&1 != 0 {
			return errors.New("non-canonical correction word")
		}
	}
	return nil
}

// MarshalBinary encodes the batch. Batches without early termination keep the "DPF1" layout;
// others are written as "DPF2", whose P byte carries Leaf in its high nibble (P | Leaf<<4), or, with
// precomputed top levels, "DPF3", whose party byte also carries Top in its high nibble and whose
// seeds (2^Top per key) are followed by their control bits, packed, or, Seeded, "DPF4": the header
// of DPF3, then the 16-byte seed in place of the level-Top seeds and bits.
func (k *DPFKeys) MarshalBinary() ([]byte, error) {
	if k == nil {
		return nil, errors.New("fss: dpf marshal: nil keys")
	}
	if k.Seeded && (k.Party > 1 || k.Top == 0 || k.topRK == nil) {
		return nil, errors.New("fss: dpf marshal: malformed seeded keys")
	}
	if k.Width > 64 {
		return nil, errors.New("fss: dpf marshal: width above 64")
	}
	b := make([]byte, 0, headerLen+k.Size())
	switch {
	case k.Seeded:
		b = putHeader(b, "DPF4", k.Party|int(k.Top)<<4, k.Bits, k.P|int(k.Leaf)<<4, k.N)
	case k.Top > 0:
		b = putHeader(b, "DPF3", k.Party|int(k.Top)<<4, k.Bits, k.P|int(k.Leaf)<<4, k.N)
	case k.Leaf == 0:
		b = putHeader(b, "DPF1", k.Party, k.Bits, k.P, k.N)
	default:
		b = putHeader(b, "DPF2", k.Party, k.Bits, k.P|int(k.Leaf)<<4, k.N)
	}
	if k.narrow() {
		// The width: flagged in the header's bits byte, then one byte after the header.
		b[5] |= 0x80
		b = append(b, byte(k.Width))
	}
	switch {
	case k.Seeded:
		b = appendBlocks(b, []block{k.topSeed})
	case k.Top > 0:
		b = appendBlocks(b, k.seeds)
		b = appendBits(b, k.tops)
	default:
		b = appendBlocks(b, k.seeds)
	}
	b = appendBlocks(b, k.scw)
	b = appendTCW(b, k.tcw)
	if k.narrow() {
		return appendPacked(b, k.fin, k.Width), nil
	}
	return appendU64s(b, k.fin), nil
}

// UnmarshalBinary decodes a batch written by MarshalBinary, replacing k's contents.
func (k *DPFKeys) UnmarshalBinary(b []byte) error {
	var leaf, top uint
	b, width, err := stripWidth(b)
	if err != nil {
		return fmt.Errorf("fss: dpf unmarshal: %w", err)
	}
	magic := "DPF1"
	seeded := len(b) >= headerLen && string(b[:4]) == "DPF4"
	if len(b) >= headerLen && (string(b[:4]) == "DPF2" || string(b[:4]) == "DPF3" || seeded) {
		v3 := string(b[:4]) != "DPF2"
		c := append([]byte(nil), b[:headerLen]...)
		leaf = uint(c[6] >> 4)
		c[6] &= 0x0f
		if v3 {
			top = uint(c[4] >> 4)
			c[4] &= 0x0f
		}
		copy(c, "DPF1")
		b = append(c, b[headerLen:]...)
		if !v3 && leaf == 0 {
			return errors.New("fss: dpf unmarshal: DPF2 batch without early termination")
		}
		if v3 && top == 0 {
			return errors.New("fss: dpf unmarshal: DPF3 batch without precomputed levels")
		}
	}
	party, bits, p, n, rest, err := parseHeader(b, magic)
	if err != nil {
		return fmt.Errorf("fss: dpf unmarshal: %w", err)
	}
	if leaf > bits || leaf > MaxLeaf {
		return fmt.Errorf("fss: dpf unmarshal: %d early-terminated levels for width %d", leaf, bits)
	}
	if top > MaxTop || top > bits-leaf {
		return fmt.Errorf("fss: dpf unmarshal: %d precomputed levels for width %d", top, bits)
	}
	probe := DPFKeys{Party: party, Bits: bits, P: p, N: n, Leaf: leaf, Top: top, Seeded: seeded, Width: width}
	extra := 0
	if probe.narrow() {
		extra = 1 // the width byte, already taken from rest
	}
	if len(rest) != probe.Size()-extra {
		return fmt.Errorf("fss: dpf unmarshal: %w", errTruncated)
	}
	var nk *DPFKeys
	if seeded {
		nk = newDPFKeysLower(party, bits, leaf, top, p, n)
	} else {
		nk = newDPFKeysTop(party, bits, leaf, top, p, n)
	}
	switch {
	case seeded:
		var sd [1]block
		rest = readBlocks(sd[:], rest)
		nk.setTopSeed(sd[0])
	case top > 0:
		rest = readBlocks(nk.seeds, rest)
		if rest, err = readBits(nk.tops, rest); err != nil {
			return fmt.Errorf("fss: dpf unmarshal: %w", err)
		}
	default:
		rest = readBlocks(nk.seeds, rest)
	}
	rest = readBlocks(nk.scw, rest)
	if rest, err = readTCW(nk.tcw, rest); err != nil {
		return fmt.Errorf("fss: dpf unmarshal: %w", err)
	}
	if width > 0 {
		if _, err := readPacked(nk.fin, rest, width); err != nil {
			return fmt.Errorf("fss: dpf unmarshal: %w", err)
		}
		nk.Width = width
	} else {
		readU64s(nk.fin, rest)
	}
	if err := checkSeedBits(nk.seeds, nk.scw); err != nil {
		return fmt.Errorf("fss: dpf unmarshal: %w", err)
	}
	*k = *nk
	return nil
}

// appendPacked packs values of w bits (1 ≤ w ≤ 63; higher bits are dropped), low bits first, the
// last byte padded with zero bits.
func appendPacked(b []byte, v []uint64, w uint) []byte {
	start := len(b)
	b = append(b, make([]byte, (len(v)*int(w)+7)/8)...)
	out := b[start:]
	for i, x := range v {
		o := uint(i) * w
		for k := uint(0); k < w; {
			at, off := (o+k)>>3, (o+k)&7
			take := min(8-off, w-k)
			out[at] |= byte(x>>k&(1<<take-1)) << off
			k += take
		}
	}
	return b
}

// readPacked unpacks len(dst) values written by appendPacked at w bits; padding bits must be zero.
func readPacked(dst []uint64, b []byte, w uint) ([]byte, error) {
	nb := (len(dst)*int(w) + 7) / 8
	if len(b) < nb {
		return nil, errTruncated
	}
	for i := range dst {
		o := uint(i) * w
		var x uint64
		for k := uint(0); k < w; {
			byteIdx, off := (o+k)>>3, (o+k)&7
			take := min(8-off, w-k)
			x |= uint64(b[byteIdx]>>off&(1<<take-1)) << k
			k += take
		}
		dst[i] = x
	}
	if pad := uint(len(dst)) * w & 7; pad != 0 && b[nb-1]>>pad != 0 {
		return nil, errors.New("non-zero padding bits")
	}
	return b[nb:], nil
}

// appendBits packs 0/1 values, eight to a byte, low bit first.
func appendBits(b []byte, t []uint8) []byte { return appendFields(b, t, 1) }

// readBits unpacks len(dst) bits written by appendBits; the padding bits must be zero.
func readBits(dst []uint8, b []byte) ([]byte, error) { return readFields(dst, b, 1) }

// appendFields packs values of w bits (w = 1 or 2: 8/w to a byte), low bits first, the last byte
// padded with zero bits.
func appendFields(b []byte, t []uint8, w uint) []byte {
	var acc byte
	for i, x := range t {
		sh := w * uint(i) & 7 // the value's bit offset in its byte
		acc |= (x & (1<<w - 1)) << sh
		if sh == 8-w {
			b = append(b, acc)
			acc = 0
		}
	}
	if w*uint(len(t))&7 != 0 {
		b = append(b, acc)
	}
	return b
}

// readFields unpacks len(dst) values of w bits written by appendFields; the padding bits must be
// zero.
func readFields(dst []uint8, b []byte, w uint) ([]byte, error) {
	nb := (int(w)*len(dst) + 7) / 8
	if len(b) < nb {
		return nil, errTruncated
	}
	for i := range dst {
		o := w * uint(i)
		dst[i] = b[o>>3] >> (o & 7) & (1<<w - 1)
	}
	if pad := w * uint(len(dst)) & 7; pad != 0 && b[nb-1]>>pad != 0 {
		return nil, errors.New("non-zero padding bits")
	}
	return b[nb:], nil
}
