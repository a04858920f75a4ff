// Package llama2c reads and writes the legacy (version 0) checkpoint format
// of Andrej Karpathy's llama2.c (run.c, export.py legacy_export):
//
//	header   7 little-endian int32: dim, hidden_dim, n_layers, n_heads,
//	         n_kv_heads, vocab_size, seq_len; a negative vocab_size means
//	         the classifier (wcls) is stored separately (untied)
//	float32  token_embedding_table [vocab][dim]
//	         rms_att_weight [layer][dim]
//	         wq [layer][dim][dim], wk [layer][kv_dim][dim],
//	         wv [layer][kv_dim][dim], wo [layer][dim][dim]
//	         rms_ffn_weight [layer][dim]
//	         w1 [layer][hidden][dim], w2 [layer][dim][hidden],
//	         w3 [layer][hidden][dim]
//	         rms_final_weight [dim]
//	         freq_cis_real [seq][head_dim/2], freq_cis_imag (ignored on read)
//	         wcls [vocab][dim] when untied
//
// The format stores no epsilon, RoPE base or special tokens; Read returns
// the values run.c hard-codes: RMSNorm eps 1e-5, RoPE theta 10000 with the
// interleaved pairing (RopeInterleaved: dimension 2i with 2i+1), BOS 1,
// EOS 2. Write refuses models it cannot represent (GPT-2, biases, a RoPE
// theta other than 10000); a model's NormEps, BOS and EOS are not stored.
// For a RopeHalf model (Hugging Face layout) Write permutes each head's q/k
// rows to interleaved order, the inverse of transformers'
// convert_llama_weights_to_hf.py permute(), as llama2.c's export.py does.
//
// The reader validates the header (all sizes positive and within
// model.Config limits, no overflow in the implied size) and requires the
// byte count to match it exactly before reading any tensor.
package llama2c
