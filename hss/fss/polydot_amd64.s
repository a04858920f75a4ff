//go:build amd64 && !purego

#include "textflag.h"

// HSUM sums the eight lanes of Z (Y, X: its lower halves) into the quadword at DST (TY, TX: scratch).
#define HSUM(Z, Y, X, TY, TX, DST) \
	VEXTRACTI64X4 $1, Z, TY; \
	VPADDQ TY, Y, Y; \
	VEXTRACTI128 $1, Y, TX; \
	VPADDQ TX, X, X; \
	VPSHUFD $0x4e, X, TX; \
	VPADDQ TX, X, X; \
	VMOVQ X, DST

// func polyDotAVX(lb *block, n, halves int, fin *block, tc *uint64, t *uint64, st int, s *[4]uint64)
// For n leaves of halves·8 blocks (halves·16 words: halves·4 positions of four payload slots) each
// (lb, leaf u at lb[8·halves·u:]) with control bits tc[u] and final correction words fin (halves·8
// blocks), sets s[i] = Σ_words (lb + (fin & −tc))·T_i for the four padded tables T_i at t + i·st
// words, whose words follow the leaves'. AVX-512 F and DQ (VPMULLQ).
TEXT ·polyDotAVX(SB), NOSPLIT, $0-64
	MOVQ lb+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ halves+16(FP), R13
	MOVQ fin+24(FP), DX
	MOVQ tc+32(FP), BX
	MOVQ t+40(FP), R8
	MOVQ st+48(FP), R12
	MOVQ s+56(FP), DI
	SHLQ $3, R12
	LEAQ (R8)(R12*1), R9
	LEAQ (R9)(R12*1), R10
	LEAQ (R10)(R12*1), R11
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3
	VPXORQ Z14, Z14, Z14

leaf:
	TESTQ CX, CX
	JZ done
	VPBROADCASTQ 0(BX), Z13
	VPSUBQ Z13, Z14, Z13
	MOVQ DX, R14
	MOVQ R13, R15

half:
	VPANDQ 0(R14), Z13, Z15
	VPADDQ 0(SI), Z15, Z15
	VPANDQ 64(R14), Z13, Z16
	VPADDQ 64(SI), Z16, Z16
	VPMULLQ 0(R8), Z15, Z17
	VPMULLQ 64(R8), Z16, Z18
	VPADDQ Z17, Z0, Z0
	VPADDQ Z18, Z0, Z0
	VPMULLQ 0(R9), Z15, Z19
	VPMULLQ 64(R9), Z16, Z20
	VPADDQ Z19, Z1, Z1
	VPADDQ Z20, Z1, Z1
	VPMULLQ 0(R10), Z15, Z21
	VPMULLQ 64(R10), Z16, Z22
	VPADDQ Z21, Z2, Z2
	VPADDQ Z22, Z2, Z2
	VPMULLQ 0(R11), Z15, Z23
	VPMULLQ 64(R11), Z16, Z24
	VPADDQ Z23, Z3, Z3
	VPADDQ Z24, Z3, Z3
	ADDQ $128, SI
	ADDQ $128, R14
	ADDQ $128, R8
	ADDQ $128, R9
	ADDQ $128, R10
	ADDQ $128, R11
	DECQ R15
	JNZ half
	ADDQ $8, BX
	DECQ CX
	JMP leaf

done:
	HSUM(Z0, Y0, X0, Y4, X4, 0(DI))
	HSUM(Z1, Y1, X1, Y4, X4, 8(DI))
	HSUM(Z2, Y2, X2, Y4, X4, 16(DI))
	HSUM(Z3, Y3, X3, Y4, X4, 24(DI))
	VZEROUPPER
	RET
