// Package tokenizer turns text into token ids and back for the model families
// hssee serves.
//
// Three formats are supported, all behind the [Tokenizer] interface:
//
//   - Hugging Face tokenizer.json with a BPE model ([LoadHF], [ParseHF]): the
//     SentencePiece-style flavour used by Llama exports (a "▁" prefix/space
//     normalizer, byte_fallback <0xNN> tokens, a Replace/ByteFallback/Fuse/Strip
//     decoder) and the GPT-2 byte-level flavour (ByteLevel pre-tokenizer and
//     decoder). Normalizers, pre-tokenizers and decoders are read from the
//     JSON and interpreted generically; unsupported components are reported
//     as errors instead of being silently ignored.
//   - The classic GPT-2 vocab.json + merges.txt pair ([LoadGPT2], [ParseGPT2]).
//   - llama2.c tokenizer.bin ([LoadLlama2c], [ParseLlama2c]), encoded with
//     llama2.c's greedy best-score pair merging.
//
// [Load] picks the right loader from a path.
//
// References:
//   - R. Sennrich, B. Haddow, A. Birch, "Neural Machine Translation of Rare
//     Words with Subword Units", ACL 2016 (byte-pair encoding: merges applied
//     by rank).
//   - A. Radford et al., "Language Models are Unsupervised Multitask
//     Learners", 2019 (GPT-2 byte-level BPE, its pre-tokenization regex and
//     byte-to-unicode table).
//   - T. Kudo, J. Richardson, "SentencePiece: A simple and language
//     independent subword tokenizer and detokenizer", EMNLP 2018 (the "▁"
//     meta-symbol, dummy prefix and byte fallback).
//   - A. Karpathy, llama2.c run.c (tokenizer.bin layout, encode/decode).
//
// Merging uses a doubly linked list of symbols and a binary heap of candidate
// pairs ordered by (priority, position), so encoding n symbols costs
// O(n log n) rather than the O(n^2) of rescanning after every merge, while
// producing exactly the same result as the rescanning reference algorithms.
//
// Tokenizers are immutable after loading and safe for concurrent use.
//
// Decoded text is returned as raw bytes: a byte token (<0xNN>, or a GPT-2
// byte-level symbol) contributes exactly its byte, so a multi-byte character
// split over several tokens is reassembled by concatenation and invalid
// sequences are not replaced by U+FFFD.
//
// Special (control) tokens are never parsed out of input text: a prompt that
// contains the literal string "</s>" is encoded as ordinary text. This keeps
// user input from injecting BOS/EOS or other control tokens. Non-special added
// tokens are matched in the input as Hugging Face does.
package tokenizer
