package hss

import (
	"fmt"
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
	if err := p.check("exchange"); err != nil {
		return nil, err
	}
	if bits < 1 || bits > 64 {
		return nil, fmt.Errorf("hss: exchange: width %d out of range [1,64]", bits)
	}
	recv, err := p.T.Exchange(PackBits(nil, send, bits))
	if err != nil {
		return nil, wrapGate("exchange", err)
	}
	out := make([]uint64, len(send))
	if err := UnpackBits(out, recv, len(send), bits); err != nil {
		return nil, fmt.Errorf("hss: exchange: peer message: %w", err)
	}
	return out, nil
}

// Open reveals the shared vector to both parties in one round: x = x0 + x1 mod 2^64.
func (p *Party) Open(share []uint64) ([]uint64, error) {
	return p.OpenBits(share, 64)
}

// OpenBits reveals x mod 2^bits in one round, sending bits bits per value.
func (p *Party) OpenBits(share []uint64, bits uint) ([]uint64, error) {
	peer, err := p.ExchangeBits(share, bits)
	if err != nil {
		return nil, wrapGate("open", err)
	}
	m := Mask(bits)
	for i, v := range share {
		peer[i] = (peer[i] + v) & m
	}
	return peer, nil
}

// take pops the next key of the given kind and length from the party's material.
func takeKey[K Key](p *Party, kind string, n int) (K, error) {
	var zero K
	if p.Keys == nil {
		return zero, fmt.Errorf("hss: %s: party has no material", kind)
	}
	return TakeAs[K](p.Keys, kind, n)
}
