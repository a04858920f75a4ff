//go:build amd64 && !purego

#include "textflag.h"
#include "aes_amd64.h"

// func mmoVAES(rk *Keys128, dst, src *Block, n int)
// dst[i] = AES-128_rk(src[i]) XOR src[i] for n a multiple of 4, with AVX-512 VAES: four blocks per
// ZMM register, eight registers (32 blocks) per iteration, then one register at a time. The round
// keys are broadcast to all four lanes of Z16..Z26.
TEXT ·mmoVAES(SB), NOSPLIT, $0-32
	MOVQ rk+0(FP), AX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	LOADKEYS128(AX)
loop32:
	CMPQ CX, $32
	JB loop4
	VMOVDQU64 0(SI), Z0
	VMOVDQU64 64(SI), Z1
	VMOVDQU64 128(SI), Z2
	VMOVDQU64 192(SI), Z3
	VMOVDQU64 256(SI), Z4
	VMOVDQU64 320(SI), Z5
	VMOVDQU64 384(SI), Z6
	VMOVDQU64 448(SI), Z7
	AES128V(V8)
	VPXORQ 0(SI), Z0, Z0
	VPXORQ 64(SI), Z1, Z1
	VPXORQ 128(SI), Z2, Z2
	VPXORQ 192(SI), Z3, Z3
	VPXORQ 256(SI), Z4, Z4
	VPXORQ 320(SI), Z5, Z5
	VPXORQ 384(SI), Z6, Z6
	VPXORQ 448(SI), Z7, Z7
	STORE8
	ADDQ $512, SI
	ADDQ $512, DI
	SUBQ $32, CX
	JMP loop32
loop4:
	CMPQ CX, $4
	JB done
	VMOVDQU64 0(SI), Z0
	AES128V(V1)
	VPXORQ 0(SI), Z0, Z0
	VMOVDQU64 Z0, 0(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $4, CX
	JMP loop4
done:
	VZEROUPPER
	RET
