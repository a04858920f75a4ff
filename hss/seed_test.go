package hss

import (
	"fmt"
	"io"
	"slices"
	"testing"
)

// keyGen generates one gate's keys on about n elements.
type keyGen struct {
	name string
	gen  func(rng io.Reader, n int) (Key, Key, error)
}

// allKeyGens covers every registered key kind (TestPartyZeroSeedCompressed checks that it does).
func allKeyGens() []keyGen {
	fx := Fixed{Frac: 14}
	rows16 := func(n int) []int {
		l := make([]int, n/16)
		for i := range l {
			l[i] = 16
		}
		return l
	}
	return []keyGen{
		{"trunc/64", func(r io.Reader, n int) (Key, Key, error) { return GenTrunc(r, n, 14, 64) }},
		{"trunc/37", func(r io.Reader, n int) (Key, Key, error) { return GenTrunc(r, n, 14, 37) }},
		{"mul/64", func(r io.Reader, n int) (Key, Key, error) { return GenMul(r, n, 64) }},
		{"square/60", func(r io.Reader, n int) (Key, Key, error) { return GenSquare(r, n, 60) }},
		{"matmul/64 (n/8×8×8, per output)", func(r io.Reader, n int) (Key, Key, error) { return GenMatMul(r, n/8, 8, 8, 64) }},
		{"mulfx/64", func(r io.Reader, n int) (Key, Key, error) { return GenMulFixed(r, n, 14, 64) }},
		{"squarefx/64", func(r io.Reader, n int) (Key, Key, error) { return GenSquareFixed(r, n, 14, 64) }},
		{"matmulfx/64 (per output)", func(r io.Reader, n int) (Key, Key, error) { return GenMatMulFixed(r, n/8, 8, 8, 14, 64) }},
		{"matmulbatch/64 (per output)", func(r io.Reader, n int) (Key, Key, error) {
			return GenMatMulBatch(r, []MatShape{{n / 8, 8, 8}}, 14, 64)
		}},
		{"rowmul/64 (rows of 16)", func(r io.Reader, n int) (Key, Key, error) { return GenRowMul(r, rows16(n), 64) }},
		{"rowmul3/64 (rows of 16)", func(r io.Reader, n int) (Key, Key, error) { return GenRowMul3(r, rows16(n), 64) }},
		{"cachemm/64 (per output: n rows added, K 8)", func(r io.Reader, n int) (Key, Key, error) {
			k0, k1, _, _, err := GenCacheMatMul(r, []*DealerCache{{K: 8}}, n, []CacheProd{{Cache: 0, M: 1}}, 14, 64)
			return k0, k1, err
		}},
		{"cachemmt/36 (per output: n rows added, K 8, truncations)", func(r io.Reader, n int) (Key, Key, error) {
			return GenCacheMatMulTrunc(r, []*DealerCache{{K: 8}}, n, []CacheProd{{Cache: 0, M: 1}}, 8, 14, 36, fx, false)
		}},
		{"drelu/21", func(r io.Reader, n int) (Key, Key, error) { return GenDReLU(r, n, 21) }},
		{"relu/21", func(r io.Reader, n int) (Key, Key, error) { return GenReLU(r, n, 21) }},
		{"gelu", func(r io.Reader, n int) (Key, Key, error) { return GenGeLU(r, n, fx) }},
		{"silu", func(r io.Reader, n int) (Key, Key, error) { return GenSiLU(r, n, fx) }},
		{"silumul (SiLU(g)·u)", func(r io.Reader, n int) (Key, Key, error) { return GenSiLUMul(r, n, fx) }},
		{"gelur (truncation and GeLU)", func(r io.Reader, n int) (Key, Key, error) { return GenGeLURaw(r, n, fx, fx.Frac, 48) }},
		{"silumulr (truncations, SiLU(g)·u)", func(r io.Reader, n int) (Key, Key, error) { return GenSiLUMulRaw(r, n, fx, fx.Frac, 48) }},
		{"exp", func(r io.Reader, n int) (Key, Key, error) { return GenExp(r, n, fx) }},
		{"recip", func(r io.Reader, n int) (Key, Key, error) { return GenReciprocal(r, n, fx) }},
		{"rsqrt", func(r io.Reader, n int) (Key, Key, error) { return GenRsqrt(r, n, fx) }},
		{"max/21 (rows of 16, per input)", func(r io.Reader, n int) (Key, Key, error) { return GenMax(r, n/16, 16, 21) }},
		{"softmax decode on raw scores (1×64, per score)", func(r io.Reader, n int) (Key, Key, error) {
			return GenSoftmaxHeadsRaw(r, n/64, 1, 64, 63, fx, 48)
		}},
		{"softmax decode (1×64, per score)", func(r io.Reader, n int) (Key, Key, error) {
			return GenSoftmaxHeads(r, n/64, 1, 64, 63, fx)
		}},
		{"softmax (16×16 causal, per score)", func(r io.Reader, n int) (Key, Key, error) {
			return GenSoftmaxHeads(r, n/256, 16, 16, 0, fx)
		}},
		{"softmax with values, decode (1×64, per score; K 8)", func(r io.Reader, n int) (Key, Key, error) {
			heads := n / 64
			dc := make([]*DealerCache, heads)
			for i := range dc {
				dc[i] = &DealerCache{K: 8, Rows: 63, B: make([]uint64, 63*8)} // 63 positions cached
			}
			return GenSoftmaxValues(r, heads, 1, 63, fx, 0, dc, 1)
		}},
		{"layernorm (dim 64, per element)", func(r io.Reader, n int) (Key, Key, error) { return GenLayerNorm(r, n/64, 64, fx) }},
		{"rmsnorm (dim 64, per element)", func(r io.Reader, n int) (Key, Key, error) { return GenRMSNorm(r, n/64, 64, fx) }},
		{"rmsnormres (dim 64, per element)", func(r io.Reader, n int) (Key, Key, error) {
			return GenRMSNormRes(r, n/64, 64, fx, ResTrunc{Frac: fx.Frac, Bits: 48})
		}},
		{"rmsnormres (one row: the octave spline)", func(r io.Reader, n int) (Key, Key, error) {
			return GenRMSNormRes(r, 1, n, fx, ResTrunc{Frac: fx.Frac, Bits: 48})
		}},
		{"layernormraw (dim 64, per element)", func(r io.Reader, n int) (Key, Key, error) { return GenNormRaw(r, n/64, 64, fx, true, nil) }},
		{"rmsnormraw (dim 64, per element)", func(r io.Reader, n int) (Key, Key, error) { return GenNormRaw(r, n/64, 64, fx, false, nil) }},
		{"rmsnormresraw (dim 64, per element)", func(r io.Reader, n int) (Key, Key, error) {
			return GenNormRaw(r, n/64, 64, fx, false, &ResTrunc{Frac: fx.Frac, Bits: 48})
		}},
		{"layernormscale (dim 64, per element)", func(r io.Reader, n int) (Key, Key, error) { return GenNormScale(r, n/64, 64, fx, true, nil) }},
		{"rmsnormscale (one row: the octave spline)", func(r io.Reader, n int) (Key, Key, error) { return GenNormScale(r, 1, n, fx, false, nil) }},
		{"rmsnormresscale (dim 64, per element)", func(r io.Reader, n int) (Key, Key, error) {
			return GenNormScale(r, n/64, 64, fx, false, &ResTrunc{Frac: 37, Bits: 64})
		}},
		{"scalerows (rows of 64, per element)", func(r io.Reader, n int) (Key, Key, error) {
			lens := make([]int, n/64)
			for i := range lens {
				lens[i] = 64
			}
			return GenScaleRows(r, lens, 256, fx, 2*fx.Frac)
		}},
	}
}

// keyParts walks a key and its parts: it records every kind it meets and returns the bytes of the
// FSS batches (correction words: the same in both parties' keys, but for party 1's level-Top nodes)
// and of public shape data (RowMul's row lengths), the parts whose size may grow with the length.
func keyParts(t *testing.T, k Key, kinds map[string]bool) (fssBytes, public int) {
	t.Helper()
	kinds[k.Kind()] = true
	switch k := k.(type) {
	case *seqKey:
		for _, p := range k.parts {
			f, q := keyParts(t, p, kinds)
			fssBytes, public = fssBytes+f, public+q
		}
	case *FxKey:
		f, q := keyParts(t, k.Prod, kinds)
		g, r := keyParts(t, k.Trunc, kinds)
		return f + g, q + r
	case *lutKey:
		if k.dcf != nil {
			fssBytes += k.dcf.Size()
		}
		for _, d := range k.dpf {
			if d.Top > 0 && d.Seeded != (k.party == lookupSeeded) {
				t.Errorf("%s: party %d's DPF batch: seeded %v", k.kind, k.party, d.Seeded)
			}
			fssBytes += d.Size()
		}
	case *RowMulKey:
		public = PackedLen(len(k.Lens), 32)
	case *RowMul3Key:
		public = PackedLen(len(k.Lens), 32)
	case *TruncRowMul3Key:
		public = PackedLen(len(k.Lens), 32)
	case *TruncRowMul3XKey:
		public = PackedLen(len(k.Lens), 32)
	case *DPFBatchKey:
		fssBytes += k.D.Size()
	case *SplineKey:
		fssBytes += k.DCF.Size()
	case *TruncActKey:
		for _, d := range k.DPF {
			if d.Top > 0 && d.Seeded != (int(k.Party) == lookupSeeded) {
				t.Errorf("tact: party %d's DPF batch: seeded %v", k.Party, d.Seeded)
			}
			fssBytes += d.Size()
		}
	}
	return fssBytes, public
}

// TestPartyZeroSeedCompressed generates every gate's keys at two lengths and checks that party 0's
// keys grow only by their FSS correction words and public row lengths: every share party 0 holds
// that is uniform and independent of the rest of its key (masks, triples, truncation pairs, cache
// masks, lookup masks and sign shares) comes from a seed. A lookup DPF's level-Top nodes are seeded
// for lookupSeeded (party 1) and stored by party 0, which balances the parties' material, so party
// 0's key may be the larger one for gates of lookups. It logs both parties' key bytes per element,
// and checks that every registered kind was met.
func TestPartyZeroSeedCompressed(t *testing.T) {
	kinds := map[string]bool{}
	const n = 1024
	for _, g := range allKeyGens() {
		var size, fssB, pub [2][2]int // [length][party]
		for li, m := range []int{n, 2 * n} {
			k0, k1, err := g.gen(testRNG(uint64(m)), m)
			if err != nil {
				t.Fatalf("%s: %v", g.name, err)
			}
			for p, k := range []Key{k0, k1} {
				size[li][p] = k.Size()
				fssB[li][p], pub[li][p] = keyParts(t, k, kinds)
			}
		}
		per := func(p int) float64 { return float64(size[1][p]-size[0][p]) / n }
		t.Logf("%-45s party 0 %8.2f, party 1 %8.2f bytes per element", g.name, per(0), per(1))
		other := func(li int) int { return size[li][0] - fssB[li][0] - pub[li][0] }
		if other(0) != other(1) {
			t.Errorf("%s: party 0's key grows by %d bytes besides its correction words (%d then %d bytes)",
				g.name, other(1)-other(0), size[0][0], size[1][0])
		}
	}
	var missed []string
	for _, k := range KeyKinds() {
		if !kinds[k] {
			missed = append(missed, k)
		}
	}
	if len(missed) > 0 {
		t.Errorf("kinds no generator produced: %v", missed)
	}
}

// TestLookupKeyCodec round-trips lookup keys of both parties (party 0: a seed and its FSS batches;
// party 1: masks at the opened width and sign shares), refuses every truncation, trailing bytes and
// malformed headers, and checks that a decoded key of either party evaluates like the original.
func TestLookupKeyCodec(t *testing.T) {
	fx := Fixed{Frac: 12}
	rng := newNLRNG(81)
	var keys []*lutKey
	for _, kind := range []struct {
		gen func() (Key, Key, error)
	}{
		{func() (Key, Key, error) { return GenDReLU(rng, 5, 21) }},
		{func() (Key, Key, error) { return GenReLU(rng, 3, 40) }},
		{func() (Key, Key, error) { return GenExp(rng, 4, fx) }},
		{func() (Key, Key, error) { return GenGeLU(rng, 2, fx) }},
		{func() (Key, Key, error) { return GenReciprocal(rng, 2, fx) }},
	} {
		a, b, err := kind.gen()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []Key{a, b} {
			var walk func(k Key)
			walk = func(k Key) {
				switch k := k.(type) {
				case *lutKey:
					keys = append(keys, k)
				case *seqKey:
					for _, p := range k.parts {
						walk(p)
					}
				}
			}
			walk(k)
		}
	}
	for _, k := range keys {
		b, err := k.MarshalBinary()
		if err != nil || len(b) != k.Size() {
			t.Fatalf("%s party %d: %v (%d bytes, Size %d)", k.kind, k.party, err, len(b), k.Size())
		}
		d := &lutKey{kind: k.kind}
		if err := d.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s party %d: %v", k.kind, k.party, err)
		}
		if b2, _ := d.MarshalBinary(); string(b2) != string(b) {
			t.Fatalf("%s party %d: re-encoding differs", k.kind, k.party)
		}
		r, mr, mrr, release := k.masks()
		r2, mr2, mrr2, release2 := d.masks()
		if fmt.Sprint(r, mr, mrr) != fmt.Sprint(r2, mr2, mrr2) {
			t.Fatalf("%s party %d: decoded masks differ", k.kind, k.party)
		}
		release()
		release2()
		for cut := range len(b) {
			if (&lutKey{kind: k.kind}).UnmarshalBinary(b[:cut]) == nil {
				t.Fatalf("%s party %d: %d of %d bytes accepted", k.kind, k.party, cut, len(b))
			}
		}
		if (&lutKey{kind: k.kind}).UnmarshalBinary(append(slices.Clone(b), 0)) == nil {
			t.Fatalf("%s party %d: trailing byte accepted", k.kind, k.party)
		}
		// Header fields: party 2, mask width 0 and 65, and the other party's byte (whose body has
		// another layout) are refused.
		for _, bad := range []func(c []byte){
			func(c []byte) { c[0] = 2 },
			func(c []byte) { c[0] ^= 1 },
			func(c []byte) { c[lutHeaderLen-1] = 0 },
			func(c []byte) { c[lutHeaderLen-1] = 65 },
		} {
			c := slices.Clone(b)
			bad(c)
			if (&lutKey{kind: k.kind}).UnmarshalBinary(c) == nil {
				t.Fatalf("%s party %d: malformed header accepted", k.kind, k.party)
			}
		}
	}
	// Party 1's mask shares are reduced to the opened width, party 0 holds a seed only.
	for _, k := range keys {
		if k.party == 0 && (k.r != nil || k.mr != nil || k.mrr != nil) {
			t.Fatalf("%s: party 0 holds explicit masks", k.kind)
		}
		if k.party == 1 {
			for _, v := range k.r {
				if v > Mask(k.rbits) {
					t.Fatalf("%s: party 1's mask share %x above width %d", k.kind, v, k.rbits)
				}
			}
		}
	}
}
