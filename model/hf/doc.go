// Package hf loads and saves Hugging Face transformers checkpoints: a
// directory with config.json and model.safetensors (or a sharded
// model.safetensors.index.json), for the "llama" (LlamaForCausalLM) and
// "gpt2" (GPT2LMHeadModel / GPT2Model) model types.
//
// Layouts. Weights become the [out][in] layout of package model. LLaMA
// nn.Linear weights are already [out][in]. GPT-2 uses Conv1D, stored
// [in][out]; its fused c_attn is split into q, k, v and every Conv1D weight
// is transposed on load and back on save.
//
// RoPE. Hugging Face LLaMA checkpoints store the q and k projections with
// each head's rows permuted for rotate_half pairing (dimension i with
// i+headDim/2); see permute() in transformers'
// models/llama/convert_llama_weights_to_hf.py. Load therefore always
// returns RopeStyle = RopeHalf with the rows as stored. Save writes q/k in
// that layout: as-is for a RopeHalf model, and for a RopeInterleaved model
// (llama2.c/Meta pairing 2i with 2i+1) after permuting each head's rows
// from interleaved to half order, which leaves the attention scores
// unchanged. A model saved as interleaved therefore loads back as RopeHalf
// with permuted q/k rows: the same function, a different layout.
//
// Tied embeddings. When tie_word_embeddings is true, or lm_head.weight is
// absent, LMHead aliases Embed. A checkpoint that stores only lm_head.weight
// (PyTorch's shared-tensor de-duplication, recorded in the safetensors
// metadata as "model.embed_tokens.weight": "lm_head.weight") loads with
// Embed = LMHead. Save writes lm_head.weight only for untied models.
//
// Strictness. Unsupported features (rope_scaling, other activations,
// head_dim != hidden_size/heads, GPT-2 attention variants) are errors;
// tensors the loader does not use are errors, except known non-parameter
// buffers (LLaMA rotary_emb.inv_freq, GPT-2 attn.bias/attn.masked_bias).
// GPT-2 with activation_function "gelu" (exact erf GeLU) is accepted but the
// plain forward pass uses the tanh approximation (|difference| < 1e-3).
package hf
