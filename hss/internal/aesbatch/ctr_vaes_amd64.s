//go:build amd64 && !purego

#include "textflag.h"
#include "aes_amd64.h"

// Byte shuffle turning each 128-bit lane [0, c] (two little-endian qwords) into the big-endian
// 128-bit counter block c: the low qword (zero) stays, the high qword is byte-reversed.
DATA ctrSwap<>+0(SB)/8, $0x0706050403020100
DATA ctrSwap<>+8(SB)/8, $0x08090a0b0c0d0e0f
GLOBL ctrSwap<>(SB), RODATA|NOPTR, $16

// Per-lane counter offsets 0..3 (in the high qword of each lane) and the step of four.
DATA ctrLanes<>+0(SB)/8, $0
DATA ctrLanes<>+8(SB)/8, $0
DATA ctrLanes<>+16(SB)/8, $0
DATA ctrLanes<>+24(SB)/8, $1
DATA ctrLanes<>+32(SB)/8, $0
DATA ctrLanes<>+40(SB)/8, $2
DATA ctrLanes<>+48(SB)/8, $0
DATA ctrLanes<>+56(SB)/8, $3
GLOBL ctrLanes<>(SB), RODATA|NOPTR, $64
// Keeps the high qword of every lane.
DATA ctrHigh<>+0(SB)/8, $0
DATA ctrHigh<>+8(SB)/8, $-1
DATA ctrHigh<>+16(SB)/8, $0
DATA ctrHigh<>+24(SB)/8, $-1
DATA ctrHigh<>+32(SB)/8, $0
DATA ctrHigh<>+40(SB)/8, $-1
DATA ctrHigh<>+48(SB)/8, $0
DATA ctrHigh<>+56(SB)/8, $-1
GLOBL ctrHigh<>(SB), RODATA|NOPTR, $64
DATA ctrFour<>+0(SB)/8, $0
DATA ctrFour<>+8(SB)/8, $4
GLOBL ctrFour<>(SB), RODATA|NOPTR, $16

// func ctrVAES(rk *Keys256, dst *byte, groups int, ctr uint64)
// AES-256-CTR keystream, 4 blocks per ZMM register: 8 registers (32 blocks, 512 bytes) per
// iteration, then one register (4 blocks) at a time. Round keys 0..14 are broadcast to Z16..Z30.
TEXT ·ctrVAES(SB), NOSPLIT, $0-32
	MOVQ rk+0(FP), AX
	MOVQ dst+8(FP), DI
	MOVQ groups+16(FP), CX
	MOVQ ctr+24(FP), DX
	LOADKEYS256(AX)
	VBROADCASTI32X4 ctrSwap<>(SB), Z31
	VBROADCASTI32X4 ctrFour<>(SB), Z9 // [0, 4] in every lane
	// Z8 = counters of the next register: lane j holds [0, ctr+j].
	VPBROADCASTQ DX, Z8
	VPANDQ ctrHigh<>(SB), Z8, Z8
	VPADDQ ctrLanes<>(SB), Z8, Z8
	VPADDQ Z9, Z9, Z10 // [0, 8]

loop8:
	CMPQ CX, $8
	JB loop1
	VMOVDQA64 Z8, Z0
	VPADDQ Z9, Z8, Z1
	VPADDQ Z10, Z8, Z2
	VPADDQ Z10, Z1, Z3
	VPADDQ Z10, Z2, Z4
	VPADDQ Z10, Z3, Z5
	VPADDQ Z10, Z4, Z6
	VPADDQ Z10, Z5, Z7
	VPADDQ Z10, Z6, Z8 // ctr += 32
	V8(VPSHUFB, Z31)
	AES256V(V8)
	STORE8
	ADDQ $512, DI
	SUBQ $8, CX
	JMP loop8

loop1:
	TESTQ CX, CX
	JZ done
	VPSHUFB Z31, Z8, Z0
	VPADDQ Z9, Z8, Z8
	AES256V(V1)
	VMOVDQU64 Z0, 0(DI)
	ADDQ $64, DI
	DECQ CX
	JMP loop1

done:
	VZEROUPPER
	RET
