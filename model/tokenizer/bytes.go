package tokenizer

import "fmt"

// Bytes is a byte-level tokenizer for models without a vocabulary file (the
// random-weight presets): id 0 is unknown, 1 BOS, 2 EOS, and 3+b is byte b
// (llama2.c's byte-fallback layout), so VocabSize is 259. Text round-trips
// exactly; it needs a model vocabulary of at least 259.
type Bytes struct{}

func (Bytes) Encode(text string, bos bool) ([]int, error) {
	ids := make([]int, 0, len(text)+1)
	if bos {
		ids = append(ids, 1)
	}
	for _, b := range []byte(text) {
		ids = append(ids, int(b)+3)
	}
	return ids, nil
}

func (t Bytes) Decode(ids []int) (string, error) {
	out := make([]byte, 0, len(ids))
	for i, id := range ids {
		switch {
		case id < 0 || id >= 259:
			return "", fmt.Errorf("tokenizer: bytes: decode: id at index %d: %w", i, ErrTokenID)
		case id >= 3:
			out = append(out, byte(id-3))
		}
	}
	return string(out), nil
}

func (t Bytes) DecodeToken(_, id int) (string, error) {
	return t.Decode([]int{id})
}

func (Bytes) VocabSize() int { return 259 }
func (Bytes) BOS() int       { return 1 }
func (Bytes) EOS() int       { return 2 }
