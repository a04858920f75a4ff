// Macros of the AES assembly of this package (mmo_amd64.s, mmo_vaes_amd64.s, ctr_vaes_amd64.s).

// AES-NI, one round key at off(AX) loaded into X0 and applied by op (PXOR for the whitening, AESENC,
// AESENCLAST) to the blocks in X8.., eight, four, two or one of them.
#define NI8(op, off) \
	MOVOU off(AX), X0; \
	op X0, X8; \
	op X0, X9; \
	op X0, X10; \
	op X0, X11; \
	op X0, X12; \
	op X0, X13; \
	op X0, X14; \
	op X0, X15
#define NI4(op, off) \
	MOVOU off(AX), X0; \
	op X0, X8; \
	op X0, X9; \
	op X0, X10; \
	op X0, X11
#define NI2(op, off) \
	MOVOU off(AX), X0; \
	op X0, X8; \
	op X0, X9
#define NI1(op, off) \
	MOVOU off(AX), X0; \
	op X0, X8

// FF(off, reg) is the MMO feed-forward: reg ^= the source block at off(SI).
#define FF(off, reg) \
	MOVOU off(SI), X1; \
	PXOR X1, reg

// AES128NI(N) is a whole AES-128 encryption with N one of NI8..NI1: whitening, nine rounds, last round.
#define AES128NI(N) \
	N(PXOR, 0); \
	N(AESENC, 16); \
	N(AESENC, 32); \
	N(AESENC, 48); \
	N(AESENC, 64); \
	N(AESENC, 80); \
	N(AESENC, 96); \
	N(AESENC, 112); \
	N(AESENC, 128); \
	N(AESENC, 144); \
	N(AESENCLAST, 160)

// VAES: the round keys are broadcast to all four lanes of Z16.. (LOADKEYS128: Z16..Z26 for AES-128,
// LOADKEYS256: Z16..Z30 for AES-256); V8(op, K) and V1(op, K) apply op with the key register K to the
// eight registers Z0..Z7 (32 blocks) or to Z0 (four blocks).
#define LOADKEYS128(R) \
	VBROADCASTI32X4 0(R), Z16; \
	VBROADCASTI32X4 16(R), Z17; \
	VBROADCASTI32X4 32(R), Z18; \
	VBROADCASTI32X4 48(R), Z19; \
	VBROADCASTI32X4 64(R), Z20; \
	VBROADCASTI32X4 80(R), Z21; \
	VBROADCASTI32X4 96(R), Z22; \
	VBROADCASTI32X4 112(R), Z23; \
	VBROADCASTI32X4 128(R), Z24; \
	VBROADCASTI32X4 144(R), Z25; \
	VBROADCASTI32X4 160(R), Z26
#define LOADKEYS256(R) \
	LOADKEYS128(R); \
	VBROADCASTI32X4 176(R), Z27; \
	VBROADCASTI32X4 192(R), Z28; \
	VBROADCASTI32X4 208(R), Z29; \
	VBROADCASTI32X4 224(R), Z30

#define V8(op, K) \
	op K, Z0, Z0; \
	op K, Z1, Z1; \
	op K, Z2, Z2; \
	op K, Z3, Z3; \
	op K, Z4, Z4; \
	op K, Z5, Z5; \
	op K, Z6, Z6; \
	op K, Z7, Z7
#define V1(op, K) \
	op K, Z0, Z0

// STORE8 writes Z0..Z7 (32 blocks) to 0(DI)..
#define STORE8 \
	VMOVDQU64 Z0, 0(DI); \
	VMOVDQU64 Z1, 64(DI); \
	VMOVDQU64 Z2, 128(DI); \
	VMOVDQU64 Z3, 192(DI); \
	VMOVDQU64 Z4, 256(DI); \
	VMOVDQU64 Z5, 320(DI); \
	VMOVDQU64 Z6, 384(DI); \
	VMOVDQU64 Z7, 448(DI)

// AES128V(N) and AES256V(N) are a whole AES-128 / AES-256 encryption with N one of V8, V1.
#define ROUNDS9V(N) \
	N(VAESENC, Z17); \
	N(VAESENC, Z18); \
	N(VAESENC, Z19); \
	N(VAESENC, Z20); \
	N(VAESENC, Z21); \
	N(VAESENC, Z22); \
	N(VAESENC, Z23); \
	N(VAESENC, Z24); \
	N(VAESENC, Z25)
#define AES128V(N) \
	N(VPXORQ, Z16); \
	ROUNDS9V(N); \
	N(VAESENCLAST, Z26)
#define AES256V(N) \
	N(VPXORQ, Z16); \
	ROUNDS9V(N); \
	N(VAESENC, Z26); \
	N(VAESENC, Z27); \
	N(VAESENC, Z28); \
	N(VAESENC, Z29); \
	N(VAESENCLAST, Z30)
