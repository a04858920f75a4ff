package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// byteToRune and runeToByte are GPT-2's bytes_to_unicode table (Radford et
// al. 2019, encoder.py): printable Latin-1 bytes map to themselves, the other
// 68 bytes to U+0100 onwards, so every byte string becomes printable text.
var (
	byteToRune [256]rune
	runeToByte = make(map[rune]byte, 256)
)

func init() {
	n := 0
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = rune(256 + n)
			n++
		}
		runeToByte[byteToRune[b]] = byte(b)
	}
}

// byteLevelEncode maps every byte of s to its byte-level symbol.
func byteLevelEncode(s string) string {
	var sb strings.Builder
	sb.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		sb.WriteRune(byteToRune[s[i]])
	}
	return sb.String()
}

// byteLevelDecode maps byte-level symbols back to bytes; other characters
// pass through unchanged.
func byteLevelDecode(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for _, r := range s {
		if b, ok := runeToByte[r]; ok {
			sb.WriteByte(b)
		} else {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func byteLevelPreTokenizer(addPrefix, useRegex bool) preTokenizer {
	return func(words []string, _ bool) []string {
		var out []string
		for _, w := range words {
			if addPrefix && !strings.HasPrefix(w, " ") {
				w = " " + w
			}
			parts := []string{w}
			if useRegex {
				parts = gpt2Split(w)
			}
			for _, p := range parts {
				out = append(out, byteLevelEncode(p))
			}
		}
		return out
	}
}

// runeAt decodes the character at s[i:]; an invalid byte counts as a
// one-byte character that is neither space, letter nor number.
func runeAt(s string, i int) (rune, int) {
	if s[i] < utf8.RuneSelf {
		return rune(s[i]), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

type charClass int

const (
	clsOther charClass = iota
	clsSpace
	clsLetter
	clsNumber
)

func classOf(s string, i int) (charClass, int) {
	r, n := runeAt(s, i)
	if r == utf8.RuneError && n == 1 {
		return clsOther, 1
	}
	switch {
	case isSpace(r):
		return clsSpace, n
	case unicode.IsLetter(r):
		return clsLetter, n
	case unicode.IsNumber(r):
		return clsNumber, n
	}
	return clsOther, n
}

// runOf returns the end of the run of class c starting at i.
func runOf(s string, i int, c charClass) int {
	for i < len(s) {
		k, n := classOf(s, i)
		if k != c {
			break
		}
		i += n
	}
	return i
}

// gpt2Split splits text like GPT-2's pre-tokenization regex
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// evaluated leftmost-first as a backtracking engine does. Go's regexp has no
// lookahead, so the alternatives are matched by hand.
func gpt2Split(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		end := gpt2Match(s, i)
		out = append(out, s[i:end])
		i = end
	}
	return out
}

var contractions = []string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}

// gpt2Match returns the end of the regex match starting at i (always > i).
func gpt2Match(s string, i int) int {
	if s[i] == '\'' {
		for _, c := range contractions {
			if strings.HasPrefix(s[i:], c) {
				return i + len(c)
			}
		}
	}
	// " ?X+" for X in letters, numbers, other: an optional ASCII space and a
	// run of one class.
	j := i
	if s[j] == ' ' && j+1 < len(s) {
		j++
	}
	if k, _ := classOf(s, j); k != clsSpace {
		return runOf(s, j, k)
	}
	if j != i {
		// " " followed by whitespace: fall through to the whitespace rules
		// from i.
		j = i
	}
	// \s+(?!\S) then \s+: a whitespace run, minus its last character when a
	// non-space follows and the run is longer than one.
	end := runOf(s, i, clsSpace)
	if end < len(s) {
		_, last := lastRune(s[i:end])
		if end-last > i {
			return end - last
		}
	}
	return end
}

func lastRune(s string) (rune, int) { return utf8.DecodeLastRuneInString(s) }

// LoadGPT2 reads the classic GPT-2 vocab.json + merges.txt pair.
func LoadGPT2(vocabPath, mergesPath string) (Tokenizer, error) {
	v, err := readFile("tokenizer: gpt2: vocab", vocabPath)
	if err != nil {
		return nil, err
	}
	m, err := readFile("tokenizer: gpt2: merges", mergesPath)
	if err != nil {
		return nil, err
	}
	return ParseGPT2(v, m)
}

// ParseGPT2 builds a byte-level BPE tokenizer from the contents of GPT-2's
// vocab.json and merges.txt (a "#version" first line and blank lines are
// skipped). BOS and EOS are <|endoftext|> when the vocabulary has it.
func ParseGPT2(vocabJSON, mergesTxt []byte) (*BPE, error) {
	var vocab map[string]int64
	if err := json.Unmarshal(vocabJSON, &vocab); err != nil {
		return nil, fmt.Errorf("tokenizer: gpt2: vocab: %w: %w", ErrFormat, err)
	}
	var merges [][2]string
	for n, line := range strings.Split(string(mergesTxt), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || (n == 0 && strings.HasPrefix(line, "#version")) {
			continue
		}
		a, b, ok := splitMergeLine(line)
		if !ok {
			return nil, fmt.Errorf("tokenizer: gpt2: merges: line %d is not two space-separated tokens: %w", n+1, ErrFormat)
		}
		merges = append(merges, [2]string{a, b})
	}
	t, err := newBPE(vocab, merges, nil, &hfModel{})
	if err != nil {
		return nil, fmt.Errorf("tokenizer: gpt2: %w", err)
	}
	t.preTok = []preTokenizer{byteLevelPreTokenizer(false, true)}
	t.decoders = []decoderStep{{kind: decByteLevel}}
	if id, ok := t.vocab["<|endoftext|>"]; ok {
		t.special[id] = true
		t.bos, t.eos = int(id), int(id)
	}
	return t, nil
}
