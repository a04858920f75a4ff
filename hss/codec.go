package hss

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Enc builds the binary encoding of a key: fixed-width little-endian integers, raw seeds and
// bit-packed vectors. The zero value is ready to use.
type Enc struct{ b []byte }

// U8 appends v.
func (e *Enc) U8(v uint8) { e.b = append(e.b, v) }

// U32 appends v little-endian.
func (e *Enc) U32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }

// U64 appends v little-endian.
func (e *Enc) U64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }

// Seed appends the 32 seed bytes.
func (e *Enc) Seed(s [32]byte) { e.b = append(e.b, s[:]...) }

// Packed appends vals bit-packed at the given width (no length prefix: the decoder knows it).
func (e *Enc) Packed(vals []uint64, bits uint) { e.b = PackBits(e.b, vals, bits) }

// Bytes returns the encoding.
func (e *Enc) Bytes() []byte { return e.b }

// ErrTruncated is wrapped by Dec errors for input that ends early.
var ErrTruncated = errors.New("truncated input")

// Dec reads what Enc wrote, strictly: the first error sticks, reads past the end fail, and Finish
// rejects trailing bytes. Vector lengths are checked against the remaining input before allocating.
type Dec struct {
	b   []byte
	err error
}

// NewDec returns a decoder over b.
func NewDec(b []byte) *Dec { return &Dec{b: b} }

func (d *Dec) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = fmt.Errorf("need %d bytes, have %d: %w", n, len(d.b), ErrTruncated)
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

// U8 reads one byte.
func (d *Dec) U8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

// U32 reads a little-endian uint32.
func (d *Dec) U32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

// U64 reads a little-endian uint64.
func (d *Dec) U64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// Seed reads 32 bytes.
func (d *Dec) Seed() (s [32]byte) {
	if b := d.take(32); b != nil {
		copy(s[:], b)
	}
	return s
}

// Packed reads n values of the given width.
func (d *Dec) Packed(n int, bits uint) []uint64 {
	if d.err != nil {
		return nil
	}
	if bits < 1 || bits > 64 || n < 0 || n > 8*len(d.b)/int(bits) {
		d.err = fmt.Errorf("vector of %d values of %d bits does not fit in %d bytes: %w", n, bits, len(d.b), ErrTruncated)
		return nil
	}
	b := d.take(PackedLen(n, bits))
	if b == nil {
		return nil
	}
	out := make([]uint64, n)
	if err := UnpackBits(out, b, n, bits); err != nil {
		d.err = err
		return nil
	}
	return out
}

// Fail records err (if no error is recorded yet), for validation failures found by the caller.
func (d *Dec) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Err returns the first error.
func (d *Dec) Err() error { return d.err }

// Finish returns the first error, or an error if input bytes remain.
func (d *Dec) Finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return d.err
}
