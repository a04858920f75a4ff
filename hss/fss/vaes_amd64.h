// Shared by the VAES kernels of this package (aes_vaes_amd64.s, dcf_avx_amd64.s).

// LOADKEYS broadcasts the 11 AES-128 round keys at R to all four lanes of Z16..Z26.
#define LOADKEYS(R) \
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

// ROUNDS9(R) applies rounds 1..9 with the keys in Z17..Z25, R(K) being one round on some registers.
#define ROUNDS9(R) \
	R(Z17); R(Z18); R(Z19); R(Z20); R(Z21); R(Z22); R(Z23); R(Z24); R(Z25)
