package fss

import (
	"math/rand/v2"
	"testing"
)

// TestDPFLowLess checks EvalLowLessBatch against 1{x mod 2^(Bits−1) < α mod 2^(Bits−1)} for every
// shape the lookups use and the corners around it: plain, early-terminated, top-expanded and seeded
// keys, narrowed final words, odd first components other than 1, every x for small widths, and x
// next to α.
func TestDPFLowLess(t *testing.T) {
	rng := newRNG(21)
	pr := rand.New(rand.NewPCG(21, 22))
	type shape struct {
		bits, leaf, top uint
		p               int
		seeded          bool
		width           uint
	}
	shapes := []shape{
		{bits: 2, p: 1}, {bits: 3, leaf: 1, p: 2}, {bits: 5, leaf: 4, p: 1},
		{bits: 8, leaf: 3, top: 3, p: 4, seeded: true, width: 49}, // the GeLU lookup's
		{bits: 8, leaf: 3, top: 3, p: 4},
		{bits: 8, leaf: 2, top: 3, p: 4, seeded: true, width: 49},
		{bits: 9, leaf: 3, top: 3, p: 4, seeded: true},
		{bits: 8, leaf: 0, top: 1, p: 1, seeded: true},
		{bits: 8, leaf: 1, top: 6, p: 3}, {bits: 8, leaf: 2, top: 6, p: 3},
		{bits: 11, leaf: 5, top: 6, p: 2, seeded: true, width: 1},
		{bits: 12, p: 1}, {bits: 12, leaf: 6, p: 5, width: 9},
	}
	w0, w1 := NewWorker(), NewWorker()
	for si, sh := range shapes {
		const n = 40
		alphas := make([]uint64, n)
		betas := make([]uint64, n*sh.p)
		for i := range alphas {
			alphas[i] = pr.Uint64() & maskBits(sh.bits)
			for c := range sh.p {
				betas[i*sh.p+c] = pr.Uint64()
			}
			betas[i*sh.p] |= 1 // odd first component
		}
		var k0, k1 *DPFKeys
		var err error
		switch {
		case sh.seeded:
			// Either party seeded (GenDPFTopSeededParty trades the batches and negates β: −β[0] is odd too).
			k0, k1, err = GenDPFTopSeededParty(rng, si%2, sh.bits, sh.leaf, sh.top, sh.p, alphas, betas)
		default:
			k0, k1, err = GenDPFTop(rng, sh.bits, sh.leaf, sh.top, sh.p, alphas, betas)
		}
		if err == nil && sh.width > 0 {
			if err = k0.SetWidth(sh.width); err == nil {
				err = k1.SetWidth(sh.width)
			}
		}
		if err != nil {
			t.Fatalf("shape %d: %v", si, err)
		}
		low := maskBits(sh.bits - 1)
		for i, a := range alphas {
			var xs []uint64
			if sh.bits <= 9 {
				for x := range uint64(1) << sh.bits {
					xs = append(xs, x)
				}
			} else {
				for range 200 {
					xs = append(xs, pr.Uint64()&maskBits(sh.bits))
				}
				for d := uint64(0); d < 4; d++ { // next to α, in both halves
					for _, h := range []uint64{0, 1 << (sh.bits - 1)} {
						xs = append(xs, (a+d)&low|h, (a-d)&low|h)
					}
				}
			}
			// Key i against every x: a batch of copies of key i is not possible, so evaluate the
			// batch [i, i+1) once per x.
			for _, x := range xs {
				var o0, o1 [1]uint64
				if err := w0.EvalLowLessBatch(k0, i, []uint64{x}, o0[:]); err != nil {
					t.Fatal(err)
				}
				if err := w1.EvalLowLessBatch(k1, i, []uint64{x}, o1[:]); err != nil {
					t.Fatal(err)
				}
				var want uint64
				if x&low < a&low {
					want = 1
				}
				if o0[0]>>1 != 0 || o1[0]>>1 != 0 || o0[0]^o1[0] != want {
					t.Fatalf("shape %+v: key %d (α %#x), x %#x: shares %d, %d; want %d", sh, i, a, x, o0[0], o1[0], want)
				}
			}
		}
		// A batch over all keys at once agrees with the single evaluations.
		xs := make([]uint64, n)
		for i := range xs {
			xs[i] = pr.Uint64() & maskBits(sh.bits)
		}
		b0, b1 := make([]uint64, n), make([]uint64, n)
		if err := w0.EvalLowLessBatch(k0, 0, xs, b0); err != nil {
			t.Fatal(err)
		}
		if err := w1.EvalLowLessBatch(k1, 0, xs, b1); err != nil {
			t.Fatal(err)
		}
		for i, x := range xs {
			var want uint64
			if x&low < alphas[i]&low {
				want = 1
			}
			if b0[i]^b1[i] != want {
				t.Fatalf("shape %+v: batch element %d wrong", sh, i)
			}
		}
	}
}

func TestDPFLowLessErrors(t *testing.T) {
	rng := newRNG(23)
	k0, _, err := GenDPFLeaf(rng, 4, 4, 1, []uint64{3}, []uint64{1})
	if err != nil {
		t.Fatal(err)
	}
	w := NewWorker()
	if err := w.EvalLowLessBatch(k0, 0, []uint64{1}, make([]uint64, 1)); err == nil {
		t.Fatal("a key without a tree level was accepted")
	}
	k0, _, err = GenDPFLeaf(rng, 4, 1, 1, []uint64{3}, []uint64{1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.EvalLowLessBatch(k0, 0, []uint64{1, 2}, make([]uint64, 2)); err == nil {
		t.Fatal("a batch past the keys was accepted")
	}
	if err := w.EvalLowLessBatch(k0, 0, []uint64{1}, nil); err == nil {
		t.Fatal("a short output was accepted")
	}
}
