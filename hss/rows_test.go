package hss

import (
	"math"
	"math/rand/v2"
	"testing"
)

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
		wantR := int64(maxDepth(min(c.cols, c.pos0+c.rows))) + 7
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
		wantR := int64(maxDepth(min(c.cols, c.pos0+c.rows))) + 7
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

func normRef(x, gain, bias []float64, rows, dim int, eps float64, center bool) []float64 {
	out := make([]float64, len(x))
	for r := range rows {
		row := x[r*dim : (r+1)*dim]
		var mu float64
		if center {
			for _, v := range row {
				mu += v
			}
			mu /= float64(dim)
		}
		var v2 float64
		for _, v := range row {
			v2 += (v - mu) * (v - mu)
		}
		v2 /= float64(dim)
		for j, v := range row {
			y := gain[j] * (v - mu) / math.Sqrt(v2+eps)
			if bias != nil {
				y += bias[j]
			}
			out[r*dim+j] = y
		}
	}
	return out
}

func TestNorms(t *testing.T) {
	fx := Fixed{Frac: 12}
	const eps = 1e-5
	for _, center := range []bool{true, false} {
		for ci, c := range []struct{ rows, dim int }{{8, 96}, {3, 768}} {
			pr := rand.New(rand.NewPCG(uint64(ci), 11))
			xf := make([]float64, c.rows*c.dim)
			sig := make([]float64, c.rows)
			for r := range c.rows {
				sig[r] = math.Exp2(-5 + 12*float64(r)/float64(c.rows)) // σ from 2^-5 to 2^7
				mu := pr.NormFloat64() * sig[r]
				for j := range c.dim {
					xf[r*c.dim+j] = mu + pr.NormFloat64()*sig[r]
				}
			}
			gf, bf := make([]float64, c.dim), make([]float64, c.dim)
			for j := range gf {
				gf[j] = 1 + 0.3*pr.NormFloat64()
				bf[j] = 0.1 * pr.NormFloat64()
			}
			x, g, b := fx.EncodeVec(xf), fx.EncodeVec(gf), fx.EncodeVec(bf)
			xf, gf, bf = fx.DecodeVec(x), fx.DecodeVec(g), fx.DecodeVec(b)
			var k0, k1 Key
			var err error
			if center {
				k0, k1, err = GenLayerNorm(newNLRNG(byte(ci)), c.rows, c.dim, fx)
			} else {
				k0, k1, err = GenRMSNorm(newNLRNG(byte(ci)), c.rows, c.dim, fx)
				bf = nil
			}
			if err != nil {
				t.Fatal(err)
			}
			got, s0, s1 := runRows(t, fx, [][]uint64{x}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
				if center {
					return p.LayerNorm(in[0], c.rows, c.dim, g, b, eps)
				}
				return p.RMSNorm(in[0], c.rows, c.dim, g, eps)
			})
			ref := normRef(xf, gf, bf, c.rows, c.dim, eps, center)
			var worst, worstRel float64
			for i := range ref {
				r, j := i/c.dim, i%c.dim
				yhat := ref[i]
				if bf != nil {
					yhat -= bf[j]
				}
				e := math.Abs(fx.Decode(got[i]) - ref[i])
				bound := math.Abs(yhat)/512 + 2/fx.Scale()
				if center {
					bound += math.Abs(gf[j]) / fx.Scale() / sig[r]
				}
				worst = math.Max(worst, e)
				worstRel = math.Max(worstRel, e/bound)
				if e > bound {
					t.Fatalf("center=%v %dx%d entry %d (σ %g): got %v want %v, err %g > %g", center, c.rows, c.dim, i, sig[r],
						fx.Decode(got[i]), ref[i], e, bound)
				}
			}
			wantR := int64(6) // the rsqrt reads the untruncated sum of squares; RowMul3 takes d·L·O
			if center {
				wantR = 7
			}
			if s0.Rounds != wantR || s1.Rounds != wantR {
				t.Fatalf("rounds %d/%d, want %d", s0.Rounds, s1.Rounds, wantR)
			}
			t.Logf("norm center=%v %dx%d: max abs err %.3g, err/bound %.2f, online %.1f B/elem, dealer %.0f B/elem",
				center, c.rows, c.dim, worst, worstRel, float64(s0.BytesSent+s1.BytesSent)/float64(len(x)), float64(k0.Size()+k1.Size())/float64(len(x)))
		}
	}
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
			b, err := mk.MarshalBinary()
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
			if b2, _ := k2.MarshalBinary(); string(b2) != string(b) || k2.Len() != k.Len() {
				t.Fatalf("%s: round trip differs", k.Kind())
			}
			for _, cut := range []int{0, 1, len(b) / 3, len(b) / 2, len(b) - 1} {
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

// TestRowGatesView records what party 1 receives while Softmax and LayerNorm run on two very
// different inputs and checks that every round's words are uniform at the width they are sent with.
func TestRowGatesView(t *testing.T) {
	fx := Fixed{Frac: 12}
	rows, cols := 64, 64
	if testing.Short() {
		rows = 32
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
			rng := newNLRNG(17)
			var k0, k1 Key
			var err error
			if gate == "softmax" {
				k0, k1, err = GenSoftmax(rng, rows, cols, 0, fx)
			} else {
				k0, k1, err = GenLayerNorm(rng, rows, cols, fx)
			}
			if err != nil {
				t.Fatal(err)
			}
			x := fx.EncodeVec(xf)
			seed, x1, _ := Share(x, rng)
			x0 := ExpandShare(seed, n)
			a, b := Pipe()
			rec := Record(b)
			_, _, err = RunPairOver(a, rec, fx, NewMaterial(k0), NewMaterial(k1), func(p *Party) error {
				in := x0
				if p.ID == 1 {
					in = x1
				}
				var e error
				if gate == "softmax" {
					_, e = p.Softmax(in, rows, cols, 0)
				} else {
					_, e = p.LayerNorm(in, rows, cols, gain, nil, 1e-5)
				}
				return e
			})
			if err != nil {
				t.Fatal(err)
			}
			msgs := rec.Received()
			sched := viewSchedule(gate, rows, cols, fx)
			if len(msgs) != len(sched) {
				t.Fatalf("%s/%s: %d rounds, want %d", gate, name, len(msgs), len(sched))
			}
			checked := 0
			for i, msg := range msgs {
				cnt, bits := sched[i][0], uint(sched[i][1])
				if len(msg) != PackedLen(cnt, bits) {
					t.Fatalf("%s/%s round %d: %d bytes, want %d values of %d bits", gate, name, i, len(msg), cnt, bits)
				}
				if cnt < 1024 { // too few values for a chi-square test (per-row rounds)
					continue
				}
				vals := make([]uint64, cnt)
				if err := UnpackBits(vals, msg, cnt, bits); err != nil {
					t.Fatal(err)
				}
				if c := ChiSquareUniform(vals, bits); c > ChiSquareLimit(bits) {
					t.Errorf("%s/%s round %d (%d values of %d bits): chi-square %.1f > %.1f", gate, name, i, cnt, bits, c, ChiSquareLimit(bits))
				}
				if c := ChiSquareUniform(vals, 8); c > ChiSquareLimit(8) { // low byte too
					t.Errorf("%s/%s round %d: low-byte chi-square %.1f", gate, name, i, c)
				}
				checked++
			}
			if checked < 3 {
				t.Fatalf("%s/%s: only %d rounds checked", gate, name, checked)
			}
		}
	}
}

// viewSchedule lists (values, bits) of every round of Softmax (causal, pos0 = 0, rows = cols) or
// LayerNorm on a rows×cols tensor at Frac 12: what one party receives, round by round.
func viewSchedule(gate string, rows, cols int, fx Fixed) [][2]int {
	n := rows * cols
	if gate == "softmax" {
		var s [][2]int
		for _, pairs := range maxLevels(causalLens(rows, cols, 0)) {
			s = append(s, [2]int{pairs, 64})
		}
		nv := rows * (rows + 1) / 2
		_, mb, rs := smParams(fx)
		es, err := expSpec(fx)
		if err != nil {
			panic(err)
		}
		return append(s, [2]int{nv, int(es.openBits())}, [2]int{nv, int(es.tbits)},
			[2]int{rows, 64}, [2]int{rows, int(rs.k() + rs.idxBits())}, [2]int{rows, int(rs.tbits())},
			[2]int{nv + 2*rows, int(mb)}, [2]int{nv, int(mb)})
	}
	sq, _, rs := normParams(fx, cols)
	return [][2]int{{rows, 64}, {n, int(sq)}, {rows, 64}, {rows, int(rs.k() + rs.idxBits())},
		{rows, int(rs.tbits())}, {n + 2*rows, 64}, {n, 64}}
}

// FuzzRowKeyUnmarshal feeds arbitrary bytes (seeded with real keys) to the decoders of the lookup,
// composite and row-broadcast kinds; a decoded key must re-encode to exactly Size bytes.
func FuzzRowKeyUnmarshal(f *testing.F) {
	fx := Fixed{Frac: 12}
	rng := newNLRNG(51)
	kinds := []string{"softmax", "layernorm", "recip", "rowmul", "exp", "max", "rowmul3"}
	s0, s1, _ := GenSoftmax(rng, 2, 3, 1, fx)
	l0, l1, _ := GenLayerNorm(rng, 1, 2, fx)
	r0, r1, _ := GenReciprocal(rng, 1, fx)
	w0, w1, _ := GenRowMul(rng, []int{1, 2}, 30)
	e0, e1, _ := GenExp(rng, 2, fx)
	m0, m1, _ := GenMax(rng, 1, 3, 16)
	t0, t1, _ := GenRowMul3(rng, []int{1, 2}, 30)
	for i, k := range [][2]Key{{s0, s1}, {l0, l1}, {r0, r1}, {w0, w1}, {e0, e1}, {m0, m1}, {t0, t1}} {
		for _, k := range k { // party 0's seed-compressed keys and party 1's
			b, _ := k.(MarshalKey).MarshalBinary()
			f.Add(uint8(i), b)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		kind := kinds[int(which)%len(kinds)]
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
	})
}

// TestNormRangeEdges runs both norms at the ends of their range, mean(x²)+eps (RMSNorm) or σ²+eps
// (LayerNorm) from just above 2^-16 to just below 2^14, at the widest dimension (2^16, where the
// untruncated sum of squares needs the most ring: sqBits = 2·Frac+34) and at small ones, and checks
// the stated error bound.
func TestNormRangeEdges(t *testing.T) {
	for ci, c := range []struct {
		frac uint
		dim  int
		vs   []float64
	}{
		{14, 1 << 16, []float64{0x1.1p-16, 1, 0x1.fp13}},
		{12, 4096, []float64{0x1.1p-15, 3, 0x1.fp13}},
		{14, 3, []float64{0x1.1p-16, 0x1.2p13}},
		{8, 768, []float64{0x1p-6, 0x1.fp13}},
	} {
		fx := Fixed{Frac: c.frac}
		rows := len(c.vs)
		pr := rand.New(rand.NewPCG(uint64(ci), 5))
		for _, center := range []bool{false, true} {
			xf := make([]float64, rows*c.dim)
			for r, v := range c.vs {
				row := xf[r*c.dim : (r+1)*c.dim]
				var ss float64
				for j := range row {
					row[j] = pr.NormFloat64()
					if c.dim < 8 {
						row[j] = float64(1 - 2*(j%2)) // ±1: mean square 1
					}
					ss += row[j] * row[j]
				}
				mu := 0.0
				if center {
					mu = 1000 * pr.NormFloat64()
				}
				for j := range row {
					row[j] = mu + row[j]*math.Sqrt(v*float64(c.dim)/ss)
				}
			}
			gf := make([]float64, c.dim)
			for j := range gf {
				gf[j] = 1 + 0.25*float64(j%3)
			}
			x, g := fx.EncodeVec(xf), fx.EncodeVec(gf)
			xf, gf = fx.DecodeVec(x), fx.DecodeVec(g)
			gen := GenRMSNorm
			if center {
				gen = GenLayerNorm
			}
			k0, k1, err := gen(newNLRNG(byte(40+ci)), rows, c.dim, fx)
			if err != nil {
				t.Fatal(err)
			}
			got, _, _ := runRows(t, fx, [][]uint64{x}, k0, k1, func(p *Party, in [][]uint64) ([]uint64, error) {
				if center {
					return p.LayerNorm(in[0], rows, c.dim, g, nil, 0)
				}
				return p.RMSNorm(in[0], rows, c.dim, g, 0)
			})
			ref := normRef(xf, gf, nil, rows, c.dim, 0, center)
			worst := 0.0
			for i := range ref {
				bound := math.Abs(ref[i])/512 + 2/fx.Scale()
				if center {
					bound += math.Abs(gf[i%c.dim]) / fx.Scale() / math.Sqrt(c.vs[i/c.dim])
				}
				e := math.Abs(fx.Decode(got[i]) - ref[i])
				worst = math.Max(worst, e/bound)
				if e > bound {
					t.Fatalf("frac %d dim %d center %v row %d (variance %g): entry %d got %v want %v, err %g > %g",
						c.frac, c.dim, center, i/c.dim, c.vs[i/c.dim], i, fx.Decode(got[i]), ref[i], e, bound)
				}
			}
			t.Logf("frac %d dim %d center %v: err/bound %.2f", c.frac, c.dim, center, worst)
		}
	}
}
