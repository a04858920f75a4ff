package ee

import (
	"crypto/sha3"
	"encoding/binary"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Component labels (cSHAKE256 customization strings). Each derived
// component reads its own stream, keyed by the master secret and by the
// component's indices (layer, head, sizes), so components are independent
// and any one can be recomputed alone.
const (
	labelVocabPerm   = "hssee/ee/v1/vocab-perm"
	labelResidPerm   = "hssee/ee/v1/resid-perm"
	labelResidRotate = "hssee/ee/v1/resid-rotate"
	labelFFNPerm     = "hssee/ee/v1/ffn-perm"
	labelFFNScale    = "hssee/ee/v1/ffn-scale"
	labelKVHeadPerm  = "hssee/ee/v1/kv-head-perm"
	labelQHeadPerm   = "hssee/ee/v1/q-head-perm"
	labelQKRope      = "hssee/ee/v1/qk-rope"
	labelQKMix       = "hssee/ee/v1/qk-mix"
	labelQKScale     = "hssee/ee/v1/qk-scale"
	labelVMix        = "hssee/ee/v1/v-mix"
)

// stream is a deterministic random stream derived from the master secret.
type stream struct {
	h   *sha3.SHAKE
	buf [8]byte
	// spare holds the second output of the last Box–Muller draw.
	spare    float64
	hasSpare bool
}

// newStream returns cSHAKE256(N="", S=label) over
// secret || len(idx) || idx[0] || ... (little-endian uint64s).
func newStream(secret *[SecretSize]byte, label string, idx ...int) *stream {
	h := sha3.NewCSHAKE256(nil, []byte(label))
	h.Write(secret[:])
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(len(idx)))
	h.Write(b[:])
	for _, v := range idx {
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	return &stream{h: h}
}

func (s *stream) uint64() uint64 {
	s.h.Read(s.buf[:])
	return binary.LittleEndian.Uint64(s.buf[:])
}

// intn returns a uniform integer in [0, n) by rejection sampling (n > 0).
func (s *stream) intn(n int) int {
	un := uint64(n)
	limit := math.MaxUint64 - math.MaxUint64%un // multiple of n
	for {
		if v := s.uint64(); v < limit {
			return int(v % un)
		}
	}
}

// float returns a uniform float64 in the open interval (0, 1).
func (s *stream) float() float64 {
	return (float64(s.uint64()>>11) + 0.5) / (1 << 53)
}

// normal returns a standard Gaussian sample (Box–Muller).
func (s *stream) normal() float64 {
	if s.hasSpare {
		s.hasSpare = false
		return s.spare
	}
	r := math.Sqrt(-2 * math.Log(s.float()))
	sin, cos := math.Sincos(2 * math.Pi * s.float())
	s.spare, s.hasSpare = r*sin, true
	return r * cos
}

// scale returns a log-uniform factor in [1/2, 2], moderate enough to keep
// float32 error small.
func (s *stream) scale() float64 { return math.Exp2(2*s.float() - 1) }

// perm returns a uniformly random permutation of [0, n) (Fisher–Yates).
func (s *stream) perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := s.intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

func invertPerm(p []int) []int {
	inv := make([]int, len(p))
	for i, v := range p {
		inv[v] = i
	}
	return inv
}

func deriveVocabPerm(secret *[SecretSize]byte, vocab int) []int {
	return newStream(secret, labelVocabPerm, vocab).perm(vocab)
}

// haar returns an n×n orthogonal matrix distributed by Haar measure: the Q
// factor of the QR decomposition of a Gaussian matrix, with the signs of
// R's diagonal moved into Q (Mezzadri, "How to generate random matrices
// from the classical compact groups", Notices AMS 54(5), 2007).
func (s *stream) haar(n int) *mat.Dense {
	g := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			g.Set(i, j, s.normal())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q, r mat.Dense
	qr.QTo(&q)
	qr.RTo(&r)
	for j := 0; j < n; j++ {
		if r.At(j, j) < 0 {
			for i := 0; i < n; i++ {
				q.Set(i, j, -q.At(i, j))
			}
		}
	}
	return &q
}

// haarFixingOnes returns a random n×n orthogonal Q with Q·1 = 1: a Haar
// matrix B on the (n-1)-dimensional complement of u = 1/√n, conjugated by
// the Householder reflection H that swaps e1 and u, Q = H (1 ⊕ B) H. Such a
// Q commutes with LayerNorm's centring (mean(Qx) = mean(x)).
func (s *stream) haarFixingOnes(n int) *mat.Dense {
	if n == 1 {
		return mat.NewDense(1, 1, []float64{1})
	}
	b := s.haar(n - 1)
	m := mat.NewDense(n, n, nil)
	m.Set(0, 0, 1)
	m.Slice(1, n, 1, n).(*mat.Dense).Copy(b)
	// v = e1 - u, H = I - 2 v vᵀ / (vᵀ v).
	u := 1 / math.Sqrt(float64(n))
	v := make([]float64, n)
	for i := range v {
		v[i] = -u
	}
	v[0] += 1
	var vv float64
	for _, x := range v {
		vv += x * x
	}
	h := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			x := -2 * v[i] * v[j] / vv
			if i == j {
				x++
			}
			h.Set(i, j, x)
		}
	}
	var t, q mat.Dense
	t.Mul(h, m)
	q.Mul(&t, h)
	return &q
}
