//go:build amd64 && !purego

package fss

import "golang.org/x/sys/cpu"

// useLinAVX reports whether the batched linear window walk runs its inner products with AVX-512
// (lindot_amd64.s) for 3-level leaves.
var useLinAVX = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ

// linDotAVX is the AVX-512 inner product of the batched linear window walk (lindot_amd64.s).
//
//go:noescape
func linDotAVX(lb *block, n int, fin *block, tc *uint64, p, q *uint64, x uint64) uint64

// polyDotAVX is the AVX-512 inner product of the batched polynomial window walk (polydot_amd64.s).
//
//go:noescape
func polyDotAVX(lb *block, n, halves int, fin *block, tc *uint64, t *uint64, st int, s *[4]uint64)
