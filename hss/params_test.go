package hss

import (
	"fmt"
	"strings"
	"testing"
)

func TestParams(t *testing.T) {
	d := DefaultParams()
	if err := d.Validate(); err != nil {
		t.Fatalf("default %v: %v", d, err)
	}
	if d.Frac != 14 || d.Width != 48 || d.Fixed() != (Fixed{Frac: 14}) {
		t.Fatalf("default %v", d)
	}
	for _, c := range []struct {
		frac, width uint
		bad         string // substring of the error, "" for valid
	}{
		{8, 24, ""}, {12, 48, ""}, {14, 36, ""}, {14, 64, ""},
		{7, 48, "frac 7 out of range"}, {15, 48, "frac 15 out of range"}, {70, 64, "frac 70 out of range"},
		{14, 35, "width 35 below"}, {8, 23, "width 23 below"}, {14, 65, "width 65 above"}, {12, 0, "width 0 below"},
	} {
		p, err := NewParams(c.frac, c.width)
		switch {
		case c.bad == "" && err != nil:
			t.Errorf("frac %d, width %d: %v", c.frac, c.width, err)
		case c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)):
			t.Errorf("frac %d, width %d: error %v, want %q", c.frac, c.width, err, c.bad)
		case p != (Params{Frac: c.frac, Width: c.width}):
			t.Errorf("frac %d, width %d: got %v", c.frac, c.width, p)
		}
	}
	if p, err := d.WithFrac(12); err != nil || p != (Params{Frac: 12, Width: 48}) {
		t.Errorf("WithFrac(12) = %v, %v", p, err)
	}
	if _, err := d.WithFrac(20); err == nil {
		t.Error("WithFrac(20): no error")
	}
}

// A -frac flag over the default width, checked once.
func ExampleParams_WithFrac() {
	prm, err := DefaultParams().WithFrac(12)
	fmt.Println(prm, err)
	_, err = DefaultParams().WithFrac(16)
	fmt.Println(err)
	// Output:
	// frac 12, width 48 <nil>
	// hss: params: frac 16 out of range [8,14] (the range of the norms' gates)
}
