// Package kernel is hssee's compute-backend layer. A Backend multiplies shared activations by public
// fixed-point weights in the ring Z_2^64; the CPU backend (package kernel/ring) is the
// default, and any other backend (a CUDA adapter behind a build tag, say) is installed with Use and
// must pass Conformance. The interface follows gonum's blas64.Use pattern: tiny, swappable, with an
// exported conformance suite.
package kernel

import (
	"errors"
	"sync/atomic"

	"github.com/hssee/hssee/kernel/ring"
)

// Backend computes ring matrix products.
type Backend interface {
	// RingMatMul sets dst[i][j] = Σ_l x[i][l]·w[j][l] mod 2^64 for x [m][k], w [n][k] and dst [m][n],
	// all row-major. Weights are int64 fixed-point values stored as uint64 (two's complement).
	// It returns an error (and never panics) for inconsistent shapes; dst must not alias x or w.
	// Beaver products between shares use it.
	RingMatMul(dst, x []uint64, m, k int, w []uint64, n int) error
	// RingMatMulW32 is RingMatMul with public weights stored as int32 (fixed-point values with
	// |w| < 2^31): dst[i][j] = Σ_l x[i][l]·int64(w[j][l]) mod 2^64, each weight sign-extended to 64
	// bits, exactly RingMatMul on the widened weights while reading half the weight bytes. Linear
	// layers use it: decode streams every weight once per token.
	RingMatMulW32(dst, x []uint64, m, k int, w []int32, n int) error
	// Name identifies the backend ("cpu", "cuda", ...).
	Name() string
}

var current atomic.Pointer[Backend]

func init() {
	var b Backend = ring.CPU{}
	current.Store(&b)
}

// Use installs b as the backend used by the package-level functions and returns the previous one.
func Use(b Backend) (Backend, error) {
	if b == nil {
		return nil, errors.New("kernel: use: nil backend")
	}
	return *current.Swap(&b), nil
}

// Default returns the installed backend (the CPU backend unless Use changed it).
func Default() Backend { return *current.Load() }

// CPU returns the CPU backend (assembly micro-kernels on amd64, pure Go elsewhere) with GOMAXPROCS
// workers.
func CPU() Backend { return ring.CPU{} }

// RingMatMul runs the installed backend's RingMatMul (see Backend).
func RingMatMul(dst, x []uint64, m, k int, w []uint64, n int) error {
	return Default().RingMatMul(dst, x, m, k, w, n)
}

// RingMatMulW32 runs the installed backend's RingMatMulW32 (see Backend).
func RingMatMulW32(dst, x []uint64, m, k int, w []int32, n int) error {
	return Default().RingMatMulW32(dst, x, m, k, w, n)
}

// ReferenceRingMatMulW32 widens w to 64-bit ring elements (sign extension) and runs
// ReferenceRingMatMul: the oracle of RingMatMulW32 in Conformance.
func ReferenceRingMatMulW32(dst, x []uint64, m, k int, w []int32, n int) error {
	return ring.ReferenceW32(dst, x, m, k, w, n)
}

// ReferenceRingMatMul is the plain single-core triple loop, the oracle of Conformance.
func ReferenceRingMatMul(dst, x []uint64, m, k int, w []uint64, n int) error {
	return ring.Reference(dst, x, m, k, w, n)
}
