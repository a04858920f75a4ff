package hss

import (
	"fmt"
	"math"
)

// Fixed is a two's-complement fixed-point encoding in Z_2^64 with Frac fractional bits:
// x is represented by round(x·2^Frac) mod 2^64. An inference takes its Frac from Params
// (DefaultParams: 14); the gates themselves accept any encoding their own ranges allow.
type Fixed struct {
	Frac uint `json:"frac"`
}

// Validate reports whether the encoding is usable (Frac at most 62).
func (f Fixed) Validate() error {
	if f.Frac > 62 {
		return fmt.Errorf("hss: fixed: frac %d out of range [0,62]", f.Frac)
	}
	return nil
}

// Scale returns 2^Frac as a float64.
func (f Fixed) Scale() float64 { return math.Ldexp(1, int(f.Frac)) }

// Encode returns round(x·2^Frac) as a ring element. Values outside the int64 range saturate; NaN
// encodes as 0.
func (f Fixed) Encode(x float64) uint64 {
	v := math.Round(math.Ldexp(x, int(f.Frac)))
	switch {
	case v != v:
		return 0
	case v >= math.MaxInt64:
		return math.MaxInt64
	case v <= math.MinInt64:
		return 1 << 63
	}
	return uint64(int64(v))
}

// Decode interprets u as a signed fixed-point value.
func (f Fixed) Decode(u uint64) float64 { return math.Ldexp(float64(int64(u)), -int(f.Frac)) }

// EncodeVec encodes every element of xs into a new slice.
func (f Fixed) EncodeVec(xs []float64) []uint64 {
	out := make([]uint64, len(xs))
	for i, x := range xs {
		out[i] = f.Encode(x)
	}
	return out
}

// DecodeVec decodes every element of us into a new slice.
func (f Fixed) DecodeVec(us []uint64) []float64 {
	out := make([]float64, len(us))
	for i, u := range us {
		out[i] = f.Decode(u)
	}
	return out
}
