package hss

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMax(t *testing.T) {
	fx := Fixed{Frac: 12}
	const bits = 21
	for _, sh := range []struct{ rows, cols int }{{5, 37}, {3, 1}, {4, 64}, {2, 2}} {
		pr := rand.New(rand.NewPCG(uint64(sh.cols), 1))
		x := make([]uint64, sh.rows*sh.cols)
		for i := range x {
			x[i] = fx.Encode((pr.Float64()*2 - 1) * 60)
		}
		k0, k1, err := GenMax(newNLRNG(1), sh.rows, sh.cols, bits)
		if err != nil {
			t.Fatal(err)
		}
		got, s0, _ := runRows(t, fx, [][]uint64{x}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
			return p.Max(in[0], sh.rows, sh.cols, bits)
		})
		for r := range sh.rows {
			want := int64(x[r*sh.cols])
			for j := range sh.cols {
				want = max(want, int64(x[r*sh.cols+j]))
			}
			if int64(got[r]) != want {
				t.Fatalf("%dx%d row %d: got %d want %d", sh.rows, sh.cols, r, int64(got[r]), want)
			}
		}
		if wantR := int64(math.Ceil(math.Log2(float64(sh.cols)))); s0.Rounds != wantR {
			t.Fatalf("%dx%d: %d rounds, want %d", sh.rows, sh.cols, s0.Rounds, wantR)
		}
	}
}

// TestMaxRows runs the ragged max trees of the softmax with the exact and the coarse comparison
// on rows of 1 to 70 entries: spread rows, rows whose maximum is attained twice or more, and rows
// whose entries all lie within 2·tol of the maximum (where the coarse comparison may pick either);
// the coarse result must be an entry of the row within depth·tol of its maximum.
func TestMaxRows(t *testing.T) {
	for _, frac := range []uint{12, 14} {
		fx := Fixed{Frac: frac}
		ms, tol := maxSpec(fx)
		bits, _, _ := smParams(fx)
		lens := []int{1, 2, 3, 5, 8, 13, 64, 65, 70, 37, 1, 4, 33, 16, 17}
		for range 40 {
			lens = append(lens, 9, 32)
		}
		pr := rand.New(rand.NewPCG(uint64(frac), 3))
		var x []uint64
		for r, l := range lens {
			top := (pr.Float64()*2 - 1) * 63
			for j := range l {
				var v float64
				switch r % 4 {
				case 0: // spread
					v = (pr.Float64()*2 - 1) * 63.75
				case 1: // the maximum twice, the rest below
					v = top - pr.Float64()*20
					if j == l/3 || j == l-1 {
						v = top
					}
				case 2: // all within 2·tol of the maximum (2^-5), ties included
					v = top - math.Ldexp(float64(pr.IntN(2*int(tol)+1)), -int(frac))
				default: // all equal
					v = top
				}
				x = append(x, fx.Encode(v))
			}
		}
		for _, coarse := range []bool{false, true} {
			spec := reluSpec(bits, true)
			if coarse {
				spec = ms
			}
			k0, k1, err := genMaxRows(newNLRNG(byte(frac)), lens, spec)
			if err != nil {
				t.Fatal(err)
			}
			want := costMaxLevels(maxLevels(lens), spec)
			if got := measureCost(t, fx, k0, k1, func(p *Party, x []uint64) ([]uint64, error) { return p.maxRows(x, lens, spec) }, len(x)); got != want {
				t.Fatalf("frac %d coarse %v: measured %+v, counted %+v", frac, coarse, got, want)
			}
			k0, k1, _ = genMaxRows(newNLRNG(byte(frac)), lens, spec)
			got, s0, _ := runRows(t, fx, [][]uint64{x}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
				return p.maxRows(in[0], lens, spec)
			})
			if wantR := int64(maxDepth(70)); s0.Rounds != wantR {
				t.Fatalf("frac %d coarse %v: %d rounds, want %d", frac, coarse, s0.Rounds, wantR)
			}
			off, below := 0, 0
			for r, l := range lens {
				row := x[off : off+l]
				off += l
				mx, in := int64(row[0]), false
				for _, v := range row {
					mx = max(mx, int64(v))
					in = in || v == got[r]
				}
				g := int64(got[r])
				lo := mx
				if coarse {
					lo -= int64(maxDepth(l)) * int64(tol)
				}
				if !in || g < lo || g > mx {
					t.Fatalf("frac %d coarse %v row %d (%d entries): got %d, max %d, not an entry in [%d, %d]", frac, coarse, r, l, g, mx, lo, mx)
				}
				if g < mx {
					below++
				}
			}
			if coarse && below == 0 {
				t.Errorf("frac %d: the coarse comparison never picked a smaller entry (rows within 2·tol not exercised)", frac)
			}
			t.Logf("frac %d coarse %v: %d of %d rows below the maximum", frac, coarse, below, len(lens))
		}
	}
}
