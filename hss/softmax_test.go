package hss

import (
	"math"
	"math/rand/v2"
	"testing"
)

func softmaxRef(x []float64, rows, cols, pos0 int) []float64 {
	out := make([]float64, len(x))
	for r, l := range causalLens(rows, cols, pos0) {
		m := math.Inf(-1)
		for j := range l {
			m = math.Max(m, x[r*cols+j])
		}
		var s float64
		for j := range l {
			s += math.Exp(x[r*cols+j] - m)
		}
		for j := range l {
			out[r*cols+j] = math.Exp(x[r*cols+j]-m) / s
		}
	}
	return out
}

func TestSoftmax(t *testing.T) {
	fx := Fixed{Frac: 12}
	for ci, c := range []struct {
		rows, cols, pos0 int
		scale            float64
	}{{12, 40, 28, 3}, {6, 6, 0, 20}, {1, 200, 199, 1}, {4, 33, 29, 0.01}} {
		pr := rand.New(rand.NewPCG(uint64(ci), 9))
		xf := make([]float64, c.rows*c.cols)
		for i := range xf {
			xf[i] = math.Max(-63, math.Min(63, pr.NormFloat64()*c.scale))
		}
		if ci == 0 { // one row with a dominant score, one with equal scores
			xf[5] = 40
			for j := range c.cols {
				xf[c.cols+j] = 1.5
			}
		}
		x := fx.EncodeVec(xf)
		xf = fx.DecodeVec(x)
		k0, k1, err := GenSoftmax(newNLRNG(byte(ci)), c.rows, c.cols, c.pos0, fx)
		if err != nil {
			t.Fatal(err)
		}
		got, s0, s1 := runRows(t, fx, [][]uint64{x}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
			return p.Softmax(in[0], c.rows, c.cols, c.pos0)
		})
		ref := softmaxRef(xf, c.rows, c.cols, c.pos0)
		var worst float64
		for i := range ref {
			e := math.Abs(fx.Decode(got[i]) - ref[i])
			worst = math.Max(worst, e)
			if e > 1.0/256 {
				t.Fatalf("case %d entry %d: got %v want %v", ci, i, fx.Decode(got[i]), ref[i])
			}
		}
		wantR := smMaxRounds(c.rows, min(c.cols, c.pos0+c.rows)) + 5 // exp 2, reciprocal 3 (exp's truncation rides on its comparisons), truncation 1
		if s0.Rounds != wantR || s1.Rounds != wantR {
			t.Fatalf("case %d: rounds %d/%d, want %d", ci, s0.Rounds, s1.Rounds, wantR)
		}
		t.Logf("softmax %dx%d pos0 %d: max abs err %.3g (2^%.2f), online %.1f B/elem, dealer %.0f B/elem", c.rows, c.cols, c.pos0,
			worst, math.Log2(worst), float64(s0.BytesSent+s1.BytesSent)/float64(len(x)), float64(k0.Size()+k1.Size())/float64(len(x)))
	}
}

// TestSoftmaxRagged checks causal softmax rows of many lengths, in prefill (pos0 = 0, several
// heads) and decode (rows = 1, pos0 > 0), on rows whose maximum is attained twice, whose entries lie
// within 2^-5 (twice the coarse comparison's tolerance) of each other, and at the ends of the input range
// with the longest rows (the shifted maximum must keep exp's inputs above −2^7).
func TestSoftmaxRagged(t *testing.T) {
	for ci, c := range []struct {
		frac                          uint
		heads, rows, cols, pos0, pat0 int
	}{{12, 2, 40, 40, 0, 0}, {14, 1, 70, 70, 0, 0}, {14, 3, 1, 129, 128, 0}, {14, 3, 1, 129, 128, 2}, {12, 4, 1, 4096, 4095, 1},
		{14, 2, 5, 37, 32, 0}, {12, 1, 8, 8, 0, 0}} {
		fx := Fixed{Frac: c.frac}
		pr := rand.New(rand.NewPCG(uint64(ci), 21))
		n := c.heads * c.rows * c.cols
		xf := make([]float64, n)
		lens := headLens(c.heads, c.rows, c.cols, c.pos0)
		for r, l := range lens {
			top := (pr.Float64()*2 - 1) * 8
			for j := range c.cols {
				var v float64
				if j < l {
					switch (r + c.pat0) % 5 {
					case 0:
						v = pr.NormFloat64() * 3
					case 1: // the maximum twice
						v = top - pr.Float64()*4
						if j == 0 || j == l-1 {
							v = top
						}
					case 2: // all within 2^-5
						v = top - pr.Float64()/32
					case 3: // all equal
						v = top
					default: // the range's ends: one entry at 2^6 − 2^-2, the rest at −(2^6 − 2^-2)
						v = -63.75
						if j == l/2 {
							v = 63.75
						}
					}
				} else { // masked: ignored, whatever they hold
					v = pr.NormFloat64() * 50
				}
				xf[r*c.cols+j] = v
			}
		}
		x := fx.EncodeVec(xf)
		xf = fx.DecodeVec(x)
		k0, k1, err := GenSoftmaxHeads(newNLRNG(byte(ci)), c.heads, c.rows, c.cols, c.pos0, fx)
		if err != nil {
			t.Fatal(err)
		}
		got, s0, s1 := runRows(t, fx, [][]uint64{x}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
			return p.SoftmaxHeads(in[0], c.heads, c.rows, c.cols, c.pos0)
		})
		ref := make([]float64, 0, n)
		for h := range c.heads {
			ref = append(ref, softmaxRef(xf[h*c.rows*c.cols:(h+1)*c.rows*c.cols], c.rows, c.cols, c.pos0)...)
		}
		var worst float64
		for i := range ref {
			e := math.Abs(fx.Decode(got[i]) - ref[i])
			worst = math.Max(worst, e)
			if e > 1.0/256 {
				t.Fatalf("case %d entry %d (row %d): got %v want %v", ci, i, i/c.cols, fx.Decode(got[i]), ref[i])
			}
		}
		wantR := smMaxRounds(c.rows, min(c.cols, c.pos0+c.rows)) + 5 // exp 2, reciprocal 3 (exp's truncation rides on its comparisons), truncation 1
		if s0.Rounds != wantR || s1.Rounds != wantR {
			t.Fatalf("case %d: rounds %d/%d, want %d", ci, s0.Rounds, s1.Rounds, wantR)
		}
		cost, err := CostSoftmaxHeads(c.heads, c.rows, c.cols, c.pos0, fx)
		if err != nil {
			t.Fatal(err)
		}
		if m := (Cost{Online: s0.BytesSent + s1.BytesSent, Rounds: s0.Rounds}).Add(KeyCost(k0, k1)); m != cost {
			t.Fatalf("case %d: measured %+v, counted %+v", ci, m, cost)
		}
		t.Logf("softmax %d×%dx%d pos0 %d frac %d: max abs err %.3g (2^%.2f)", c.heads, c.rows, c.cols, c.pos0, c.frac, worst, math.Log2(worst))
	}
}

// smMaxRounds is the rounds of the softmax's row maxima: 2 by counting (one query row per head),
// else the depth of the tree over the longest row.
func smMaxRounds(rowsPerHead, longest int) int64 {
	if smCount(rowsPerHead) {
		return 2
	}
	return int64(maxDepth(longest))
}
