// Package fss implements function secret sharing for two parties over the ring Z_2^64:
//
//   - a distributed comparison function (DCF) for f_{α,β}(x) = β·1{x < α} on n-bit inputs, with a
//     vector payload β ∈ (Z_2^64)^P, following Boyle, Chandran, Gilboa, Gupta, Ishai, Kumaresan and
//     Kushwaha, "Function Secret Sharing for Mixed-Mode and Fixed-Point Secure Computation",
//     Eurocrypt 2021, Fig. 3 (Gen^<, Eval^<);
//   - a distributed point function (DPF) for f_{α,β}(x) = β·1{x = α}, following Boyle, Gilboa and
//     Ishai, "Function Secret Sharing: Improvements and Extensions", CCS 2016, Fig. 1, with evaluation of
//     whole windows [lo, lo+count) of the domain (used for lookup tables on masked inputs).
//
// The length-doubling PRG is fixed-key AES-128 in Matyas-Meyer-Oseas mode with a distinct tweak per
// output block, G_j(s) = AES_K(s ⊕ j) ⊕ s ⊕ j (Guo, Katz, Wang, Yu, "Efficient and Secure Multiparty
// Computation from Fixed-Key Block Ciphers", IEEE S&P 2020). crypto/aes uses AES-NI on amd64.
//
// Keys are stored in flat batches (one batch serves many elements) so that evaluation loops do not
// allocate; batch evaluation is parallel over elements across GOMAXPROCS.
//
// Warning: evaluation is not constant time in the public input (it is in the key's secrets only to the
// extent crypto/aes is). The inputs it branches on are the masked, public values of the protocol.
package fss
