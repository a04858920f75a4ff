package hss

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestKeyFrames(t *testing.T) {
	k0, k1, err := GenTrunc(testRNG(1), 5, 12, 40)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, k := range []MarshalKey{k0, k1} {
		if b, err = AppendKeyFrame(b, k); err != nil {
			t.Fatal(err)
		}
	}
	r := bytes.NewReader(b)
	for i, want := range []MarshalKey{k0, k1} {
		k, n, err := ReadKeyFrame(r, 1<<20)
		if err != nil || k.Kind() != "trunc" || n != int64(want.Size()) {
			t.Fatalf("frame %d: %v %v %d", i, k, err, n)
		}
	}
	if _, _, err := ReadKeyFrame(r, 1<<20); err != io.EOF {
		t.Fatalf("clean end: %v", err)
	}
	for name, tc := range map[string]struct {
		in     []byte
		budget int64
		want   string
	}{
		"cut":          {b[:7], 1 << 20, "unexpected EOF"},
		"empty kind":   {[]byte{0}, 1 << 20, "empty kind"},
		"unknown kind": {[]byte{3, 'x', 'y', 'z', 0, 0, 0, 0}, 1 << 20, "unknown kind"},
		"over budget":  {b, 10, "too large"},
	} {
		_, _, err := ReadKeyFrame(bytes.NewReader(tc.in), tc.budget)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		if name == "over budget" && !errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("over budget: %v does not wrap ErrFrameTooLarge", err)
		}
	}
}
