package dealer

import (
	"fmt"
	"io"

	"github.com/hssee/hssee/hss"
)

// Dealer accumulates the material of a sequence of gates for both parties. It is not safe for
// concurrent use.
type Dealer struct {
	rng   io.Reader
	keys  [2][]hss.MarshalKey
	bytes [2]int64
}

// New returns a dealer drawing all randomness from rng (crypto/rand.Reader in production, an hss.PRG
// for reproducible runs).
func New(rng io.Reader) *Dealer { return &Dealer{rng: rng} }

// Gen runs a gate's generator with the dealer's randomness and appends the two keys. It is how any
// gate, including ones defined outside package hss, is added:
//
//	dealer.Gen(d, func(r io.Reader) (*hss.TruncKey, *hss.TruncKey, error) { return hss.GenTrunc(r, n, 12, 40) })
func Gen[K hss.MarshalKey](d *Dealer, gen func(rng io.Reader) (K, K, error)) error {
	k0, k1, err := gen(d.rng)
	if err != nil {
		return fmt.Errorf("dealer: %w", err)
	}
	return d.Push(k0, k1)
}

// Push appends an already generated key pair (party 0's key first).
func (d *Dealer) Push(k0, k1 hss.MarshalKey) error {
	if k0 == nil || k1 == nil || k0.Kind() != k1.Kind() || k0.Len() != k1.Len() {
		return fmt.Errorf("dealer: push: keys of one gate must be non-nil and agree in kind and length")
	}
	for i, k := range [2]hss.MarshalKey{k0, k1} {
		d.keys[i] = append(d.keys[i], k)
		d.bytes[i] += int64(k.Size())
	}
	return nil
}

// Trunc adds a Trunc gate (see hss.GenTrunc).
func (d *Dealer) Trunc(n int, frac, bits uint) error {
	return Gen(d, func(r io.Reader) (*hss.TruncKey, *hss.TruncKey, error) { return hss.GenTrunc(r, n, frac, bits) })
}

// Linear adds a Linear gate with an [m][n] output (see hss.GenLinear).
func (d *Dealer) Linear(m, n int, frac, bits uint) error {
	return Gen(d, func(r io.Reader) (*hss.TruncKey, *hss.TruncKey, error) { return hss.GenLinear(r, m, n, frac, bits) })
}

// Mul adds an elementwise Beaver product.
func (d *Dealer) Mul(n int, bits uint) error {
	return Gen(d, func(r io.Reader) (*hss.MulKey, *hss.MulKey, error) { return hss.GenMul(r, n, bits) })
}

// Square adds an elementwise square.
func (d *Dealer) Square(n int, bits uint) error {
	return Gen(d, func(r io.Reader) (*hss.SquareKey, *hss.SquareKey, error) { return hss.GenSquare(r, n, bits) })
}

// MatMul adds a matrix product of two shared matrices [m×k]·[k×n].
func (d *Dealer) MatMul(m, k, n int, bits uint) error {
	return Gen(d, func(r io.Reader) (*hss.MatMulKey, *hss.MatMulKey, error) { return hss.GenMatMul(r, m, k, n, bits) })
}

// MulFixed adds a fixed-point elementwise product.
func (d *Dealer) MulFixed(n int, frac, bits uint) error {
	return Gen(d, func(r io.Reader) (*hss.FxKey, *hss.FxKey, error) { return hss.GenMulFixed(r, n, frac, bits) })
}

// SquareFixed adds a fixed-point square.
func (d *Dealer) SquareFixed(n int, frac, bits uint) error {
	return Gen(d, func(r io.Reader) (*hss.FxKey, *hss.FxKey, error) { return hss.GenSquareFixed(r, n, frac, bits) })
}

// MatMulFixed adds a fixed-point matrix product.
func (d *Dealer) MatMulFixed(m, k, n int, frac, bits uint) error {
	return Gen(d, func(r io.Reader) (*hss.FxKey, *hss.FxKey, error) { return hss.GenMatMulFixed(r, m, k, n, frac, bits) })
}

// Bytes returns the serialised size of each party's material so far (the sum of key sizes; a key frame
// adds a few bytes per key).
func (d *Dealer) Bytes() (party0, party1 int64) { return d.bytes[0], d.bytes[1] }

// Gates returns the number of gates added.
func (d *Dealer) Gates() int { return len(d.keys[0]) }

// Keys returns party's keys so far (0 or 1), in consumption order.
func (d *Dealer) Keys(party int) ([]hss.MarshalKey, error) {
	if party != 0 && party != 1 {
		return nil, fmt.Errorf("dealer: keys: party %d is not 0 or 1", party)
	}
	return append([]hss.MarshalKey(nil), d.keys[party]...), nil
}

// Material returns both parties' key queues, ready for hss.Party.Keys.
func (d *Dealer) Material() (m0, m1 *hss.Material) {
	return material(d.keys[0]), material(d.keys[1])
}

func material(keys []hss.MarshalKey) *hss.Material {
	m := hss.NewMaterial()
	for _, k := range keys {
		m.Push(k)
	}
	return m
}
