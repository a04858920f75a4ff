package dealer

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hssee/hssee/hss"
)

func prg(seed byte) *hss.PRG { return hss.NewPRG([32]byte{seed, 1, 2, 3}) }

// program adds a small transformer-like gate sequence.
func program(t testing.TB, d *Dealer, m, k, n int) {
	t.Helper()
	const f, bits = 12, 44
	for _, err := range []error{
		d.Linear(m, n, f, bits),
		d.MulFixed(m*n, f, bits),
		d.SquareFixed(m*n, f, bits),
		d.MatMulFixed(m, n, m, f, bits),
		d.Mul(m*n, 0),
		d.Trunc(m*n, f, 0),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestDealerBundleEndToEnd(t *testing.T) {
	const m, k, n = 4, 16, 8
	fx := hss.Fixed{Frac: 12}
	d := New(prg(1))
	program(t, d, m, k, n)
	if d.Gates() != 6 {
		t.Fatalf("%d gates", d.Gates())
	}
	b0, b1 := d.bundles(t)
	// Round trip through both encodings.
	var bundles [2]*Bundle
	for i, b := range []*Bundle{b0, b1} {
		data, err := b.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(data) != b.Size() {
			t.Fatalf("party %d: Size %d, encoded %d", i, b.Size(), len(data))
		}
		var buf bytes.Buffer
		if err := WriteBundle(&buf, b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), data) {
			t.Fatal("streamed and marshalled bundles differ")
		}
		bundles[i] = new(Bundle)
		if err := bundles[i].UnmarshalBinary(data); err != nil {
			t.Fatal(err)
		}
	}
	p0, p1 := d.Bytes()
	if p0 > 6*100 { // party 0: seeds and headers only
		t.Fatalf("party 0 material %d bytes", p0)
	}
	if p1 < int64(m*n*8) {
		t.Fatalf("party 1 material %d bytes", p1)
	}
	// Evaluate the program with decoded material.
	r := rand.New(rand.NewPCG(3, 3))
	xf, wf := make([]float64, m*k), make([]float64, n*k)
	for i := range xf {
		xf[i] = r.NormFloat64()
	}
	for i := range wf {
		wf[i] = r.NormFloat64() * 0.3
	}
	x, w := fx.EncodeVec(xf), fx.EncodeVec(wf)
	seed, x1, _ := hss.Share(x, prg(2))
	sh := [2][]uint64{hss.ExpandShare(seed, len(x)), x1}
	var out [2][]uint64
	_, _, err := hss.RunPair(fx, bundles[0].Material(), bundles[1].Material(), func(p *hss.Party) error {
		y, err := p.Linear(sh[p.ID], m, k, w, n, nil, 44)
		if err != nil {
			return err
		}
		y2, err := p.MulFixed(y, y, 44)
		if err != nil {
			return err
		}
		y3, err := p.SquareFixed(y, 44)
		if err != nil {
			return err
		}
		if _, err := p.MatMulFixed(y2, transposeF(y3, m, n), m, n, m, 44); err != nil {
			return err
		}
		if _, err := p.Mul(y, y, 0); err != nil {
			return err
		}
		out[p.ID], err = p.Trunc(y2, 12, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got := fx.DecodeVec(hss.Reconstruct(out[0], out[1]))
	for i := range m {
		for j := range n {
			var ref float64
			for l := range k {
				ref += xf[i*k+l] * wf[j*k+l]
			}
			want := ref * ref / fx.Scale()
			if e := math.Abs(got[i*n+j] - want); e > 0.01 {
				t.Fatalf("(%d,%d): got %v want %v", i, j, got[i*n+j], want)
			}
		}
	}
}

func transposeF(a []uint64, r, c int) []uint64 {
	t := make([]uint64, len(a))
	for i := range r {
		for j := range c {
			t[j*r+i] = a[i*c+j]
		}
	}
	return t
}

func (d *Dealer) bundles(t testing.TB) (*Bundle, *Bundle) {
	b0, err := d.Bundle(0)
	if err != nil {
		t.Fatal(err)
	}
	b1, err := d.Bundle(1)
	if err != nil {
		t.Fatal(err)
	}
	return b0, b1
}

func TestBundleRejects(t *testing.T) {
	d := New(prg(4))
	program(t, d, 2, 3, 4)
	b0, b1 := d.bundles(t)
	good, _ := b1.MarshalBinary()
	for cut := 0; cut < len(good); cut += 1 + cut/7 {
		if new(Bundle).UnmarshalBinary(good[:cut]) == nil {
			t.Fatalf("truncated bundle (%d of %d) accepted", cut, len(good))
		}
	}
	bad := func(name string, mutate func([]byte) []byte, want string) {
		t.Helper()
		b := mutate(append([]byte(nil), good...))
		err := new(Bundle).UnmarshalBinary(b)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want error containing %q", name, err, want)
		}
	}
	bad("magic", func(b []byte) []byte { b[0] = 'X'; return b }, "magic")
	bad("version", func(b []byte) []byte { b[4] = 9; return b }, "version")
	bad("party", func(b []byte) []byte { b[5] = 2; return b }, "party")
	bad("wrong party", func(b []byte) []byte { b[5] = 0; return b }, "party 1's in party 0's")
	bad("trailing", func(b []byte) []byte { return append(b, 0) }, "trailing")
	bad("kind", func(b []byte) []byte { b[11] = 'x'; return b }, "unknown kind")
	bad("count", func(b []byte) []byte { b[6]++; return b }, "key 6 of 7")
	if _, err := d.Bundle(2); err == nil {
		t.Fatal("party 2 accepted")
	}
	if err := d.Push(b0.Keys[0], b1.Keys[1]); err == nil {
		t.Fatal("mismatched pair accepted")
	}
}

func FuzzBundle(f *testing.F) {
	d := New(prg(5))
	program(f, d, 2, 2, 2)
	b0, b1 := d.bundles(f)
	for _, b := range []*Bundle{b0, b1} {
		data, _ := b.MarshalBinary()
		f.Add(data)
	}
	f.Add([]byte("HSSB\x01\x00\xff\xff\xff\xff"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Bundle
		if err := b.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := b.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, data) {
			t.Fatal("decoded bundle does not re-encode to the same bytes")
		}
	})
}
