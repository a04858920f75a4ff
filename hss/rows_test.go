package hss

import (
	"math"
	"strings"
	"testing"
)

// Tests across the row gates (material codecs, errors, views); each gate's own tests are in
// max_test.go, softmax_test.go and norm_test.go.

// runRows shares each input, runs eval on both parties with material k0/k1 and returns the
// reconstructed output and both parties' traffic.
func runRows(t *testing.T, fx Fixed, ins [][]uint64, k0, k1 Key, eval func(p *Party, in [][]uint64) ([]uint64, error)) ([]uint64, Stats, Stats) {
	t.Helper()
	rng := newNLRNG(77)
	var sh [2][][]uint64
	for _, x := range ins {
		seed, x1, err := Share(x, rng)
		if err != nil {
			t.Fatal(err)
		}
		sh[0] = append(sh[0], ExpandShare(seed, len(x)))
		sh[1] = append(sh[1], x1)
	}
	var outs [2][]uint64
	s0, s1, err := RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
		o, err := eval(p, sh[p.ID])
		outs[p.ID] = o
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return Reconstruct(outs[0], outs[1]), s0, s1
}

// TestRowKeysMarshal round-trips the material of every new gate (and the lookup kinds) through
// MarshalBinary/NewKey/UnmarshalBinary and checks that decoded material still computes.
func TestRowKeysMarshal(t *testing.T) {
	fx := Fixed{Frac: 12}
	rng := newNLRNG(31)
	type pair struct{ a, b Key }
	var keys []pair
	add := func(a, b Key, err error) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, pair{a, b})
	}
	add(GenReciprocal(rng, 3, fx))
	add(GenRsqrt(rng, 2, fx))
	add(GenMax(rng, 2, 5, 20))
	add(GenSoftmax(rng, 2, 5, 3, fx))
	add(GenLayerNorm(rng, 2, 4, fx))
	add(GenRMSNorm(rng, 1, 3, fx))
	add(GenGeLU(rng, 2, fx))
	add(GenDReLU(rng, 2, 16))
	r0, r1, err := GenRowMul(rng, []int{2, 0, 3}, 40)
	add(r0, r1, err)
	t0, t1, err := GenRowMul3(rng, []int{2, 0, 3}, 40)
	add(t0, t1, err)
	for _, kp := range keys {
		for _, k := range []Key{kp.a, kp.b} {
			mk, ok := k.(MarshalKey)
			if !ok {
				t.Fatalf("%s: %T is not a MarshalKey", k.Kind(), k)
			}
			checkKeyCodec(t, mk, false)
		}
	}
	// A decoded softmax key computes the same as the original.
	s0, s1, _ := GenSoftmax(rng, 2, 4, 2, fx)
	dec := func(k Key) Key {
		b, _ := k.(MarshalKey).MarshalBinary()
		k2, _ := NewKey(k.Kind())
		if err := k2.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		return k2
	}
	x := fx.EncodeVec([]float64{1, 2, 3, -1, 0.5, 0, 0, 4})
	got, _, _ := runRows(t, fx, [][]uint64{x}, dec(s0), dec(s1), func(p *Party, in [][]uint64) ([]uint64, error) {
		return p.Softmax(in[0], 2, 4, 2)
	})
	ref := softmaxRef(fx.DecodeVec(x), 2, 4, 2)
	for i := range ref {
		if math.Abs(fx.Decode(got[i])-ref[i]) > 1.0/256 {
			t.Fatalf("decoded softmax key: entry %d got %v want %v", i, fx.Decode(got[i]), ref[i])
		}
	}
	// A composite refuses parts of kinds it does not use.
	bad := newSeqKey("max", 2, s0.(*seqKey).parts[1].(MarshalKey))
	b, _ := bad.MarshalBinary()
	k, _ := NewKey("max")
	if k.UnmarshalBinary(b) == nil {
		t.Fatal("max key with an exp part accepted")
	}
}

// TestRowGateErrors checks that misuse of the row gates returns errors naming the gate and never
// panics or deadlocks.
func TestRowGateErrors(t *testing.T) {
	fx := Fixed{Frac: 12}
	rng := newNLRNG(41)
	x := make([]uint64, 12)
	gain := make([]uint64, 4)
	sm0, sm1, _ := GenSoftmax(rng, 3, 4, 0, fx)
	ln0, ln1, _ := GenLayerNorm(rng, 3, 4, fx)
	rm0, rm1, _ := GenRMSNorm(rng, 3, 4, fx)
	rc0, rc1, _ := GenReciprocal(rng, 12, fx)
	rs0, rs1, _ := GenRsqrt(rng, 12, fx)
	mx0, mx1, _ := GenMax(rng, 3, 4, 20)
	ms, _ := maxSpec(fx)
	mb, _, _ := smParams(fx)
	cm0, cm1, _ := genMaxRows(rng, []int{4, 4, 4}, ms)
	em0, em1, _ := GenMax(rng, 3, 4, mb)
	rw0, rw1, _ := GenRowMul(rng, []int{4, 4, 4}, 64)
	smb0, smb1, _ := GenSoftmax(rng, 3, 4, 1, fx) // other causal offset: same size, other row lengths
	rc13a, rc13b, _ := GenReciprocal(rng, 12, Fixed{Frac: 13})
	softmax := func(pos0 int) func(p *Party) error {
		return func(p *Party) error { _, err := p.Softmax(x, 3, 4, pos0); return err }
	}
	layernorm := func(p *Party) error { _, err := p.LayerNorm(x, 3, 4, gain, nil, 1e-5); return err }
	cases := []struct {
		name   string
		m0, m1 []Key
		f      func(p *Party) error
		want   string
	}{
		{"softmax exhausted", nil, nil, softmax(0), "softmax: material exhausted"},
		{"softmax wrong kind", []Key{ln0}, []Key{ln1}, softmax(0), `softmax: material key 1 is "layernorm"`},
		{"softmax wrong shape", []Key{sm0}, []Key{sm1}, func(p *Party) error { _, err := p.Softmax(x, 2, 6, 0); return err }, "softmax"},
		{"softmax wrong offset", []Key{smb0}, []Key{smb1}, softmax(0), "softmax"},
		{"softmax reused", []Key{sm0, sm0}, []Key{sm1, sm1}, func(p *Party) error {
			if err := softmax(0)(p); err != nil {
				return err
			}
			return softmax(0)(p)
		}, "already used"},
		{"softmax bad shape", nil, nil, func(p *Party) error { _, err := p.Softmax(x, 3, 0, 0); return err }, "softmax: shape"},
		{"layernorm wrong kind", []Key{rm0}, []Key{rm1}, layernorm, `layernorm: material key 1 is "rmsnorm"`},
		{"layernorm gain", []Key{ln0}, []Key{ln1}, func(p *Party) error { _, err := p.LayerNorm(x, 3, 4, gain[:3], nil, 0); return err }, "layernorm: gain"},
		{"layernorm eps", []Key{ln0}, []Key{ln1}, func(p *Party) error { _, err := p.LayerNorm(x, 3, 4, gain, nil, math.NaN()); return err }, "layernorm: eps"},
		{"rmsnorm swapped", []Key{rm1}, []Key{rm0}, func(p *Party) error { _, err := p.RMSNorm(x, 3, 4, gain, 0); return err }, "rmsnorm"},
		{"recip wrong length", []Key{rc0}, []Key{rc1}, func(p *Party) error { _, err := p.Reciprocal(x[:5]); return err }, "recip: material key 1"},
		{"recip wrong frac", []Key{rc13a}, []Key{rc13b}, func(p *Party) error { _, err := p.Reciprocal(x); return err }, "recip"},
		{"rsqrt given recip", []Key{rc0}, []Key{rc1}, func(p *Party) error { _, err := p.Rsqrt(x); return err }, `rsqrt: material key 1 is "recip"`},
		{"recip given rsqrt", []Key{rs0}, []Key{rs1}, func(p *Party) error { _, err := p.Reciprocal(x); return err }, "recip"},
		{"max wrong cols", []Key{mx0}, []Key{mx1}, func(p *Party) error { _, err := p.Max(x, 3, 4, 22); return err }, "max"},
		{"max len", nil, nil, func(p *Party) error { _, err := p.Max(x, 5, 4, 20); return err }, "max: 12 elements"},
		{"max given coarse material", []Key{cm0}, []Key{cm1}, func(p *Party) error { _, err := p.Max(x, 3, 4, mb); return err }, "max: relu: material does not match"},
		{"coarse max given exact material", []Key{em0}, []Key{em1}, func(p *Party) error {
			_, err := p.maxRows(x, []int{4, 4, 4}, ms)
			return err
		}, "max: relu: material does not match"},
		{"ragged max lens", []Key{cm0}, []Key{cm1}, func(p *Party) error { _, err := p.maxRows(x, []int{4, 0, 8}, ms); return err }, "max: row of 0"},
		{"rowmul lens", []Key{rw0}, []Key{rw1}, func(p *Party) error { _, err := p.RowMul(x, x[:3], []int{6, 3, 3}, 64); return err }, "rowmul"},
		{"rowmul operands", nil, nil, func(p *Party) error { _, err := p.RowMul(x, x[:2], []int{6, 3, 3}, 64); return err }, "rowmul: operands"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := RunPair(fx, NewMaterial(tc.m0...), NewMaterial(tc.m1...), tc.f)
			if err == nil || !contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if contains(err.Error(), "panic") {
				t.Fatalf("panicked: %v", err)
			}
		})
	}
	for name, f := range map[string]func() error{
		"softmax frac": func() error { _, _, err := GenSoftmax(rng, 2, 2, 0, Fixed{Frac: 30}); return err },
		"norm frac":    func() error { _, _, err := GenLayerNorm(rng, 2, 2, Fixed{Frac: 20}); return err },
		"recip frac":   func() error { _, _, err := GenReciprocal(rng, 2, Fixed{Frac: 4}); return err },
		"max width":    func() error { _, _, err := GenMax(rng, 2, 2, 70); return err },
		"rowmul len":   func() error { _, _, err := GenRowMul(rng, []int{-1}, 64); return err },
		"softmax pos":  func() error { _, _, err := GenSoftmax(rng, 2, 2, -1, fx); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// viewSchedule lists (values, bits) of every round of Softmax (causal, pos0 = 0, rows = cols),
// LayerNorm, or RMSNormRes (a residual truncated at width 48), or their NormRaw ("layernormraw",
// "rmsnormresraw") on a rows×cols tensor: what one party receives, round by round.
func viewSchedule(gate string, rows, cols int, fx Fixed) [][][2]int {
	n := rows * cols
	one := func(cnt, bits int) [][2]int { return [][2]int{{cnt, bits}} }
	if gate == "softmax" {
		var s [][][2]int
		for _, pairs := range maxLevels(causalLens(rows, cols, 0)) {
			s = append(s, one(pairs, 64))
		}
		nv := rows * (rows + 1) / 2
		return append(s, expRecipSchedule(fx, nv, rows)...)
	}
	raw := strings.HasSuffix(gate, "raw") // NormRaw: no output truncation
	mode := normOut
	if raw {
		mode = normRaw
	}
	sq, _, rs := normParams(fx, cols, mode)
	first := [][2]int{{rows, 64}, {n, int(sq)}} // the mean's truncation with the squares
	if strings.HasPrefix(gate, "rmsnormres") {
		first = [][2]int{{n, 48}, {n, int(sq)}} // the residual's truncation with the squares
	}
	s := [][][2]int{first, one(rows, 64), one(rows, int(rs.k()+rs.idxBits())), {{rows, int(rs.tbits())}, {n + rows, 64}}}
	if rows <= normSplineRows { // the octave spline: one round for the comparisons and the mantissa
		sp, err := rs.spline()
		if err != nil {
			panic(err)
		}
		s = [][][2]int{first, one(rows, int(sp.m)), {{rows, int(sp.tb)}, {n + rows, 64}}}
	}
	if !raw {
		s = append(s, one(n, 64))
	}
	return s
}

// scaleViewSchedule is what party 1 receives in NormScale (RMSNorm of a pending residual by 37 at
// width 64) on rows×cols then ScaleRows on rows of m inputs with inFrac fractional bits: the residual's
// truncation with the squares, the rsqrt's rounds (the octave lookup's two, or the spline's one),
// then the mantissa's truncation, the inputs' (at ScaleIn's width) and the octave factor's opening.
func scaleViewSchedule(rows, cols, m int, fx Fixed, inFrac uint) [][][2]int {
	n := rows * cols
	one := func(cnt, bits int) [][2]int { return [][2]int{{cnt, bits}} }
	sq, _, rs := normParams(fx, cols, normScale)
	_, xbits, ok := ScaleIn(fx, inFrac)
	if !ok {
		panic("scale view: inFrac")
	}
	s := [][][2]int{{{n, 64}, {n, int(sq)}}}
	tb := rs.tbits()
	if rows <= normSplineRows {
		sp, err := rs.spline()
		if err != nil {
			panic(err)
		}
		s, tb = append(s, one(rows, int(sp.m))), sp.tb
	} else {
		s = append(s, one(rows, 64), one(rows, int(rs.k()+rs.idxBits())))
	}
	return append(s, [][2]int{{rows, int(tb)}, {rows * m, int(xbits)}, {rows, 64}})
}

// decodeViewSchedule is what party 1 receives in SoftmaxHeadsRaw over heads rows of cols scores
// (one query row per head, all visible), per round: the scores' truncation at width 48, the zero
// tests, then expRecipSchedule.
func decodeViewSchedule(heads, cols int, fx Fixed) [][][2]int {
	n := heads * cols
	one := func(cnt, bits int) [][2]int { return [][2]int{{cnt, bits}} }
	s := softmaxCmax(fx)
	return append([][][2]int{one(n, 48), one(heads*s.thresholds(), int(zeroBits(cols)))}, expRecipSchedule(fx, n, heads)...)
}

// smvViewSchedule is what party 1 receives in SoftmaxValues for a decode step of heads query rows
// on cols untruncated scores (width rawBits) each, against kv value caches of width k: the scores'
// truncation with the histogram, the zero tests, exp's lookup, exp's truncation riding on the
// reciprocal's comparisons, the products' opening riding on the reciprocal's lookup, the reciprocal's
// truncation with the row product on e·V, and the output's truncation.
func smvViewSchedule(heads, cols, k, kv int, fx Fixed, rawBits uint) [][][2]int {
	n := heads * cols
	one := func(cnt, bits int) [][2]int { return [][2]int{{cnt, bits}} }
	s := softmaxCmax(fx)
	rs, _ := smvSpec(fx)
	es, err := expSpec(fx)
	if err != nil {
		panic(err)
	}
	return [][][2]int{one(n, int(rawBits)), one(heads*s.thresholds(), int(zeroBits(cols))), one(n, int(es.openBits())),
		{{heads, 64}, {n, int(es.tbits)}},
		{{heads, int(rs.k() + rs.idxBits())}, {n + kv*k, 64}},
		{{heads, int(rs.tbits())}, {heads * k, int(smvX(fx).bits)}, {heads, 64}}} // e·V's truncation with the row product: no output truncation
}

// expRecipSchedule is what party 1 receives in the softmax after the max, for nv visible scores in
// rows rows: exp's lookup; exp's truncation riding on the reciprocal's comparisons (or its own round
// where the reciprocal cannot read exp's untruncated sums); the reciprocal's lookup; its truncation
// with the row product; the product's truncation.
func expRecipSchedule(fx Fixed, nv, rows int) [][][2]int {
	one := func(cnt, bits int) [][2]int { return [][2]int{{cnt, bits}} }
	_, mb, rs := smParams(fx)
	es, err := expSpec(fx)
	if err != nil {
		panic(err)
	}
	s := [][][2]int{one(nv, int(es.openBits()))}
	if smRide(fx, rs) {
		s = append(s, [][2]int{{rows, 64}, {nv, int(es.tbits)}})
	} else {
		s = append(s, one(nv, int(es.tbits)), one(rows, 64))
	}
	return append(s, one(rows, int(rs.k()+rs.idxBits())), [][2]int{{rows, int(rs.tbits())}, {nv + rows, int(mb)}}, one(nv, int(mb)))
}

// FuzzRowKeyUnmarshal feeds arbitrary bytes (seeded with real keys) to the decoders of the lookup,
// composite and row-broadcast kinds; a decoded key must re-encode to exactly Size bytes.
func FuzzRowKeyUnmarshal(f *testing.F) {
	fx := Fixed{Frac: 12}
	rng := newNLRNG(51)
	kinds := []string{"softmax", "layernorm", "recip", "rowmul", "exp", "max", "rowmul3", "trowmul3", "cmax", "rmsnormres", "truncsq", "cachemmt", "cachemmt.c", "smv", "rmsnormresraw", "layernormraw", "trowmul3x", "rmsnormresscale", "rmsnormscale", "layernormscale"}
	s0, s1, _ := GenSoftmax(rng, 2, 3, 1, fx)
	l0, l1, _ := GenLayerNorm(rng, 1, 2, fx)
	r0, r1, _ := GenReciprocal(rng, 1, fx)
	w0, w1, _ := GenRowMul(rng, []int{1, 2}, 30)
	e0, e1, _ := GenExp(rng, 2, fx)
	m0, m1, _ := GenMax(rng, 1, 3, 16)
	t0, t1, _ := GenRowMul3(rng, []int{1, 2}, 30)
	u0, u1, _ := genTruncRowMul3(rng, []int{1, 2}, 20, 40, 30)
	x0, x1, _ := genTruncRowMul3X(rng, []int{1, 2}, 20, 40, 64, 30, 50)
	ns0, ns1, _ := GenNormScale(rng, 2, 4, fx, false, &ResTrunc{Frac: 30, Bits: 64}) // the octave lookup
	nsp0, nsp1, _ := GenNormScale(rng, 1, 4, fx, false, nil)                         // the spline
	nsc0, nsc1, _ := GenNormScale(rng, 2, 4, fx, true, nil)
	c0, c1, _ := genCountMax(rng, []int{1, 2}, softmaxCmax(fx))
	n0, n1, _ := GenRMSNormRes(rng, 1, 2, fx, ResTrunc{Frac: 12, Bits: 48})
	q0, q1, _ := genTruncSquare(rng, 4, 2, 12, 48, 40, true)
	a0, a1, _ := GenCacheMatMulTrunc(rng, []*DealerCache{{K: 2}}, 1, []CacheProd{{Cache: 0, M: 1}}, 2, 12, 32, fx, false)
	ac0, ac1 := a0.(*seqKey).parts[1], a1.(*seqKey).parts[1]
	v0, v1, _ := GenSoftmaxValues(rng, 2, 2, 0, fx, 0, []*DealerCache{{K: 2}}, 2)
	nr0, nr1, _ := GenNormRaw(rng, 2, 2, fx, false, &ResTrunc{Frac: 12, Bits: 48}) // the octave lookup (n0: the spline)
	lr0, lr1, _ := GenNormRaw(rng, 1, 2, fx, true, nil)
	for i, k := range [][2]Key{{s0, s1}, {l0, l1}, {r0, r1}, {w0, w1}, {e0, e1}, {m0, m1}, {t0, t1}, {u0, u1}, {c0, c1}, {n0, n1}, {q0, q1}, {a0, a1}, {ac0, ac1}, {v0, v1}, {nr0, nr1}, {lr0, lr1}, {x0, x1}, {ns0, ns1}, {nsp0, nsp1}, {nsc0, nsc1}} {
		for _, k := range k { // party 0's seed-compressed keys and party 1's
			b, _ := k.(MarshalKey).MarshalBinary()
			f.Add(uint8(i), b)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, b []byte) { keyRoundTrip(t, kinds[int(which)%len(kinds)], b) })
}
