package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Tokenizer converts between text and token ids.
//
// Implementations are immutable and safe for concurrent use.
type Tokenizer interface {
	// Encode tokenizes text; if bos is true the BOS id is prepended (an error
	// if the tokenizer has no BOS token).
	Encode(text string, bos bool) ([]int, error)
	// Decode returns the text of ids. Special (control) tokens such as BOS
	// and EOS contribute nothing. Out-of-range ids are an error.
	Decode(ids []int) (string, error)
	// DecodeToken returns the text that id contributes when it follows prev
	// in a stream (llama2.c style): the leading space of the first piece is
	// dropped when prev is BOS or negative (start of the stream), and byte
	// tokens such as <0x0A> become their raw byte. For sequences that contain
	// no special tokens except a leading BOS, concatenating DecodeToken over
	// the sequence (starting with prev = -1) equals Decode.
	DecodeToken(prev, id int) (string, error)
	// VocabSize is one more than the largest token id.
	VocabSize() int
	// BOS is the beginning-of-sequence id, or -1 if there is none.
	BOS() int
	// EOS is the end-of-sequence id, or -1 if there is none.
	EOS() int
}

// Errors returned (wrapped) by the package.
var (
	// ErrFormat reports a malformed or unsupported tokenizer file.
	ErrFormat = errors.New("malformed tokenizer data")
	// ErrUnsupported reports a valid but unsupported tokenizer component.
	ErrUnsupported = errors.New("unsupported tokenizer component")
	// ErrTokenID reports a token id outside the vocabulary.
	ErrTokenID = errors.New("token id out of range")
	// ErrNoBOS reports an Encode with bos=true on a tokenizer without BOS.
	ErrNoBOS = errors.New("tokenizer has no BOS token")
	// ErrUnencodable reports text containing a character that the
	// vocabulary cannot represent (no byte fallback and no unk token).
	ErrUnencodable = errors.New("text not representable in vocabulary")
)

// maxFileSize bounds what the loaders read (a tokenizer file of over 1 GiB is
// not a tokenizer file).
const maxFileSize = 1 << 30

func readFile(op, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("%s: file of %d bytes exceeds limit: %w", op, st.Size(), ErrFormat)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return data, nil
}

// Load opens the tokenizer at path, choosing the format from it:
//   - a directory: its tokenizer.json (with tokenizer_config.json's BOS/EOS
//     when present), else vocab.json + merges.txt (GPT-2), else tokenizer.bin
//     (llama2.c);
//   - a file named vocab.json with a merges.txt beside it: GPT-2;
//   - a .json file: Hugging Face tokenizer.json;
//   - a .bin file: llama2.c;
//   - anything else: tokenizer.json if its first non-space byte is '{',
//     llama2.c otherwise.
func Load(path string) (Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: load: %w", err)
	}
	if st.IsDir() {
		for _, c := range []string{"tokenizer.json", "vocab.json", "tokenizer.bin"} {
			p := filepath.Join(path, c)
			if _, err := os.Stat(p); err == nil {
				return Load(p)
			}
		}
		return nil, fmt.Errorf("tokenizer: load: directory has no tokenizer.json, vocab.json or tokenizer.bin: %w", ErrFormat)
	}
	base := filepath.Base(path)
	if base == "vocab.json" {
		merges := filepath.Join(filepath.Dir(path), "merges.txt")
		if _, err := os.Stat(merges); err == nil {
			return LoadGPT2(path, merges)
		}
	}
	switch strings.ToLower(filepath.Ext(base)) {
	case ".json":
		return LoadHF(path)
	case ".bin":
		return LoadLlama2c(path)
	}
	data, err := readFile("tokenizer: load", path)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		tok, err := ParseHF(data)
		if err != nil {
			return nil, err
		}
		return tok, applyConfig(tok, path)
	}
	return ParseLlama2c(data)
}

// byteToken parses the SentencePiece byte piece "<0xHH>" (two hex digits,
// either case).
func byteToken(s string) (byte, bool) {
	if len(s) != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>' {
		return 0, false
	}
	hi, ok1 := hexVal(s[3])
	lo, ok2 := hexVal(s[4])
	if !ok1 || !ok2 {
		return 0, false
	}
	return hi<<4 | lo, true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// byteTokenName is the Hugging Face spelling of a byte token.
func byteTokenName(b byte) string {
	const hex = "0123456789ABCDEF"
	return string([]byte{'<', '0', 'x', hex[b>>4], hex[b&15], '>'})
}

// nextUnit returns the length of the next encoding unit of s: one valid
// UTF-8 encoded rune, or a single byte of an invalid sequence.
func nextUnit(s string) int {
	if s[0] < 0x80 {
		return 1
	}
	_, n := utf8.DecodeRuneInString(s)
	return n
}

// tokenizerConfig is the part of tokenizer_config.json the package reads.
type tokenizerConfig struct {
	BOS json.RawMessage `json:"bos_token"`
	EOS json.RawMessage `json:"eos_token"`
}

// configToken reads a token given either as a string or as
// {"content": "..."}; ok is false for null or absent values.
func configToken(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, s != ""
	}
	var o struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &o); err == nil && o.Content != "" {
		return o.Content, true
	}
	return "", false
}

// applyConfig sets BOS/EOS of a Hugging Face tokenizer from the
// tokenizer_config.json next to path, when there is one.
func applyConfig(tok Tokenizer, path string) error {
	b, ok := tok.(*BPE)
	if !ok {
		return nil
	}
	cfgPath := filepath.Join(filepath.Dir(path), "tokenizer_config.json")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("tokenizer: config: %w", err)
	}
	var cfg tokenizerConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("tokenizer: config: %w: %w", ErrFormat, err)
	}
	if s, ok := configToken(cfg.BOS); ok {
		id, found := b.TokenID(s)
		if !found {
			return fmt.Errorf("tokenizer: config: bos_token not in vocabulary: %w", ErrFormat)
		}
		b.bos = id
	}
	if s, ok := configToken(cfg.EOS); ok {
		id, found := b.TokenID(s)
		if !found {
			return fmt.Errorf("tokenizer: config: eos_token not in vocabulary: %w", ErrFormat)
		}
		b.eos = id
	}
	return nil
}
