package tokenizer

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hssee/hssee/internal/sharedtest"
)

func tinyStoriesPath(t testing.TB) string {
	return sharedtest.Path(t, "models", "tinystories-656k", "tokenizer.json")
}

func mustLoad(t testing.TB, path string) Tokenizer {
	t.Helper()
	tk, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return tk
}

// tinyLlamaJSON builds a small Llama-flavoured tokenizer.json: <unk>, <s>,
// </s>, the 256 byte tokens, ASCII letters and punctuation, "▁", and a few
// merges. pairs selects the [a, b] merge format instead of "a b".
func tinyLlamaJSON(pairs bool, normalizer any) []byte {
	vocab := map[string]int{"<unk>": 0, "<s>": 1, "</s>": 2}
	for b := range 256 {
		vocab[byteTokenName(byte(b))] = 3 + b
	}
	next := 259
	add := func(s string) {
		if _, ok := vocab[s]; !ok {
			vocab[s] = next
			next++
		}
	}
	add("▁")
	for _, c := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'\"-\n" {
		add(string(c))
	}
	mergeList := [][2]string{
		{"▁", "t"}, {"h", "e"}, {"▁t", "he"}, {"▁", "a"}, {"i", "n"}, {"▁", "w"},
		{"o", "r"}, {"▁w", "or"}, {"l", "d"}, {"▁wor", "ld"}, {"l", "l"}, {"e", "ll"},
		{"H", "ell"}, {"Hell", "o"}, {"▁", "Hello"}, {"▁", "▁"}, {"▁▁", "▁▁"},
	}
	var merges []any
	for _, m := range mergeList {
		add(m[0] + m[1])
		if pairs {
			merges = append(merges, []string{m[0], m[1]})
		} else {
			merges = append(merges, m[0]+" "+m[1])
		}
	}
	if normalizer == nil {
		normalizer = map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"},
		}}
	}
	doc := map[string]any{
		"version": "1.0",
		"added_tokens": []any{
			map[string]any{"id": 0, "content": "<unk>", "special": true},
			map[string]any{"id": 1, "content": "<s>", "special": true},
			map[string]any{"id": 2, "content": "</s>", "special": true},
		},
		"normalizer":    normalizer,
		"pre_tokenizer": nil,
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"},
			map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0},
		}},
		"model": map[string]any{
			"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "fuse_unk": true,
			"vocab": vocab, "merges": merges,
		},
	}
	if normalizer == "null" {
		doc["normalizer"] = nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return out
}

// gpt2Files builds a small GPT-2 style vocab.json and merges.txt: the 256
// byte-level symbols, a few merges and <|endoftext|>.
func gpt2Files() (vocabJSON, mergesTxt []byte) {
	vocab := map[string]int{}
	for b := range 256 {
		vocab[string(byteToRune[b])] = len(vocab)
	}
	merges := []string{
		"H e", "l l", "He ll", "Hell o", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d",
		"' s", "Ġ 1", "2 3", "Ġ1 23", "e n", "en d", "Ġ Ġ", "Ċ Ċ",
	}
	for _, m := range merges {
		a, b, _ := strings.Cut(m, " ")
		if _, ok := vocab[a+b]; !ok {
			vocab[a+b] = len(vocab)
		}
	}
	vocab["<|endoftext|>"] = len(vocab)
	v, err := json.Marshal(vocab)
	if err != nil {
		panic(err)
	}
	return v, []byte("#version: 0.2\n" + strings.Join(merges, "\n") + "\n")
}

// gpt2JSON is the same tokenizer as gpt2Files in tokenizer.json form.
func gpt2JSON() []byte {
	v, m := gpt2Files()
	var vocab map[string]int
	if err := json.Unmarshal(v, &vocab); err != nil {
		panic(err)
	}
	var merges []string
	for _, l := range strings.Split(string(m), "\n")[1:] {
		if l != "" {
			merges = append(merges, l)
		}
	}
	doc := map[string]any{
		"added_tokens": []any{map[string]any{"id": vocab["<|endoftext|>"], "content": "<|endoftext|>", "special": true}},
		"normalizer":   nil,
		"pre_tokenizer": map[string]any{
			"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true,
		},
		"post_processor": map[string]any{"type": "ByteLevel", "trim_offsets": false},
		"decoder":        map[string]any{"type": "ByteLevel"},
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "vocab": vocab, "merges": merges,
		},
	}
	out, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return out
}

// streamDecode concatenates DecodeToken over ids, starting with prev = -1.
func streamDecode(t testing.TB, tk Tokenizer, ids []int) string {
	t.Helper()
	var sb strings.Builder
	prev := -1
	for _, id := range ids {
		s, err := tk.DecodeToken(prev, id)
		if err != nil {
			t.Fatalf("DecodeToken(%d, %d): %v", prev, id, err)
		}
		sb.WriteString(s)
		prev = id
	}
	return sb.String()
}

// roundTripStrings are assorted texts: unicode, emoji, whitespace.
var roundTripStrings = []string{
	"",
	"Hello world",
	"hello  world",
	" leading space",
	"  two leading",
	"trailing space ",
	"\n\nnew lines\n",
	"tab\tseparated\tvalues",
	"héllo wörld ñ",
	"日本語のテキスト",
	"emoji 👋🏽 and 🙂!",
	"family 👨‍👩‍👧‍👦 zwj",
	"mixed: 123 + 4.5 = 127.5; 'quoted' \"double\"",
	"Ω≈ç√∫˜µ≤≥÷",
	"   ",
	"a",
	"\u00a0non-breaking\u2003em space",
	"don't you're we've I'm they'll he'd it's",
}
