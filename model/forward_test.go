package model

import (
	"errors"
	"math"
	"runtime"
	"testing"
	"time"
)

// refForward is an independent float64 forward pass over the whole sequence
// (no cache), returning logits for every position.
func refForward(m *Model, ids []int) [][]float64 {
	c := m.Config
	D, hd := c.Dim, c.HeadDim()
	gpt := c.Arch == ArchGPT2
	lin := func(l Linear, x []float64) []float64 {
		y := make([]float64, l.Out)
		for o := range y {
			var s float64
			for k := 0; k < l.In; k++ {
				s += float64(l.W[o*l.In+k]) * x[k]
			}
			if l.B != nil {
				s += float64(l.B[o])
			}
			y[o] = s
		}
		return y
	}
	norm := func(n Norm, x []float64) []float64 {
		y := make([]float64, len(x))
		var mean float64
		if gpt {
			for _, v := range x {
				mean += v
			}
			mean /= float64(len(x))
		}
		var ss float64
		for _, v := range x {
			ss += (v - mean) * (v - mean)
		}
		s := 1 / math.Sqrt(ss/float64(len(x))+float64(c.NormEps))
		for i, v := range x {
			y[i] = (v - mean) * s * float64(n.W[i])
			if gpt {
				y[i] += float64(n.B[i])
			}
		}
		return y
	}
	rope := func(v []float64, pos int) {
		for h := 0; h+hd <= len(v); h += hd {
			for i := 0; i < hd/2; i++ {
				a, b := h+i, h+i+hd/2
				if c.RopeStyle == RopeInterleaved {
					a, b = h+2*i, h+2*i+1
				}
				ang := float64(pos) * math.Pow(float64(c.RopeTheta), -2*float64(i)/float64(hd))
				z := complex(v[a], v[b]) * complex(math.Cos(ang), math.Sin(ang))
				v[a], v[b] = real(z), imag(z)
			}
		}
	}
	T := len(ids)
	xs := make([][]float64, T)
	for t, id := range ids {
		xs[t] = f64(m.Embed[id*D : (id+1)*D])
		if gpt {
			for j := range xs[t] {
				xs[t][j] += float64(m.Pos[t*D+j])
			}
		}
	}
	for _, L := range m.Layers {
		qs, ks, vs := make([][]float64, T), make([][]float64, T), make([][]float64, T)
		for t := range xs {
			n := norm(L.AttnNorm, xs[t])
			qs[t], ks[t], vs[t] = lin(L.Wq, n), lin(L.Wk, n), lin(L.Wv, n)
			if !gpt {
				rope(qs[t], t)
				rope(ks[t], t)
			}
		}
		for t := range xs {
			att := make([]float64, D)
			for h := 0; h < c.NHeads; h++ {
				kh := h / (c.NHeads / c.NKVHeads)
				refHead(att[h*hd:], qs[t][h*hd:], ks[:t+1], vs[:t+1], kh*hd, hd)
			}
			o := lin(L.Wo, att)
			for j := range xs[t] {
				xs[t][j] += o[j]
			}
			n := norm(L.FFNNorm, xs[t])
			h1 := lin(L.W1, n)
			if gpt {
				for j, v := range h1 {
					h1[j] = 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
				}
			} else {
				h3 := lin(L.W3, n)
				for j, v := range h1 {
					h1[j] = v / (1 + math.Exp(-v)) * h3[j]
				}
			}
			o = lin(L.W2, h1)
			for j := range xs[t] {
				xs[t][j] += o[j]
			}
		}
	}
	logits := make([][]float64, T)
	head := Linear{W: m.LMHead, Out: c.VocabSize, In: D}
	for t := range xs {
		logits[t] = lin(head, norm(m.FinalNorm, xs[t]))
	}
	return logits
}

// testConfigs are small models covering both families, GQA, both RoPE
// styles, widths that are and are not multiples of the SIMD width, and
// contexts longer than one prefill chunk (maxChunk).
var testConfigs = map[string]Config{
	"llama-gqa-half": {Arch: ArchLlama, Dim: 64, HiddenDim: 96, NLayers: 2, NHeads: 8, NKVHeads: 2,
		VocabSize: 67, MaxSeqLen: 300, NormEps: 1e-6, RopeTheta: 10000, RopeStyle: RopeHalf, TiedEmbed: true, BOS: 1, EOS: 2},
	"llama-mha-interleaved-odd": {Arch: ArchLlama, Dim: 36, HiddenDim: 50, NLayers: 2, NHeads: 3, NKVHeads: 3,
		VocabSize: 41, MaxSeqLen: 150, NormEps: 1e-5, RopeTheta: 500, RopeStyle: RopeInterleaved, TiedEmbed: false, BOS: 1, EOS: 2},
	"gpt2": {Arch: ArchGPT2, Dim: 48, HiddenDim: 192, NLayers: 2, NHeads: 4, NKVHeads: 4,
		VocabSize: 59, MaxSeqLen: 280, NormEps: 1e-5, TiedEmbed: true, BOS: 0, EOS: 0},
}

// scaled returns a random model whose weights are large enough (std 0.2)
// that attention is far from uniform and layers matter.
func scaledModel(t *testing.T, c Config, seed uint64) *Model {
	t.Helper()
	m, err := RandomModel(c, seed)
	if err != nil {
		t.Fatal(err)
	}
	scale := func(s []float32, k float32) {
		for i := range s {
			s[i] *= k
		}
	}
	scale(m.Embed, 50)
	scale(m.Pos, 50)
	for i := range m.Layers {
		L := &m.Layers[i]
		for _, l := range []*Linear{&L.Wq, &L.Wk, &L.Wv, &L.Wo, &L.W1, &L.W2, &L.W3} {
			scale(l.W, 8)
			scale(l.B, 10)
		}
		scale(L.AttnNorm.B, 10)
		scale(L.FFNNorm.B, 10)
	}
	if !c.TiedEmbed {
		scale(m.LMHead, 10)
	}
	return m
}

func testIDs(n, vocab int, seed int) []int {
	ids := make([]int, n)
	x := uint32(seed*7919 + 1)
	for i := range ids {
		x = x*1664525 + 1013904223
		ids[i] = int(x>>8) % vocab
	}
	return ids
}

func maxDiff(a []float32, b []float64) (d, scale float64) {
	for i := range b {
		d = math.Max(d, math.Abs(float64(a[i])-b[i]))
		scale = math.Max(scale, math.Abs(b[i]))
	}
	return d, scale
}

func TestForwardMatchesReference(t *testing.T) {
	for name, c := range testConfigs {
		t.Run(name, func(t *testing.T) {
			m := scaledModel(t, c, 11)
			ids := testIDs(min(c.MaxSeqLen, maxChunk+12), c.VocabSize, 1)
			want := refForward(m, ids)
			r, err := NewRunner(m, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := r.ForwardAll(ids)
			if err != nil {
				t.Fatal(err)
			}
			var spread float64
			for i := range want {
				d, s := maxDiff(got[i], want[i])
				spread = math.Max(spread, s)
				if d > 2e-4*math.Max(1, s) {
					t.Fatalf("position %d: max |logit diff| %g (logit scale %g)", i, d, s)
				}
			}
			if spread < 0.5 {
				t.Fatalf("logits too flat (max |logit| %g): test model is degenerate", spread)
			}
		})
	}
}

func TestPrefillMatchesDecode(t *testing.T) {
	for name, c := range testConfigs {
		t.Run(name, func(t *testing.T) {
			m := scaledModel(t, c, 12)
			ids := testIDs(c.MaxSeqLen, c.VocabSize, 2) // spans several chunks
			if len(ids) <= maxChunk+8 {
				t.Fatalf("context %d too short to cross a chunk boundary", len(ids))
			}
			r, err := NewRunner(m, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			step := make([][]float32, len(ids))
			for i, id := range ids {
				l, err := r.Forward([]int{id})
				if err != nil {
					t.Fatal(err)
				}
				step[i] = append([]float32(nil), l...)
			}
			if r.Pos() != len(ids) {
				t.Fatalf("Pos = %d, want %d", r.Pos(), len(ids))
			}
			r.Reset()
			// Uneven chunks: a prefill, then a batch spanning the chunk size, then singles.
			var got [][]float32
			mid := min(5+maxChunk+7, len(ids)-3)
			for _, part := range [][]int{ids[:5], ids[5:mid], ids[mid:]} {
				rows, err := r.ForwardAll(part)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, rows...)
			}
			for i := range ids {
				for j := range step[i] {
					if d := math.Abs(float64(step[i][j] - got[i][j])); d > 1e-4*math.Max(1, math.Abs(float64(step[i][j]))) {
						t.Fatalf("position %d logit %d: token-by-token %v, batched %v", i, j, step[i][j], got[i][j])
					}
				}
			}
			// Forward returns the last row of the same computation.
			r.Reset()
			last, err := r.Forward(ids)
			if err != nil {
				t.Fatal(err)
			}
			for j := range last {
				if d := math.Abs(float64(last[j] - step[len(ids)-1][j])); d > 1e-4*math.Max(1, math.Abs(float64(last[j]))) {
					t.Fatalf("Forward(all) logit %d = %v, token-by-token %v", j, last[j], step[len(ids)-1][j])
				}
			}
		})
	}
}

// TestGQAEqualsRepeatedKV checks that a GQA model equals the MHA model whose
// key/value heads are the GQA heads repeated for each query head.
func TestGQAEqualsRepeatedKV(t *testing.T) {
	c := testConfigs["llama-gqa-half"]
	m := scaledModel(t, c, 13)
	hd, group := c.HeadDim(), c.NHeads/c.NKVHeads
	mc := *m
	mc.Config.NKVHeads = c.NHeads
	mc.Layers = make([]Layer, len(m.Layers))
	repeat := func(l Linear) Linear {
		w := make([]float32, 0, c.Dim*c.Dim)
		for h := 0; h < c.NHeads; h++ {
			kh := h / group
			w = append(w, l.W[kh*hd*c.Dim:(kh+1)*hd*c.Dim]...)
		}
		return Linear{W: w, Out: c.Dim, In: c.Dim}
	}
	for i, L := range m.Layers {
		L.Wk, L.Wv = repeat(L.Wk), repeat(L.Wv)
		mc.Layers[i] = L
	}
	ids := testIDs(70, c.VocabSize, 3)
	r1, err := NewRunner(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := NewRunner(&mc, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	a, err := r1.ForwardAll(ids)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r2.ForwardAll(ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				t.Fatalf("position %d logit %d: GQA %v, repeated KV %v", i, j, a[i][j], b[i][j])
			}
		}
	}
}

// TestRopeHalfEqualsPermutedInterleaved checks that a rotate-half model
// equals the interleaved model whose q/k rows are permuted per head
// (row i -> 2i, row i+hd/2 -> 2i+1), the conversion llama2.c applies to
// Hugging Face checkpoints.
func TestRopeHalfEqualsPermutedInterleaved(t *testing.T) {
	c := testConfigs["llama-gqa-half"]
	m := scaledModel(t, c, 14)
	hd := c.HeadDim()
	mi := *m
	mi.Config.RopeStyle = RopeInterleaved
	mi.Layers = make([]Layer, len(m.Layers))
	perm := func(l Linear) Linear {
		w := make([]float32, len(l.W))
		for h := 0; h < l.Out/hd; h++ {
			for i := 0; i < hd/2; i++ {
				copy(w[(h*hd+2*i)*l.In:][:l.In], l.W[(h*hd+i)*l.In:][:l.In])
				copy(w[(h*hd+2*i+1)*l.In:][:l.In], l.W[(h*hd+i+hd/2)*l.In:][:l.In])
			}
		}
		return Linear{W: w, Out: l.Out, In: l.In}
	}
	for i, L := range m.Layers {
		L.Wq, L.Wk = perm(L.Wq), perm(L.Wk)
		mi.Layers[i] = L
	}
	ids := testIDs(80, c.VocabSize, 4)
	var out [2][][]float32
	for k, mm := range []*Model{m, &mi} {
		r, err := NewRunner(mm, 0)
		if err != nil {
			t.Fatal(err)
		}
		out[k], err = r.ForwardAll(ids)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Equal up to float32 rounding: the head dot products sum in another order.
	for i := range out[0] {
		var scale float64
		for _, v := range out[0][i] {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for j := range out[0][i] {
			if d := math.Abs(float64(out[0][i][j] - out[1][i][j])); d > 2e-5*math.Max(1, scale) {
				t.Fatalf("position %d logit %d: half %v, interleaved %v", i, j, out[0][i][j], out[1][i][j])
			}
		}
	}
}

func TestRunnerErrors(t *testing.T) {
	c := testConfigs["gpt2"]
	m := scaledModel(t, c, 15)
	if _, err := NewRunner(m, c.MaxSeqLen+1); !errors.Is(err, ErrContext) {
		t.Errorf("maxSeq beyond context: err = %v", err)
	}
	if _, err := NewRunner(nil, 0); err == nil {
		t.Error("nil model accepted")
	}
	bad := *m
	bad.Embed = bad.Embed[:10]
	if _, err := NewRunner(&bad, 0); err == nil {
		t.Error("inconsistent model accepted")
	}
	r, err := NewRunner(m, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.MaxSeq() != 10 {
		t.Errorf("MaxSeq = %d", r.MaxSeq())
	}
	for _, ids := range [][]int{nil, {c.VocabSize}, {-1}, {1, 2, c.VocabSize + 5}} {
		if _, err := r.Forward(ids); err == nil {
			t.Errorf("Forward(%v) accepted", ids)
		}
		if _, err := r.ForwardAll(ids); err == nil {
			t.Errorf("ForwardAll(%v) accepted", ids)
		}
	}
	if _, err := r.Forward(make([]int, 7)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Forward(make([]int, 4)); !errors.Is(err, ErrContext) {
		t.Errorf("overflow: err = %v", err)
	}
	if r.Pos() != 7 {
		t.Errorf("failed call moved Pos to %d", r.Pos())
	}
	if _, err := r.Forward(make([]int, 3)); err != nil {
		t.Errorf("filling to capacity: %v", err)
	}
	if _, err := r.ForwardAll([]int{0}); !errors.Is(err, ErrContext) {
		t.Errorf("full runner: err = %v", err)
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	m := scaledModel(t, testConfigs["llama-gqa-half"], 16)
	r, err := NewRunner(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	id := []int{3}
	allocs := testing.AllocsPerRun(50, func() {
		if r.Pos() == r.MaxSeq() {
			r.Reset()
		}
		if _, err := r.Forward(id); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Forward of one token allocates %v times", allocs)
	}
}

// TestRunnerReleasedWithoutClose checks that an unreachable Runner's worker
// goroutines stop even if Close was never called.
func TestRunnerReleasedWithoutClose(t *testing.T) {
	m := scaledModel(t, testConfigs["llama-gqa-half"], 17)
	base := runtime.NumGoroutine()
	func() {
		r, err := NewRunnerThreads(m, 0, 4)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Forward(testIDs(20, m.Config.VocabSize, 5)); err != nil {
			t.Fatal(err)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines remain, %d before the runner", runtime.NumGoroutine(), base)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
