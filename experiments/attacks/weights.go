package main

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// matchResult is the outcome of weight matching the EE embedding against
// the public base embedding.
type matchResult struct {
	VocabRecovered int     // tokens whose encrypted id was recovered
	Vocab          int     //
	Residual       float64 // ‖E·Rᵀ − Π⁻¹E'‖_F / ‖E‖_F with the recovered residual map R
	ResidPermExact bool    // perm mode: the recovered residual map is a permutation that reproduces E' exactly
}

// matchEmbeddings recovers the vocabulary permutation (enc[t] = encrypted id
// of token t) from the public base embedding e and the EE embedding ee, both
// [V][d], using only invariants of x ↦ Π·x·Rᵀ for a permutation Π and an
// orthogonal R (a permutation in perm mode): each token's sorted Gram row,
// {⟨e_t, e_u⟩ : u}, is unchanged, so tokens are matched by nearest sorted
// Gram row. R then follows by orthogonal Procrustes on the matched rows.
func matchEmbeddings(e, eeE []float32, V, d int) (enc []int, r *mat.Dense) {
	sig := func(w []float32) [][]float64 {
		g := gram(w, V, d)
		const keep = 48 // the largest inner products (the row's norm² first)
		out := make([][]float64, V)
		for t := range V {
			row := slices.Clone(g[t*V : t*V+V])
			slices.Sort(row)
			slices.Reverse(row)
			out[t] = row[:keep]
		}
		return out
	}
	sb, se := sig(e), sig(eeE)
	enc = make([]int, V)
	for t := range V {
		best, bd := -1, math.Inf(1)
		for u := range V {
			var dd float64
			for i, x := range sb[t] {
				dd += (x - se[u][i]) * (x - se[u][i])
				if dd >= bd {
					break
				}
			}
			if dd < bd {
				best, bd = u, dd
			}
		}
		enc[t] = best
	}
	// Procrustes: R = argmin ‖E Rᵀ − A‖ over orthogonal R, A = matched EE rows:
	// Rᵀ = U Vᵀ with EᵀA = U Σ Vᵀ.
	a := mat.NewDense(V, d, nil)
	b := mat.NewDense(V, d, nil)
	for t := range V {
		for j := range d {
			b.Set(t, j, float64(e[t*d+j]))
			a.Set(t, j, float64(eeE[enc[t]*d+j]))
		}
	}
	var m mat.Dense
	m.Mul(b.T(), a)
	var svd mat.SVD
	svd.Factorize(&m, mat.SVDFull)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	var rt mat.Dense
	rt.Mul(&u, v.T())
	r = mat.DenseCopyOf(rt.T())
	return enc, r
}

// residualError is ‖E·Rᵀ − Π⁻¹E'‖_F / ‖E‖_F.
func residualError(e, eeE []float32, V, d int, enc []int, r *mat.Dense) float64 {
	var num, den float64
	for t := range V {
		for j := range d {
			var s float64
			for k := range d {
				s += float64(e[t*d+k]) * r.At(j, k)
			}
			x := s - float64(eeE[enc[t]*d+j])
			num += x * x
			den += float64(e[t*d+j]) * float64(e[t*d+j])
		}
	}
	return math.Sqrt(num / den)
}

// asPermutation reports whether r is (within 1e-6) a permutation matrix.
func asPermutation(r *mat.Dense) bool {
	n, _ := r.Dims()
	for i := range n {
		ones := 0
		for j := range n {
			x := r.At(i, j)
			switch {
			case math.Abs(x-1) < 1e-6:
				ones++
			case math.Abs(x) > 1e-6:
				return false
			}
		}
		if ones != 1 {
			return false
		}
	}
	return true
}

func gram(w []float32, V, d int) []float64 {
	g := make([]float64, V*V)
	for a := range V {
		ra := w[a*d : a*d+d]
		for b := a; b < V; b++ {
			rb := w[b*d : b*d+d]
			var s float64
			for k, x := range ra {
				s += float64(x) * float64(rb[k])
			}
			g[a*V+b], g[b*V+a] = s, s
		}
	}
	return g
}
