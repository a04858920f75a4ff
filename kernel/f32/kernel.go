package f32

import "fmt"

// Dot returns Σ a[i]·b[i] over the first min(len(a), len(b)) elements.
func Dot(a, b []float32) float32 {
	n := min(len(a), len(b))
	return dot(a[:n], b[:n])
}

// Axpy sets y[i] += alpha·x[i] for the first min(len(x), len(y)) elements.
func Axpy(alpha float32, x, y []float32) {
	n := min(len(x), len(y))
	axpy(alpha, x[:n], y[:n])
}

// DotRows sets y[j] = w[j*ldw : j*ldw+len(x)] · x for j < len(y): a
// matrix-vector product over rows ldw apart (for example one head's keys in
// a key cache). It reports ErrShape if w is too short or ldw < len(x).
func DotRows(y, w []float32, ldw int, x []float32) error {
	n, rows := len(x), len(y)
	if rows == 0 {
		return nil
	}
	if n == 0 || ldw < n || (rows-1) > (len(w)-n)/ldw || len(w) < n {
		return fmt.Errorf("%w: dot rows: %d rows of %d, stride %d, in %d elements", ErrShape, rows, n, ldw, len(w))
	}
	j := 0
	for ; j+4 <= rows; j += 4 {
		dot4(w[j*ldw:], ldw, x, n, y[j:])
	}
	for ; j < rows; j++ {
		y[j] = dot(w[j*ldw:j*ldw+n], x)
	}
	return nil
}

// dot: len(a) == len(b).
func dot(a, b []float32) float32 {
	n := len(a)
	if useAsm && n >= 8 {
		n8 := n &^ 7
		s := dotAVX2(&a[0], &b[0], n8)
		for i := n8; i < n; i++ {
			s += a[i] * b[i]
		}
		return s
	}
	return dotGeneric(a, b)
}

func axpy(alpha float32, x, y []float32) {
	n := len(x)
	if useAsm && n >= 8 {
		n8 := n &^ 7
		axpyAVX2(alpha, &x[0], &y[0], n8)
		for i := n8; i < n; i++ {
			y[i] += alpha * x[i]
		}
		return
	}
	axpyGeneric(alpha, x, y)
}

func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		aa, bb := a[i:i+8:i+8], b[i:i+8:i+8]
		s0 += aa[0] * bb[0]
		s1 += aa[1] * bb[1]
		s2 += aa[2] * bb[2]
		s3 += aa[3] * bb[3]
		s4 += aa[4] * bb[4]
		s5 += aa[5] * bb[5]
		s6 += aa[6] * bb[6]
		s7 += aa[7] * bb[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

func axpyGeneric(alpha float32, x, y []float32) {
	y = y[:len(x)]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		xx, yy := x[i:i+4:i+4], y[i:i+4:i+4]
		yy[0] += alpha * xx[0]
		yy[1] += alpha * xx[1]
		yy[2] += alpha * xx[2]
		yy[3] += alpha * xx[3]
	}
	for ; i < len(x); i++ {
		y[i] += alpha * x[i]
	}
}

// dot4 sets y[j] = w[j*ldw : j*ldw+n] · x[:n] for j = 0..3.
func dot4(w []float32, ldw int, x []float32, n int, y []float32) {
	_ = w[3*ldw+n-1]
	_ = x[n-1]
	_ = y[3]
	if useAsm && n >= 8 {
		n8 := n &^ 7
		dot4AVX2(&w[0], ldw, &x[0], n8, &y[0])
		for k := n8; k < n; k++ {
			xk := x[k]
			y[0] += w[k] * xk
			y[1] += w[ldw+k] * xk
			y[2] += w[2*ldw+k] * xk
			y[3] += w[3*ldw+k] * xk
		}
		return
	}
	dot4Generic(w, ldw, x, n, y)
}

func dot4Generic(w []float32, ldw int, x []float32, n int, y []float32) {
	w0 := w[0*ldw : 0*ldw+n]
	w1 := w[1*ldw : 1*ldw+n]
	w2 := w[2*ldw : 2*ldw+n]
	w3 := w[3*ldw : 3*ldw+n]
	x = x[:n]
	var a0, a1, a2, a3, b0, b1, b2, b3 float32
	k := 0
	for ; k+2 <= n; k += 2 {
		x0, x1 := x[k], x[k+1]
		a0 += w0[k] * x0
		a1 += w1[k] * x0
		a2 += w2[k] * x0
		a3 += w3[k] * x0
		b0 += w0[k+1] * x1
		b1 += w1[k+1] * x1
		b2 += w2[k+1] * x1
		b3 += w3[k+1] * x1
	}
	if k < n {
		x0 := x[k]
		a0 += w0[k] * x0
		a1 += w1[k] * x0
		a2 += w2[k] * x0
		a3 += w3[k] * x0
	}
	y[0], y[1], y[2], y[3] = a0+b0, a1+b1, a2+b2, a3+b3
}

// gemm3x4 sets y[i*ldy+j] = x[i*ldx : i*ldx+n] · w[j*ldw : j*ldw+n] for
// i = 0..2, j = 0..3.
func gemm3x4(x []float32, ldx int, w []float32, ldw int, n int, y []float32, ldy int) {
	_ = x[2*ldx+n-1]
	_ = w[3*ldw+n-1]
	_ = y[2*ldy+3]
	if useAsm && n >= 8 {
		n8 := n &^ 7
		gemm3x4AVX2(&x[0], ldx, &w[0], ldw, n8, &y[0], ldy)
		gemmTail(x, ldx, w, ldw, n8, n, 3, y, ldy)
		return
	}
	for i := 0; i < 3; i++ {
		dot4Generic(w, ldw, x[i*ldx:], n, y[i*ldy:])
	}
}

// gemm4x4 sets y[i*ldy+j] = x[i*ldx : i*ldx+n] · w[j*ldw : j*ldw+n] for
// i, j = 0..3 with the AVX-512 kernel; only called when use512.
func gemm4x4(x []float32, ldx int, w []float32, ldw int, n int, y []float32, ldy int) {
	_ = x[3*ldx+n-1]
	_ = w[3*ldw+n-1]
	_ = y[3*ldy+3]
	n16 := n &^ 15
	if n16 > 0 {
		gemm4x4AVX512(&x[0], ldx, &w[0], ldw, n16, &y[0], ldy)
	} else {
		for i := 0; i < 4; i++ {
			clear(y[i*ldy : i*ldy+4])
		}
	}
	gemmTail(x, ldx, w, ldw, n16, n, 4, y, ldy)
}

// gemmTail adds to y[i*ldy+j], i < rows, j < 4, the products over columns
// [k0, n) that the assembly kernels leave to Go.
func gemmTail(x []float32, ldx int, w []float32, ldw int, k0, n, rows int, y []float32, ldy int) {
	for i := 0; i < rows; i++ {
		for j := 0; j < 4; j++ {
			s := y[i*ldy+j]
			for k := k0; k < n; k++ {
				s += x[i*ldx+k] * w[j*ldw+k]
			}
			y[i*ldy+j] = s
		}
	}
}

// matmulCols computes output columns [lo, hi) of y[n][out] = x[n][in]·wᵀ + b
// (b may be nil). Lengths are checked by the caller.
func matmulCols(y, x, w, b []float32, n, out, in, lo, hi int) {
	if n == 1 {
		// A matrix-vector product (decoding) is bound by the weights'
		// memory traffic: one row at a time makes a single sequential
		// stream that the hardware prefetchers follow through the whole
		// matrix. Interleaving four rows (dot4, which shares the loads of
		// x) measured half the bandwidth from DRAM on AMD EPYC: 32000x288
		// took 2.98 ms single-threaded with dot4, 1.27 ms with dot.
		for o := lo; o < hi; o++ {
			y[o] = dot(x[:in], w[o*in:o*in+in])
		}
		addBias(y, b, n, out, lo, hi)
		return
	}
	o := lo
	for ; o+4 <= hi; o += 4 {
		wb := w[o*in:]
		i := 0
		if use512 && useAsm {
			for ; i+4 <= n; i += 4 {
				gemm4x4(x[i*in:], in, wb, in, in, y[i*out+o:], out)
			}
		}
		for ; i+3 <= n; i += 3 {
			gemm3x4(x[i*in:], in, wb, in, in, y[i*out+o:], out)
		}
		for ; i < n; i++ {
			dot4(wb, in, x[i*in:], in, y[i*out+o:])
		}
	}
	for ; o < hi; o++ {
		wr := w[o*in : o*in+in]
		for i := 0; i < n; i++ {
			y[i*out+o] = dot(x[i*in:i*in+in], wr)
		}
	}
	addBias(y, b, n, out, lo, hi)
}

// addBias adds b[lo:hi] to columns [lo, hi) of every row of y[n][out].
func addBias(y, b []float32, n, out, lo, hi int) {
	if b == nil {
		return
	}
	bb := b[lo:hi]
	for i := 0; i < n; i++ {
		yr := y[i*out+lo : i*out+hi]
		for j, v := range bb {
			yr[j] += v
		}
	}
}

// Impl names the kernel implementation in use: "avx512+avx2+fma",
// "avx2+fma" or "generic".
func Impl() string {
	if useAsm && use512 {
		return "avx512+avx2+fma"
	}
	if useAsm {
		return "avx2+fma"
	}
	return "generic"
}
