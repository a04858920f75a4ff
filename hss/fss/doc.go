// Package fss implements function secret sharing for two parties over the ring Z_2^64:
//
//   - a distributed comparison function (DCF) for f_{α,β}(x) = β·1{x < α} on n-bit inputs, with a
//     vector payload β ∈ (Z_2^64)^P, following Boyle, Chandran, Gilboa, Gupta, Ishai, Kumaresan and
//     Kushwaha, "Function Secret Sharing for Mixed-Mode and Fixed-Point Secure Computation",
//     Eurocrypt 2021, Fig. 3 (Gen^<, Eval^<);
//   - a distributed point function (DPF) for f_{α,β}(x) = β·1{x = α}, following Boyle, Gilboa and
//     Ishai, "Function Secret Sharing: Improvements and Extensions", CCS 2016, Fig. 1, with evaluation of
//     whole windows [lo, lo+count) of the domain (used for lookup tables on masked inputs), and
//     optional early termination (§3.2.1 there: the last Leaf levels collapse into one leaf seed
//     whose hash gives 2^Leaf outputs) and optionally its first Top levels expanded in the key
//     (GenDPFTopSeeded: party 0's level-Top nodes drawn from one 16-byte seed per batch, AES-128
//     under that seed on counter blocks, party 1's equal to them off the path to α);
//     windows of polynomial lookups (payload (1, ρ, ρ², ρ³)) are evaluated a batch of elements at a
//     time with their inner products fused (EvalWindowPolyBatch).
//
// The length-doubling PRG is fixed-key AES-128 in Matyas-Meyer-Oseas mode with a distinct tweak per
// output block, G_j(s) = AES_K(s ⊕ j) ⊕ s ⊕ j (Guo, Katz, Wang, Yu, "Efficient and Secure Multiparty
// Computation from Fixed-Key Block Ciphers", IEEE S&P 2020). Window expansion and lockstep DCF
// evaluation (Worker.EvalMulti) hash whole tree levels at once through mmoBlocks, over the one AES
// layer under hss and hss/fss, package hss/internal/aesbatch: an AVX-512 VAES loop (its
// mmo_vaes_amd64.s, ≈ 0.7 ns per block) or an AES-NI one with eight blocks in flight (its
// mmo_amd64.s, ≈ 1.4 ns; a single crypto/aes call is ≈ 25 ns), crypto/aes elsewhere or with the
// purego build tag; they are tested against each other and against FIPS-197 (aesbatch's
// ctr_vaes_amd64.s is the AES-256-CTR of hss's PRG). With AVX-512, payload-2 DCF batches are walked
// eight paths per ZMM pass (dcf_avx_amd64.s) and polynomial windows hash their leaves from seeds in
// registers (aes_vaes_amd64.s, here) and take their inner products with VPMULLQ (polydot_amd64.s),
// each pinned bit for bit to the portable path by the tests.
//
// Keys are stored in flat batches (one batch serves many elements) so that evaluation loops do not
// allocate; batch evaluation is parallel over elements across GOMAXPROCS.
//
// Warning: evaluation is not constant time in the public input (it is in the key's secrets only to the
// extent crypto/aes is; the key schedule of a Seeded batch's AES key, like that of the fixed key, is
// computed with table lookups). The inputs it branches on are the masked, public values of the
// protocol.
package fss
