//go:build amd64 && !purego

#include "textflag.h"
#include "aes_amd64.h"

// func mmoAESNI(rk *Keys128, dst, src *Block, n int)
// dst[i] = AES-128_rk(src[i]) XOR src[i], eight blocks per iteration, then the rest (at most 7) in a
// group of four, a group of two and a single block, so that short calls (the upper tree levels of a
// window) keep several blocks in flight too.
TEXT ·mmoAESNI(SB), NOSPLIT, $0-32
	MOVQ rk+0(FP), AX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
loop8:
	CMPQ CX, $8
	JB tail4
	MOVOU 0(SI), X8
	MOVOU 16(SI), X9
	MOVOU 32(SI), X10
	MOVOU 48(SI), X11
	MOVOU 64(SI), X12
	MOVOU 80(SI), X13
	MOVOU 96(SI), X14
	MOVOU 112(SI), X15
	AES128NI(NI8)
	FF(0, X8)
	FF(16, X9)
	FF(32, X10)
	FF(48, X11)
	FF(64, X12)
	FF(80, X13)
	FF(96, X14)
	FF(112, X15)
	MOVOU X8, 0(DI)
	MOVOU X9, 16(DI)
	MOVOU X10, 32(DI)
	MOVOU X11, 48(DI)
	MOVOU X12, 64(DI)
	MOVOU X13, 80(DI)
	MOVOU X14, 96(DI)
	MOVOU X15, 112(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $8, CX
	JMP loop8
tail4:
	CMPQ CX, $4
	JB tail2
	MOVOU 0(SI), X8
	MOVOU 16(SI), X9
	MOVOU 32(SI), X10
	MOVOU 48(SI), X11
	AES128NI(NI4)
	FF(0, X8)
	FF(16, X9)
	FF(32, X10)
	FF(48, X11)
	MOVOU X8, 0(DI)
	MOVOU X9, 16(DI)
	MOVOU X10, 32(DI)
	MOVOU X11, 48(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $4, CX
tail2:
	CMPQ CX, $2
	JB tail
	MOVOU 0(SI), X8
	MOVOU 16(SI), X9
	AES128NI(NI2)
	FF(0, X8)
	FF(16, X9)
	MOVOU X8, 0(DI)
	MOVOU X9, 16(DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $2, CX
tail:
	TESTQ CX, CX
	JZ done
	MOVOU 0(SI), X8
	AES128NI(NI1)
	FF(0, X8)
	MOVOU X8, 0(DI)
	ADDQ $16, SI
	ADDQ $16, DI
	DECQ CX
	JMP tail
done:
	RET
