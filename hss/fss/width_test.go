package fss

import (
	"bytes"
	"encoding"
	"math/rand/v2"
	"testing"
)

// TestDPFWidth: a batch made narrow (SetWidth) evaluates, party against party, to the payload mod
// 2^Width, round-trips through its encoding byte for byte, is smaller by the packed words, and
// refuses a corrupted width byte or padding.
func TestDPFWidth(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	const n, bits, p = 20, 8, 4
	alphas, betas := make([]uint64, n), make([]uint64, n*p)
	for i := range alphas {
		alphas[i] = r.Uint64() & (1<<bits - 1)
	}
	for i := range betas {
		betas[i] = r.Uint64()
	}
	for _, c := range []struct {
		leaf, top uint
		seeded    bool
	}{{0, 0, false}, {3, 0, false}, {3, 3, false}, {3, 3, true}} {
		gen := GenDPFTop
		if c.seeded {
			gen = GenDPFTopSeeded
		}
		k0, k1, err := gen(newRNG(9), bits, c.leaf, c.top, p, alphas, betas)
		if err != nil {
			t.Fatal(err)
		}
		full := k0.Size()
		const w = 51
		for _, k := range []*DPFKeys{k0, k1} {
			if err := k.SetWidth(w); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := full-k0.Size(), k0.N*k0.leafVals()*8-(k0.N*k0.leafVals()*w+7)/8-1; got != want {
			t.Fatalf("leaf %d top %d: %d bytes saved, want %d", c.leaf, c.top, got, want)
		}
		for _, k := range []*DPFKeys{k0, k1} {
			var d DPFKeys
			b := narrowRoundTrip(t, k, &d, k.Size())
			if d.Width != w {
				t.Fatalf("width %d after decoding", d.Width)
			}
			bad := append([]byte(nil), b...)
			bad[headerLen] = 64
			if d.UnmarshalBinary(bad) == nil {
				t.Fatal("width 64 accepted")
			}
		}
		// Outputs: the parties' shares add up to the payload at α, 0 elsewhere, mod 2^w.
		wk := getWorker()
		defer workers.Put(wk)
		for i := range n {
			for x := uint64(0); x < 1<<bits; x++ {
				o0, o1 := make([]uint64, p), make([]uint64, p)
				wk.EvalPoint(k0, i, x, o0)
				wk.EvalPoint(k1, i, x, o1)
				for j := range p {
					want := uint64(0)
					if x == alphas[i] {
						want = betas[i*p+j]
					}
					if (o0[j]+o1[j]-want)&(1<<w-1) != 0 {
						t.Fatalf("leaf %d top %d: key %d at %d payload %d wrong mod 2^%d", c.leaf, c.top, i, x, j, w)
					}
				}
			}
		}
	}
}

// TestDCFWidth: a DCF batch made narrow evaluates, party against party, to β·1{x < α} mod 2^Width,
// round-trips through its encoding byte for byte and is smaller by the packed words.
func TestDCFWidth(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 7))
	const n, bits, p, w = 12, 7, 3, 36
	alphas, betas := make([]uint64, n), make([]uint64, n*p)
	for i := range alphas {
		alphas[i] = r.Uint64() & (1<<bits - 1)
	}
	for i := range betas {
		betas[i] = r.Uint64()
	}
	k0, k1, err := GenDCF(newRNG(3), bits, p, alphas, betas)
	if err != nil {
		t.Fatal(err)
	}
	full := k0.Size()
	for _, k := range []*DCFKeys{k0, k1} {
		if err := k.SetWidth(w); err != nil {
			t.Fatal(err)
		}
	}
	if k0.SetWidth(64) == nil {
		t.Fatal("a narrowed batch widened")
	}
	nb := n * bits
	if got, want := full-k0.Size(), 8*(nb*p+n*p)-(nb*p*w+7)/8-(n*p*w+7)/8-1; got != want {
		t.Fatalf("%d bytes saved, want %d", got, want)
	}
	for _, k := range []*DCFKeys{k0, k1} {
		var d DCFKeys
		narrowRoundTrip(t, k, &d, k.Size())
		if d.Width != w {
			t.Fatalf("width %d after decoding", d.Width)
		}
	}
	wk := NewWorker()
	for i := range n {
		for x := uint64(0); x < 1<<bits; x++ {
			o0, o1 := make([]uint64, p), make([]uint64, p)
			wk.EvalMulti(k0, []int{i}, []uint64{x}, o0)
			wk.EvalMulti(k1, []int{i}, []uint64{x}, o1)
			for j := range p {
				want := uint64(0)
				if x < alphas[i] {
					want = betas[i*p+j]
				}
				if (o0[j]+o1[j]-want)&(1<<w-1) != 0 {
					t.Fatalf("key %d at %d payload %d wrong mod 2^%d", i, x, j, w)
				}
			}
		}
	}
}

// narrowRoundTrip encodes k (of Size size), decodes it into d, checks the length and that d re-encodes
// byte for byte, and returns the encoding.
func narrowRoundTrip(t *testing.T, k encoding.BinaryMarshaler, d interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}, size int) []byte {
	t.Helper()
	b, err := k.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != headerLen+size {
		t.Fatalf("encoding of %d bytes, Size %d", len(b), headerLen+size)
	}
	if err := d.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if b2, _ := d.MarshalBinary(); !bytes.Equal(b, b2) {
		t.Fatal("re-encoding differs")
	}
	return b
}
