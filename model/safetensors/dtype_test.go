package safetensors

import (
	"math"
	"math/rand/v2"
	"testing"
)

// knownValue is a 16-bit float's bits and the float32 they stand for.
type knownValue struct {
	h    uint16
	want float32
}

// checkKnown checks that the format's decoder (name+"ToFloat32") maps each
// value's bits to its float32, exactly, and its encoder ("Float32To"+name)
// maps the float32 back to the bits.
func checkKnown(t *testing.T, name string, decode func(uint16) float32, encode func(float32) uint16, values []knownValue) {
	t.Helper()
	for _, c := range values {
		got := decode(c.h)
		if math.Float32bits(got) != math.Float32bits(c.want) {
			t.Errorf("%sToFloat32(%#04x) = %v, want %v", name, c.h, got, c.want)
		}
		if back := encode(c.want); back != c.h {
			t.Errorf("Float32To%s(%v) = %#04x, want %#04x", name, c.want, back, c.h)
		}
	}
}

func TestHalfKnownValues(t *testing.T) {
	inf := float32(math.Inf(1))
	checkKnown(t, "Half", HalfToFloat32, Float32ToHalf, []knownValue{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x3555, 0.333251953125},
		{0x7bff, 65504},
		{0x0400, 0x1p-14},        // smallest normal
		{0x0001, 0x1p-24},        // smallest subnormal
		{0x03ff, 1023 * 0x1p-24}, // largest subnormal
		{0x8001, -0x1p-24},       // negative subnormal
		{0x0200, 0x1p-15},        // subnormal power of two
		{0x7c00, inf},            // +Inf
		{0xfc00, -inf},           // -Inf
		{0x3bff, 1 - 0x1p-11},    // just below one
		{0x4248, 3.140625},       // pi in half
	})
	if z := HalfToFloat32(0x8000); math.Float32bits(z) != 0x80000000 {
		t.Errorf("HalfToFloat32(0x8000) = %v, want -0", z)
	}
	for _, h := range []uint16{0x7e00, 0x7c01, 0xfe00, 0x7fff} {
		if v := HalfToFloat32(h); !math.IsNaN(float64(v)) {
			t.Errorf("HalfToFloat32(%#04x) = %v, want NaN", h, v)
		}
	}
	if h := Float32ToHalf(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("Float32ToHalf(NaN) = %#04x, not a NaN", h)
	}
}

// halfRef is an independent float64 model of binary16 decoding.
func halfRef(h uint16) float64 {
	s := 1.0
	if h&0x8000 != 0 {
		s = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0x1f:
		if m != 0 {
			return math.NaN()
		}
		return math.Inf(int(s))
	case 0:
		return s * math.Ldexp(m, -24)
	}
	return s * math.Ldexp(1024+m, e-25)
}

func TestHalfExhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got, want := HalfToFloat32(h), halfRef(h)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) {
				t.Fatalf("HalfToFloat32(%#04x) = %v, want NaN", h, got)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("HalfToFloat32(%#04x) = %v, want %v", h, got, want)
		}
		if back := Float32ToHalf(got); back != h {
			t.Fatalf("Float32ToHalf(HalfToFloat32(%#04x)) = %#04x", h, back)
		}
	}
}

func TestFloat32ToHalfRounding(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{65505, 0x7bff},
		{65519.99, 0x7bff},
		{65520, 0x7c00}, // tie between 65504 and 65536 -> even (Inf)
		{1e10, 0x7c00},
		{-1e10, 0xfc00},
		{1 + 0x1p-11, 0x3c00},   // tie -> even
		{1 + 3*0x1p-11, 0x3c02}, // tie -> even (up)
		{0x1p-25, 0x0000},       // half the smallest subnormal: tie -> 0
		{0x1.000002p-25, 0x0001},
		{3 * 0x1p-25, 0x0002}, // 1.5 ulp subnormal: tie -> even 2
		{0x1p-30, 0x0000},
		{1e-45, 0x0000},              // float32 subnormal
		{0x1p-14 - 0x1p-25, 0x0400},  // rounds up into the smallest normal
		{-0x1p-14 + 0x1p-26, 0x8400}, // negative, up into normal
		{float32(math.Inf(-1)), 0xfc00},
	} {
		if got := Float32ToHalf(c.f); got != c.want {
			t.Errorf("Float32ToHalf(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	// Property: the result is a nearest half (ties checked above).
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		f := math.Float32frombits(r.Uint32())
		if math.IsNaN(float64(f)) || math.Abs(float64(f)) > 65504 {
			continue
		}
		h := Float32ToHalf(f)
		d := math.Abs(halfRef(h) - float64(f))
		for _, nb := range []uint16{h - 1, h + 1, h ^ 0x8000} {
			if v := halfRef(nb); !math.IsNaN(v) && math.Abs(v-float64(f)) < d {
				t.Fatalf("Float32ToHalf(%g) = %#04x (%g), but %#04x (%g) is nearer", f, h, halfRef(h), nb, v)
			}
		}
	}
}

func TestBFloat16(t *testing.T) {
	inf := float32(math.Inf(1))
	checkKnown(t, "BFloat16", BFloat16ToFloat32, Float32ToBFloat16, []knownValue{
		{0x3f80, 1},
		{0xc000, -2},
		{0x0001, 0x1p-133}, // smallest subnormal
		{0x007f, 127 * 0x1p-133},
		{0x0080, 0x1p-126},
		{0x7f7f, 0x1.fep127},
		{0x7f80, inf},
		{0xff80, -inf},
		{0x4049, 3.140625},
	})
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{1 + 0x1p-8, 0x3f80},   // tie -> even
		{1 + 3*0x1p-8, 0x3f82}, // tie -> even (up)
		{1 + 0x1.2p-8, 0x3f81},
		{math.MaxFloat32, 0x7f80}, // overflows to Inf
		{0x1p-134, 0x0000},        // tie -> even 0
	} {
		if got := Float32ToBFloat16(c.f); got != c.want {
			t.Errorf("Float32ToBFloat16(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	if v := BFloat16ToFloat32(Float32ToBFloat16(float32(math.NaN()))); !math.IsNaN(float64(v)) {
		t.Errorf("bfloat16 NaN round trip gave %v", v)
	}
	// Quiet-bit-only NaN payloads must not turn into Inf.
	if v := BFloat16ToFloat32(Float32ToBFloat16(math.Float32frombits(0x7f800001))); !math.IsNaN(float64(v)) {
		t.Errorf("bfloat16 signalling NaN became %v", v)
	}
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		if f := BFloat16ToFloat32(h); !math.IsNaN(float64(f)) && Float32ToBFloat16(f) != h {
			t.Fatalf("bfloat16 %#04x does not round trip", h)
		}
	}
}
