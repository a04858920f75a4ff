//go:build amd64 && !purego

#include "textflag.h"

// func linDotAVX(lb *block, n int, fin *block, tc *uint64, p, q *uint64, x uint64) uint64
// For n leaves of eight blocks each (lb, leaf u at lb[8u:]) with control bits tc[u], final
// correction words fin (eight blocks) and padded tables p, q (two words per position), returns
// Σ_lanes (lb + (fin & −tc))·(p + X·q) with X = (x, 1, x, 1, …): with p = (ta, 0) and q = (tb, −tb)
// per position that is Σ ta·e + x·tb·e − tb·er. AVX-512 F and DQ (VPMULLQ).
TEXT ·linDotAVX(SB), NOSPLIT, $0-64
	MOVQ lb+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ fin+16(FP), DX
	MOVQ tc+24(FP), BX
	MOVQ p+32(FP), R8
	MOVQ q+40(FP), R9
	MOVQ x+48(FP), AX
	VPBROADCASTQ AX, Z8
	MOVQ $1, R10
	VPBROADCASTQ R10, Z9
	VPUNPCKLQDQ Z9, Z8, Z10
	VMOVDQU64 0(DX), Z11
	VMOVDQU64 64(DX), Z12
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	VPXORQ Z14, Z14, Z14
loop:
	TESTQ CX, CX
	JZ done
	VPBROADCASTQ 0(BX), Z13
	VPSUBQ Z13, Z14, Z13
	VPANDQ Z11, Z13, Z15
	VPADDQ 0(SI), Z15, Z15
	VPANDQ Z12, Z13, Z16
	VPADDQ 64(SI), Z16, Z16
	VMOVDQU64 0(R9), Z17
	VPMULLQ Z10, Z17, Z17
	VPADDQ 0(R8), Z17, Z17
	VMOVDQU64 64(R9), Z18
	VPMULLQ Z10, Z18, Z18
	VPADDQ 64(R8), Z18, Z18
	VPMULLQ Z17, Z15, Z15
	VPADDQ Z15, Z0, Z0
	VPMULLQ Z18, Z16, Z16
	VPADDQ Z16, Z1, Z1
	ADDQ $128, SI
	ADDQ $8, BX
	ADDQ $128, R8
	ADDQ $128, R9
	DECQ CX
	JMP loop
done:
	VPADDQ Z1, Z0, Z0
	VEXTRACTI64X4 $1, Z0, Y1
	VPADDQ Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDQ X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPADDQ X1, X0, X0
	VMOVQ X0, AX
	MOVQ AX, ret+56(FP)
	VZEROUPPER
	RET
