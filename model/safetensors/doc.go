// Package safetensors reads and writes the safetensors checkpoint format
// (https://github.com/huggingface/safetensors, format description in its
// README):
//
//	8 bytes   little-endian uint64 N, the header length
//	N bytes   UTF-8 JSON object: for every tensor
//	          {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}
//	          plus an optional "__metadata__" object of string values;
//	          the object may be padded with trailing spaces
//	rest      the data buffer; offsets are relative to its start
//
// Sharded checkpoints (model.safetensors.index.json with a "weight_map" from
// tensor name to shard file) are read through [Dir].
//
// Reading never maps the file into memory: [Open] reads only the header, and
// [File.Float32] reads one tensor with ReadAt, converting F32, F16, BF16 and
// F64 to float32 on the fly, so a checkpoint's bytes are read once. Every
// header is validated before any tensor is read: header length against the
// file size, UTF-8, duplicate keys, known dtypes, non-negative shapes whose
// element count does not overflow, and data offsets that lie inside the data
// buffer and match dtype size times element count. Overlapping tensors are
// not rejected (they cannot make a read go out of bounds).
//
// [Write] produces F32 (or, per tensor, F16/BF16 with round-to-nearest-even)
// files with the header padded to a multiple of 8 bytes, as the reference
// implementation does.
package safetensors
