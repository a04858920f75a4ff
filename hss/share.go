package hss

import (
	"fmt"
	"io"
)

// Share additively shares x: party 0's share is ExpandShare(seed0, len(x)) for a fresh seed read from
// rng, and party 1's share is x1 = x − x0 mod 2^64.
func Share(x []uint64, rng io.Reader) (seed0 [32]byte, x1 []uint64, err error) {
	if _, err := io.ReadFull(rng, seed0[:]); err != nil {
		return seed0, nil, fmt.Errorf("hss: share: seed: %w", err)
	}
	x1 = ExpandShare(seed0, len(x))
	for i := range x1 {
		x1[i] = x[i] - x1[i]
	}
	return seed0, x1, nil
}

// ExpandShare returns the first n words of the PRG stream of seed (party 0's share).
func ExpandShare(seed [32]byte, n int) []uint64 {
	out := make([]uint64, n)
	NewPRG(seed).Uint64s(out)
	return out
}

// Reconstruct returns x0 + x1 mod 2^64 elementwise. It uses the shorter length if they differ.
func Reconstruct(x0, x1 []uint64) []uint64 {
	n := min(len(x0), len(x1))
	out := make([]uint64, n)
	for i := range n {
		out[i] = x0[i] + x1[i]
	}
	return out
}

// ReadSeed reads a fresh 32-byte seed from rng.
func ReadSeed(rng io.Reader) ([32]byte, error) {
	var s [32]byte
	if _, err := io.ReadFull(rng, s[:]); err != nil {
		return s, fmt.Errorf("hss: seed: %w", err)
	}
	return s, nil
}
