// Package ee implements Equivariant Encryption (EE) of transformer models:
// a secret, key-derived rewrite F' of a model F such that
//
//	k.DecryptLogits(F'(k.EncryptIDs(p))) = F(p)
//
// up to float32 rounding. A server that runs F' on the plain engine sees
// only encrypted token ids, transformed activations and logits in a
// permuted vocabulary order, and F' runs at plaintext speed.
//
// # Keys
//
// A Key is a 32-byte master secret, a Mode and the fingerprint
// (model.Fingerprint) and vocabulary size of the base model it is bound to.
// Every component is derived from the secret with cSHAKE256 (FIPS 202 /
// SP 800-185, Go's crypto/sha3) under a per-component customization string
// ("hssee/ee/v1/vocab-perm", "hssee/ee/v1/resid-rotate", ...) and the
// component's indices (layer, head, sizes), so derivation is deterministic
// and any component can be recomputed alone; testdata/components.kat pins it.
// A fresh key is bound by its first successful Transform; the vocabulary
// size recorded then is what EncryptIDs, DecryptIDs and DecryptLogits use.
// Keys serialise to a 112-byte versioned file (see MarshalBinary) and never
// print their secret (String, Format, GoString, LogValue show the mode and a
// short key id only).
//
// # Modes
//
// ModePerm is the scheme Nesa documents for EE (Nesa, "Equivariant
// Encryption (EE)", https://docs.nesa.ai/nesa/major-innovations/privacy-and-security/equivariant-encryption-ee,
// and github.com/nesaorg/nesa): a
// vocabulary permutation, one permutation of the residual stream and a
// permutation of each layer's FFN hidden units. ModeRotate (the default)
// replaces the residual permutation by a Haar-random orthogonal matrix, with
// norm gains folded into the next linear layer as in SliceGPT (Ashkboos et
// al., ICLR 2024) and QuaRot (Ashkboos et al., NeurIPS 2024); for LayerNorm
// models the matrix fixes the all-ones direction so that centring commutes.
// It adds per-layer head permutations within GQA groups, a rotation and
// scale per RoPE pair on Q (inverse scale on K), a per-head orthogonal mix
// on V undone in Wo, and scaled FFN permutations (see Transform).
//
// # Security (read this)
//
// EE is obfuscation with a useful property, not encryption in the
// cryptographic sense; the project uses it as defence in depth under HSS.
//
//   - Token ids: with a fixed key the vocabulary map is a simple
//     substitution cipher. A server that sees enough encrypted prompts or
//     outputs recovers it by frequency analysis (Zipf statistics of the
//     language, n-gram structure), with no access to weights needed.
//   - Public base weights: if the base model is public, the EE weights are
//     matched against it. Embedding rows are matched up to the residual
//     transform by comparing Gram matrices or norms (invariant under both a
//     permutation and an orthogonal Q), which recovers π, then Q by
//     orthogonal Procrustes, then every per-layer component layer by layer.
//     perm mode is easier still (sorted-value matching of rows). Keep the
//     base weights private if EE is to mean anything.
//   - Hidden states: permuting hidden states does not hide the prompt from
//     an attacker who knows the base model; Thomas et al., "An Attack to
//     Break Permutation-Based Private Third-Party Inference Schemes for
//     LLMs" (ICML 2025, arXiv:2505.18332) reconstruct prompts nearly
//     perfectly from permuted hidden states of open models. The rotate mode
//     removes the coordinate-wise statistics such attacks start from, but
//     has no security proof either.
//   - Logits are returned in permuted order; their multiset (and so the
//     entropy and top probabilities) is visible to the server.
//
// What protects inputs in this project is HSS (two non-colluding servers
// see only uniformly random shares); EE limits what colluding servers learn
// when the weights are private. The rotate mode also spreads outlier
// features across the residual stream, which helps fixed-point accuracy.
package ee
