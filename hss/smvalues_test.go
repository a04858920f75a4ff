package hss

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestSoftmaxValues runs the softmax with its product with the values over four steps (a causal
// 3-row prefill and a 2-row chunk after it with the max tree, then single rows with counting, on
// truncated and on untruncated scores) against float64 softmax(x)·V with grouped value caches, and checks the rounds (the max's,
// then 4) and that the counted cost is what the parties send and hold.
func TestSoftmaxValues(t *testing.T) {
	fx := Fixed{Frac: 14}
	const heads, group, K = 4, 2, 8
	raw := ScoreBits(fx)
	r := rand.New(rand.NewPCG(7, 8))
	rng := testRNG(21)
	dc := []*DealerCache{{K: K}, {K: K}}
	var pc [2][]*MaskedCache
	for i := range pc {
		pc[i] = []*MaskedCache{{K: K}, {K: K}}
	}
	var plain [2][]float64 // the value caches in the clear
	pos0 := 0
	for step, c := range []struct {
		rows    int
		rawBits uint
	}{{3, 0}, {2, raw}, {2, 0}, {1, 0}, {1, raw}, {3, raw}} { // prefills, chunks of them, decode steps; raw: untruncated scores
		rows, cols := c.rows, pos0+c.rows
		newRows := drawCacheRows(t, r, rng, &plain, rows*K, fx.EncodeVec, fx.DecodeVec)
		xf := make([]float64, heads*rows*cols)
		for i := range xf {
			xf[i] = r.NormFloat64() * 2
			if step == 5 && i%7 == 0 { // scores at the ends of the range (|x| < 2^6 − 2^-2)
				xf[i] = 63.7 * float64(1-2*(i/7%2))
			}
		}
		x := fx.EncodeVec(xf)
		xf = fx.DecodeVec(x)
		if c.rawBits > 0 { // untruncated scores: 2·Frac fractional bits, mod 2^rawBits
			for i, v := range xf {
				x[i] = uint64(int64(math.Round(math.Ldexp(v, int(2*fx.Frac))))) & Mask(c.rawBits)
			}
		}
		ks := []int{K, K}
		before := []int{pos0, pos0}
		k0, k1, err := GenSoftmaxValues(rng, heads, rows, pos0, fx, c.rawBits, dc, group)
		if err != nil {
			t.Fatal(err)
		}
		sh := shareFor(t, x, rng)
		var outs [2][][]uint64
		s0, s1, err := RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
			o, err := p.SoftmaxValues(sh[p.ID], heads, rows, cols, pos0, c.rawBits, pc[p.ID], newRows[p.ID], group)
			outs[p.ID] = o
			return err
		})
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		st, err := CostSoftmaxValuesStages(heads, rows, pos0, fx, c.rawBits, ks, before, group)
		if err != nil {
			t.Fatal(err)
		}
		if m := (Cost{Online: s0.BytesSent + s1.BytesSent, Rounds: s0.Rounds}).Add(KeyCost(k0, k1)); m != SumStages(st) {
			t.Fatalf("step %d: measured %+v, counted %+v", step, m, SumStages(st))
		}
		wantR := int64(smMaxRounds(rows, cols)) + 4
		if rows == 1 {
			wantR = 2 + 4
		}
		if s0.Rounds != wantR {
			t.Fatalf("step %d: %d rounds, want %d", step, s0.Rounds, wantR)
		}
		var worst float64
		for h := range heads {
			// Untruncated outputs: SMVFrac fractional bits.
			got := Fixed{Frac: SMVFrac(fx)}.DecodeVec(Reconstruct(outs[0][h], outs[1][h]))
			v := plain[h/group]
			for i := range rows {
				l := pos0 + i + 1
				row := xf[(h*rows+i)*cols : (h*rows+i)*cols+l]
				mx := math.Inf(-1)
				for _, s := range row {
					mx = math.Max(mx, s)
				}
				var sum float64
				p := make([]float64, l)
				for j, s := range row {
					p[j] = math.Exp(s - mx)
					sum += p[j]
				}
				for k := range K {
					var want float64
					for j := range l {
						want += p[j] / sum * v[j*K+k]
					}
					e := math.Abs(got[i*K+k] - want)
					worst = math.Max(worst, e)
					if e > 1.0/128 {
						t.Fatalf("step %d head %d row %d col %d: got %v want %v", step, h, i, k, got[i*K+k], want)
					}
				}
			}
		}
		t.Logf("step %d (%d rows, raw %d): max abs err %.3g, %d rounds", step, rows, c.rawBits, worst, s0.Rounds)
		pos0 += rows
	}
}

// TestSoftmaxValuesErrors: value caches that do not hold pos0 rows, new rows of the wrong length, or
// rows of more than smMaxCols columns (smvX's width rests on it) are refused before anything is
// opened.
func TestSoftmaxValuesErrors(t *testing.T) {
	fx := Fixed{Frac: 14}
	if _, _, err := GenSoftmaxValues(testRNG(1), 2, 1, 3, fx, 0, []*DealerCache{{K: 4}}, 2); err == nil {
		t.Fatal("dealer: empty cache at position 3: no error")
	}
	if _, err := CostSoftmaxValuesStages(2, 1, smMaxCols, fx, 0, []int{4}, []int{smMaxCols}, 2); err == nil {
		t.Fatalf("%d columns: no error", smMaxCols+1)
	}
	if _, err := CostSoftmaxValuesStages(2, 1, smMaxCols-1, fx, 0, []int{4}, []int{smMaxCols - 1}, 2); err != nil {
		t.Fatalf("%d columns: %v", smMaxCols, err)
	}
	k0, k1, err := GenSoftmaxValues(testRNG(1), 2, 2, 0, fx, 0, []*DealerCache{{K: 4}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	for name, rows := range map[string][][]uint64{"short rows": {make([]uint64, 4)}, "no rows": nil} {
		_, _, err := RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
			_, err := p.SoftmaxValues(make([]uint64, 2*2*2), 2, 2, 2, 0, 0, []*MaskedCache{{K: 4}}, rows, 2)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "smv") {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// A prefill's untruncated scores narrower than ScoreBits: the max tree would read wrapped values.
	narrow := ScoreBits(fx) - 1
	if _, _, err := GenSoftmaxValues(testRNG(1), 2, 2, 0, fx, narrow, []*DealerCache{{K: 4}}, 2); err == nil {
		t.Fatal("dealer: raw prefill scores at a narrow width: no error")
	}
	if _, err := CostSoftmaxValuesStages(2, 2, 0, fx, narrow, []int{4}, []int{0}, 2); err == nil {
		t.Fatal("cost: raw prefill scores at a narrow width: no error")
	}
	_, _, err = RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
		_, err := p.SoftmaxValues(make([]uint64, 2*2*2), 2, 2, 2, 0, narrow, []*MaskedCache{{K: 4}}, [][]uint64{make([]uint64, 8)}, 2)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "width") {
		t.Fatalf("party: raw prefill scores at a narrow width: %v", err)
	}
}
