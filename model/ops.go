package model

import (
	"errors"
	"fmt"
	"math"

	"github.com/hssee/hssee/kernel/f32"
)

// The per-operation building blocks of the forward pass, exported so that
// other packages (EE equivariance tests, the dealer and party executors) can
// check themselves against exactly the arithmetic the plain executor does.
// Each works on one vector (or one chunk, for Attention) and computes in
// float32, with float64 accumulation where noted.

// ErrShape is wrapped by the errors of the per-operation functions for
// inconsistent slice lengths or dimensions.
var ErrShape = errors.New("model: bad shape")

// RMSNorm sets out[i] = x[i] / sqrt(mean(x²) + eps) · w[i] (Zhang and
// Sennrich, "Root Mean Square Layer Normalization", NeurIPS 2019). The mean
// of squares is accumulated in float64. out may alias x.
func RMSNorm(out, x, w []float32, eps float32) error {
	if len(x) == 0 || len(out) != len(x) || len(w) != len(x) {
		return fmt.Errorf("%w: rmsnorm: len(out)=%d len(x)=%d len(w)=%d", ErrShape, len(out), len(x), len(w))
	}
	rmsNorm(out, x, w, eps)
	return nil
}

func rmsNorm(out, x, w []float32, eps float32) {
	w = w[:len(x)]
	out = out[:len(x)]
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	s := float32(1 / math.Sqrt(ss/float64(len(x))+float64(eps)))
	for i, v := range x {
		out[i] = v * s * w[i]
	}
}

// LayerNorm sets out[i] = (x[i] − μ) / sqrt(σ² + eps) · w[i] + b[i], with μ
// and σ² the mean and (biased) variance of x, accumulated in float64 (Ba,
// Kiros and Hinton, "Layer Normalization", 2016). out may alias x.
func LayerNorm(out, x, w, b []float32, eps float32) error {
	if len(x) == 0 || len(out) != len(x) || len(w) != len(x) || len(b) != len(x) {
		return fmt.Errorf("%w: layernorm: len(out)=%d len(x)=%d len(w)=%d len(b)=%d",
			ErrShape, len(out), len(x), len(w), len(b))
	}
	layerNorm(out, x, w, b, eps)
	return nil
}

func layerNorm(out, x, w, b []float32, eps float32) {
	w, b, out = w[:len(x)], b[:len(x)], out[:len(x)]
	var sum float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / float64(len(x))
	var ss float64
	for _, v := range x {
		d := float64(v) - mean
		ss += d * d
	}
	s := 1 / math.Sqrt(ss/float64(len(x))+float64(eps))
	m32, s32 := float32(mean), float32(s)
	for i, v := range x {
		out[i] = (v-m32)*s32*w[i] + b[i]
	}
}

// ropeAngle is the rotation angle of frequency index i (pair i of a head of
// width headDim) at position pos: pos · theta^(−2i/headDim) (Su et al.,
// "RoFormer: Enhanced Transformer with Rotary Position Embedding", 2021),
// computed in float64.
func ropeAngle(pos, i, headDim int, theta float32) float64 {
	return float64(pos) * math.Pow(float64(theta), -2*float64(i)/float64(headDim))
}

// ropeTable returns cos and sin of every angle for positions [0, n):
// [n][headDim/2] each.
func ropeTable(n, headDim int, theta float32) (cos, sin []float32) {
	half := headDim / 2
	cos = make([]float32, n*half)
	sin = make([]float32, n*half)
	for p := 0; p < n; p++ {
		for i := 0; i < half; i++ {
			s, c := math.Sincos(ropeAngle(p, i, headDim, theta))
			cos[p*half+i], sin[p*half+i] = float32(c), float32(s)
		}
	}
	return cos, sin
}

// rotate applies the rotation with the given cos/sin ([headDim/2] each) to
// every head of v.
func rotate(v []float32, headDim int, style RopeStyle, cos, sin []float32) {
	half := headDim / 2
	cos, sin = cos[:half], sin[:half]
	for h := 0; h+headDim <= len(v); h += headDim {
		head := v[h : h+headDim]
		if style == RopeHalf {
			lo, hi := head[:half], head[half:]
			for i := range lo {
				a, b := lo[i], hi[i]
				lo[i] = a*cos[i] - b*sin[i]
				hi[i] = a*sin[i] + b*cos[i]
			}
		} else {
			for i := 0; i < half; i++ {
				a, b := head[2*i], head[2*i+1]
				head[2*i] = a*cos[i] - b*sin[i]
				head[2*i+1] = a*sin[i] + b*cos[i]
			}
		}
	}
}

// RoPE applies rotary position embeddings in place to v, a concatenation of
// heads of width headDim, for position pos. Pair i of each head is rotated by
// pos·theta^(−2i/headDim); RopeHalf pairs dimensions (i, i+headDim/2) (Hugging
// Face rotate_half), RopeInterleaved pairs (2i, 2i+1) (llama2.c, Meta).
func RoPE(v []float32, pos, headDim int, theta float32, style RopeStyle) error {
	switch {
	case headDim <= 0 || headDim%2 != 0 || len(v)%headDim != 0:
		return fmt.Errorf("%w: rope: len(v)=%d head dim %d", ErrShape, len(v), headDim)
	case pos < 0:
		return fmt.Errorf("%w: rope: negative position", ErrShape)
	case style != RopeHalf && style != RopeInterleaved:
		return fmt.Errorf("%w: rope: unknown style %q", ErrShape, style)
	case !(theta > 0):
		return fmt.Errorf("%w: rope: theta must be positive", ErrShape)
	}
	half := headDim / 2
	cos, sin := make([]float32, half), make([]float32, half)
	for i := range cos {
		s, c := math.Sincos(ropeAngle(pos, i, headDim, theta))
		cos[i], sin[i] = float32(c), float32(s)
	}
	rotate(v, headDim, style, cos, sin)
	return nil
}

// Softmax replaces x by exp(x − max x) / Σ exp(x − max x), in place.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	var sum float32
	for i, v := range x {
		e := Exp(v - m)
		x[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range x {
		x[i] *= inv
	}
}

// SiLU is x·σ(x) = x / (1 + e^(−x)) (the gate of SwiGLU; Shazeer, "GLU
// Variants Improve Transformer", 2020).
func SiLU(x float32) float32 { return x / (1 + Exp(-x)) }

// GeLU is the tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
// used by GPT-2 (Hendrycks and Gimpel, "Gaussian Error Linear Units", 2016),
// evaluated in float64.
func GeLU(x float32) float32 {
	const c = 0.7978845608028654 // √(2/π)
	v := float64(x)
	return float32(0.5 * v * (1 + math.Tanh(c*(v+0.044715*v*v*v))))
}

// Exp is e^x in float32: Cody–Waite range reduction x = n·ln2 + r and a
// degree-6 polynomial for e^r (the Cephes expf coefficients), with relative
// error below 3e-7 (checked densely over the range by the tests); outside
// (−87, 88) it defers to math.Exp.
func Exp(x float32) float32 {
	if !(x > -87 && x < 88) {
		return float32(math.Exp(float64(x)))
	}
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	n := float32(math.Floor(float64(x*log2e) + 0.5))
	r := x - n*c1 - n*c2
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*r*r + r + 1
	return y * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// Attention is causal scaled dot-product attention (Vaswani et al.,
// "Attention Is All You Need", 2017) for a chunk of n query rows at
// positions pos0 … pos0+n−1, with grouped-query sharing of key/value heads
// (Ainslie et al., "GQA", 2023: query head h reads kv head h/(nHeads/nKVHeads)).
//
//	q, out: [n][nHeads·headDim]
//	k, v:   [pos0+n][nKVHeads·headDim], every position up to the chunk's last
//
// Row i attends to positions 0 … pos0+i with weights
// softmax(q·kᵀ/√headDim).
func Attention(out, q, k, v []float32, pos0, n, nHeads, nKVHeads, headDim int) error {
	switch {
	case pos0 < 0 || n < 0 || nHeads <= 0 || nKVHeads <= 0 || headDim <= 0 || nHeads%nKVHeads != 0:
		return fmt.Errorf("%w: attention: pos0=%d n=%d heads=%d kv heads=%d head dim=%d",
			ErrShape, pos0, n, nHeads, nKVHeads, headDim)
	case len(q) != n*nHeads*headDim || len(out) != len(q):
		return fmt.Errorf("%w: attention: len(q)=%d len(out)=%d, want %d", ErrShape, len(q), len(out), n*nHeads*headDim)
	case len(k) < (pos0+n)*nKVHeads*headDim || len(v) < (pos0+n)*nKVHeads*headDim:
		return fmt.Errorf("%w: attention: len(k)=%d len(v)=%d, want %d", ErrShape, len(k), len(v), (pos0+n)*nKVHeads*headDim)
	}
	att := make([]float32, pos0+n)
	for t := 0; t < n*nHeads; t++ {
		attendOne(out, q, k, v, att, t%n, t/n, pos0, nHeads, nKVHeads, headDim)
	}
	return nil
}

// attendOne computes query row i, head h of a chunk (see Attention); att is
// scratch of at least pos0+i+1 floats.
func attendOne(out, q, k, v, att []float32, i, h, pos0, nHeads, nKVHeads, headDim int) {
	dim, kvDim := nHeads*headDim, nKVHeads*headDim
	kvOff := (h / (nHeads / nKVHeads)) * headDim
	qh := q[i*dim+h*headDim : i*dim+(h+1)*headDim]
	oh := out[i*dim+h*headDim : i*dim+(h+1)*headDim]
	T := pos0 + i + 1
	a := att[:T]
	scale := float32(1 / math.Sqrt(float64(headDim)))
	// Scores: one strided matrix-vector product over this head's keys
	// (shapes were checked by the caller, so DotRows cannot fail).
	_ = f32.DotRows(a, k[kvOff:], kvDim, qh)
	for t := range a {
		a[t] *= scale
	}
	Softmax(a)
	clear(oh)
	for t, w := range a {
		f32.Axpy(w, v[t*kvDim+kvOff:t*kvDim+kvOff+headDim], oh)
	}
}
