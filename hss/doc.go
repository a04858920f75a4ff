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
//     triples (Mohassel–Zhang, SecureML, S&P 2017), and fixed-point variants that fold in Trunc
//     (mul.go, square.go, matmul.go, mulfx.go, batch.go); RowMul, a row-broadcast product
//     (rowmul.go), and RowMul3, a three-factor one in one round (rowmul3.go);
//   - DReLU, ReLU (DCF, Boyle et al., Eurocrypt 2021), GeLU, SiLU, Exp (piecewise-cubic DPF
//     lookups on masked, reduced-width inputs with a (1, ρ, ρ², ρ³) payload, then one truncation,
//     SIGMA, PETS 2024; GeLU and SiLU add the sign product x·s from the same lookup: 2 rounds,
//     Exp 2): relu.go, act.go, exp.go, on the lookup gate of lut.go and the cubic tables of poly.go;
//   - Reciprocal and Rsqrt: octave lookups (DCF octave comparisons, a cubic mantissa lookup and
//     its truncation, one Beaver product), 4 rounds, relative error ≤ 2^-9 on [2^-6, 2^12) and
//     [2^-8, 2^14): octave.go;
//   - Max over rows (ReLU tree, or counting for a decode step), causal Softmax (the reciprocal's
//     octave factor folded into RowMul3, exp's truncation riding on its comparisons), LayerNorm and
//     RMSNorm (the rsqrt reads the untruncated sum of squares, its octave factor folded into
//     RowMul3; the first round truncates the mean or a pending residual with the squares):
//     max.go, maxcount.go, softmax.go, norm.go, truncsq.go;
//   - the attention's fused steps: the q, k, v truncation as the scores' opening (cachemmt.go) and
//     the softmax with its product with the values, normalised after it (smvalues.go).
//
// Every key kind is registered with RegisterKey and serialisable; composite gates carry one key
// whose parts are the sub-gates' keys in the order they are consumed.
//
// # Files
//
// One gate, one file: each gate file holds the gate's key type with its codec and the init that
// registers its kind, its Gen, its Eval and its Cost (and CostStages) function.
//
//   - trunc.go: TruncKey; GenTrunc, Trunc, CostTrunc.
//   - linear.go: local products with public weights (MatMulPublic, MatMulPublicW32, EncodeW32);
//     GenLinear, Linear, LinearW32, LinearW32Raw, LinearsW32, CostLinear.
//   - mul.go (with the Beaver products' construction), square.go, matmul.go: MulKey, SquareKey,
//     MatMulKey; GenMul, Mul, CostMul; GenSquare, Square; GenMatMul, MatMul, MatMulT.
//   - mulfx.go: FxKey (a product key and its TruncKey); MulFixed, SquareFixed, MatMulFixed,
//     MatMulTFixed and their Gen functions, CostMulFixed, CostMulFixedStages.
//   - batch.go: MatMulBatch (composite "matmulbatch"), GenMatMulBatch, CostMatMulBatch.
//   - cachemm.go: CacheKey, MaskedCache, DealerCache; GenCacheMatMul, CacheMatMul,
//     CostCacheMatMul, CostCacheMatMulStages.
//   - rowmul.go, rowmul3.go: RowMulKey, RowMul3Key; GenRowMul, RowMul; GenRowMul3, RowMul3.
//   - lut.go: the masked-input lookup gate every nonlinear gate is built from: lutSpec, lutKey
//     (registered with registerLUT), genLUT, evalLUT, costLUT.
//   - poly.go: the cubic tables of the lookups (polyTables, polySpec) and the polynomial lookup
//     gate (a lookup, then the truncation of its polynomial term: genPolyGate, evalPolyGate and
//     evalPolyGateSign, which the activations use, polyStages).
//   - relu.go: GenDReLU, DReLU, GenReLU, ReLU (sign lookups, no table).
//   - act.go: GenGeLU, GeLU, GenSiLU, SiLU, CostAct, CostActStages.
//   - actmul.go: TruncMulKey; GenSiLUMul, SiLUMul, CostSiLUMulStages: SwiGLU's activation and product
//     in two rounds (SiLU's lookup, then its truncation and the Beaver product with u in one opening).
//   - truncact.go: TruncActKey; GenGeLURaw, GeLURaw, GenSiLUMulRaw, SiLUMulRaw and their Cost*Stages:
//     a linear layer's truncation (by Frac, or by NormRawFrac for a layer of NormRaw's output) and the
//     activation's lookup in one round (the lookup's mask is R); the activation's sign read off the
//     lookup's DPF (fss.EvalLowLessBatch) and opened masked in the second round (pendingSign).
//   - truncprod.go: TruncProdKey; SiLUMulRaw's second round: SiLU's truncation, the sign's opening
//     and the product with u, local from masked forms and the dealer's mask products (truncProd).
//   - exp.go: GenExp, Exp, CostExp.
//   - octave.go: the octave lookups; GenReciprocal, Reciprocal, GenRsqrt, Rsqrt, and the octave
//     parts the norms and softmax compose (octIndex, octLORaw).
//   - trowmul3.go: TruncRowMul3Key; the mantissa's truncation and the row product x·L·O in one
//     round, and the octave lookup composed with it (genOctMul3, evalOctMul3, octMul3Part).
//   - trowmul3x.go: TruncRowMul3XKey; truncRowMul3 whose x is a truncation too (its opening is the
//     Beaver opening: SoftmaxValues' e·V, ScaleRows' projections).
//   - normscale.go: GenNormScale, NormScale (a norm up to its row factor), GenScaleRows, ScaleRows
//     (the factor times its consumers' outputs, with their truncation), their costs, ScaledFrac.
//   - max.go: GenMax, Max, the ragged max trees softmax uses (maxRows), CostMax.
//   - maxcount.go: the counting row max of the softmax's decode steps (genCountMax, countMax,
//     costCountMax: a histogram from one DPF window per score, one DPF zero test per threshold).
//   - hss/fss/window_sum.go (package fss): the batched window sums and point evaluations countMax
//     runs on (EvalWindowSumBatch, EvalPointBatch).
//   - softmax.go: GenSoftmax, Softmax, GenSoftmaxHeads, SoftmaxHeads, CostSoftmaxHeads,
//     CostSoftmaxHeadsStages.
//   - cachemmt.go: CacheTKey; GenCacheMatMulTrunc, CacheMatMulTrunc, CostCacheMatMulTruncStages,
//     ScoreBits: the attention's q, k, v truncation as the scores' Beaver opening (one round).
//   - ride.go: rider, Party.riding: one gate's opening carried in another gate's message.
//   - smvalues.go: GenSoftmaxValues, SoftmaxValues, CostSoftmaxValuesStages: the attention's softmax
//     and its product with the value caches, normalised after the product (riders on the reciprocal).
//   - truncsq.go: TruncSqKey; a truncation and the square of x ± Trunc(t) in one round (the norms'
//     first round: LayerNorm's mean, or RMSNormRes's pending residual).
//   - spline.go: SplineKey; the octave spline: a power function of one value per row in one round
//     (per-octave DCF keys with the octave's truncation in the payload, quadratic pieces), the norms'
//     rsqrt for one-row calls.
//   - norm.go: GenLayerNorm, LayerNorm, GenRMSNorm, RMSNorm, GenRMSNormRes, RMSNormRes (RMSNorm of
//     x + Trunc(t), the residual's truncation in the squares' round), GenNormRaw, NormRaw (the
//     norms without gain and output truncation, for a linear layer with the gain folded in:
//     NormRawFrac, NormRawGain), CostNorm, CostNormStages, CostRMSNormResStages, CostNormRawStages.
//
// The core the gates share:
//
//   - material.go: Key, MarshalKey, Consumable, Material (the key queue and the streaming feed),
//     RegisterKey, NewKey, KeyKinds.
//   - seq.go: seqKey, the composite key of a gate made of sub-gates (registerSeq names the kinds
//     of its parts), and (*Party).sub and finish, which run the sub-gates on its parts.
//   - keys.go: helpers of the key types (MaxKeyLen, length and shape checks, seed expansion, the
//     seed-plus-corrections vector keys: vecKey, the body of MulKey and SquareKey, and their codec).
//   - cost.go: Cost and Stage, and the helpers that compose them (keyCost, open, seqStages).
//   - params.go: Params, what the dealer and both parties share (Frac and Width, validated once:
//     DefaultParams, NewParams, WithFrac).
//   - codec.go (Enc, Dec), frame.go (the key frame stream), pack.go (bit packing), party.go
//     (Party, openings and exchanges), run.go (RunPair, RunPairOver), transport.go (Transport,
//     Pipe, WithLink), share.go (Share, Reconstruct), local.go (Add, Sub, AddPublic, ScalePublic),
//     fixed.go (Fixed), prg*.go (the PRG).
//
// Harnesses for tests and experiments live in package hss/hsstest (Recorder, ChiSquareUniform, the
// NonlinearGates catalog); the tests that use them are external (package hss_test: view_test.go,
// golden_elem_test.go, with export_test.go giving them the internals they need).
//
// # Adding a gate
//
// A new gate X is one file, x.go, holding: its key type (Kind, Len, Size, PartyID, MarshalBinary,
// UnmarshalBinary) and an init that registers its kind (RegisterKey for a key type of its own,
// registerLUT for a lookup key, registerSeq with the kinds of its parts for a composite seqKey);
// GenX, run by the dealer; (*Party).X, run by each party, which takes its key with takeKey (or
// p.sub for a composite); and CostX (with CostXStages for a composite), which mirrors both with the
// helpers of cost.go and is checked against a real run in TestCostsExact (cost_test.go). Package
// secure uses a gate through its three backends: secure.Party calls (*Party).X and secure.Dealer
// pushes GenX's keys (secure/backend.go), and secure.Counter counts CostXStages
// (secure/count.go), each under the Op the gate belongs to.
//
// Security model: semi-honest, two non-colluding parties and a trusted dealer. Every value a party
// receives online is a ring element masked by dealer randomness that is uniform in Z_2^ℓ for the opened
// width ℓ, so a party's view is independent of the secret (hsstest.ChiSquareUniform helps test this).
//
// Warning: nothing here is constant time with respect to public values; secret-dependent branches are
// avoided in the gates, but no side-channel hardening beyond that is claimed.
package hss
