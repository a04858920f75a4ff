//go:build amd64 && !purego

#include "textflag.h"
#include "vaes_amd64.h"

// Constants of the batched DCF walk: qword permutations, masks and tweaks.
DATA dcfIdxA<>+0(SB)/8, $0
DATA dcfIdxA<>+8(SB)/8, $0
DATA dcfIdxA<>+16(SB)/8, $1
DATA dcfIdxA<>+24(SB)/8, $1
DATA dcfIdxA<>+32(SB)/8, $2
DATA dcfIdxA<>+40(SB)/8, $2
DATA dcfIdxA<>+48(SB)/8, $3
DATA dcfIdxA<>+56(SB)/8, $3
GLOBL dcfIdxA<>(SB), RODATA|NOPTR, $64
DATA dcfIdxB<>+0(SB)/8, $4
DATA dcfIdxB<>+8(SB)/8, $4
DATA dcfIdxB<>+16(SB)/8, $5
DATA dcfIdxB<>+24(SB)/8, $5
DATA dcfIdxB<>+32(SB)/8, $6
DATA dcfIdxB<>+40(SB)/8, $6
DATA dcfIdxB<>+48(SB)/8, $7
DATA dcfIdxB<>+56(SB)/8, $7
GLOBL dcfIdxB<>(SB), RODATA|NOPTR, $64
DATA dcfIdxLo<>+0(SB)/8, $0
DATA dcfIdxLo<>+8(SB)/8, $2
DATA dcfIdxLo<>+16(SB)/8, $4
DATA dcfIdxLo<>+24(SB)/8, $6
DATA dcfIdxLo<>+32(SB)/8, $8
DATA dcfIdxLo<>+40(SB)/8, $10
DATA dcfIdxLo<>+48(SB)/8, $12
DATA dcfIdxLo<>+56(SB)/8, $14
GLOBL dcfIdxLo<>(SB), RODATA|NOPTR, $64
DATA dcfLoMask<>+0(SB)/8, $-1
DATA dcfLoMask<>+8(SB)/8, $0
DATA dcfLoMask<>+16(SB)/8, $-1
DATA dcfLoMask<>+24(SB)/8, $0
DATA dcfLoMask<>+32(SB)/8, $-1
DATA dcfLoMask<>+40(SB)/8, $0
DATA dcfLoMask<>+48(SB)/8, $-1
DATA dcfLoMask<>+56(SB)/8, $0
GLOBL dcfLoMask<>(SB), RODATA|NOPTR, $64
DATA dcfNot1<>+0(SB)/8, $-2
DATA dcfNot1<>+8(SB)/8, $-1
DATA dcfNot1<>+16(SB)/8, $-2
DATA dcfNot1<>+24(SB)/8, $-1
DATA dcfNot1<>+32(SB)/8, $-2
DATA dcfNot1<>+40(SB)/8, $-1
DATA dcfNot1<>+48(SB)/8, $-2
DATA dcfNot1<>+56(SB)/8, $-1
GLOBL dcfNot1<>(SB), RODATA|NOPTR, $64
DATA dcfTwV<>+0(SB)/8, $2
DATA dcfTwV<>+8(SB)/8, $0
DATA dcfTwV<>+16(SB)/8, $2
DATA dcfTwV<>+24(SB)/8, $0
DATA dcfTwV<>+32(SB)/8, $2
DATA dcfTwV<>+40(SB)/8, $0
DATA dcfTwV<>+48(SB)/8, $2
DATA dcfTwV<>+56(SB)/8, $0
GLOBL dcfTwV<>(SB), RODATA|NOPTR, $64
DATA dcfTwLeaf<>+0(SB)/8, $64
DATA dcfTwLeaf<>+8(SB)/8, $0
DATA dcfTwLeaf<>+16(SB)/8, $64
DATA dcfTwLeaf<>+24(SB)/8, $0
DATA dcfTwLeaf<>+32(SB)/8, $64
DATA dcfTwLeaf<>+40(SB)/8, $0
DATA dcfTwLeaf<>+48(SB)/8, $64
DATA dcfTwLeaf<>+56(SB)/8, $0
GLOBL dcfTwLeaf<>(SB), RODATA|NOPTR, $64
DATA dcfOne<>+0(SB)/8, $1
DATA dcfOne<>+8(SB)/8, $1
DATA dcfOne<>+16(SB)/8, $1
DATA dcfOne<>+24(SB)/8, $1
DATA dcfOne<>+32(SB)/8, $1
DATA dcfOne<>+40(SB)/8, $1
DATA dcfOne<>+48(SB)/8, $1
DATA dcfOne<>+56(SB)/8, $1
GLOBL dcfOne<>(SB), RODATA|NOPTR, $64

#define ROUNDB(K) \
	VAESENC K, Z6, Z6; \
	VAESENC K, Z7, Z7; \
	VAESENC K, Z8, Z8; \
	VAESENC K, Z9, Z9

#define ROUNDL(K) \
	VAESENC K, Z6, Z6; \
	VAESENC K, Z7, Z7

// LOAD4 loads the blocks at B0, B0+S, B1, B1+S into the four lanes of Z (X its low lane).
#define LOAD4(B0, B1, S, X, Z) \
	VMOVDQU (B0), X; \
	VINSERTI64X2 $1, (B0)(S*1), Z, Z; \
	VINSERTI64X2 $2, (B1), Z, Z; \
	VINSERTI64X2 $3, (B1)(S*1), Z, Z

// func dcfEval8(rk *roundKeys, seeds, scw, vcw *block, stride, groups, bits int, tcw8, xs *uint64, fin *block, party uint64, out *uint64)
// Evaluates groups·8 consecutive DCF keys of payload 2 at xs (one point each), eight paths in
// lockstep in ZMM registers: key g of a group has its seed at seeds[g], its level-l correction words
// at scw and vcw + g·stride + 16·l (bytes), its level-l control-bit corrections in byte g of
// tcw8[l] (the group's bits words follow each other), its final correction word at fin[g]; out gets
// the two shares of every key. The arithmetic is evalMulti2's.
TEXT ·dcfEval8(SB), NOSPLIT, $0-96
	MOVQ rk+0(FP), AX
	LOADKEYS(AX)
	VMOVDQU64 dcfIdxA<>(SB), Z27
	VMOVDQU64 dcfIdxB<>(SB), Z28
	VMOVDQU64 dcfLoMask<>(SB), Z29
	VMOVDQU64 dcfNot1<>(SB), Z30
	VMOVDQU64 dcfTwV<>(SB), Z31
	MOVQ seeds+8(FP), SI
	MOVQ stride+32(FP), R9
	MOVQ tcw8+56(FP), DX
	MOVQ scw+16(FP), R8
	MOVQ vcw+24(FP), R13

group:
	MOVQ groups+40(FP), AX
	TESTQ AX, AX
	JZ done
	DECQ AX
	MOVQ AX, groups+40(FP)
	LEAQ (R8)(R9*2), R10
	LEAQ (R10)(R9*2), R11
	LEAQ (R11)(R9*2), R12
	LEAQ (R13)(R9*2), R14
	LEAQ (R14)(R9*2), R15
	LEAQ (R15)(R9*2), BX
	VMOVDQU64 0(SI), Z0
	VMOVDQU64 64(SI), Z1
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3
	MOVQ xs+64(FP), AX
	VMOVDQU64 (AX), Z4
	MOVQ $64, AX
	SUBQ bits+48(FP), AX
	VMOVQ AX, X15
	VPSLLQ X15, Z4, Z4
	MOVQ party+80(FP), AX
	VPBROADCASTQ AX, Z5
	MOVQ bits+48(FP), CX

level:
	VPSRLQ $63, Z4, Z12
	VPERMQ Z12, Z27, Z13
	VPERMQ Z12, Z28, Z14
	VPANDQ Z29, Z13, Z10
	VPXORQ Z0, Z10, Z10
	VPANDQ Z29, Z14, Z11
	VPXORQ Z1, Z11, Z11
	VPXORQ Z16, Z10, Z6
	VPXORQ Z16, Z11, Z7
	VPXORQ Z31, Z6, Z8
	VPXORQ Z31, Z7, Z9
	ROUNDS9(ROUNDB)
	VAESENCLAST Z26, Z6, Z6
	VAESENCLAST Z26, Z7, Z7
	VAESENCLAST Z26, Z8, Z8
	VAESENCLAST Z26, Z9, Z9
	VPXORQ Z10, Z6, Z6
	VPXORQ Z11, Z7, Z7
	VPXORQ Z31, Z10, Z10
	VPXORQ Z31, Z11, Z11
	VPXORQ Z10, Z8, Z8
	VPXORQ Z11, Z9, Z9
	// Masks −t per block from the control bits.
	VPERMQ Z5, Z27, Z13
	VPERMQ Z5, Z28, Z14
	VPXORQ Z15, Z15, Z15
	VPSUBQ Z13, Z15, Z13
	VPSUBQ Z14, Z15, Z14
	// Values: A += H_v + (vcw & m).
	LOAD4(R13, R14, R9, X10, Z10)
	LOAD4(R15, BX, R9, X11, Z11)
	VPANDQ Z13, Z10, Z10
	VPADDQ Z10, Z8, Z8
	VPADDQ Z8, Z2, Z2
	VPANDQ Z14, Z11, Z11
	VPADDQ Z11, Z9, Z9
	VPADDQ Z9, Z3, Z3
	// Control bits: t = (lo(H_c) & 1) ⊕ (t & (tcw >> c) & 1).
	VMOVDQU64 dcfIdxLo<>(SB), Z15
	VPERMI2Q Z7, Z6, Z15
	VPANDQ dcfOne<>(SB), Z15, Z15
	VPMOVZXBQ (DX), Z10
	VPSRLVQ Z12, Z10, Z10
	VPANDQ Z5, Z10, Z10
	VPANDQ dcfOne<>(SB), Z10, Z10
	VPXORQ Z15, Z10, Z5
	// Seeds: s = (H_c &^ 1) ⊕ (scw & m).
	LOAD4(R8, R10, R9, X10, Z10)
	LOAD4(R11, R12, R9, X11, Z11)
	VPANDQ Z13, Z10, Z10
	VPANDQ Z30, Z6, Z6
	VPXORQ Z10, Z6, Z0
	VPANDQ Z14, Z11, Z11
	VPANDQ Z30, Z7, Z7
	VPXORQ Z11, Z7, Z1
	VPSLLQ $1, Z4, Z4
	ADDQ $16, R8
	ADDQ $16, R10
	ADDQ $16, R11
	ADDQ $16, R12
	ADDQ $16, R13
	ADDQ $16, R14
	ADDQ $16, R15
	ADDQ $16, BX
	ADDQ $8, DX
	DECQ CX
	JNZ level

	// Leaf: y = A + H(s ⊕ tweakLeaf) + (fin & m), negated for party 1.
	VMOVDQU64 dcfTwLeaf<>(SB), Z15
	VPXORQ Z15, Z0, Z10
	VPXORQ Z15, Z1, Z11
	VPXORQ Z16, Z10, Z6
	VPXORQ Z16, Z11, Z7
	ROUNDS9(ROUNDL)
	VAESENCLAST Z26, Z6, Z6
	VAESENCLAST Z26, Z7, Z7
	VPXORQ Z10, Z6, Z6
	VPXORQ Z11, Z7, Z7
	VPERMQ Z5, Z27, Z13
	VPERMQ Z5, Z28, Z14
	VPXORQ Z15, Z15, Z15
	VPSUBQ Z13, Z15, Z13
	VPSUBQ Z14, Z15, Z14
	MOVQ fin+72(FP), AX
	VMOVDQU64 0(AX), Z8
	VMOVDQU64 64(AX), Z9
	ADDQ $128, AX
	MOVQ AX, fin+72(FP)
	VPANDQ Z13, Z8, Z8
	VPANDQ Z14, Z9, Z9
	VPADDQ Z8, Z6, Z6
	VPADDQ Z9, Z7, Z7
	VPADDQ Z6, Z2, Z2
	VPADDQ Z7, Z3, Z3
	MOVQ party+80(FP), AX
	NEGQ AX
	VPBROADCASTQ AX, Z15
	VPXORQ Z15, Z2, Z2
	VPSUBQ Z15, Z2, Z2
	VPXORQ Z15, Z3, Z3
	VPSUBQ Z15, Z3, Z3
	MOVQ out+88(FP), AX
	VMOVDQU64 Z2, 0(AX)
	VMOVDQU64 Z3, 64(AX)
	ADDQ $128, AX
	MOVQ AX, out+88(FP)
	// Next group: seeds, correction words (8 keys on), points.
	ADDQ $128, SI
	MOVQ bits+48(FP), AX
	SHLQ $4, AX
	NEGQ AX
	LEAQ (R8)(AX*1), R8
	LEAQ (R13)(AX*1), R13
	LEAQ (R8)(R9*8), R8
	LEAQ (R13)(R9*8), R13
	MOVQ xs+64(FP), AX
	ADDQ $64, AX
	MOVQ AX, xs+64(FP)
	JMP group

done:
	VZEROUPPER
	RET
