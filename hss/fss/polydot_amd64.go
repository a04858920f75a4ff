//go:build amd64 && !purego

package fss

import "golang.org/x/sys/cpu"

// useDotAVX reports whether the batched polynomial window walk's padded inner products
// (polyLeavesPadded: payload 4, 2- or 3-level leaves) run with AVX-512 (polydot_amd64.s).
var useDotAVX = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ

// polyDotAVX is the AVX-512 inner product of the batched polynomial window walk (polydot_amd64.s).
//
//go:noescape
func polyDotAVX(lb *block, n, halves int, fin *block, tc *uint64, t *uint64, st int, s *[4]uint64)
