//go:build amd64 && !purego

#include "textflag.h"
#include "vaes_amd64.h"

// Leaf tweaks: block j of a leaf conversion hashes {seed.lo ⊕ (tweakLeaf + 2j), seed.hi} (prg.go).
DATA leafTweaks<>+0(SB)/8, $64
DATA leafTweaks<>+8(SB)/8, $0
DATA leafTweaks<>+16(SB)/8, $66
DATA leafTweaks<>+24(SB)/8, $0
DATA leafTweaks<>+32(SB)/8, $68
DATA leafTweaks<>+40(SB)/8, $0
DATA leafTweaks<>+48(SB)/8, $70
DATA leafTweaks<>+56(SB)/8, $0
DATA leafTweaks<>+64(SB)/8, $72
DATA leafTweaks<>+72(SB)/8, $0
DATA leafTweaks<>+80(SB)/8, $74
DATA leafTweaks<>+88(SB)/8, $0
DATA leafTweaks<>+96(SB)/8, $76
DATA leafTweaks<>+104(SB)/8, $0
DATA leafTweaks<>+112(SB)/8, $78
DATA leafTweaks<>+120(SB)/8, $0
DATA leafTweaks<>+128(SB)/8, $80
DATA leafTweaks<>+136(SB)/8, $0
DATA leafTweaks<>+144(SB)/8, $82
DATA leafTweaks<>+152(SB)/8, $0
DATA leafTweaks<>+160(SB)/8, $84
DATA leafTweaks<>+168(SB)/8, $0
DATA leafTweaks<>+176(SB)/8, $86
DATA leafTweaks<>+184(SB)/8, $0
DATA leafTweaks<>+192(SB)/8, $88
DATA leafTweaks<>+200(SB)/8, $0
DATA leafTweaks<>+208(SB)/8, $90
DATA leafTweaks<>+216(SB)/8, $0
DATA leafTweaks<>+224(SB)/8, $92
DATA leafTweaks<>+232(SB)/8, $0
DATA leafTweaks<>+240(SB)/8, $94
DATA leafTweaks<>+248(SB)/8, $0
GLOBL leafTweaks<>(SB), RODATA|NOPTR, $256

#define ROUND8(K) \
	VAESENC K, Z0, Z0; \
	VAESENC K, Z1, Z1; \
	VAESENC K, Z2, Z2; \
	VAESENC K, Z3, Z3; \
	VAESENC K, Z4, Z4; \
	VAESENC K, Z5, Z5; \
	VAESENC K, Z6, Z6; \
	VAESENC K, Z7, Z7

#define ROUND4(K) \
	VAESENC K, Z0, Z0; \
	VAESENC K, Z1, Z1; \
	VAESENC K, Z2, Z2; \
	VAESENC K, Z3, Z3

// func mmoLeaves16(rk *roundKeys, seeds *block, n int, dst *block)
// For each of n leaf seeds s (seeds[u]), dst[16u+j] = AES-128_rk(in_j) ⊕ in_j with in_j =
// {s.lo ⊕ (tweakLeaf + 2j), s.hi}, j < 16: the leaf conversion of 16 blocks per leaf, its inputs
// built in registers. Two leaves (eight ZMM registers) per iteration, then one.
TEXT ·mmoLeaves16(SB), NOSPLIT, $0-32
	MOVQ rk+0(FP), AX
	MOVQ seeds+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ dst+24(FP), DI
	LOADKEYS(AX)
	LEAQ leafTweaks<>(SB), BX
	VMOVDQU64 0(BX), Z27
	VMOVDQU64 64(BX), Z28
	VMOVDQU64 128(BX), Z29
	VMOVDQU64 192(BX), Z30
leaves2:
	CMPQ CX, $2
	JB leaves1
	VBROADCASTI32X4 0(SI), Z31
	VPXORQ Z27, Z31, Z8
	VPXORQ Z28, Z31, Z9
	VPXORQ Z29, Z31, Z10
	VPXORQ Z30, Z31, Z11
	VBROADCASTI32X4 16(SI), Z31
	VPXORQ Z27, Z31, Z12
	VPXORQ Z28, Z31, Z13
	VPXORQ Z29, Z31, Z14
	VPXORQ Z30, Z31, Z15
	VPXORQ Z16, Z8, Z0
	VPXORQ Z16, Z9, Z1
	VPXORQ Z16, Z10, Z2
	VPXORQ Z16, Z11, Z3
	VPXORQ Z16, Z12, Z4
	VPXORQ Z16, Z13, Z5
	VPXORQ Z16, Z14, Z6
	VPXORQ Z16, Z15, Z7
	ROUNDS9(ROUND8)
	VAESENCLAST Z26, Z0, Z0
	VAESENCLAST Z26, Z1, Z1
	VAESENCLAST Z26, Z2, Z2
	VAESENCLAST Z26, Z3, Z3
	VAESENCLAST Z26, Z4, Z4
	VAESENCLAST Z26, Z5, Z5
	VAESENCLAST Z26, Z6, Z6
	VAESENCLAST Z26, Z7, Z7
	VPXORQ Z8, Z0, Z0
	VPXORQ Z9, Z1, Z1
	VPXORQ Z10, Z2, Z2
	VPXORQ Z11, Z3, Z3
	VPXORQ Z12, Z4, Z4
	VPXORQ Z13, Z5, Z5
	VPXORQ Z14, Z6, Z6
	VPXORQ Z15, Z7, Z7
	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 64(DI)
	VMOVDQU64 Z2, 128(DI)
	VMOVDQU64 Z3, 192(DI)
	VMOVDQU64 Z4, 256(DI)
	VMOVDQU64 Z5, 320(DI)
	VMOVDQU64 Z6, 384(DI)
	VMOVDQU64 Z7, 448(DI)
	ADDQ $32, SI
	ADDQ $512, DI
	SUBQ $2, CX
	JMP leaves2
leaves1:
	TESTQ CX, CX
	JZ leavesdone
	VBROADCASTI32X4 0(SI), Z31
	VPXORQ Z27, Z31, Z8
	VPXORQ Z28, Z31, Z9
	VPXORQ Z29, Z31, Z10
	VPXORQ Z30, Z31, Z11
	VPXORQ Z16, Z8, Z0
	VPXORQ Z16, Z9, Z1
	VPXORQ Z16, Z10, Z2
	VPXORQ Z16, Z11, Z3
	ROUNDS9(ROUND4)
	VAESENCLAST Z26, Z0, Z0
	VAESENCLAST Z26, Z1, Z1
	VAESENCLAST Z26, Z2, Z2
	VAESENCLAST Z26, Z3, Z3
	VPXORQ Z8, Z0, Z0
	VPXORQ Z9, Z1, Z1
	VPXORQ Z10, Z2, Z2
	VPXORQ Z11, Z3, Z3
	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 64(DI)
	VMOVDQU64 Z2, 128(DI)
	VMOVDQU64 Z3, 192(DI)
leavesdone:
	VZEROUPPER
	RET
