// Package hss implements the two-party homomorphic-secret-sharing foundation of hssee: the ring Z_2^64
// (plain uint64 arithmetic), fixed-point encoding, an AES-CTR PRG for seed-compressed shares, additive
// sharing, a counting Transport (in-memory Pipe and a simulated WAN link), the Party that evaluates gates,
// and the Material queue of dealer-generated correlated randomness consumed by those gates.
//
// Gates come in pairs: GenX (run by the dealer, returns one key per party) and (*Party).X (run by each
// party on its share, vectorised over whole tensors). Implemented here:
//
//   - Trunc: faithful one-round truncation with a dealer mask and an MSB wrap correction
//     (see trunc.go for the construction and its error bound);
//   - Linear: public fixed-point weights times a shared activation (local), then Trunc;
//   - Mul, Square, MatMul: Beaver products (Beaver, CRYPTO'91) with elementwise, square and matrix
//     triples (Mohassel–Zhang, SecureML, S&P 2017), and fixed-point variants that fold in Trunc;
//     RowMul, a row-broadcast product (rowmul.go), and RowMul3, a three-factor one in one round
//     (rowmul3.go);
//   - DReLU, ReLU (DCF, Boyle et al., Eurocrypt 2021), GeLU, SiLU, Exp (piecewise-cubic DPF
//     lookups on masked, reduced-width inputs with a (1, ρ, ρ², ρ³) payload, then one truncation,
//     SIGMA, PETS 2024; GeLU and SiLU add the sign product x·s from the same lookup: 2 rounds,
//     Exp 2): nonlinear.go, nonlinear_gates.go;
//   - Reciprocal and Rsqrt: octave lookups (DCF octave comparisons, a cubic mantissa lookup and
//     its truncation, one Beaver product), 4 rounds, relative error ≤ 2^-9 on [2^-6, 2^12) and
//     [2^-8, 2^14): octave.go;
//   - Max over rows (ReLU tree), causal Softmax (the reciprocal's octave factor folded into
//     RowMul3), LayerNorm and RMSNorm (the rsqrt reads the untruncated sum of squares, its
//     octave factor folded into RowMul3): rows.go.
//
// Every key kind is registered with RegisterKey and serialisable; composite gates carry one key
// whose parts are the sub-gates' keys in the order they are consumed.
//
// Security model: semi-honest, two non-colluding parties and a trusted dealer. Every value a party
// receives online is a ring element masked by dealer randomness that is uniform in Z_2^ℓ for the opened
// width ℓ, so a party's view is independent of the secret (ChiSquareUniform helps test this).
//
// Warning: nothing here is constant time with respect to public values; secret-dependent branches are
// avoided in the gates, but no side-channel hardening beyond that is claimed.
package hss
