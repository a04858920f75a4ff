package fss

import (
	"math/rand/v2"
	"testing"
)

// TestEvalWindowPoly checks the reference polynomial window walk against the definition: the
// parties' shares add up to Σ_j coef[j][α−lo]·(u − ρ)^j when the point is in the window, 0 otherwise.
func TestEvalWindowPoly(t *testing.T) {
	rng := newRNG(31)
	pr := rand.New(rand.NewPCG(31, 32))
	for _, tc := range []leafShape{{4, 0, 1}, {6, 2, 2}, {8, 2, 4}, {8, 1, 3}, {9, 2, 4}, {7, 0, 4}} {
		const n = 40
		count := min(1<<tc.bits, 21)
		alphas, betas := make([]uint64, n), make([]uint64, tc.p*n)
		rhos := make([]uint64, n)
		for i := range alphas {
			alphas[i] = pr.Uint64() & maskBits(tc.bits)
			rhos[i] = pr.Uint64() & 0xfff
			v := uint64(1)
			for c := range tc.p {
				betas[i*tc.p+c] = v
				v *= rhos[i]
			}
		}
		k0, k1, err := GenDPFLeaf(rng, tc.bits, tc.leaf, tc.p, alphas, betas)
		if err != nil {
			t.Fatal(err)
		}
		coef := randCoef(pr, tc.p, count)
		w := NewWorker()
		for i := range alphas {
			lo := alphas[i] - uint64(pr.IntN(2*count)) // in the window about half the time
			u := pr.Uint64() & 0xfff
			a, err := w.EvalWindowPoly(k0, i, lo, coef, u)
			if err != nil {
				t.Fatal(err)
			}
			b, err := w.EvalWindowPoly(k1, i, lo, coef, u)
			if err != nil {
				t.Fatal(err)
			}
			var want uint64
			if q := (alphas[i] - lo) & maskBits(tc.bits); q < uint64(count) {
				d, pw := u-rhos[i], uint64(1)
				for j := range coef {
					want += coef[j][q] * pw
					pw *= d
				}
			}
			if a+b != want {
				t.Fatalf("bits=%d leaf=%d p=%d key %d: %x, want %x", tc.bits, tc.leaf, tc.p, i, a+b, want)
			}
		}
	}
}

// TestEvalWindowPolyBatch pins the batched walk to EvalWindowPoly, bit for bit (portable, the
// padded-leaves path with Go inner products, and where the CPU has it the AVX-512 ones), over
// wrapping windows, whole domains and batches longer than winBatch.
func TestEvalWindowPolyBatch(t *testing.T) {
	avx := useDotAVX
	defer func() { useDotAVX, padLeaves = avx, true }()
	for _, mode := range []string{"go", "padded-go", "avx512"} {
		if mode == "avx512" && !avx {
			continue
		}
		useDotAVX, padLeaves = mode == "avx512", mode != "go"
		t.Run(mode, testEvalWindowPolyBatch)
	}
}

func testEvalWindowPolyBatch(t *testing.T) {
	rng := newRNG(33)
	pr := rand.New(rand.NewPCG(33, 34))
	for _, tc := range []leafShape{{2, 2, 4}, {3, 2, 4}, {3, 3, 4}, {8, 2, 4}, {9, 2, 4}, {8, 3, 4}, {9, 3, 4}, {8, 1, 4}, {8, 2, 3}, {6, 0, 2}, {10, 3, 1}} {
		n := 1 + pr.IntN(3*winBatch)
		alphas, betas := randPoints(pr, n, tc.bits, tc.p)
		k0, k1, err := GenDPFLeaf(rng, tc.bits, tc.leaf, tc.p, alphas, betas)
		if err != nil {
			t.Fatal(err)
		}
		w := NewWorker()
		for _, count := range []int{1, 2, 3, 4, 5, 17, 22, 41, 1 << tc.bits} {
			count = min(count, 1<<tc.bits)
			coef := randCoef(pr, tc.p, count)
			los, us := make([]uint64, n), make([]uint64, n)
			for i := range los {
				switch pr.IntN(4) {
				case 0:
					los[i] = alphas[i] - uint64(pr.IntN(count))
				case 1:
					los[i] = maskBits(tc.bits) - uint64(pr.IntN(count))
				default:
					los[i] = pr.Uint64()
				}
				us[i] = pr.Uint64()
			}
			i0 := pr.IntN(n)
			for _, k := range []*DPFKeys{k0, k1} {
				got := make([]uint64, n-i0)
				if err := w.EvalWindowPolyBatch(k, i0, los[i0:], coef, us[i0:], got); err != nil {
					t.Fatal(err)
				}
				for e := range got {
					want, err := w.EvalWindowPoly(k, i0+e, los[i0+e], coef, us[i0+e])
					if err != nil || got[e] != want {
						t.Fatalf("bits=%d leaf=%d p=%d count=%d key %d: %x, want %x (%v)", tc.bits, tc.leaf, tc.p, count, i0+e, got[e], want, err)
					}
				}
			}
		}
	}
	// Shape errors.
	k0, _, _ := GenDPFLeaf(rng, 8, 2, 4, []uint64{1}, []uint64{1, 2, 3, 4})
	w := NewWorker()
	out := make([]uint64, 1)
	if err := w.EvalWindowPolyBatch(k0, 0, []uint64{0}, [][]uint64{{1}, {2}}, []uint64{0}, out); err == nil {
		t.Fatal("payload mismatch accepted")
	}
	if err := w.EvalWindowPolyBatch(k0, 1, []uint64{0}, [][]uint64{{1}, {2}, {3}, {4}}, []uint64{0}, out); err == nil {
		t.Fatal("key out of range accepted")
	}
	if _, err := w.EvalWindowPoly(k0, 0, 0, [][]uint64{{1}, {2}, {3}, {4, 5}}, 0); err == nil {
		t.Fatal("unequal tables accepted")
	}
}

// leafShape is a DPF batch's input width, early-terminated levels and payload.
type leafShape struct {
	bits, leaf uint
	p          int
}

// topCases are the batch shapes of the top-level tests: input width, early-terminated levels, top
// levels and payload.
var topCases = []struct {
	bits, leaf, top uint
	p               int
}{{8, 3, 1, 4}, {8, 3, 3, 4}, {9, 3, 3, 4}, {9, 3, 6, 4}, {7, 2, 3, 1}, {5, 0, 5, 2}, {12, 4, 2, 1}, {3, 0, 3, 2}}

// TestDPFTop pins keys with precomputed top levels to the same keys without: identical shares from
// EvalPoint, EvalWindow and the batched polynomial walk (wrapping windows included), a codec round
// trip, and refusal of bad top-level headers.
func TestDPFTop(t *testing.T) {
	pr := rand.New(rand.NewPCG(61, 62))
	for _, tc := range topCases {
		const n = 150
		alphas, betas := randPoints(pr, n, tc.bits, tc.p)
		a0, a1, err := GenDPFLeaf(newRNG(63), tc.bits, tc.leaf, tc.p, alphas, betas)
		if err != nil {
			t.Fatal(err)
		}
		b0, b1, err := GenDPFTop(newRNG(63), tc.bits, tc.leaf, tc.top, tc.p, alphas, betas)
		if err != nil {
			t.Fatal(err)
		}
		w := NewWorker()
		for pi, pair := range [][2]*DPFKeys{{a0, b0}, {a1, b1}} {
			a, b := pair[0], pair[1]
			enc, err := b.MarshalBinary()
			if err != nil || len(enc) != headerLen+b.Size() {
				t.Fatalf("marshal: %v (%d bytes, size %d)", err, len(enc), b.Size())
			}
			var dec DPFKeys
			if err := dec.UnmarshalBinary(enc); err != nil || dec.Top != tc.top {
				t.Fatalf("unmarshal: %v (top %d)", err, dec.Top)
			}
			for i := range n {
				x := pr.Uint64() & maskBits(tc.bits)
				if i%2 == 0 {
					x = alphas[i]
				}
				want, got := make([]uint64, tc.p), make([]uint64, tc.p)
				w.EvalPoint(a, i, x, want)
				w.EvalPoint(&dec, i, x, got)
				for c := range want {
					if got[c] != want[c] {
						t.Fatalf("bits %d top %d party %d key %d: point %x, want %x", tc.bits, tc.top, pi, i, got[c], want[c])
					}
				}
			}
			count := min(1<<tc.bits, 23)
			for i := range n {
				lo := windowStart(pr, alphas[i], tc.bits, count, i%3 == 0)
				want, got := evalWindows(t, w, a, &dec, i, lo, count)
				for j := range want {
					if got[j] != want[j] {
						t.Fatalf("bits %d top %d party %d key %d: window value %d %x, want %x", tc.bits, tc.top, pi, i, j, got[j], want[j])
					}
				}
			}
			if tc.p == 4 {
				coef, los, us := randPolyInputs(pr, alphas, count)
				want, got := make([]uint64, n), make([]uint64, n)
				if err := w.EvalWindowPolyBatch(a, 0, los, coef, us, want); err != nil {
					t.Fatal(err)
				}
				if err := w.EvalWindowPolyBatch(b, 0, los, coef, us, got); err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("bits %d top %d party %d key %d: poly %x, want %x", tc.bits, tc.top, pi, i, got[i], want[i])
					}
				}
			}
			// A DPF3 header claiming no top levels, or more than the tree has, is refused.
			bad := append([]byte(nil), enc...)
			bad[4] &= 0x0f
			if err := dec.UnmarshalBinary(bad); err == nil {
				t.Fatal("DPF3 without top levels accepted")
			}
			bad[4] |= 0x70
			if err := dec.UnmarshalBinary(bad); err == nil {
				t.Fatal("7 top levels accepted")
			}
		}
	}
	if _, _, err := GenDPFTop(newRNG(1), 4, 2, 3, 1, []uint64{1}, []uint64{1}); err == nil {
		t.Fatal("top deeper than the tree accepted")
	}
}

// TestDPFTopSeeded checks seed-compressed batches against the definition: the shares of one party's
// Seeded batch and the other's (ordinary level-Top) batch add up to β_i at α_i and to 0 elsewhere, in
// EvalPoint, EvalWindow (wrapping windows included) and the batched polynomial walk (against the
// reference walk), before and after a codec round trip, with either party seeded
// (GenDPFTopSeededParty); the seeded batch is 16 bytes plus its correction words, the other the size
// of GenDPFTop's; malformed DPF4 encodings are refused.
func TestDPFTopSeeded(t *testing.T) {
	pr := rand.New(rand.NewPCG(71, 72))
	for _, tc := range topCases {
		for _, c := range []struct{ n, sp int }{{0, 0}, {0, 1}, {1, 0}, {1, 1}, {150, 0}, {150, 1}} {
			n, sp := c.n, c.sp // sp: the seeded party
			alphas, betas := randPoints(pr, n, tc.bits, tc.p)
			g0, g1, err := GenDPFTopSeededParty(newRNG(73), sp, tc.bits, tc.leaf, tc.top, tc.p, alphas, betas)
			if err != nil {
				t.Fatal(err)
			}
			r0, r1, err := GenDPFTop(newRNG(73), tc.bits, tc.leaf, tc.top, tc.p, alphas, betas)
			if err != nil {
				t.Fatal(err)
			}
			gs, gu := g0, g1 // the seeded batch and the other
			if sp == 1 {
				gs, gu = g1, g0
			}
			if g0.Party != 0 || g1.Party != 1 || !gs.Seeded || gu.Seeded || gs.Size() != r0.Size()-16*(n<<tc.top)-(n<<tc.top+7)/8+16 || gu.Size() != r1.Size() {
				t.Fatalf("%+v n=%d seeded %d: sizes %d/%d, unseeded %d/%d", tc, n, sp, g0.Size(), g1.Size(), r0.Size(), r1.Size())
			}
			var d0, d1 DPFKeys
			for _, c := range []struct {
				k   *DPFKeys
				d   *DPFKeys
				tag string
			}{{gs, &d0, "DPF4"}, {gu, &d1, "DPF3"}} {
				enc, err := c.k.MarshalBinary()
				if err != nil || len(enc) != headerLen+c.k.Size() || string(enc[:4]) != c.tag {
					t.Fatalf("marshal: %v (%d bytes, size %d)", err, len(enc), c.k.Size())
				}
				if err := c.d.UnmarshalBinary(enc); err != nil || c.d.Seeded != c.k.Seeded || c.d.Top != tc.top {
					t.Fatalf("unmarshal: %v", err)
				}
				if again, _ := c.d.MarshalBinary(); string(again) != string(enc) {
					t.Fatal("re-encoding differs")
				}
				if err := new(DPFKeys).UnmarshalBinary(enc[:len(enc)-1]); err == nil {
					t.Fatal("truncated batch accepted")
				}
			}
			enc, _ := gs.MarshalBinary()
			bad := append([]byte(nil), enc...)
			bad[4] = enc[4]&0xf0 | 2 // party 2
			if new(DPFKeys).UnmarshalBinary(bad) == nil {
				t.Fatal("DPF4 batch of party 2 accepted")
			}
			bad[4] = enc[4] & 0x0f // no top levels
			if new(DPFKeys).UnmarshalBinary(bad) == nil {
				t.Fatal("DPF4 batch without top levels accepted")
			}
			w := NewWorker()
			count := min(1<<tc.bits, 23)
			dd0, dd1 := &d0, &d1 // decoded, in party order
			if sp == 1 {
				dd0, dd1 = &d1, &d0
			}
			for _, pair := range [][2]*DPFKeys{{g0, g1}, {dd0, dd1}} {
				a, b := pair[0], pair[1]
				for i := range n {
					want := func(x uint64, c int) uint64 {
						if x&maskBits(tc.bits) == alphas[i] {
							return betas[tc.p*i+c]
						}
						return 0
					}
					o0, o1 := make([]uint64, tc.p), make([]uint64, tc.p)
					for _, x := range []uint64{alphas[i], alphas[i] ^ 1, pr.Uint64() & maskBits(tc.bits)} {
						w.EvalPoint(a, i, x, o0)
						w.EvalPoint(b, i, x, o1)
						for c := range o0 {
							if o0[c]+o1[c] != want(x, c) {
								t.Fatalf("%+v key %d: point %x wrong", tc, i, x)
							}
						}
					}
					lo := windowStart(pr, alphas[i], tc.bits, count, i%3 == 0)
					y0, y1 := evalWindows(t, w, a, b, i, lo, count)
					for q := range count {
						for c := range tc.p {
							if y0[q*tc.p+c]+y1[q*tc.p+c] != want(lo+uint64(q), c) {
								t.Fatalf("%+v key %d: window at %x, position %d wrong", tc, i, lo, q)
							}
						}
					}
				}
				if tc.p != 4 || n == 0 {
					continue
				}
				coef, los, us := randPolyInputs(pr, alphas, count)
				for _, k := range []*DPFKeys{a, b} {
					got := make([]uint64, n)
					if err := w.EvalWindowPolyBatch(k, 0, los, coef, us, got); err != nil {
						t.Fatal(err)
					}
					for i := range got {
						ref, err := w.EvalWindowPoly(k, i, los[i], coef, us[i])
						if err != nil || got[i] != ref {
							t.Fatalf("%+v party %d key %d: batched poly %x, reference %x (%v)", tc, k.Party, i, got[i], ref, err)
						}
					}
				}
			}
		}
	}
	if _, _, err := GenDPFTopSeeded(newRNG(1), 8, 3, 0, 4, []uint64{1}, make([]uint64, 4)); err == nil {
		t.Fatal("seeded batch without top levels accepted")
	}
	if _, _, err := GenDPFTopSeeded(newRNG(1), 4, 2, 3, 1, []uint64{1}, []uint64{1}); err == nil {
		t.Fatal("top deeper than the tree accepted")
	}
}

// randPoints draws n random points α_i on bits bits and payloads β_i of p random words.
func randPoints(pr *rand.Rand, n int, bits uint, p int) (alphas, betas []uint64) {
	alphas, betas = make([]uint64, n), make([]uint64, p*n)
	for i := range alphas {
		alphas[i] = pr.Uint64() & maskBits(bits)
		for c := range p {
			betas[p*i+c] = pr.Uint64()
		}
	}
	return alphas, betas
}

// randPolyInputs draws a polynomial walk's inputs: random cubic coefficients over count positions,
// and for each point α_i a window start below it (within 2·count) and a multiplier.
func randPolyInputs(pr *rand.Rand, alphas []uint64, count int) (coef [][]uint64, los, us []uint64) {
	coef = randCoef(pr, 4, count)
	los, us = make([]uint64, len(alphas)), make([]uint64, len(alphas))
	for i := range los {
		los[i], us[i] = alphas[i]-uint64(pr.IntN(2*count)), pr.Uint64()
	}
	return coef, los, us
}

// randCoef draws p random coefficient tables over count positions.
func randCoef(pr *rand.Rand, p, count int) [][]uint64 {
	coef := make([][]uint64, p)
	for j := range coef {
		coef[j] = make([]uint64, count)
		for q := range coef[j] {
			coef[j][q] = pr.Uint64()
		}
	}
	return coef
}

// windowStart draws the start of a window of count positions on bits bits: below α (within count),
// or if wrap near the top of the domain, so that most such windows wrap around.
func windowStart(pr *rand.Rand, alpha uint64, bits uint, count int, wrap bool) uint64 {
	if wrap {
		return maskBits(bits) - uint64(pr.IntN(count))
	}
	return alpha - uint64(pr.IntN(count))
}

// evalWindows returns EvalWindow of key i of the batches a and b over count positions from lo.
func evalWindows(t *testing.T, w *Worker, a, b *DPFKeys, i int, lo uint64, count int) (ya, yb []uint64) {
	t.Helper()
	ya, yb = make([]uint64, count*a.P), make([]uint64, count*b.P)
	if err := w.EvalWindow(a, i, lo, count, ya); err != nil {
		t.Fatal(err)
	}
	if err := w.EvalWindow(b, i, lo, count, yb); err != nil {
		t.Fatal(err)
	}
	return ya, yb
}
