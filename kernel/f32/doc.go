// Package f32 holds the float32 CPU kernels of the plain executor: dot
// products, axpy, and a row-major matrix product y = x·Wᵀ (+ b) against
// weights stored [out][in] (the nn.Linear layout), run serially or across a
// persistent worker Pool.
//
// On amd64 CPUs with AVX2 and FMA the inner kernels are Go assembly: a 1×4
// matrix-vector block for decoding and a 3×4 register-blocked micro-kernel
// for batched prefill, both in the dot-product formulation (each output a
// vector dot product, reduced horizontally at the end); with AVX-512F the
// prefill kernel is a 4×4 block on 512-bit registers. Register blocking
// follows Goto and van de Geijn, "Anatomy of High-Performance Matrix
// Multiplication", ACM TOMS 2008. Elsewhere, or with the purego build tag,
// portable Go kernels with several independent accumulators are used. Every
// path is tested against a float64 reference.
//
// Accumulation is in float32 (eight or more partial sums per output), so
// results differ from a sequential float64 sum by a few float32 ulps of the
// sum of absolute products. Nothing here is constant time: the kernels run
// on public (or EE-transformed) weights and must not be used on secret data
// whose timing matters.
package f32
