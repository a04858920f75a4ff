package hss

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// shareFor splits x into party shares with rng.
func shareFor(t testing.TB, x []uint64, rng io.Reader) [2][]uint64 {
	t.Helper()
	seed, x1, err := Share(x, rng)
	if err != nil {
		t.Fatal(err)
	}
	return [2][]uint64{ExpandShare(seed, len(x)), x1}
}

// run evaluates f for both parties with the given keys and returns the reconstructed output.
func run(t testing.TB, fx Fixed, k0, k1 Key, f func(p *Party) ([]uint64, error)) ([]uint64, Stats, Stats) {
	t.Helper()
	var out [2][]uint64
	s0, s1, err := RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
		var err error
		out[p.ID], err = f(p)
		if err == nil && p.Keys.Remaining() != 0 {
			err = errors.New("material left over")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return Reconstruct(out[0], out[1]), s0, s1
}

// edgeInputs returns signed inputs with |x| < 2^(bits−2), including both range limits.
func edgeInputs(r *rand.Rand, n int, bits uint) []uint64 {
	lim := int64(1) << (bits - 2) // exclusive
	var xs []int64
	for _, v := range []int64{0, 1, -1, 2, -2, lim - 1, -lim, -lim + 1, lim - 2, 4095, -4096, 4096, -4097} {
		if v >= -lim && v < lim {
			xs = append(xs, v)
		}
	}
	for len(xs) < n {
		var v int64
		switch r.IntN(4) {
		case 0: // anywhere in range
			v = int64(r.Uint64()>>(65-bits)) - lim
		case 1: // small
			v = r.Int64N(1<<20) - 1<<19
		case 2: // near the top
			v = lim - 1 - r.Int64N(1<<10)
		default: // near the bottom
			v = -lim + r.Int64N(1<<10)
		}
		if v >= -lim && v < lim {
			xs = append(xs, v)
		}
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(xs[i])
	}
	return out
}

func TestTruncFaithful(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	rng := testRNG(7)
	for _, tc := range []struct{ frac, bits uint }{
		{12, 64}, {16, 64}, {0, 64}, {62, 64}, {12, 48}, {12, 37}, {12, 14}, {1, 3}, {0, 2},
	} {
		t.Run(fmt.Sprintf("f%d_l%d", tc.frac, tc.bits), func(t *testing.T) {
			n := 4000
			x := edgeInputs(r, n, tc.bits)
			sh := shareFor(t, x, rng)
			k0, k1, err := GenTrunc(rng, n, tc.frac, tc.bits)
			if err != nil {
				t.Fatal(err)
			}
			y, s0, s1 := run(t, Fixed{Frac: tc.frac}, k0, k1, func(p *Party) ([]uint64, error) {
				return p.Trunc(sh[p.ID], tc.frac, tc.bits)
			})
			for i := range x {
				want := int64(x[i]) >> tc.frac // floor
				if d := int64(y[i]) - want; d != 0 && d != 1 {
					t.Fatalf("x=%d: got %d, want %d or %d", int64(x[i]), int64(y[i]), want, want+1)
				}
			}
			wantBytes := int64(PackedLen(n, tc.bits))
			if s0.Rounds != 1 || s0.BytesSent != wantBytes || s1.BytesSent != wantBytes {
				t.Fatalf("cost %+v %+v, want 1 round and %d bytes each", s0, s1, wantBytes)
			}
		})
	}
}

// TestTruncUnbiased checks the stochastic rounding: x = k + 1/4 (in units of 2^f) rounds up a quarter
// of the time.
func TestTruncUnbiased(t *testing.T) {
	const n, f = 8000, 12
	rng := testRNG(8)
	x := make([]uint64, n)
	for i := range x {
		x[i] = uint64(int64(-5<<f+1<<(f-2)) + int64(i)*0)
	}
	sh := shareFor(t, x, rng)
	k0, k1, _ := GenTrunc(rng, n, f, 40)
	y, _, _ := run(t, Fixed{Frac: f}, k0, k1, func(p *Party) ([]uint64, error) { return p.Trunc(sh[p.ID], f, 40) })
	ups := 0
	for _, v := range y {
		ups += int(int64(v) - (-5))
	}
	if frac := float64(ups) / n; math.Abs(frac-0.25) > 0.03 {
		t.Fatalf("rounded up %.3f of the time, want 0.25", frac)
	}
}

// TestLinear checks Linear (uint64 weights) and LinearW32 (the same weights stored as int32): both
// within one unit of the exact product of the encoded operands, in one round.
func TestLinear(t *testing.T) {
	fx := Fixed{Frac: 12}
	r := rand.New(rand.NewPCG(9, 9))
	rng := testRNG(9)
	const m, k, n = 7, 65, 33
	xf, wf, bf := make([]float64, m*k), make([]float64, n*k), make([]float64, n)
	for i := range xf {
		xf[i] = r.NormFloat64() * 3
	}
	for i := range wf {
		wf[i] = r.NormFloat64() * 0.2
	}
	for i := range bf {
		bf[i] = r.NormFloat64()
	}
	x, w, b := fx.EncodeVec(xf), fx.EncodeVec(wf), fx.EncodeVec(bf)
	w32, err := fx.EncodeVecW32(wf)
	if err != nil {
		t.Fatal(err)
	}
	sh := shareFor(t, x, rng)
	for _, variant := range []string{"uint64", "int32"} {
		k0, k1, err := GenLinear(rng, m, n, fx.Frac, 44)
		if err != nil {
			t.Fatal(err)
		}
		y, s0, _ := run(t, fx, k0, k1, func(p *Party) ([]uint64, error) {
			if variant == "int32" {
				return p.LinearW32(sh[p.ID], m, k, w32, n, b, 44)
			}
			return p.Linear(sh[p.ID], m, k, w, n, b, 44)
		})
		for i := range m {
			for j := range n {
				ref := fx.Decode(b[j])
				exact := ref
				for l := range k {
					ref += xf[i*k+l] * wf[j*k+l]
					exact += fx.Decode(x[i*k+l]) * fx.Decode(w[j*k+l])
				}
				got := fx.Decode(y[i*n+j])
				// Within one unit of the exact product of the encoded operands ...
				if math.Abs(got-exact) > 1/fx.Scale()+1e-12 {
					t.Fatalf("%s (%d,%d): got %v, exact on encoded operands %v", variant, i, j, got, exact)
				}
				// ... and within the encoding error of the float reference: k·(|x|+|w|)·2^−f−1 + 2^−f.
				if math.Abs(got-ref) > 0.05 {
					t.Fatalf("%s (%d,%d): got %v, float reference %v", variant, i, j, got, ref)
				}
			}
		}
		if s0.Rounds != 1 {
			t.Fatalf("%s: %d rounds", variant, s0.Rounds)
		}
	}
}

// TestMatMulPublicW32 checks that int32 weights give exactly the ring elements of the same weights
// stored as uint64, on shares (full-range x) and extreme weights.
func TestMatMulPublicW32(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	for _, s := range [][3]int{{1, 288, 37}, {1, 1, 1}, {5, 33, 9}, {17, 70, 65}, {0, 3, 2}, {2, 0, 3}} {
		m, k, n := s[0], s[1], s[2]
		x, w32 := make([]uint64, m*k), make([]int32, n*k)
		for i := range x {
			x[i] = r.Uint64()
		}
		for i := range w32 {
			w32[i] = [...]int32{math.MinInt32, math.MaxInt32, -1, 1, int32(r.Uint32())}[r.IntN(5)]
		}
		w := make([]uint64, len(w32))
		for i, v := range w32 {
			w[i] = uint64(int64(v))
		}
		want, err := MatMulPublic(x, m, k, w, n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := MatMulPublicW32(x, m, k, w32, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%v: %d values, want %d", s, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%v: element %d = %#x, want %#x", s, i, got[i], want[i])
			}
		}
	}
	if _, err := MatMulPublicW32(make([]uint64, 4), 2, 2, make([]int32, 3), 2); err == nil {
		t.Fatal("short w accepted")
	}
}

func TestEncodeW32(t *testing.T) {
	fx := Fixed{Frac: 14}
	for _, c := range []struct {
		x    float64
		want int32
		ok   bool
	}{
		{0, 0, true}, {1, 1 << 14, true}, {-1.5, -3 << 13, true}, {math.Ldexp(math.MaxInt32, -14), math.MaxInt32, true}, {131071.99997, 0, false},
		{-131072, math.MinInt32, true}, {131072, 0, false}, {-131073, 0, false}, {1e30, 0, false},
		{math.NaN(), 0, false}, {math.Inf(1), 0, false}, {math.Inf(-1), 0, false},
	} {
		got, err := fx.EncodeW32(c.x)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("EncodeW32(%g) = %d, %v; want %d, ok %v", c.x, got, err, c.want, c.ok)
		}
		if err == nil && uint64(int64(got)) != fx.Encode(c.x) {
			t.Errorf("EncodeW32(%g) = %d, Encode %#x", c.x, got, fx.Encode(c.x))
		}
	}
	if _, err := fx.EncodeVecW32([]float64{1, 2, 2e5}); err == nil || !strings.Contains(err.Error(), "element 2") {
		t.Fatalf("EncodeVecW32 out of range: %v", err)
	}
}

func TestBeaverRing(t *testing.T) {
	rng := testRNG(10)
	const n = 500
	x, y := make([]uint64, n), make([]uint64, n)
	rng.Uint64s(x)
	rng.Uint64s(y)
	sx, sy := shareFor(t, x, rng), shareFor(t, y, rng)
	for _, bits := range []uint{64, 33} {
		mk0, mk1, _ := GenMul(rng, n, bits)
		z, s0, _ := run(t, Fixed{}, mk0, mk1, func(p *Party) ([]uint64, error) { return p.Mul(sx[p.ID], sy[p.ID], bits) })
		for i := range z {
			if z[i]&Mask(bits) != x[i]*y[i]&Mask(bits) {
				t.Fatalf("mul width %d: element %d wrong", bits, i)
			}
		}
		if s0.Rounds != 1 || s0.BytesSent != int64(PackedLen(2*n, bits)) {
			t.Fatalf("mul cost %+v", s0)
		}
		sk0, sk1, _ := GenSquare(rng, n, bits)
		z, s0, _ = run(t, Fixed{}, sk0, sk1, func(p *Party) ([]uint64, error) { return p.Square(sx[p.ID], bits) })
		for i := range z {
			if z[i]&Mask(bits) != x[i]*x[i]&Mask(bits) {
				t.Fatalf("square width %d: element %d wrong", bits, i)
			}
		}
		if s0.Rounds != 1 || s0.BytesSent != int64(PackedLen(n, bits)) {
			t.Fatalf("square cost %+v", s0)
		}
	}
	// Matrix product, plain and transposed.
	const m, k, nn = 5, 17, 9
	a, b := make([]uint64, m*k), make([]uint64, k*nn)
	rng.Uint64s(a)
	rng.Uint64s(b)
	sa, sb := shareFor(t, a, rng), shareFor(t, b, rng)
	want := make([]uint64, m*nn)
	for i := range m {
		for j := range nn {
			for l := range k {
				want[i*nn+j] += a[i*k+l] * b[l*nn+j]
			}
		}
	}
	bT := transpose(b, k, nn)
	sbT := [2][]uint64{transpose(sb[0], k, nn), transpose(sb[1], k, nn)}
	for _, tr := range []bool{false, true} {
		k0, k1, _ := GenMatMul(rng, m, k, nn, 0)
		z, s0, _ := run(t, Fixed{}, k0, k1, func(p *Party) ([]uint64, error) {
			if tr {
				return p.MatMulT(sa[p.ID], sbT[p.ID], m, k, nn, 0)
			}
			return p.MatMul(sa[p.ID], sb[p.ID], m, k, nn, 0)
		})
		for i := range want {
			if z[i] != want[i] {
				t.Fatalf("matmul (transposed=%v): element %d wrong", tr, i)
			}
		}
		if s0.Rounds != 1 || s0.BytesSent != int64(8*(m*k+k*nn)) {
			t.Fatalf("matmul cost %+v", s0)
		}
	}
	_ = bT
}

// TestFixedProducts checks the fixed-point products against float64 on transformer-range inputs:
// every result is within one unit (2^−f) of the exact product of the encoded operands.
func TestFixedProducts(t *testing.T) {
	fx := Fixed{Frac: 12}
	ulp := 1 / fx.Scale()
	r := rand.New(rand.NewPCG(11, 11))
	rng := testRNG(11)
	const n, bits = 3000, 40
	xf, yf := make([]float64, n), make([]float64, n)
	for i := range xf {
		xf[i], yf[i] = (r.Float64()*2-1)*30, (r.Float64()*2-1)*30
	}
	xf[0], yf[0] = -30, 30
	x, y := fx.EncodeVec(xf), fx.EncodeVec(yf)
	sx, sy := shareFor(t, x, rng), shareFor(t, y, rng)

	k0, k1, _ := GenMulFixed(rng, n, fx.Frac, bits)
	z, s0, _ := run(t, fx, k0, k1, func(p *Party) ([]uint64, error) { return p.MulFixed(sx[p.ID], sy[p.ID], bits) })
	for i := range z {
		if e := math.Abs(fx.Decode(z[i]) - fx.Decode(x[i])*fx.Decode(y[i])); e >= ulp {
			t.Fatalf("mulfx %v·%v: error %v", xf[i], yf[i], e)
		}
	}
	if s0.Rounds != 2 || s0.BytesSent != int64(PackedLen(2*n, bits)+PackedLen(n, bits)) {
		t.Fatalf("mulfx cost %+v", s0)
	}
	k0, k1, _ = GenSquareFixed(rng, n, fx.Frac, bits)
	z, s0, _ = run(t, fx, k0, k1, func(p *Party) ([]uint64, error) { return p.SquareFixed(sx[p.ID], bits) })
	for i := range z {
		if e := math.Abs(fx.Decode(z[i]) - fx.Decode(x[i])*fx.Decode(x[i])); e >= ulp {
			t.Fatalf("squarefx %v: error %v", xf[i], e)
		}
	}
	if s0.Rounds != 2 {
		t.Fatalf("squarefx cost %+v", s0)
	}
	// Attention-like product: Q [m×d] · Kᵀ.
	const m, d, nn = 8, 64, 12
	q, kk := make([]float64, m*d), make([]float64, nn*d)
	for i := range q {
		q[i] = r.NormFloat64()
	}
	for i := range kk {
		kk[i] = r.NormFloat64()
	}
	qe, ke := fx.EncodeVec(q), fx.EncodeVec(kk)
	sq, sk := shareFor(t, qe, rng), shareFor(t, ke, rng)
	m0, m1, _ := GenMatMulFixed(rng, m, d, nn, fx.Frac, bits)
	z, s0, _ = run(t, fx, m0, m1, func(p *Party) ([]uint64, error) { return p.MatMulTFixed(sq[p.ID], sk[p.ID], m, d, nn, bits) })
	for i := range m {
		for j := range nn {
			var exact float64
			for l := range d {
				exact += fx.Decode(qe[i*d+l]) * fx.Decode(ke[j*d+l])
			}
			if e := math.Abs(fx.Decode(z[i*nn+j]) - exact); e >= ulp {
				t.Fatalf("matmulfx (%d,%d): error %v", i, j, e)
			}
		}
	}
	if s0.Rounds != 2 {
		t.Fatalf("matmulfx cost %+v", s0)
	}
}

// TestGateErrors checks that misuse returns errors naming the gate and never panics or deadlocks.
func TestGateErrors(t *testing.T) {
	rng := testRNG(13)
	fx := Fixed{Frac: 12}
	x := make([]uint64, 10)
	tk0, tk1, _ := GenTrunc(rng, 10, 12, 64)
	mk0, mk1, _ := GenMul(rng, 10, 64)
	tk0b, tk1b, _ := GenTrunc(rng, 10, 12, 64)
	cases := []struct {
		name   string
		m0, m1 []Key
		f      func(p *Party) error
		want   string
	}{
		{"exhausted", nil, nil, func(p *Party) error { _, err := p.Trunc(x, 12, 64); return err }, "trunc: material exhausted"},
		{"wrong kind", []Key{mk0}, []Key{mk1}, func(p *Party) error { _, err := p.Trunc(x, 12, 64); return err }, `trunc: material key 1 is "mul"`},
		{"wrong length", []Key{tk0}, []Key{tk1}, func(p *Party) error { _, err := p.Trunc(x[:9], 12, 64); return err }, "trunc: material key 1"},
		{"wrong frac", []Key{tk0}, []Key{tk1}, func(p *Party) error { _, err := p.Trunc(x, 13, 64); return err }, "trunc: key is for party"},
		{"reused", []Key{tk0}, []Key{tk1}, func(p *Party) error { _, err := p.Trunc(x, 12, 64); return err }, "already used"},
		{"swapped parties", []Key{tk1b}, []Key{tk0b}, func(p *Party) error { _, err := p.Trunc(x, 12, 64); return err }, "trunc: key is for party"},
		{"mul lengths", nil, nil, func(p *Party) error { _, err := p.Mul(x, x[:3], 0); return err }, "mul: operands"},
		{"matmul shape", nil, nil, func(p *Party) error { _, err := p.MatMul(x, x, 2, 5, 3, 0); return err }, "matmul: operands"},
		{"matmul huge", nil, nil, func(p *Party) error { _, err := p.MatMul(x, x, 1<<40, 1<<40, 3, 0); return err }, "matmul: operands"},
		{"linear bias", nil, nil, func(p *Party) error { _, err := p.Linear(x, 2, 5, x, 2, x[:1], 0); return err }, "linear: bias"},
		{"linear shape", nil, nil, func(p *Party) error { _, err := p.Linear(x, 3, 5, x, 2, nil, 0); return err }, "linear: matmul public: ring: matmul: shape"},
		{"linear w32 bias", nil, nil, func(p *Party) error { _, err := p.LinearW32(x, 2, 5, make([]int32, 10), 2, x[:1], 0); return err }, "linear: bias"},
		{"linear w32 shape", nil, nil, func(p *Party) error { _, err := p.LinearW32(x, 3, 5, make([]int32, 10), 2, nil, 0); return err }, "linear: matmul public: ring: matmul: shape"},
		{"mulfx lengths", nil, nil, func(p *Party) error { _, err := p.MulFixed(x, x[:1], 0); return err }, "mulfx: operands"},
		{"desync", []Key{tk0}, []Key{mk1}, func(p *Party) error { _, err := p.Trunc(x, 12, 64); return err }, "trunc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := RunPair(fx, NewMaterial(tc.m0...), NewMaterial(tc.m1...), tc.f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "panic") {
				t.Fatalf("panicked: %v", err)
			}
		})
	}
	if _, _, err := GenTrunc(rng, 5, 63, 64); err == nil {
		t.Fatal("frac 63 accepted")
	}
	if _, _, err := GenTrunc(rng, -1, 12, 64); err == nil {
		t.Fatal("negative length accepted")
	}
}

func TestKeyMarshalRoundTrip(t *testing.T) {
	rng := testRNG(14)
	var keys []MarshalKey
	add := func(a, b MarshalKey, err error) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, a, b)
	}
	t0, t1, err := GenTrunc(rng, 33, 12, 40)
	add(t0, t1, err)
	t0, t1, err = GenTrunc(rng, 3, 0, 64)
	add(t0, t1, err)
	m0, m1, err := GenMul(rng, 17, 21)
	add(m0, m1, err)
	s0, s1, err := GenSquare(rng, 5, 0)
	add(s0, s1, err)
	mm0, mm1, err := GenMatMul(rng, 3, 4, 5, 50)
	add(mm0, mm1, err)
	f0, f1, err := GenMatMulFixed(rng, 2, 3, 4, 12, 48)
	add(f0, f1, err)
	g0, g1, err := GenSquareFixed(rng, 6, 10, 30)
	add(g0, g1, err)
	for _, k := range keys {
		checkKeyCodec(t, k, true)
	}
	// Party 0 keys are seed-compressed: constant size whatever the length.
	if t0.Size() != 39 || m0.Size() != 38 {
		t.Fatalf("party-0 sizes %d %d", t0.Size(), m0.Size())
	}
	if _, err := NewKey("nope"); err == nil {
		t.Fatal("unknown kind accepted")
	}
}

// FuzzKeyUnmarshal feeds arbitrary bytes to every registered key decoder.
func FuzzKeyUnmarshal(f *testing.F) {
	rng := testRNG(15)
	kinds := KeyKinds()
	// Seeds: both parties' keys of every kind allKeyGens makes (party 0's seed-compressed) and their
	// parts, each with its kind's index.
	var add func(k Key)
	add = func(k Key) {
		b, _ := k.(MarshalKey).MarshalBinary()
		f.Add(uint8(slices.Index(kinds, k.Kind())), b)
		if s, ok := k.(*seqKey); ok {
			for _, p := range s.parts {
				add(p)
			}
		}
	}
	for _, g := range allKeyGens() {
		k0, k1, err := g.gen(rng, 16)
		if err != nil { // the row gates need more elements: FuzzRowKeyUnmarshal seeds them
			continue
		}
		add(k0)
		add(k1)
	}
	f.Add(uint8(0), []byte{1, 12, 64, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, which uint8, b []byte) { keyRoundTrip(t, kinds[int(which)%len(kinds)], b) })
}

// keyRoundTrip is the body of the key fuzzers: a key of the kind that decodes from b re-encodes, to
// its Size.
func keyRoundTrip(t *testing.T, kind string, b []byte) {
	k, _ := NewKey(kind)
	if err := k.UnmarshalBinary(b); err != nil {
		return
	}
	b2, err := k.MarshalBinary()
	if err != nil {
		t.Fatalf("%s: decoded key does not re-encode: %v", kind, err)
	}
	if len(b2) != k.Size() {
		t.Fatalf("%s: Size %d != %d", kind, k.Size(), len(b2))
	}
}

// checkKeyCodec checks k's encoding: it is Size bytes long, decodes into a new key of its kind that
// re-encodes to the same bytes, and its truncations (every one with all, else a few) and the
// encoding with a trailing byte are refused.
func checkKeyCodec(t *testing.T, k MarshalKey, all bool) {
	t.Helper()
	b, err := k.MarshalBinary()
	if err != nil {
		t.Fatalf("%s: %v", k.Kind(), err)
	}
	if len(b) != k.Size() {
		t.Fatalf("%s: Size %d, marshalled %d", k.Kind(), k.Size(), len(b))
	}
	k2, err := NewKey(k.Kind())
	if err != nil {
		t.Fatal(err)
	}
	if err := k2.UnmarshalBinary(b); err != nil {
		t.Fatalf("%s: %v", k.Kind(), err)
	}
	if b2, _ := k2.MarshalBinary(); string(b2) != string(b) || k2.Kind() != k.Kind() || k2.Len() != k.Len() {
		t.Fatalf("%s: round trip differs", k.Kind())
	}
	cuts := []int{0, 1, len(b) / 3, len(b) / 2, len(b) - 1}
	if all {
		cuts = cuts[:0]
		for cut := range len(b) {
			cuts = append(cuts, cut)
		}
	}
	for _, cut := range cuts {
		k3, _ := NewKey(k.Kind())
		if k3.UnmarshalBinary(b[:cut]) == nil {
			t.Fatalf("%s: truncated key (%d of %d bytes) accepted", k.Kind(), cut, len(b))
		}
	}
	k4, _ := NewKey(k.Kind())
	if k4.UnmarshalBinary(append(b, 0)) == nil {
		t.Fatalf("%s: trailing byte accepted", k.Kind())
	}
}
