package hss

import (
	"fmt"
	"math/bits"
	"sync"
	"unsafe"
)

// Party is one of the two computing parties: its ID (0 or 1), its link to the peer, the fixed-point
// encoding, and the queue of dealer material its gates consume in order.
type Party struct {
	ID   int
	T    Transport
	Fx   Fixed
	Keys *Material
}

func (p *Party) check(op string) error {
	if p == nil || p.T == nil {
		return fmt.Errorf("hss: %s: party has no transport", op)
	}
	if p.ID != 0 && p.ID != 1 {
		return fmt.Errorf("hss: %s: party id %d is not 0 or 1", op, p.ID)
	}
	return nil
}

// ExchangeU64 sends send (64 bits per value) and returns the peer's vector of the same round.
func (p *Party) ExchangeU64(send []uint64) ([]uint64, error) {
	return p.ExchangeBits(send, 64)
}

// ExchangeBits sends the low bits of every value, bit-packed, in one round and returns the peer's
// values (each in [0, 2^bits)). Both sides must send the same number of values.
func (p *Party) ExchangeBits(send []uint64, bits uint) ([]uint64, error) {
	recv, err := p.exchangePacked(send, bits)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(send))
	unpackInto(out, recv, bits)
	putBytes(recv)
	return out, nil
}

// exchangePacked sends send bit-packed in one round and returns the peer's message, checked to be
// PackedLen(len(send), bits) bytes with zero padding. The caller owns it (and may putBytes it).
func (p *Party) exchangePacked(send []uint64, bits uint) ([]byte, error) {
	if err := p.check("exchange"); err != nil {
		return nil, err
	}
	if bits < 1 || bits > 64 {
		return nil, fmt.Errorf("hss: exchange: width %d out of range [1,64]", bits)
	}
	msg := PackBits(getBytes(PackedLen(len(send), bits))[:0], send, bits)
	recv, taken, err := handOff(p.T, msg)
	if !taken {
		putBytes(msg)
	}
	if err != nil {
		return nil, wrapGate("exchange", err)
	}
	if err := checkPacked(recv, len(send), bits); err != nil {
		return nil, fmt.Errorf("hss: exchange: peer message: %w", err)
	}
	return recv, nil
}

// Open reveals the shared vector to both parties in one round: x = x0 + x1 mod 2^64.
func (p *Party) Open(share []uint64) ([]uint64, error) {
	return p.OpenBits(share, 64)
}

// OpenBits reveals x mod 2^bits in one round, sending bits bits per value.
func (p *Party) OpenBits(share []uint64, bits uint) ([]uint64, error) {
	out := make([]uint64, len(share))
	if err := p.openInto(out, share, bits); err != nil {
		return nil, err
	}
	return out, nil
}

// openInto is OpenBits into dst (len(dst) == len(share); dst may be share itself).
func (p *Party) openInto(dst, share []uint64, bits uint) error {
	recv, err := p.exchangePacked(share, bits)
	if err != nil {
		return wrapGate("open", err)
	}
	unpackAddInto(dst, recv, bits, share)
	putBytes(recv)
	return nil
}

// openParts opens several shared vectors in one round, each at its own width (each part packed on
// its own, padded to a byte): every parts[i] is replaced by its opening mod 2^widths[i]. The cost is
// that of open on each part, with one round for all (openPartsCost).
func (p *Party) openParts(parts [][]uint64, widths []uint) error {
	if err := p.check("open"); err != nil {
		return err
	}
	total := 0
	for i, v := range parts {
		if widths[i] < 1 || widths[i] > 64 {
			return fmt.Errorf("hss: open: width %d out of range [1,64]", widths[i])
		}
		total += PackedLen(len(v), widths[i])
	}
	msg := getBytes(total)[:0]
	for i, v := range parts {
		msg = PackBits(msg, v, widths[i])
	}
	recv, taken, err := handOff(p.T, msg)
	if !taken {
		putBytes(msg)
	}
	if err != nil {
		return wrapGate("open", wrapGate("exchange", err))
	}
	defer putBytes(recv)
	if len(recv) != total {
		return fmt.Errorf("hss: open: peer message of %d bytes, want %d", len(recv), total)
	}
	off := 0
	for i, v := range parts {
		nb := PackedLen(len(v), widths[i])
		if err := checkPacked(recv[off:off+nb], len(v), widths[i]); err != nil {
			return fmt.Errorf("hss: open: peer message: %w", err)
		}
		unpackAddInto(v, recv[off:off+nb], widths[i], v)
		off += nb
	}
	return nil
}

// openPartsCost is the cost of openParts on parts of the given lengths and widths.
func openPartsCost(lens []int, widths []uint) Cost {
	c := Cost{Rounds: 1}
	for i, n := range lens {
		c.Online += 2 * int64(PackedLen(n, widths[i]))
	}
	return c
}

// ---- scratch buffers ------------------------------------------------------------------------------

// Gates draw their temporaries (expanded randomness, values to open, wire messages) from size-classed
// pools instead of allocating them per call: the online phase otherwise allocates several times its
// traffic in short-lived buffers, and with the dealer material live the heap grows into fresh pages
// for all of it. Class c holds buffers of capacity at least 2^c; sync.Pool drops them at GC.
// A buffer goes back to a pool only when nothing else can reach it: never key material, gate outputs
// or anything handed to a caller.

const minPooled = 1 << 12 // smaller buffers are just allocated

var bytePools, wordPools [64]sync.Pool

// getBytes returns a buffer of length n (contents arbitrary).
func getBytes(n int) []byte { return getPooled[byte](&bytePools, n) }

// putBytes hands b's memory back; the caller must not use b (or any slice of it) afterwards.
func putBytes(b []byte) { putPooled(&bytePools, b) }

// getWords returns a buffer of n words (contents arbitrary).
func getWords(n int) []uint64 { return getPooled[uint64](&wordPools, n) }

// putWords hands w's memory back; the caller must not use w (or any slice of it) afterwards.
func putWords(w []uint64) { putPooled(&wordPools, w) }

// getPooled returns a buffer of n elements from the pools of its element type (contents arbitrary).
func getPooled[T byte | uint64](pools *[64]sync.Pool, n int) []T {
	if n < minPooled {
		return make([]T, n)
	}
	c := bits.Len(uint(n - 1))
	if v := pools[c].Get(); v != nil {
		return unsafe.Slice((*T)(v.(unsafe.Pointer)), 1<<c)[:n]
	}
	return make([]T, n, 1<<c)
}

// putPooled hands b's memory back to the pools of its element type.
func putPooled[T byte | uint64](pools *[64]sync.Pool, b []T) {
	if cap(b) < minPooled {
		return
	}
	pools[bits.Len(uint(cap(b)))-1].Put(unsafe.Pointer(unsafe.SliceData(b)))
}

// takeChecked checks the party for the gate kind and pops the kind's next key for n elements.
func takeChecked[K Key](p *Party, kind string, n int) (K, error) {
	if err := p.check(kind); err != nil {
		var zero K
		return zero, err
	}
	return takeKey[K](p, kind, n)
}

// take pops the next key of the given kind and length from the party's material.
func takeKey[K Key](p *Party, kind string, n int) (K, error) {
	var zero K
	if p.Keys == nil {
		return zero, fmt.Errorf("hss: %s: party has no material", kind)
	}
	return TakeAs[K](p.Keys, kind, n)
}
