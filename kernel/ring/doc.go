// Package ring holds the CPU implementation of the ring matrix product used by hssee's
// linear layers: dst = x·wᵀ mod 2^64 for a shared activation x [m][k] (uint64 ring elements) and
// public fixed-point weights w [n][k] (int64 values stored as their uint64 two's complement).
// Reference is the plain triple loop that serves as oracle and baseline; CPU is the parallel,
// register-blocked backend. On amd64 its micro-kernels are assembly: AVX-512 (a 4×4 block of
// VPMULLQ/VPADDQ over 8 lanes of k, masked loads for the k tail; a 1×4 kernel for the rows left
// over, which are every row of a decode step) where AVX-512F/DQ/VL exist, else
// AVX2 (a 2×2 block, the 64-bit product built from 32×32→64 VPMULUDQ partial products); other
// CPUs and the purego build tag use the pure-Go 2×2 kernel. Package kernel wraps it behind its
// Backend interface.
package ring
