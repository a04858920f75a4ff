package hss

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCountMax checks the counting max on ragged rows of 1 to 300 entries (spread rows, rows whose
// maximum is attained several times, rows within one bucket, rows at both ends of the range): the
// result m' must satisfy x* < m' ≤ x* + 2^(k+1) for the row's maximum x*, in exactly 2 rounds, at
// the cost costCountMax counts.
func TestCountMax(t *testing.T) {
	for _, frac := range []uint{12, 14} {
		fx := Fixed{Frac: frac}
		s := softmaxCmax(fx)
		lens := []int{1, 2, 3, 5, 8, 13, 64, 65, 70, 37, 1, 4, 33, 16, 17, 300, 128}
		for range 20 {
			lens = append(lens, 9, 32)
		}
		pr := rand.New(rand.NewPCG(uint64(frac), 5))
		lim := 63.75 - math.Ldexp(1, -int(frac))
		var x []uint64
		for r, l := range lens {
			top := (pr.Float64()*2 - 1) * lim
			for j := range l {
				var v float64
				switch r % 6 {
				case 0: // spread
					v = (pr.Float64()*2 - 1) * lim
				case 1: // the maximum twice, the rest below
					v = math.Max(top-pr.Float64()*20, -lim)
					if j == l/3 || j == l-1 {
						v = top
					}
				case 2: // all within one bucket
					v = math.Min(math.Floor(top*2)/2+pr.Float64()*0.49, lim)
				case 3: // the top of the range
					v = lim - pr.Float64()*0.1
				case 4: // the bottom of the range
					v = -lim + pr.Float64()*0.1
				default: // all equal
					v = top
				}
				x = append(x, fx.Encode(v))
			}
		}
		k0, k1, err := genCountMax(newNLRNG(byte(frac)), lens, s)
		if err != nil {
			t.Fatal(err)
		}
		want := SumStages(costCountMax(lens, s))
		if got := KeyCost(k0, k1); got.Dealer != want.Dealer || got.Dealer0 != want.Dealer0 {
			t.Fatalf("frac %d: keys %+v, cost counts %+v", frac, got, want)
		}
		got, s0, s1 := runRows(t, fx, [][]uint64{x}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
			return p.countMax(in[0], lens, s)
		})
		if s0.Rounds != 2 || s0.Rounds != want.Rounds || s0.BytesSent+s1.BytesSent != want.Online {
			t.Fatalf("frac %d: %d rounds, %d bytes; cost counts %+v", frac, s0.Rounds, s0.BytesSent+s1.BytesSent, want)
		}
		off := 0
		for r, l := range lens {
			mx := int64(x[off])
			for _, v := range x[off : off+l] {
				mx = max(mx, int64(v))
			}
			off += l
			if m := int64(got[r]); m <= mx || m > mx+int64(2)<<s.k {
				t.Fatalf("frac %d row %d (%d entries): m' = %g for maximum %g", frac, r, l, fx.Decode(got[r]), fx.Decode(uint64(mx)))
			}
		}
	}
}

// TestCountMaxRefusesMaterial checks that material for other parameters or shapes is refused (the
// keys depend on the number of entries and rows and the longest row only, not on how the entries
// split into rows).
func TestCountMaxRefusesMaterial(t *testing.T) {
	fx := Fixed{Frac: 12}
	lens := []int{3, 4}
	x := make([]uint64, 7)
	for _, c := range []struct {
		name string
		gen  []int
		s    cmaxSpec
	}{
		{"other frac", lens, softmaxCmax(Fixed{Frac: 14})},
		{"more rows", []int{3, 2, 2}, softmaxCmax(fx)},
		{"longer rows", []int{3, 40}, softmaxCmax(fx)},
	} {
		k0, k1, err := genCountMax(newNLRNG(2), c.gen, c.s)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = RunPair(fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
			_, err := p.countMax(x, lens, softmaxCmax(fx))
			return err
		})
		if err == nil {
			t.Fatalf("%s: material accepted", c.name)
		}
	}
}

// BenchmarkSoftmaxMax compares the two ways of taking the softmax's row maxima (both parties in one
// process) on the attention shapes of a 6-head layer at 128 positions: the prefill (causal rows of
// 1…128) and one decode step (one row of 128 per head).
func BenchmarkSoftmaxMax(b *testing.B) {
	fx := Fixed{Frac: 14}
	for _, sh := range []struct {
		name string
		lens []int
	}{{"prefill", headLens(6, 128, 128, 0)}, {"decode", headLens(6, 1, 128, 127)}} {
		n, _ := sumLens("bench", sh.lens)
		pr := rand.New(rand.NewPCG(1, 2))
		x := make([]uint64, n)
		for i := range x {
			x[i] = fx.Encode((pr.Float64()*2 - 1) * 20)
		}
		ms, _ := maxSpec(fx)
		for _, m := range []struct {
			name string
			gen  func() (Key, Key, error)
			eval func(p *Party) error
		}{
			{"tree", func() (Key, Key, error) { return genMaxRows(newNLRNG(1), sh.lens, ms) },
				func(p *Party) error { _, err := p.maxRows(x, sh.lens, ms); return err }},
			{"count", func() (Key, Key, error) { return genCountMax(newNLRNG(1), sh.lens, softmaxCmax(fx)) },
				func(p *Party) error { _, err := p.countMax(x, sh.lens, softmaxCmax(fx)); return err }},
		} {
			b.Run(sh.name+"/"+m.name, func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					k0, k1, err := m.gen()
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					if _, _, err := RunPair(fx, NewMaterial(k0), NewMaterial(k1), m.eval); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestSoftmaxHeadsRaw runs a decode step's softmax on untruncated scores (2·Frac fractional bits,
// mod 2^48, as CacheMatMulRaw returns them): within the softmax's bound of the float64 reference,
// in 8 rounds (the truncation shares the counting max's first), at the cost its Cost*Stages count.
func TestSoftmaxHeadsRaw(t *testing.T) {
	const width = 48
	for _, c := range []struct {
		frac             uint
		heads, cols, pos int
	}{{14, 4, 129, 128}, {12, 3, 300, 299}, {14, 2, 1, 0}} {
		fx := Fixed{Frac: c.frac}
		pr := rand.New(rand.NewPCG(uint64(c.cols), 7))
		n := c.heads * c.cols
		xf := make([]float64, n)
		raw := make([]uint64, n)
		for i := range xf {
			xf[i] = pr.NormFloat64() * 4
			if i%97 == 5 {
				xf[i] = 63.7 * float64(1-2*(i%2))
			}
			raw[i] = uint64(int64(math.Round(math.Ldexp(xf[i], 2*int(c.frac))))) & Mask(width)
		}
		k0, k1, err := GenSoftmaxHeadsRaw(newNLRNG(byte(c.cols)), c.heads, 1, c.cols, c.pos, fx, width)
		if err != nil {
			t.Fatal(err)
		}
		st, err := CostSoftmaxHeadsRawStages(c.heads, 1, c.cols, c.pos, fx, width)
		if err != nil {
			t.Fatal(err)
		}
		want := SumStages(st)
		got, s0, s1 := runRows(t, fx, [][]uint64{raw}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
			return p.SoftmaxHeadsRaw(in[0], c.heads, 1, c.cols, c.pos, width)
		})
		if m := (Cost{Online: s0.BytesSent + s1.BytesSent, Rounds: s0.Rounds}).Add(KeyCost(k0, k1)); m != want || s0.Rounds != 7 {
			t.Fatalf("%+v: measured %+v, counted %+v", c, m, want)
		}
		var worst float64
		for h := range c.heads {
			ref := softmaxRef(xf[h*c.cols:(h+1)*c.cols], 1, c.cols, c.pos)
			for j, r := range ref {
				e := math.Abs(fx.Decode(got[h*c.cols+j]) - r)
				worst = math.Max(worst, e)
				if e > 1.0/256 {
					t.Fatalf("%+v head %d entry %d: got %v want %v", c, h, j, fx.Decode(got[h*c.cols+j]), r)
				}
			}
		}
		t.Logf("%+v: max abs err %.3g (2^%.2f)", c, worst, math.Log2(worst))
	}
}
