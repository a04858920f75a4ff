package tokenizer

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// Llama2c is the tokenizer of Karpathy's llama2.c (tokenizer.bin): a
// SentencePiece vocabulary exported with "▁" written as a plain space, one
// score per piece, <0xNN> byte pieces at ids 3..258, BOS=1 and EOS=2.
type Llama2c struct {
	pieces       []string
	scores       []float32
	vocab        map[string]int32 // piece -> lowest id with that piece
	maxTokenLen  int
	byteFallback bool // ids 3..258 are <0x00>..<0xFF>
}

// Llama2c token ids fixed by the format.
const (
	llamaBOS        = 1
	llamaEOS        = 2
	llamaByteOffset = 3
	// llama2.c only merges pairs scoring above this.
	llamaMinScore = -1e10
	// Bounds on untrusted tokenizer.bin headers.
	maxLlamaTokenLen = 1 << 16
)

// LoadLlama2c reads a llama2.c tokenizer.bin.
func LoadLlama2c(path string) (Tokenizer, error) {
	data, err := readFile("tokenizer: llama2c", path)
	if err != nil {
		return nil, err
	}
	return ParseLlama2c(data)
}

// ParseLlama2c parses a llama2.c tokenizer.bin: little-endian int32
// max_token_length, then until the end of the data, per token: float32
// score, int32 length, that many bytes. The vocabulary size is the number of
// entries; the data must end exactly after the last entry.
func ParseLlama2c(data []byte) (*Llama2c, error) {
	if len(data) < 4 {
		return nil, fmt.Errorf("tokenizer: llama2c: header: truncated: %w", ErrFormat)
	}
	mtl := int32(binary.LittleEndian.Uint32(data))
	if mtl <= 0 || mtl > maxLlamaTokenLen {
		return nil, fmt.Errorf("tokenizer: llama2c: header: max_token_length %d out of range: %w", mtl, ErrFormat)
	}
	t := &Llama2c{maxTokenLen: int(mtl), vocab: make(map[string]int32)}
	for off := 4; off < len(data); {
		id := len(t.pieces)
		if len(data)-off < 8 {
			return nil, fmt.Errorf("tokenizer: llama2c: token %d: truncated: %w", id, ErrFormat)
		}
		score := math.Float32frombits(binary.LittleEndian.Uint32(data[off:]))
		n := int32(binary.LittleEndian.Uint32(data[off+4:]))
		off += 8
		if math.IsNaN(float64(score)) {
			return nil, fmt.Errorf("tokenizer: llama2c: token %d: score is NaN: %w", id, ErrFormat)
		}
		if n < 0 || n > mtl {
			return nil, fmt.Errorf("tokenizer: llama2c: token %d: length %d outside [0, %d]: %w", id, n, mtl, ErrFormat)
		}
		if len(data)-off < int(n) {
			return nil, fmt.Errorf("tokenizer: llama2c: token %d: truncated: %w", id, ErrFormat)
		}
		p := string(data[off : off+int(n)])
		off += int(n)
		t.pieces = append(t.pieces, p)
		t.scores = append(t.scores, score)
		if _, dup := t.vocab[p]; !dup {
			t.vocab[p] = int32(id)
		}
	}
	if len(t.pieces) <= llamaEOS {
		return nil, fmt.Errorf("tokenizer: llama2c: %d tokens, need at least 3 (unk, BOS, EOS): %w", len(t.pieces), ErrFormat)
	}
	t.byteFallback = len(t.pieces) >= llamaByteOffset+256
	for b := 0; t.byteFallback && b < 256; b++ {
		v, ok := byteToken(t.pieces[llamaByteOffset+b])
		t.byteFallback = ok && int(v) == b
	}
	return t, nil
}

// VocabSize implements [Tokenizer].
func (t *Llama2c) VocabSize() int { return len(t.pieces) }

// BOS implements [Tokenizer].
func (t *Llama2c) BOS() int { return llamaBOS }

// EOS implements [Tokenizer].
func (t *Llama2c) EOS() int { return llamaEOS }

// Piece returns the raw piece of id as stored in the file.
func (t *Llama2c) Piece(id int) (string, bool) {
	if id < 0 || id >= len(t.pieces) {
		return "", false
	}
	return t.pieces[id], true
}

// Score returns the merge score of id.
func (t *Llama2c) Score(id int) (float32, bool) {
	if id < 0 || id >= len(t.scores) {
		return 0, false
	}
	return t.scores[id], true
}

// TokenID returns the (lowest) id whose piece is s.
func (t *Llama2c) TokenID(s string) (int, bool) {
	id, ok := t.vocab[s]
	return int(id), ok
}

// Encode implements [Tokenizer] with llama2.c's algorithm (run.c encode):
// a dummy " " prefix for non-empty text, one symbol per UTF-8 character
// (falling back to byte tokens id = byte+3), then merging the adjacent pair
// whose concatenation has the highest score, first occurrence on ties, until
// no pair is in the vocabulary. Like run.c, a character is its lead byte
// plus up to three following continuation bytes (no further validation).
func (t *Llama2c) Encode(text string, bos bool) ([]int, error) {
	syms := make([]int32, 0, len(text)+2)
	if text != "" {
		id, ok := t.vocab[" "]
		if !ok {
			return nil, fmt.Errorf("tokenizer: encode: vocabulary has no \" \" piece: %w", ErrUnencodable)
		}
		syms = append(syms, id)
	}
	for i := 0; i < len(text); {
		j := i + 1
		for j < len(text) && j-i < 4 && text[j]&0xC0 == 0x80 {
			j++
		}
		if id, ok := t.vocab[text[i:j]]; ok {
			syms = append(syms, id)
		} else {
			if !t.byteFallback {
				return nil, fmt.Errorf("tokenizer: encode: vocabulary has no byte tokens: %w", ErrUnencodable)
			}
			for k := i; k < j; k++ {
				syms = append(syms, int32(text[k])+llamaByteOffset)
			}
		}
		i = j
	}
	var buf []byte
	syms = mergeSymbols(syms, func(a, b int32) (float64, int32, bool) {
		buf = append(append(buf[:0], t.pieces[a]...), t.pieces[b]...)
		id, ok := t.vocab[string(buf)]
		if !ok || t.scores[id] <= llamaMinScore {
			return 0, 0, false
		}
		return -float64(t.scores[id]), id, true
	})
	out := make([]int, 0, len(syms)+1)
	if bos {
		out = append(out, llamaBOS)
	}
	for _, id := range syms {
		out = append(out, int(id))
	}
	return out, nil
}

// DecodeToken implements [Tokenizer] as llama2.c's decode: BOS and EOS give
// "", a leading space is dropped after BOS (and at the start of a stream,
// prev < 0), and <0xNN> pieces become the raw byte.
func (t *Llama2c) DecodeToken(prev, id int) (string, error) {
	if id < 0 || id >= len(t.pieces) {
		return "", fmt.Errorf("tokenizer: decode token: %w", ErrTokenID)
	}
	if id == llamaBOS || id == llamaEOS {
		return "", nil
	}
	p := t.pieces[id]
	if (prev == llamaBOS || prev < 0) && strings.HasPrefix(p, " ") {
		p = p[1:]
	}
	if b, ok := byteToken(p); ok {
		return string([]byte{b}), nil
	}
	return p, nil
}

// Decode implements [Tokenizer]: the concatenation of DecodeToken over ids,
// starting at the beginning of a stream.
func (t *Llama2c) Decode(ids []int) (string, error) {
	var sb strings.Builder
	prev := -1
	for i, id := range ids {
		s, err := t.DecodeToken(prev, id)
		if err != nil {
			// The position, not the id: ids may be (encrypted) user data.
			return "", fmt.Errorf("tokenizer: decode: position %d: %w", i, ErrTokenID)
		}
		sb.WriteString(s)
		prev = id
	}
	return sb.String(), nil
}
