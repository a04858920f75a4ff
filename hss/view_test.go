package hss_test

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/hss/hsstest"
)

// The view tests: what a party receives is uniform whatever the secret. They are external tests
// (package hss_test) because they use hsstest's Recorder and chi-square statistic.

// TestViewIndependent records everything party 1 receives while gates run on two very different
// secrets and checks that the received words are uniform at their opened width.
func TestViewIndependent(t *testing.T) {
	const n, bits = 1 << 14, 40
	fx := hss.Fixed{Frac: 12}
	rng := hss.SeededRNG(12)
	inputs := map[string][]uint64{"zero": make([]uint64, n), "large": make([]uint64, n)}
	for i := range inputs["large"] {
		inputs["large"][i] = uint64(int64(1)<<(bits-3) - int64(i))
	}
	for name, x := range inputs {
		sx := hss.ShareFor(t, x, rng)
		t0, k1, _ := hss.GenTrunc(rng, n, fx.Frac, bits)
		m0, m1, _ := hss.GenMul(rng, n, bits)
		s0, s1, _ := hss.GenSquare(rng, n, bits)
		msgs := recordRun(t, fx, hss.NewMaterial(t0, m0, s0), hss.NewMaterial(k1, m1, s1), func(p *hss.Party) error {
			if _, err := p.Trunc(sx[p.ID], fx.Frac, bits); err != nil {
				return err
			}
			if _, err := p.Mul(sx[p.ID], sx[p.ID], bits); err != nil {
				return err
			}
			_, err := p.Square(sx[p.ID], bits)
			return err
		})
		// Trunc opens n values, Mul 2n (x − a and y − b), Square n.
		if c := checkView(t, name+" input", msgs, [][][2]int{{{n, bits}}, {{2 * n, bits}}, {{n, bits}}}); c != 3 {
			t.Fatalf("%s input: %d parts checked", name, c)
		}
	}
}

// TestNonlinearView checks that the value a party receives in the GeLU round (the peer's masked share)
// is uniform for two very different inputs.
func TestNonlinearView(t *testing.T) {
	fx := hss.Fixed{Frac: 12}
	n := 4096
	if testing.Short() {
		n = 1024
	}
	for _, v := range []float64{-50, 3.25} {
		rng := hss.NewNLRNG(11)
		k0, k1, err := hss.GenExp(rng, n, fx)
		if err != nil {
			t.Fatal(err)
		}
		xs := make([]uint64, n)
		for i := range xs {
			xs[i] = fx.Encode(math.Min(v, 0))
		}
		sh := hss.ShareFor(t, xs, rng)
		msgs := recordRun(t, fx, hss.NewMaterial(k0), hss.NewMaterial(k1), func(p *hss.Party) error {
			_, e := p.Exp(sh[p.ID])
			return e
		})
		// Round 1: the masked input at the index width; round 2: the truncation's masked value.
		ob, tb, err := hss.ExpOpenWidths(fx)
		if err != nil {
			t.Fatal(err)
		}
		if c := checkView(t, fmt.Sprintf("input %v", v), msgs, [][][2]int{{{n, int(ob)}}, {{n, int(tb)}}}); c != 2 {
			t.Fatalf("input %v: %d parts checked", v, c)
		}
	}
}

// TestRowGatesView records what party 1 receives while Softmax and LayerNorm run on two very
// different inputs and checks that every round's words are uniform at the width they are sent with.
func TestRowGatesView(t *testing.T) {
	fx := hss.Fixed{Frac: 12}
	rows, cols := 64, 64
	if testing.Short() {
		rows = 48 // the softmax's causal rows still open 48·49/2 ≥ 1024 values per round
	}
	n := rows * cols
	inputs := map[string][]float64{"zero": make([]float64, n), "spread": make([]float64, n)}
	pr := rand.New(rand.NewPCG(5, 5))
	for i := range inputs["spread"] {
		inputs["spread"][i] = pr.NormFloat64() * 10
	}
	gain := fx.EncodeVec(make([]float64, cols))
	for name, xf := range inputs {
		for _, gate := range []string{"softmax", "layernorm"} {
			rng := hss.NewNLRNG(17)
			var k0, k1 hss.Key
			var err error
			if gate == "softmax" {
				k0, k1, err = hss.GenSoftmax(rng, rows, cols, 0, fx)
			} else {
				k0, k1, err = hss.GenLayerNorm(rng, rows, cols, fx)
			}
			if err != nil {
				t.Fatal(err)
			}
			x := fx.EncodeVec(xf)
			sh := hss.ShareFor(t, x, rng)
			msgs := recordRun(t, fx, hss.NewMaterial(k0), hss.NewMaterial(k1), func(p *hss.Party) error {
				in := sh[p.ID]
				var e error
				if gate == "softmax" {
					_, e = p.Softmax(in, rows, cols, 0)
				} else {
					_, e = p.LayerNorm(in, rows, cols, gain, nil, 1e-5)
				}
				return e
			})
			checked := checkView(t, gate+"/"+name, msgs, hss.ViewSchedule(gate, rows, cols, fx))
			if checked < 3 {
				t.Fatalf("%s/%s: only %d parts checked", gate, name, checked)
			}
		}
	}
}

// recordRun runs f on both parties over an in-memory pipe with material m0 and m1 and returns every
// message party 1 received.
func recordRun(t *testing.T, fx hss.Fixed, m0, m1 *hss.Material, f func(p *hss.Party) error) [][]byte {
	t.Helper()
	a, b := hss.Pipe()
	rec := hsstest.Record(b)
	if _, _, err := hss.RunPairOver(a, rec, fx, m0, m1, f); err != nil {
		t.Fatal(err)
	}
	return rec.Received()
}

// TestNormResView records what party 1 receives during RMSNormRes (the residual's truncation with
// the squares, then RMSNorm's rounds) on zero and on spread inputs and checks every part's uniformity
// at its width.
func TestNormResView(t *testing.T) {
	for _, shape := range [][2]int{{4, 512}, {1, 2048}} { // the octave lookup; one row: the octave spline
		normResView(t, shape[0], shape[1])
	}
}

// normInputs draws a norm's n inputs and a pending residual's (Frac more fractional bits): zero, or
// normal with σ 10 ("spread").
func normInputs(name string, n int, fx hss.Fixed, pr *rand.Rand) (xf, tf []float64) {
	xf, tf = make([]float64, n), make([]float64, n)
	if name == "spread" {
		for i := range xf {
			xf[i], tf[i] = pr.NormFloat64()*10, pr.NormFloat64()*10*fx.Scale()
		}
	}
	return xf, tf
}

func normResView(t *testing.T, rows, cols int) {
	fx := hss.Fixed{Frac: 14}
	n := rows * cols
	res := hss.ResTrunc{Frac: fx.Frac, Bits: 48}
	pr := rand.New(rand.NewPCG(7, 7))
	gain := fx.EncodeVec(make([]float64, cols))
	for _, name := range []string{"zero", "spread"} {
		xf, tf := normInputs(name, n, fx, pr)
		rng := hss.NewNLRNG(19)
		k0, k1, err := hss.GenRMSNormRes(rng, rows, cols, fx, res)
		if err != nil {
			t.Fatal(err)
		}
		sx, st := hss.ShareFor(t, fx.EncodeVec(xf), rng), hss.ShareFor(t, fx.EncodeVec(tf), rng)
		msgs := recordRun(t, fx, hss.NewMaterial(k0), hss.NewMaterial(k1), func(p *hss.Party) error {
			_, _, e := p.RMSNormRes(sx[p.ID], st[p.ID], res, rows, cols, gain, 1e-5)
			return e
		})
		if checked := checkView(t, "rmsnormres/"+name, msgs, hss.ViewSchedule("rmsnormres", rows, cols, fx)); checked < 4 {
			t.Fatalf("rmsnormres/%s (%d rows): only %d parts checked", name, rows, checked)
		}
	}
}

// TestNormRawView records what party 1 receives during NormRaw (LayerNorm, and RMSNorm of a pending
// residual: the norms' rounds without the output's truncation) on zero and on spread inputs and
// checks every part's uniformity at its width.
func TestNormRawView(t *testing.T) {
	fx := hss.Fixed{Frac: 14}
	rows, cols := 4, 512
	n := rows * cols
	pr := rand.New(rand.NewPCG(8, 8))
	for _, gate := range []string{"layernormraw", "rmsnormresraw"} {
		var res *hss.ResTrunc
		if gate == "rmsnormresraw" {
			res = &hss.ResTrunc{Frac: fx.Frac, Bits: 48}
		}
		for _, name := range []string{"zero", "spread"} {
			xf, tf := normInputs(name, n, fx, pr)
			rng := hss.NewNLRNG(23)
			k0, k1, err := hss.GenNormRaw(rng, rows, cols, fx, res == nil, res)
			if err != nil {
				t.Fatal(err)
			}
			sx, st := hss.ShareFor(t, fx.EncodeVec(xf), rng), hss.ShareFor(t, fx.EncodeVec(tf), rng)
			msgs := recordRun(t, fx, hss.NewMaterial(k0), hss.NewMaterial(k1), func(p *hss.Party) error {
				var tv []uint64
				if res != nil {
					tv = st[p.ID]
				}
				_, _, e := p.NormRaw(sx[p.ID], tv, res, rows, cols, 1e-5, res == nil)
				return e
			})
			want := 2 // the squares and the row product (and the residual's truncation)
			if res != nil {
				want = 3
			}
			if checked := checkView(t, gate+"/"+name, msgs, hss.ViewSchedule(gate, rows, cols, fx)); checked < want {
				t.Fatalf("%s/%s: only %d parts checked", gate, name, checked)
			}
		}
	}
}

// TestNormScaleView records what party 1 receives in NormScale (RMSNorm of a pending residual, the
// octave lookup and the one-row spline) and ScaleRows (inputs with 2·Frac and 3·Frac fractional
// bits) on zero and on spread inputs and checks every part's layout and uniformity at its width.
func TestNormScaleView(t *testing.T) {
	fx := hss.Fixed{Frac: 14}
	res := hss.ResTrunc{Frac: 37, Bits: 64}
	pr := rand.New(rand.NewPCG(9, 9))
	for _, c := range []struct{ rows, cols, m int }{{4, 512, 768}, {1, 2048, 1536}} {
		n := c.rows * c.cols
		lens := make([]int, c.rows)
		for i := range lens {
			lens[i] = c.m
		}
		for _, inFrac := range []uint{2 * fx.Frac, 3 * fx.Frac} {
			for _, name := range []string{"zero", "spread"} {
				xf, tf := normInputs(name, n, fx, pr)
				for i := range tf {
					tf[i] *= math.Ldexp(1, int(res.Frac-fx.Frac)) // the addend: Frac + res.Frac bits
				}
				yf := make([]float64, c.rows*c.m)
				if name == "spread" {
					for i := range yf {
						yf[i] = pr.NormFloat64() * 100
					}
				}
				rng := hss.NewNLRNG(37)
				a0, a1, err := hss.GenNormScale(rng, c.rows, c.cols, fx, false, &res)
				if err != nil {
					t.Fatal(err)
				}
				b0, b1, err := hss.GenScaleRows(rng, lens, c.cols, fx, inFrac)
				if err != nil {
					t.Fatal(err)
				}
				sx, st := hss.ShareFor(t, fx.EncodeVec(xf), rng), hss.ShareFor(t, fx.EncodeVec(tf), rng)
				sy := hss.ShareFor(t, hss.Fixed{Frac: inFrac}.EncodeVec(yf), rng)
				msgs := recordRun(t, fx, hss.NewMaterial(a0, b0), hss.NewMaterial(a1, b1), func(p *hss.Party) error {
					_, _, s, err := p.NormScale(sx[p.ID], st[p.ID], &res, c.rows, c.cols, 1e-5, false)
					if err != nil {
						return err
					}
					_, err = p.ScaleRows(s, sy[p.ID], lens, inFrac)
					return err
				})
				label := fmt.Sprintf("normscale/%d rows/in %d/%s", c.rows, inFrac, name)
				if checked := checkView(t, label, msgs, hss.ScaleViewSchedule(c.rows, c.cols, c.m, fx, inFrac)); checked < 3 {
					t.Fatalf("%s: only %d parts checked", label, checked)
				}
			}
		}
	}
}

// TestCacheMatMulTruncView records what party 1 receives in CacheMatMulTrunc (one opening: the
// truncation of the queries, the new keys and v at width Frac + ScoreBits; then the scores' truncation at
// ScoreBits) on zero and on spread inputs and checks every part's uniformity at its width.
func TestCacheMatMulTruncView(t *testing.T) {
	fx := hss.Fixed{Frac: 14}
	const K, add, extra = 16, 64, 256
	bits := hss.ScoreBits(fx)
	pr := rand.New(rand.NewPCG(3, 3))
	for _, name := range []string{"zero", "spread"} {
		prods := []hss.CacheProd{{Cache: 0, M: add}, {Cache: 0, M: add}}
		n := 2*add*K + add*K + extra
		in := make([]float64, n)
		if name == "spread" {
			for i := range in {
				in[i] = pr.NormFloat64() * 4 * fx.Scale() // untruncated: Frac extra bits
			}
		}
		rng := hss.NewNLRNG(23)
		k0, k1, err := hss.GenCacheMatMulTrunc(rng, []*hss.DealerCache{{K: K}}, add, prods, extra, fx.Frac, bits, fx, false)
		if err != nil {
			t.Fatal(err)
		}
		sh := hss.ShareFor(t, fx.EncodeVec(in), rng)
		msgs := recordRun(t, fx, hss.NewMaterial(k0), hss.NewMaterial(k1), func(p *hss.Party) error {
			x := sh[p.ID]
			xs := [][]uint64{x[:add*K], x[add*K : 2*add*K]}
			_, _, e := p.CacheMatMulTrunc([]*hss.MaskedCache{{K: K}}, [][]uint64{x[2*add*K : 3*add*K]}, xs, x[3*add*K:], prods, fx.Frac, bits, false)
			return e
		})
		sched := [][][2]int{{{n, int(fx.Frac + bits)}}, {{2 * add * add, int(bits)}}}
		if checked := checkView(t, "cachemmt/"+name, msgs, sched); checked != 2 {
			t.Fatalf("cachemmt/%s: %d parts checked", name, checked)
		}
	}
}

// TestSoftmaxValuesView records what party 1 receives during a decode step's SoftmaxValues on
// untruncated scores (two riders: exp's truncation on the reciprocal's comparisons, the products'
// opening on its lookup) on constant and on spread scores, and checks every part's layout and
// uniformity.
func TestSoftmaxValuesView(t *testing.T) {
	fx := hss.Fixed{Frac: 14}
	const heads, kv, k = 8, 4, 128 // heads·k ≥ 1024: the products' and the output's parts are tested too
	cols := 129                    // 1032 scores: enough for the chi-square tests
	raw := hss.ScoreBits(fx)
	n := heads * cols
	pr := rand.New(rand.NewPCG(11, 11))
	for _, name := range []string{"constant", "spread"} {
		x := rawScores(name, n, fx, pr)
		rng := hss.NewNLRNG(29)
		dc, pc := smvCaches(kv, k)
		// A cache of cols−1 rows first (its material and run are not recorded), then the step.
		k0, k1, err := hss.GenSoftmaxValues(rng, heads, cols-1, 0, fx, 0, dc, heads/kv)
		if err != nil {
			t.Fatal(err)
		}
		values := func(rows int) [2][][]uint64 { return valueRows(t, kv, rows*k, fx, pr, rng) }
		pre := func(p *hss.Party, x []uint64, v [2][][]uint64, rows, pos0 int, rawBits uint) error {
			_, err := p.SoftmaxValues(x, heads, rows, pos0+rows, pos0, rawBits, pc[p.ID], v[p.ID], heads/kv)
			return err
		}
		v0 := values(cols - 1)
		if _, _, err := hss.RunPair(fx, hss.NewMaterial(k0), hss.NewMaterial(k1), func(p *hss.Party) error {
			return pre(p, make([]uint64, heads*(cols-1)*(cols-1)), v0, cols-1, 0, 0)
		}); err != nil {
			t.Fatal(err)
		}
		k0, k1, err = hss.GenSoftmaxValues(rng, heads, 1, cols-1, fx, raw, dc, heads/kv)
		if err != nil {
			t.Fatal(err)
		}
		sh, v1 := hss.ShareFor(t, x, rng), values(1)
		msgs := recordRun(t, fx, hss.NewMaterial(k0), hss.NewMaterial(k1), func(p *hss.Party) error {
			return pre(p, sh[p.ID], v1, 1, cols-1, raw)
		})
		if c := checkView(t, "smv/"+name, msgs, hss.SMVViewSchedule(heads, cols, k, kv, fx, raw)); c < 6 {
			t.Fatalf("%s: only %d parts checked", name, c)
		}
	}
}

// TestPrefillRawView records what party 1 receives in SoftmaxValues on a prefill's untruncated
// scores and checks the rounds this path changed — the max tree on the raw scores and exp's lookup
// on the raw shifted scores, all opened at ScoreBits — for their layout and uniformity (the rounds
// after them are those of the truncated path).
func TestPrefillRawView(t *testing.T) {
	fx := hss.Fixed{Frac: 14}
	const heads, kv, k, rows = 8, 4, 16, 32
	raw := hss.ScoreBits(fx)
	pr := rand.New(rand.NewPCG(12, 12))
	for _, name := range []string{"constant", "spread"} {
		x := rawScores(name, heads*rows*rows, fx, pr)
		rng := hss.NewNLRNG(31)
		dc, pc := smvCaches(kv, k)
		k0, k1, err := hss.GenSoftmaxValues(rng, heads, rows, 0, fx, raw, dc, heads/kv)
		if err != nil {
			t.Fatal(err)
		}
		v := valueRows(t, kv, rows*k, fx, pr, rng)
		sh := hss.ShareFor(t, x, rng)
		msgs := recordRun(t, fx, hss.NewMaterial(k0), hss.NewMaterial(k1), func(p *hss.Party) error {
			_, err := p.SoftmaxValues(sh[p.ID], heads, rows, rows, 0, raw, pc[p.ID], v[p.ID], heads/kv)
			return err
		})
		sched := hss.PrefillMaxSchedule(heads, rows, fx)
		if len(msgs) < len(sched) {
			t.Fatalf("%s: %d rounds", name, len(msgs))
		}
		if c := checkView(t, "smv prefill/"+name, msgs[:len(sched)], sched); c < 3 { // two tree levels and exp
			t.Fatalf("%s: only %d parts checked", name, c)
		}
	}
}

// rawScores draws n untruncated scores (2·Frac fractional bits, mod 2^ScoreBits): all 1 ("constant")
// or normal with σ 3 ("spread").
func rawScores(name string, n int, fx hss.Fixed, pr *rand.Rand) []uint64 {
	x := make([]uint64, n)
	for i := range x {
		v := 1.0
		if name == "spread" {
			v = pr.NormFloat64() * 3
		}
		x[i] = uint64(int64(math.Round(math.Ldexp(v, int(2*fx.Frac))))) & hss.Mask(hss.ScoreBits(fx))
	}
	return x
}

// valueRows draws both parties' shares of n new values per cache for kv caches, uniform in [−2, 2)
// (before a run: the parties' goroutines must not share rng).
func valueRows(t *testing.T, kv, n int, fx hss.Fixed, pr *rand.Rand, rng io.Reader) [2][][]uint64 {
	var v [2][][]uint64
	for range kv {
		f := make([]float64, n)
		for i := range f {
			f[i] = pr.Float64()*4 - 2
		}
		sh := hss.ShareFor(t, fx.EncodeVec(f), rng)
		v[0], v[1] = append(v[0], sh[0]), append(v[1], sh[1])
	}
	return v
}

// smvCaches returns kv empty value caches of width k: the dealer's and both parties'.
func smvCaches(kv, k int) ([]*hss.DealerCache, [2][]*hss.MaskedCache) {
	dc := make([]*hss.DealerCache, kv)
	var pc [2][]*hss.MaskedCache
	for i := range dc {
		dc[i] = &hss.DealerCache{K: k}
		pc[0], pc[1] = append(pc[0], &hss.MaskedCache{K: k}), append(pc[1], &hss.MaskedCache{K: k})
	}
	return dc, pc
}

// checkView checks every received message against its schedule (per round, the parts' counts and
// widths) and the uniformity of every part of 1024 values or more; it returns how many parts it tested.
func checkView(t *testing.T, name string, msgs [][]byte, sched [][][2]int) int {
	t.Helper()
	if len(msgs) != len(sched) {
		t.Fatalf("%s: %d rounds, want %d", name, len(msgs), len(sched))
	}
	checked := 0
	for i, msg := range msgs {
		want := 0
		for _, part := range sched[i] {
			want += hss.PackedLen(part[0], uint(part[1]))
		}
		if len(msg) != want {
			t.Fatalf("%s round %d: %d bytes, want %d (%v)", name, i, len(msg), want, sched[i])
		}
		for _, part := range sched[i] {
			cnt, bits := part[0], uint(part[1])
			pb := hss.PackedLen(cnt, bits)
			m := msg[:pb]
			msg = msg[pb:]
			if cnt < 1024 { // too few values for a chi-square test (per-row parts)
				continue
			}
			vals := make([]uint64, cnt)
			if err := hss.UnpackBits(vals, m, cnt, bits); err != nil {
				t.Fatal(err)
			}
			if c := hsstest.ChiSquareUniform(vals, bits); c > hsstest.ChiSquareLimit(bits) {
				t.Errorf("%s round %d (%d values of %d bits): chi-square %.1f > %.1f", name, i, cnt, bits, c, hsstest.ChiSquareLimit(bits))
			}
			if c := hsstest.ChiSquareUniform(vals, 8); bits > 8 && c > hsstest.ChiSquareLimit(8) { // low byte too
				t.Errorf("%s round %d: low-byte chi-square %.1f", name, i, c)
			}
			checked++
		}
	}
	return checked
}

// TestDecodeSoftmaxView records what party 1 receives during a decode step's softmax on untruncated
// scores (SoftmaxHeadsRaw: the scores' truncation with the counting max's histogram, the zero tests,
// exp, the reciprocal and the product) on constant and on spread scores, and checks every part's
// uniformity at its width.
func TestDecodeSoftmaxView(t *testing.T) {
	fx := hss.Fixed{Frac: 14}
	heads, cols := 8, 256
	n := heads * cols
	pr := rand.New(rand.NewPCG(9, 9))
	for _, name := range []string{"constant", "spread"} {
		raw := make([]uint64, n)
		for i := range raw {
			v := 3.0
			if name == "spread" {
				v = pr.NormFloat64() * 10
			}
			raw[i] = uint64(int64(math.Round(math.Ldexp(v, 28)))) & hss.Mask(48)
		}
		rng := hss.NewNLRNG(23)
		k0, k1, err := hss.GenSoftmaxHeadsRaw(rng, heads, 1, cols, cols-1, fx, 48)
		if err != nil {
			t.Fatal(err)
		}
		sh := hss.ShareFor(t, raw, rng)
		msgs := recordRun(t, fx, hss.NewMaterial(k0), hss.NewMaterial(k1), func(p *hss.Party) error {
			_, e := p.SoftmaxHeadsRaw(sh[p.ID], heads, 1, cols, cols-1, 48)
			return e
		})
		if c := checkView(t, "decode softmax/"+name, msgs, hss.DecodeViewSchedule(heads, cols, fx)); c < 4 {
			t.Fatalf("%s: only %d parts checked", name, c)
		}
	}
}

// TestFusedActView records what party 1 receives in the fused activations on untruncated linear
// outputs (GeLURaw: the input's truncation with the lookup, then the lookup's truncation with the
// sign's masked bit s ⊕ ρ;
// SiLUMulRaw: both inputs' truncations with the lookup, then SiLU's truncation with s ⊕ ρ) on
// constant and on spread inputs, and checks every part's uniformity at its width.
func TestFusedActView(t *testing.T) {
	fx := hss.Fixed{Frac: 14}
	const n, width = 2048, 48
	pr := rand.New(rand.NewPCG(3, 3))
	for _, name := range []string{"constant", "spread"} {
		g, u := make([]uint64, n), make([]uint64, n)
		for i := range g {
			gv, uv := 1.5, -2.0
			if name == "spread" {
				gv, uv = pr.NormFloat64()*8, pr.NormFloat64()*8
			}
			g[i] = uint64(int64(math.Round(math.Ldexp(gv, 28)))) & hss.Mask(width)
			u[i] = uint64(int64(math.Round(math.Ldexp(uv, 28)))) & hss.Mask(width)
		}
		for _, gate := range []string{"gelu", "silumul"} {
			rng := hss.NewNLRNG(29)
			var k0, k1 hss.Key
			var err error
			if gate == "gelu" {
				k0, k1, err = hss.GenGeLURaw(rng, n, fx, fx.Frac, width)
			} else {
				k0, k1, err = hss.GenSiLUMulRaw(rng, n, fx, fx.Frac, width)
			}
			if err != nil {
				t.Fatal(err)
			}
			sg, su := hss.ShareFor(t, g, rng), hss.ShareFor(t, u, rng)
			msgs := recordRun(t, fx, hss.NewMaterial(k0), hss.NewMaterial(k1), func(p *hss.Party) error {
				gi, ui := sg[p.ID], su[p.ID]
				var e error
				if gate == "gelu" {
					_, e = p.GeLURaw(gi, fx.Frac, width)
				} else {
					_, e = p.SiLUMulRaw(gi, ui, fx.Frac, width)
				}
				return e
			})
			tb := int(hss.ActTruncWidth(fx, gate == "gelu"))
			sched := [][][2]int{{{n, width}}, {{n, tb}, {n, 1}}} // GeLU's second round opens s ⊕ ρ too
			if gate == "silumul" {
				sched = [][][2]int{{{2 * n, width}}, {{n, tb}, {n, 1}}}
			}
			if c := checkView(t, gate+"/"+name, msgs, sched); c < 2 {
				t.Fatalf("%s/%s: only %d parts checked", gate, name, c)
			}
		}
	}
}
