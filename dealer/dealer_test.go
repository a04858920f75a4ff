package dealer

import (
	"bytes"
	"io"
	"math"
	"math/rand/v2"
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

func TestDealerEndToEnd(t *testing.T) {
	const m, k, n = 4, 16, 8
	fx := hss.Fixed{Frac: 12}
	d := New(prg(1))
	program(t, d, m, k, n)
	if d.Gates() != 6 {
		t.Fatalf("%d gates", d.Gates())
	}
	// Round trip every key through the key-frame codec the parties read
	// (hss.AppendKeyFrame / hss.ReadKeyFrame), then evaluate with the
	// decoded keys.
	var decoded [2]*hss.Material
	for i := range 2 {
		keys, err := d.Keys(i)
		if err != nil {
			t.Fatal(err)
		}
		var data []byte
		for _, k := range keys {
			if data, err = hss.AppendKeyFrame(data, k); err != nil {
				t.Fatal(err)
			}
		}
		decoded[i] = hss.NewMaterial()
		r := bytes.NewReader(data)
		for {
			k, _, err := hss.ReadKeyFrame(r, 1<<30)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if p, ok := k.(interface{ PartyID() int }); ok && p.PartyID() != i {
				t.Fatalf("party %d's keys hold party %d's", i, p.PartyID())
			}
			decoded[i].Push(k)
		}
		if decoded[i].Remaining() != len(keys) {
			t.Fatalf("party %d: %d keys decoded of %d", i, decoded[i].Remaining(), len(keys))
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
	_, _, err := hss.RunPair(fx, decoded[0], decoded[1], func(p *hss.Party) error {
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

// TestDealerRefuses: bad parties and mismatched pairs are errors.
func TestDealerRefuses(t *testing.T) {
	d := New(prg(4))
	program(t, d, 2, 3, 4)
	if _, err := d.Keys(2); err == nil {
		t.Fatal("party 2 accepted")
	}
	k0, _ := d.Keys(0)
	k1, _ := d.Keys(1)
	if err := d.Push(k0[0], k1[1]); err == nil {
		t.Fatal("mismatched pair accepted")
	}
	if err := d.Push(k0[0], nil); err == nil {
		t.Fatal("nil key accepted")
	}
}
