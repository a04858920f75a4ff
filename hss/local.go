package hss

import (
	"fmt"
	"strings"
)

// Local (communication-free) operations on shares. Public constants are added by party 0 only.

// Add returns x + y elementwise.
func Add(x, y []uint64) ([]uint64, error) {
	if len(x) != len(y) {
		return nil, fmt.Errorf("hss: add: operands have %d and %d elements", len(x), len(y))
	}
	out := make([]uint64, len(x))
	for i := range x {
		out[i] = x[i] + y[i]
	}
	return out, nil
}

// Sub returns x − y elementwise.
func Sub(x, y []uint64) ([]uint64, error) {
	if len(x) != len(y) {
		return nil, fmt.Errorf("hss: sub: operands have %d and %d elements", len(x), len(y))
	}
	out := make([]uint64, len(x))
	for i := range x {
		out[i] = x[i] - y[i]
	}
	return out, nil
}

// AddPublic returns the share of x + c for a public c broadcast over x (len(c) is len(x) or 1):
// party 0 adds c, party 1 copies x.
func (p *Party) AddPublic(x, c []uint64) ([]uint64, error) {
	if len(c) != len(x) && len(c) != 1 {
		return nil, fmt.Errorf("hss: add public: %d constants for %d elements", len(c), len(x))
	}
	out := append([]uint64(nil), x...)
	if p.ID == 0 {
		for i := range out {
			out[i] += c[i%len(c)]
		}
	}
	return out, nil
}

// ScalePublic returns x·c elementwise for public ring constants c (len(c) is len(x) or 1); with
// fixed-point c the result has an extra Frac fractional bits and needs a Trunc.
func ScalePublic(x, c []uint64) ([]uint64, error) {
	if len(c) != len(x) && len(c) != 1 {
		return nil, fmt.Errorf("hss: scale public: %d constants for %d elements", len(c), len(x))
	}
	out := make([]uint64, len(x))
	for i := range x {
		out[i] = x[i] * c[i%len(c)]
	}
	return out, nil
}

// gateError prefixes an inner error with an operation name without repeating the package prefix:
// "hss: linear: trunc: material exhausted".
type gateError struct {
	op  string
	err error
}

func (e *gateError) Error() string {
	return "hss: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "hss: ")
}

func (e *gateError) Unwrap() error { return e.err }

func wrapGate(op string, err error) error { return &gateError{op: op, err: err} }
