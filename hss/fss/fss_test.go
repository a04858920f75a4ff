package fss

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// testRNG is a deterministic io.Reader.
type testRNG struct{ r *rand.ChaCha8 }

func newRNG(seed byte) *testRNG { return &testRNG{rand.NewChaCha8([32]byte{seed})} }

func (t *testRNG) Read(b []byte) (int, error) { return t.r.Read(b) }

func TestDCFExhaustive8(t *testing.T) {
	rng := newRNG(1)
	pr := rand.New(rand.NewPCG(1, 2))
	const bits = 8
	for _, p := range []int{1, 2, 3} {
		for trial := 0; trial < 6; trial++ {
			alpha := pr.Uint64N(256)
			if trial == 0 {
				alpha = 0
			} else if trial == 1 {
				alpha = 255
			}
			n := 256
			alphas := make([]uint64, n)
			betas := make([]uint64, n*p)
			for i := range alphas {
				alphas[i] = alpha
			}
			for i := range betas {
				betas[i] = pr.Uint64()
			}
			k0, k1, err := GenDCF(rng, bits, p, alphas, betas)
			if err != nil {
				t.Fatal(err)
			}
			xs := make([]uint64, n)
			for i := range xs {
				xs[i] = uint64(i)
			}
			o0, o1 := make([]uint64, n*p), make([]uint64, n*p)
			if err := EvalBatch(0, k0, xs, o0); err != nil {
				t.Fatal(err)
			}
			if err := EvalBatch(1, k1, xs, o1); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				for j := 0; j < p; j++ {
					want := uint64(0)
					if xs[i] < alpha {
						want = betas[i*p+j]
					}
					if got := o0[i*p+j] + o1[i*p+j]; got != want {
						t.Fatalf("p=%d alpha=%d x=%d j=%d: got %x want %x", p, alpha, xs[i], j, got, want)
					}
				}
			}
		}
	}
}

// TestDCFRandomWidths checks many random (α, x) pairs at widths 16..64 and accumulates all output
// shares of party 0 into a digest (the shares are pseudorandom, so the digest pins the construction).
func TestDCFRandomWidths(t *testing.T) {
	rng := newRNG(2)
	pr := rand.New(rand.NewPCG(3, 4))
	for _, bits := range []uint{1, 2, 16, 17, 24, 31, 32, 48, 63, 64} {
		n := 300
		alphas, xs := make([]uint64, n), make([]uint64, n)
		betas := make([]uint64, 2*n)
		for i := range alphas {
			alphas[i] = pr.Uint64() & maskBits(bits)
			switch i % 4 {
			case 0:
				xs[i] = alphas[i]
			case 1:
				xs[i] = (alphas[i] - 1) & maskBits(bits)
			case 2:
				xs[i] = (alphas[i] + 1) & maskBits(bits)
			default:
				xs[i] = pr.Uint64() & maskBits(bits)
			}
			betas[2*i], betas[2*i+1] = pr.Uint64(), 1
		}
		k0, k1, err := GenDCF(rng, bits, 2, alphas, betas)
		if err != nil {
			t.Fatal(err)
		}
		o0, o1 := make([]uint64, 2*n), make([]uint64, 2*n)
		if err := EvalBatch(0, k0, xs, o0); err != nil {
			t.Fatal(err)
		}
		if err := EvalBatch(1, k1, xs, o1); err != nil {
			t.Fatal(err)
		}
		for i := range xs {
			var w0, w1 uint64
			if xs[i] < alphas[i] {
				w0, w1 = betas[2*i], 1
			}
			if o0[2*i]+o1[2*i] != w0 || o0[2*i+1]+o1[2*i+1] != w1 {
				t.Fatalf("bits=%d alpha=%x x=%x: wrong output", bits, alphas[i], xs[i])
			}
		}
		if s, per := k0.Size(), KeySize(bits, 2); s > n*per || s < n*(per-1) {
			t.Fatalf("Size %d, want about %d", s, n*per)
		}
	}
}

// TestDCFEvalMulti checks lockstep evaluation (repeated keys, every payload length, groups and
// tails) against single-path evaluation.
func TestDCFEvalMulti(t *testing.T) {
	rng := newRNG(12)
	pr := rand.New(rand.NewPCG(7, 8))
	for _, p := range []int{1, 2, 3, 8} {
		for _, bits := range []uint{1, 5, 17, 64} {
			n := 9
			alphas, betas := make([]uint64, n), make([]uint64, n*p)
			for i := range alphas {
				alphas[i] = pr.Uint64() & maskBits(bits)
			}
			for i := range betas {
				betas[i] = pr.Uint64()
			}
			k0, _, err := GenDCF(rng, bits, p, alphas, betas)
			if err != nil {
				t.Fatal(err)
			}
			w := NewWorker()
			m := 75
			keys, xs := make([]int, m), make([]uint64, m)
			for j := range keys {
				keys[j] = pr.IntN(n)
				xs[j] = pr.Uint64()
				if j%3 == 0 {
					xs[j] = alphas[keys[j]] - uint64(j%2)
				}
			}
			got, want := make([]uint64, m*p), make([]uint64, p)
			w.EvalMulti(k0, keys, xs, got)
			for j := range keys {
				w.Eval(k0, keys[j], xs[j], want)
				for q := range want {
					if got[j*p+q] != want[q] {
						t.Fatalf("p=%d bits=%d: evaluation %d differs", p, bits, j)
					}
				}
			}
		}
	}
}

func TestDCFErrors(t *testing.T) {
	rng := newRNG(3)
	if _, _, err := Gen(rng, 0, 0, 1); err == nil {
		t.Fatal("width 0 accepted")
	}
	if _, _, err := Gen(rng, 8, 256, 1); err == nil {
		t.Fatal("alpha beyond width accepted")
	}
	if _, _, err := GenDCF(rng, 8, 9, []uint64{1}, make([]uint64, 9)); err == nil {
		t.Fatal("payload 9 accepted")
	}
	k0, _, err := Gen(rng, 8, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := EvalBatch(1, k0, []uint64{1}, []uint64{0}); err == nil {
		t.Fatal("wrong party accepted")
	}
	if err := EvalBatch(0, k0, []uint64{1, 2}, []uint64{0}); err == nil {
		t.Fatal("wrong length accepted")
	}
	if err := EvalBatch(0, nil, nil, nil); err == nil {
		t.Fatal("nil keys accepted")
	}
}

func TestDPFPointAndWindow(t *testing.T) {
	rng := newRNG(4)
	pr := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ bits, leaf uint }{{1, 0}, {3, 0}, {8, 0}, {12, 0}, {20, 0}, {1, 1}, {3, 3}, {8, 2}, {12, 4}, {20, 5}, {9, 6}} {
		bits := tc.bits
		n := 20
		alphas := make([]uint64, n)
		betas := make([]uint64, 2*n)
		for i := range alphas {
			alphas[i] = pr.Uint64() & maskBits(bits)
			betas[2*i], betas[2*i+1] = pr.Uint64(), 1
		}
		k0, k1, err := GenDPFLeaf(rng, bits, tc.leaf, 2, alphas, betas)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := k0.Size(), n*DPFLeafKeySize(bits, tc.leaf, 2); got > want || got < want-n {
			t.Fatalf("size %d, want %d", got, want)
		}
		w := NewWorker()
		count := min(1<<bits, 100)
		a, b := make([]uint64, 2*count), make([]uint64, 2*count)
		p0, p1 := make([]uint64, 2), make([]uint64, 2)
		for i := range alphas {
			// a window that contains alpha (possibly wrapping), then one that may not
			for _, lo := range []uint64{alphas[i] - uint64(count/2), pr.Uint64(), alphas[i] - 1} {
				if err := w.EvalWindow(k0, i, lo, count, a); err != nil {
					t.Fatal(err)
				}
				if err := w.EvalWindow(k1, i, lo, count, b); err != nil {
					t.Fatal(err)
				}
				for j := 0; j < count; j++ {
					x := (lo + uint64(j)) & maskBits(bits)
					var w0, w1 uint64
					if x == alphas[i] {
						w0, w1 = betas[2*i], 1
					}
					if a[2*j]+b[2*j] != w0 || a[2*j+1]+b[2*j+1] != w1 {
						t.Fatalf("bits=%d window at %x: wrong value at %x", bits, lo, x)
					}
					if j%7 == 0 {
						w.EvalPoint(k0, i, x, p0)
						w.EvalPoint(k1, i, x, p1)
						if p0[0] != a[2*j] || p0[1] != a[2*j+1] || p1[0] != b[2*j] || p1[1] != b[2*j+1] {
							t.Fatalf("bits=%d: point and window evaluation disagree", bits)
						}
					}
				}
			}
		}
	}
}

// TestDPFWindowDot checks the fused window inner product against EvalWindow, across leaves,
// wrapping windows and full domains.
func TestDPFWindowDot(t *testing.T) {
	rng := newRNG(14)
	pr := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct{ bits, leaf uint }{{1, 0}, {5, 0}, {5, 5}, {9, 4}, {13, 4}, {13, 6}} {
		alphas := []uint64{pr.Uint64() & maskBits(tc.bits), 0, maskBits(tc.bits)}
		k0, k1, err := GenDPFLeaf(rng, tc.bits, tc.leaf, 1, alphas, []uint64{5, 6, 7})
		if err != nil {
			t.Fatal(err)
		}
		w := NewWorker()
		for i := range alphas {
			for _, count := range []int{1, 3, 17, 1 << tc.bits} {
				count = min(count, 1<<tc.bits)
				lo := alphas[i] - uint64(count/2)
				tab := make([]uint64, count)
				for j := range tab {
					tab[j] = pr.Uint64()
				}
				var sum uint64
				for _, k := range []*DPFKeys{k0, k1} {
					e := make([]uint64, count)
					if err := w.EvalWindow(k, i, lo, count, e); err != nil {
						t.Fatal(err)
					}
					var want uint64
					for j := range e {
						want += tab[j] * e[j]
					}
					got, err := w.EvalWindowDot(k, i, lo, tab)
					if err != nil || got != want {
						t.Fatalf("bits=%d leaf=%d count=%d: dot %x, want %x (%v)", tc.bits, tc.leaf, count, got, want, err)
					}
					sum += got
				}
				off := (alphas[i] - lo) & maskBits(tc.bits)
				if int(off) < count && sum != tab[off]*uint64(5+i) {
					t.Fatal("dot product does not pick the point's entry")
				}
			}
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	rng := newRNG(5)
	k0, k1, err := GenDCF(rng, 13, 3, []uint64{5, 4095, 8000}, make([]uint64, 9))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*DCFKeys{k0, k1} {
		b, err := k.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != headerLen+k.Size() {
			t.Fatalf("encoded %d bytes, Size %d", len(b), k.Size())
		}
		var d DCFKeys
		if err := d.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		b2, _ := d.MarshalBinary()
		if !bytes.Equal(b, b2) {
			t.Fatal("re-encoding differs")
		}
		if err := d.UnmarshalBinary(b[:len(b)-1]); err == nil {
			t.Fatal("truncated key accepted")
		}
	}
	d0, _, err := GenDPF(rng, 11, 1, []uint64{7, 9}, []uint64{1, 1})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := d0.MarshalBinary()
	var d DPFKeys
	if err := d.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if b2, _ := d.MarshalBinary(); !bytes.Equal(b, b2) {
		t.Fatal("dpf re-encoding differs")
	}
	e0, _, err := GenDPFLeaf(rng, 11, 4, 1, []uint64{7, 9}, []uint64{1, 1})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = e0.MarshalBinary()
	if len(b) != headerLen+e0.Size() || string(b[:4]) != "DPF2" {
		t.Fatalf("early-terminated encoding: %d bytes, Size %d", len(b), e0.Size())
	}
	if err := d.UnmarshalBinary(b); err != nil || d.Leaf != 4 {
		t.Fatal(err, d.Leaf)
	}
	if b2, _ := d.MarshalBinary(); !bytes.Equal(b, b2) {
		t.Fatal("early-terminated dpf re-encoding differs")
	}
	if err := d.UnmarshalBinary(b[:len(b)-1]); err == nil {
		t.Fatal("truncated key accepted")
	}
	if _, _, err := GenDPFLeaf(rng, 3, 4, 1, []uint64{1}, []uint64{1}); err == nil {
		t.Fatal("leaf above width accepted")
	}
}

// TestDCFDigest pins the construction: party 0's shares over a deterministic key set hash to a fixed
// value, so an accidental change of the PRG or the key layout is caught.
func TestDCFDigest(t *testing.T) {
	rng := newRNG(9)
	n := 64
	alphas, xs, betas := make([]uint64, n), make([]uint64, n), make([]uint64, n)
	for i := range alphas {
		alphas[i], xs[i], betas[i] = uint64(i*977)&0xfff, uint64(i*131)&0xfff, uint64(i)
	}
	k0, _, err := GenDCF(rng, 12, 1, alphas, betas)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]uint64, n)
	if err := EvalBatch(0, k0, xs, out); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, v := range out {
		binary.Write(h, binary.LittleEndian, v)
	}
	if got := fmt.Sprintf("%x", h.Sum(nil)[:8]); got != "0b67063692a2a1c4" {
		t.Fatalf("digest %s: the PRG, key generation or evaluation changed", got)
	}
	out2 := make([]uint64, n)
	if err := EvalBatch(0, k0, xs, out2); err != nil {
		t.Fatal(err)
	}
	for i := range out {
		if out[i] != out2[i] {
			t.Fatal("evaluation is not deterministic")
		}
	}
}

func FuzzDCFUnmarshal(f *testing.F) {
	rng := newRNG(7)
	k0, _, _ := GenDCF(rng, 9, 2, []uint64{3, 100}, make([]uint64, 4))
	addEncoding(f, k0)
	n0, _, _ := GenDCF(rng, 9, 2, []uint64{3, 100}, []uint64{1, 2, 3, 4})
	_ = n0.SetWidth(36) // a narrow batch (the width byte, packed value words)
	addEncoding(f, n0)
	f.Add([]byte("DCF1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var k DCFKeys
		if !decodesCanonically(t, &k, data) {
			return
		}
		xs := make([]uint64, k.N)
		if err := EvalBatch(k.Party, &k, xs, make([]uint64, k.N*k.P)); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzDPFUnmarshal(f *testing.F) {
	rng := newRNG(8)
	k0, _, _ := GenDPF(rng, 9, 2, []uint64{3, 100}, make([]uint64, 4))
	addEncoding(f, k0)
	f.Add([]byte("DPF1"))
	e0, _, _ := GenDPFLeaf(rng, 9, 3, 1, []uint64{3, 100}, make([]uint64, 2))
	addEncoding(f, e0)
	t0, _, _ := GenDPFTop(rng, 8, 3, 3, 4, []uint64{3, 100}, make([]uint64, 8))
	addEncoding(f, t0)
	s0, _, _ := GenDPFTopSeeded(rng, 8, 3, 3, 4, []uint64{3, 100}, make([]uint64, 8))
	addEncoding(f, s0)
	n0, _, _ := GenDPFTopSeeded(rng, 8, 3, 3, 4, []uint64{3, 100}, make([]uint64, 8))
	_ = n0.SetWidth(51) // a narrow batch (the width byte, packed final words)
	addEncoding(f, n0)
	f.Fuzz(func(t *testing.T, data []byte) {
		var k DPFKeys
		if !decodesCanonically(t, &k, data) {
			return
		}
		w := NewWorker()
		o := make([]uint64, k.P)
		win := make([]uint64, 3*k.P)
		for i := 0; i < k.N; i++ {
			w.EvalPoint(&k, i, 1, o)
			if k.Bits <= MaxWindowBits && k.Bits >= 2 {
				if err := w.EvalWindow(&k, i, 1, 3, win); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// addEncoding adds k's encoding to f's seed corpus.
func addEncoding(f *testing.F, k encoding.BinaryMarshaler) {
	b, err := k.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
}

// decodesCanonically decodes data into k and reports whether k accepted it; an accepted encoding must
// be k's encoding again.
func decodesCanonically(t *testing.T, k interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}, data []byte) bool {
	t.Helper()
	if err := k.UnmarshalBinary(data); err != nil {
		return false
	}
	out, err := k.MarshalBinary()
	if err != nil || !bytes.Equal(out, data) {
		t.Fatal("accepted encoding is not canonical")
	}
	return true
}

func benchDCF(b *testing.B, bits uint) {
	rng := newRNG(10)
	n := 4096
	alphas, xs := make([]uint64, n), make([]uint64, n)
	pr := rand.New(rand.NewPCG(1, 1))
	for i := range alphas {
		alphas[i], xs[i] = pr.Uint64()&maskBits(bits), pr.Uint64()&maskBits(bits)
	}
	k0, _, err := GenDCF(rng, bits, 1, alphas, make([]uint64, n))
	if err != nil {
		b.Fatal(err)
	}
	out := make([]uint64, n)
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		if err := EvalBatch(0, k0, xs, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
	b.ReportMetric(float64(KeySize(bits, 1)), "keyB")
}

func BenchmarkDCF12(b *testing.B) { benchDCF(b, 12) }
func BenchmarkDCF16(b *testing.B) { benchDCF(b, 16) }
func BenchmarkDCF24(b *testing.B) { benchDCF(b, 24) }

func BenchmarkDPFWindow1024(b *testing.B)      { benchWindow(b, 0) }
func BenchmarkDPFWindow1024Leaf4(b *testing.B) { benchWindow(b, 4) }

func benchWindow(b *testing.B, leaf uint) {
	rng := newRNG(11)
	k0, _, err := GenDPFLeaf(rng, 16, leaf, 1, []uint64{1234}, []uint64{1})
	if err != nil {
		b.Fatal(err)
	}
	w := NewWorker()
	out := make([]uint64, 1024)
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		if err := w.EvalWindow(k0, 0, 1000, 1024, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1024), "ns/point")
}

// TestEvalBatch8 pins the AVX-512 batch walk of payload-2 keys (dcfEval8, where the CPU has it) to
// the one-path evaluation, bit for bit, for widths 1..40 and batch sizes around multiples of 8 and
// of its chunk.
func TestEvalBatch8(t *testing.T) {
	rng := newRNG(51)
	pr := rand.New(rand.NewPCG(51, 52))
	for _, bits := range []uint{1, 2, 5, 7, 8, 12, 13, 22, 27, 40} {
		for _, n := range []int{1, 7, 8, 9, 63, 64, 513, 1030} {
			alphas, betas, xs := make([]uint64, n), make([]uint64, 2*n), make([]uint64, n)
			for i := range alphas {
				alphas[i] = pr.Uint64() & maskBits(bits)
				betas[2*i], betas[2*i+1] = pr.Uint64(), pr.Uint64()
				xs[i] = pr.Uint64()
				if i%3 == 0 {
					xs[i] = alphas[i] + uint64(pr.IntN(3)) - 1
				}
			}
			k0, k1, err := GenDCF(rng, bits, 2, alphas, betas)
			if err != nil {
				t.Fatal(err)
			}
			w := NewWorker()
			for _, k := range []*DCFKeys{k0, k1} {
				got := make([]uint64, 2*n)
				if err := EvalBatch(k.Party, k, xs, got); err != nil {
					t.Fatal(err)
				}
				want := make([]uint64, 2)
				for i := range n {
					w.Eval(k, i, xs[i], want)
					if got[2*i] != want[0] || got[2*i+1] != want[1] {
						t.Fatalf("bits %d n %d party %d key %d: %x %x, want %x %x", bits, n, k.Party, i, got[2*i], got[2*i+1], want[0], want[1])
					}
				}
			}
		}
	}
}

// BenchmarkDCFPayload2 is the gates' shape (payload 2): SiLU's 7-bit sign and the max tree's
// 13-bit comparisons, all keys evaluated once (EvalBatch).
func BenchmarkDCFPayload2(b *testing.B) {
	for _, bits := range []uint{7, 13} {
		b.Run(fmt.Sprint(bits), func(b *testing.B) {
			rng := newRNG(10)
			n := 1 << 14
			alphas, xs := make([]uint64, n), make([]uint64, n)
			pr := rand.New(rand.NewPCG(1, 1))
			for i := range alphas {
				alphas[i], xs[i] = pr.Uint64()&maskBits(bits), pr.Uint64()&maskBits(bits)
			}
			k0, _, err := GenDCF(rng, bits, 2, alphas, make([]uint64, 2*n))
			if err != nil {
				b.Fatal(err)
			}
			out := make([]uint64, 2*n)
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				if err := EvalBatch(0, k0, xs, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
		})
	}
}

// TestEvalPoints pins the one-key, many-points walk (replicated lanes of dcfEval8 where available)
// to Eval, for payload 2 and, through EvalMulti, payload 3.
func TestEvalPoints(t *testing.T) {
	rng := newRNG(53)
	pr := rand.New(rand.NewPCG(53, 54))
	for _, p := range []int{2, 3} {
		for _, bits := range []uint{1, 6, 13, 27, 44} {
			const n = 5
			alphas, betas := make([]uint64, n), make([]uint64, p*n)
			for i := range alphas {
				alphas[i] = pr.Uint64() & maskBits(bits)
				for c := range p {
					betas[p*i+c] = pr.Uint64()
				}
			}
			k0, k1, err := GenDCF(rng, bits, p, alphas, betas)
			if err != nil {
				t.Fatal(err)
			}
			w := NewWorker()
			for _, np := range []int{1, 7, 8, 9, 17, 31} {
				for _, k := range []*DCFKeys{k0, k1} {
					i := pr.IntN(n)
					xs := make([]uint64, np)
					for j := range xs {
						xs[j] = pr.Uint64() & maskBits(bits)
					}
					got := make([]uint64, p*np)
					w.EvalPoints(k, i, xs, got)
					want := make([]uint64, p)
					for j := range xs {
						w.Eval(k, i, xs[j], want)
						for c := range p {
							if got[p*j+c] != want[c] {
								t.Fatalf("p %d bits %d points %d party %d: point %d slot %d %x, want %x", p, bits, np, k.Party, j, c, got[p*j+c], want[c])
							}
						}
					}
				}
			}
		}
	}
}
