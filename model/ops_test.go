package model

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int, std float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64() * std)
	}
	return s
}

func assertClose(t *testing.T, what string, got []float32, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= atol+rtol*math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v (diff %g)", what, i, got[i], want[i], d)
		}
	}
}

func TestRMSNormLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 7, 128, 768} {
		x, w, b := randSlice(r, n, 3), randSlice(r, n, 1), randSlice(r, n, 1)
		var ss, sum float64
		for _, v := range x {
			ss += float64(v) * float64(v)
			sum += float64(v)
		}
		const eps = 1e-5
		want := make([]float64, n)
		for i := range want {
			want[i] = float64(x[i]) / math.Sqrt(ss/float64(n)+eps) * float64(w[i])
		}
		got := make([]float32, n)
		if err := RMSNorm(got, x, w, eps); err != nil {
			t.Fatal(err)
		}
		assertClose(t, "rmsnorm", got, want, 1e-6, 1e-6)

		mean := sum / float64(n)
		var vr float64
		for _, v := range x {
			vr += (float64(v) - mean) * (float64(v) - mean)
		}
		vr /= float64(n)
		for i := range want {
			want[i] = (float64(x[i])-mean)/math.Sqrt(vr+eps)*float64(w[i]) + float64(b[i])
		}
		if err := LayerNorm(got, x, w, b, eps); err != nil {
			t.Fatal(err)
		}
		assertClose(t, "layernorm", got, want, 1e-5, 1e-5)
		// In place.
		if err := LayerNorm(x, x, w, b, eps); err != nil {
			t.Fatal(err)
		}
		assertClose(t, "layernorm in place", x, want, 1e-5, 1e-5)
	}
	for _, err := range []error{
		RMSNorm(make([]float32, 3), make([]float32, 4), make([]float32, 4), 1e-5),
		RMSNorm(nil, nil, nil, 1e-5),
		LayerNorm(make([]float32, 4), make([]float32, 4), make([]float32, 4), nil, 1e-5),
	} {
		if !errors.Is(err, ErrShape) {
			t.Errorf("err = %v, want ErrShape", err)
		}
	}
}

func TestRoPE(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	const hd, heads, theta = 16, 3, 10000.0
	for _, style := range []RopeStyle{RopeHalf, RopeInterleaved} {
		for _, pos := range []int{0, 1, 17, 511, 4095} {
			v := randSlice(r, hd*heads, 1)
			want := make([]float64, len(v))
			for h := 0; h < heads; h++ {
				for i := 0; i < hd/2; i++ {
					a, b := h*hd+i, h*hd+i+hd/2
					if style == RopeInterleaved {
						a, b = h*hd+2*i, h*hd+2*i+1
					}
					ang := float64(pos) / math.Pow(theta, float64(2*i)/hd)
					z := complex(float64(v[a]), float64(v[b])) * complex(math.Cos(ang), math.Sin(ang))
					want[a], want[b] = real(z), imag(z)
				}
			}
			if err := RoPE(v, pos, hd, theta, style); err != nil {
				t.Fatal(err)
			}
			assertClose(t, string(style), v, want, 1e-6, 1e-6)
		}
	}
	for _, c := range []struct {
		n, pos, hd int
		style      RopeStyle
	}{{16, 0, 3, RopeHalf}, {15, 0, 8, RopeHalf}, {16, -1, 8, RopeHalf}, {16, 0, 8, "bogus"}, {16, 0, 0, RopeHalf}} {
		if err := RoPE(make([]float32, c.n), c.pos, c.hd, 10000, c.style); !errors.Is(err, ErrShape) {
			t.Errorf("%+v: err = %v, want ErrShape", c, err)
		}
	}
}

func TestSoftmaxActivations(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	x := randSlice(r, 300, 5)
	x[7] = 80 // large values must not overflow
	want := make([]float64, len(x))
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for i, v := range x {
		want[i] = math.Exp(float64(v) - mx)
		s += want[i]
	}
	for i := range want {
		want[i] /= s
	}
	Softmax(x)
	assertClose(t, "softmax", x, want, 1e-7, 1e-5)
	Softmax(nil) // no-op

	for _, v := range []float32{-100, -88, -87.5, -20, -3, -0.5, -1e-4, 0, 1e-4, 0.3, 1, 2.5, 10, 50, 87.9, 88.5} {
		// float32 subnormals below e^-87 carry an absolute error of ~1e-45.
		if g, w := float64(Exp(v)), math.Exp(float64(v)); math.Abs(g-w) > 3e-7*w+2e-45 {
			t.Errorf("Exp(%v) = %v, want %v", v, g, w)
		}
		if g, w := float64(SiLU(v)), float64(v)/(1+math.Exp(-float64(v))); math.Abs(g-w) > 1e-6*(1+math.Abs(w)) {
			t.Errorf("SiLU(%v) = %v, want %v", v, g, w)
		}
		xv := float64(v)
		w := 0.5 * xv * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(xv+0.044715*xv*xv*xv)))
		if g := float64(GeLU(v)); math.Abs(g-w) > 1e-6*(1+math.Abs(w)) {
			t.Errorf("GeLU(%v) = %v, want %v", v, g, w)
		}
	}
	// Dense sweep of Exp's polynomial range.
	for v := float32(-87); v < 88; v += 0.0137 {
		if g, w := float64(Exp(v)), math.Exp(float64(v)); math.Abs(g-w) > 3e-7*w {
			t.Fatalf("Exp(%v) = %v, want %v", v, g, w)
		}
	}
}

// f64 converts s to float64.
func f64(s []float32) []float64 {
	o := make([]float64, len(s))
	for i, v := range s {
		o[i] = float64(v)
	}
	return o
}

// refHead adds to out[:hd] one query head's attention, in float64: q[:hd]
// against the keys ks[u][off:off+hd] and values vs[u][off:off+hd] of every
// position u < len(ks).
func refHead(out, q []float64, ks, vs [][]float64, off, hd int) {
	sc := make([]float64, len(ks))
	mx := math.Inf(-1)
	for u := range ks {
		var d float64
		for j := 0; j < hd; j++ {
			d += q[j] * ks[u][off+j]
		}
		sc[u] = d / math.Sqrt(float64(hd))
		mx = math.Max(mx, sc[u])
	}
	var s float64
	for u := range sc {
		sc[u] = math.Exp(sc[u] - mx)
		s += sc[u]
	}
	for u := range sc {
		for j := 0; j < hd; j++ {
			out[j] += sc[u] / s * vs[u][off+j]
		}
	}
}

// refAttention is causal GQA attention in float64.
func refAttention(q, k, v []float32, pos0, n, nHeads, nKV, hd int) []float64 {
	dim, kvDim := nHeads*hd, nKV*hd
	ks, vs := make([][]float64, pos0+n), make([][]float64, pos0+n)
	for t := range ks {
		ks[t], vs[t] = f64(k[t*kvDim:(t+1)*kvDim]), f64(v[t*kvDim:(t+1)*kvDim])
	}
	out := make([]float64, n*dim)
	for i := 0; i < n; i++ {
		for h := 0; h < nHeads; h++ {
			kh := h / (nHeads / nKV)
			T := pos0 + i + 1
			refHead(out[i*dim+h*hd:], f64(q[i*dim+h*hd:i*dim+(h+1)*hd]), ks[:T], vs[:T], kh*hd, hd)
		}
	}
	return out
}

func TestAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, c := range []struct{ pos0, n, heads, kv, hd int }{
		{0, 1, 1, 1, 4}, {0, 5, 4, 2, 8}, {7, 3, 6, 3, 12}, {30, 1, 8, 1, 16}, {3, 9, 2, 2, 48},
	} {
		dim, kvDim := c.heads*c.hd, c.kv*c.hd
		q := randSlice(r, c.n*dim, 1)
		k := randSlice(r, (c.pos0+c.n)*kvDim, 1)
		v := randSlice(r, (c.pos0+c.n)*kvDim, 1)
		out := make([]float32, c.n*dim)
		if err := Attention(out, q, k, v, c.pos0, c.n, c.heads, c.kv, c.hd); err != nil {
			t.Fatal(err)
		}
		assertClose(t, "attention", out, refAttention(q, k, v, c.pos0, c.n, c.heads, c.kv, c.hd), 1e-5, 1e-5)
	}
	if err := Attention(make([]float32, 8), make([]float32, 8), make([]float32, 4), make([]float32, 8), 0, 1, 2, 2, 4); !errors.Is(err, ErrShape) {
		t.Errorf("short k: err = %v", err)
	}
	if err := Attention(make([]float32, 8), make([]float32, 8), make([]float32, 8), make([]float32, 8), 0, 1, 3, 2, 4); !errors.Is(err, ErrShape) {
		t.Errorf("bad heads: err = %v", err)
	}
}
