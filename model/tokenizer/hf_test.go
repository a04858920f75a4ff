package tokenizer

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hssee/hssee/internal/evalset"
	"github.com/hssee/hssee/internal/sharedtest"
)

// readGolden reads the golden prompts (../shared/eval).
func readGolden(t *testing.T) []evalset.Case {
	t.Helper()
	out, err := evalset.Load(sharedtest.Golden(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 10 {
		t.Fatalf("golden file has %d prompts, want 10", len(out))
	}
	return out
}

// TestGoldenPromptIDs is the key test: Encode must reproduce the prompt ids
// that the independent C implementation's BPE produced.
func TestGoldenPromptIDs(t *testing.T) {
	tk := mustLoad(t, tinyStoriesPath(t))
	for _, g := range readGolden(t) {
		ids, err := tk.Encode(g.Prompt, true)
		if err != nil {
			t.Fatalf("Encode(%q): %v", g.Prompt, err)
		}
		if !slices.Equal(ids, g.PromptIDs) {
			t.Errorf("Encode(%q) = %v, want %v", g.Prompt, ids, g.PromptIDs)
		}
		text, err := tk.Decode(ids)
		if err != nil || text != g.Prompt {
			t.Errorf("Decode(Encode(%q)) = %q, %v", g.Prompt, text, err)
		}
		if s := streamDecode(t, tk, ids); s != g.Prompt {
			t.Errorf("streamed decode of %q = %q", g.Prompt, s)
		}
	}
}

func TestTinyStoriesTokenizer(t *testing.T) {
	tk := mustLoad(t, tinyStoriesPath(t))
	if tk.BOS() != 1 || tk.EOS() != 2 || tk.VocabSize() != 2048 {
		t.Fatalf("BOS %d EOS %d vocab %d, want 1 2 2048", tk.BOS(), tk.EOS(), tk.VocabSize())
	}
	// ParseHF alone (no tokenizer_config.json) must infer the same ids.
	data, err := os.ReadFile(tinyStoriesPath(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseHF(data)
	if err != nil {
		t.Fatal(err)
	}
	if p.BOS() != 1 || p.EOS() != 2 {
		t.Errorf("ParseHF BOS %d EOS %d, want 1 2", p.BOS(), p.EOS())
	}
	tests := []struct {
		text string
		want []int
	}{
		{"", []int{1}},
		{"a", []int{1, 85}},                           // "▁a"
		{"the", []int{1, 80, 131}},                    // "▁" "the": no "▁ t" merge precedes
		{"😀", []int{1, 80, 0}},                        // not in vocab, no byte tokens: unk
		{"é&ü", []int{1, 80, 0}},                      // consecutive unknowns fuse into one unk
		{"Tom é Sue", []int{1, 80, 388, 0, 80, 1066}}, // "Tom▁" unk "▁" "Sue"
	}
	for _, tc := range tests {
		got, err := tk.Encode(tc.text, true)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q) = %v, %v; want %v", tc.text, got, err, tc.want)
		}
	}
	// Texts built from the vocabulary's characters round-trip exactly.
	for _, s := range []string{"Once upon a time", " leading", "trailing ", "a  b", "\n\nLily said, \"Hi!\"\n", "   ", "x"} {
		ids, err := tk.Encode(s, false)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(ids, 0) {
			t.Fatalf("Encode(%q) produced unk: %v", s, ids)
		}
		got, err := tk.Decode(ids)
		if err != nil || got != s {
			t.Errorf("Decode(Encode(%q)) = %q, %v", s, got, err)
		}
	}
}

// naiveBPE is the textbook BPE loop: rescan for the lowest-rank pair, merge
// its leftmost occurrence, repeat. mergeSymbols must agree with it.
func naiveBPE(ids []int32, pair pairFunc) []int32 {
	ids = slices.Clone(ids)
	for {
		best, bestPos, bestID := 0.0, -1, int32(0)
		for i := 0; i+1 < len(ids); i++ {
			if p, m, ok := pair(ids[i], ids[i+1]); ok && (bestPos < 0 || p < best) {
				best, bestPos, bestID = p, i, m
			}
		}
		if bestPos < 0 {
			return ids
		}
		ids[bestPos] = bestID
		ids = slices.Delete(ids, bestPos+1, bestPos+2)
	}
}

// TestMergeMatchesNaive checks the heap-based merge against the rescanning
// reference on many random texts (an accumulated test driven by a seeded
// PRNG).
func TestMergeMatchesNaive(t *testing.T) {
	tk := mustLoad(t, tinyStoriesPath(t)).(*BPE)
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"the", "a", "little", "girl", "named", "Lily", "Once", "upon", "time", ",", ".", "\n", "!", "said", "ee", "aaa", "ttt"}
	for n := range 300 {
		var sb strings.Builder
		for range rng.IntN(40) {
			if rng.IntN(4) == 0 {
				sb.WriteByte(" .,aeit\n"[rng.IntN(8)])
			} else {
				sb.WriteString(words[rng.IntN(len(words))])
			}
			if rng.IntN(3) > 0 {
				sb.WriteByte(' ')
			}
		}
		s := "▁" + strings.ReplaceAll(sb.String(), " ", "▁")
		var syms []int32
		for _, r := range s {
			syms = append(syms, tk.vocab[string(r)])
		}
		want := naiveBPE(syms, tk.pair)
		got := mergeSymbols(slices.Clone(syms), tk.pair)
		if !slices.Equal(got, want) {
			t.Fatalf("case %d %q: heap %v, naive %v", n, s, got, want)
		}
	}
}

func TestTinyLlamaRoundTrip(t *testing.T) {
	for _, pairs := range []bool{false, true} {
		tk, err := ParseHF(tinyLlamaJSON(pairs, nil))
		if err != nil {
			t.Fatal(err)
		}
		if tk.BOS() != 1 || tk.EOS() != 2 {
			t.Fatalf("BOS %d EOS %d", tk.BOS(), tk.EOS())
		}
		for _, s := range roundTripStrings {
			ids, err := tk.Encode(s, true)
			if err != nil {
				t.Fatalf("Encode(%q): %v", s, err)
			}
			if slices.Contains(ids, 0) {
				t.Errorf("Encode(%q) produced unk despite byte fallback", s)
			}
			got, err := tk.Decode(ids)
			if err != nil || got != s {
				t.Errorf("pairs=%v Decode(Encode(%q)) = %q, %v", pairs, s, got, err)
			}
			if st := streamDecode(t, tk, ids); st != s {
				t.Errorf("streamed decode of %q = %q", s, st)
			}
		}
	}
}

func TestTinyLlamaEncoding(t *testing.T) {
	tk, err := ParseHF(tinyLlamaJSON(false, nil))
	if err != nil {
		t.Fatal(err)
	}
	id := func(s string) int {
		i, ok := tk.TokenID(s)
		if !ok {
			t.Fatalf("no token %q", s)
		}
		return i
	}
	tests := []struct {
		text string
		want []int
	}{
		{"Hello world", []int{id("▁Hello"), id("▁world")}},
		{"the", []int{id("▁the")}},
		{"é", []int{id("▁"), 3 + 0xC3, 3 + 0xA9}},
		{"a\tb", []int{id("▁a"), 3 + '\t', id("b")}},
		{"x     y", []int{id("▁"), id("x"), id("▁▁▁▁"), id("▁"), id("y")}},
	}
	for _, tc := range tests {
		got, err := tk.Encode(tc.text, false)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q) = %v, %v; want %v", tc.text, got, err, tc.want)
		}
	}
	// Streaming: leading space dropped only after BOS or at the start.
	w := id("▁world")
	for _, tc := range []struct {
		prev int
		want string
	}{{-1, "world"}, {1, "world"}, {id("▁Hello"), " world"}} {
		if s, err := tk.DecodeToken(tc.prev, w); err != nil || s != tc.want {
			t.Errorf("DecodeToken(%d, ▁world) = %q, %v; want %q", tc.prev, s, err, tc.want)
		}
	}
	if s, err := tk.DecodeToken(5, 3+0x0A); err != nil || s != "\n" {
		t.Errorf("DecodeToken(<0x0A>) = %q, %v", s, err)
	}
	if s, err := tk.DecodeToken(-1, 2); err != nil || s != "" {
		t.Errorf("DecodeToken(EOS) = %q, %v", s, err)
	}
	for _, bad := range []int{-1, tk.VocabSize(), 1 << 40} {
		if _, err := tk.Decode([]int{1, bad}); !errors.Is(err, ErrTokenID) {
			t.Errorf("Decode(%d) error %v, want ErrTokenID", bad, err)
		}
		if _, err := tk.DecodeToken(1, bad); !errors.Is(err, ErrTokenID) {
			t.Errorf("DecodeToken(%d) error %v, want ErrTokenID", bad, err)
		}
	}
}

func TestNullNormalizer(t *testing.T) {
	tk, err := ParseHF(tinyLlamaJSON(false, "null"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tk.Encode("a b", false)
	if err != nil {
		t.Fatal(err)
	}
	// No normalizer: the space is not in the vocabulary, so it is a byte.
	a, _ := tk.TokenID("a")
	b, _ := tk.TokenID("b")
	if want := []int{a, 3 + ' ', b}; !slices.Equal(ids, want) {
		t.Errorf("Encode = %v, want %v", ids, want)
	}
	if s, _ := tk.Decode(ids); s != "a b" {
		t.Errorf("Decode = %q", s)
	}
}

// TestMetaspaceEquivalent rewrites the TinyStories file to use a Metaspace
// pre-tokenizer and decoder (the newer Llama export style) and checks that
// it encodes the golden prompts identically.
func TestMetaspaceEquivalent(t *testing.T) {
	data, err := os.ReadFile(tinyStoriesPath(t))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc["normalizer"] = nil
	doc["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}
	doc["decoder"] = map[string]any{"type": "Sequence", "decoders": []any{
		map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false},
	}}
	mod, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := ParseHF(mod)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range readGolden(t) {
		ids, err := tk.Encode(g.Prompt, true)
		if err != nil || !slices.Equal(ids, g.PromptIDs) {
			t.Errorf("Metaspace Encode(%q) = %v, %v; want %v", g.Prompt, ids, err, g.PromptIDs)
		}
		if s, err := tk.Decode(ids); err != nil || s != g.Prompt {
			t.Errorf("Metaspace Decode = %q, %v", s, err)
		}
		if s := streamDecode(t, tk, ids); s != g.Prompt {
			t.Errorf("Metaspace streamed decode = %q", s)
		}
	}
}

func TestSplitBefore(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"▁a▁b", []string{"▁a", "▁b"}},
		{"a▁▁b", []string{"a", "▁", "▁b"}},
		{"▁", []string{"▁"}},
		{"ab", []string{"ab"}},
		{"", nil},
	}
	for _, tc := range tests {
		if got := splitBefore(tc.in, "▁"); !slices.Equal(got, tc.want) {
			t.Errorf("splitBefore(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAddedTokens(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(tinyLlamaJSON(false, nil), &doc); err != nil {
		t.Fatal(err)
	}
	doc["added_tokens"] = append(doc["added_tokens"].([]any),
		map[string]any{"id": 1000, "content": "<tool>", "special": false})
	data, _ := json.Marshal(doc)
	tk, err := ParseHF(data)
	if err != nil {
		t.Fatal(err)
	}
	if tk.VocabSize() != 1001 {
		t.Errorf("VocabSize %d, want 1001", tk.VocabSize())
	}
	ids, err := tk.Encode("a<tool>b", false)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := tk.TokenID("▁a")
	b, _ := tk.TokenID("▁b")
	if b == 0 {
		b, _ = tk.TokenID("▁")
	}
	if !slices.Contains(ids, 1000) || ids[0] != a {
		t.Errorf("Encode(a<tool>b) = %v, want the added token 1000 between pieces", ids)
	}
	// Special tokens are never parsed from text.
	ids, err = tk.Encode("</s>", false)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(ids, 2) {
		t.Errorf("Encode(\"</s>\") = %v contains EOS", ids)
	}
	if s, _ := tk.Decode(ids); s != "</s>" {
		t.Errorf("Decode = %q", s)
	}
}

func TestParseHFErrors(t *testing.T) {
	base := func(mut func(doc map[string]any)) []byte {
		var doc map[string]any
		if err := json.Unmarshal(tinyLlamaJSON(false, nil), &doc); err != nil {
			t.Fatal(err)
		}
		mut(doc)
		out, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	model := func(doc map[string]any) map[string]any { return doc["model"].(map[string]any) }
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"not json", []byte("{"), ErrFormat},
		{"empty object", []byte("{}"), ErrFormat},
		{"no vocab", []byte(`{"model":{"type":"BPE","vocab":{},"merges":[]}}`), ErrFormat},
		{"unigram", base(func(d map[string]any) { model(d)["type"] = "Unigram" }), ErrUnsupported},
		{"negative id", base(func(d map[string]any) { model(d)["vocab"].(map[string]any)["zz"] = -5 }), ErrFormat},
		{"sparse ids", base(func(d map[string]any) { model(d)["vocab"].(map[string]any)["zz"] = 1 << 20 }), ErrFormat},
		{"huge id", base(func(d map[string]any) { model(d)["vocab"].(map[string]any)["zz"] = 1 << 40 }), ErrFormat},
		{"duplicate id", base(func(d map[string]any) { model(d)["vocab"].(map[string]any)["zz"] = 5 }), ErrFormat},
		{"merge three parts", base(func(d map[string]any) { model(d)["merges"] = []any{"a b c"} }), ErrFormat},
		{"merge pair of three", base(func(d map[string]any) { model(d)["merges"] = []any{[]any{"a", "b", "c"}} }), ErrFormat},
		{"merge unknown token", base(func(d map[string]any) { model(d)["merges"] = []any{"a ☃"} }), ErrFormat},
		{"merge result unknown", base(func(d map[string]any) { model(d)["merges"] = []any{"q z"} }), ErrFormat},
		{"merges not list", base(func(d map[string]any) { model(d)["merges"] = 7 }), ErrFormat},
		{"unk missing", base(func(d map[string]any) { model(d)["unk_token"] = "<nope>" }), ErrFormat},
		{"added conflicts", base(func(d map[string]any) {
			d["added_tokens"] = []any{map[string]any{"id": 5, "content": "<x>", "special": true}}
		}), ErrFormat},
		{"added empty", base(func(d map[string]any) {
			d["added_tokens"] = []any{map[string]any{"id": 3000, "content": "", "special": true}}
		}), ErrFormat},
		{"normalizer NFKC", base(func(d map[string]any) { d["normalizer"] = map[string]any{"type": "NFKC"} }), ErrUnsupported},
		{"replace no pattern", base(func(d map[string]any) { d["normalizer"] = map[string]any{"type": "Replace", "content": "x"} }), ErrFormat},
		{"replace empty pattern", base(func(d map[string]any) {
			d["normalizer"] = map[string]any{"type": "Replace", "pattern": map[string]any{"String": ""}, "content": "x"}
		}), ErrFormat},
		{"replace bad regex", base(func(d map[string]any) {
			d["normalizer"] = map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": `(?!x)`}, "content": "x"}
		}), ErrUnsupported},
		{"pretok Whitespace", base(func(d map[string]any) { d["pre_tokenizer"] = map[string]any{"type": "Whitespace"} }), ErrUnsupported},
		{"metaspace bad scheme", base(func(d map[string]any) {
			d["pre_tokenizer"] = map[string]any{"type": "Metaspace", "prepend_scheme": "sometimes"}
		}), ErrFormat},
		{"decoder WordPiece", base(func(d map[string]any) { d["decoder"] = map[string]any{"type": "WordPiece"} }), ErrUnsupported},
		{"strip negative", base(func(d map[string]any) {
			d["decoder"] = map[string]any{"type": "Strip", "content": " ", "start": -1, "stop": 0}
		}), ErrFormat},
		{"replace empty regex", base(func(d map[string]any) {
			d["normalizer"] = map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": `a*`}, "content": "x"}
		}), ErrUnsupported},
		{"expanding normalizers", base(func(d map[string]any) {
			var steps []any
			for range 8 {
				steps = append(steps, map[string]any{"type": "Replace", "pattern": map[string]any{"String": "a"}, "content": "aa"})
			}
			d["normalizer"] = map[string]any{"type": "Sequence", "normalizers": steps}
		}), ErrUnsupported},
		{"expanding decoder", base(func(d map[string]any) {
			d["decoder"] = map[string]any{"type": "Replace", "pattern": map[string]any{"String": "a"}, "content": strings.Repeat("b", 100)}
		}), ErrUnsupported},
		{"normalizer wrong shape", base(func(d map[string]any) { d["normalizer"] = []any{1} }), ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk, err := ParseHF(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseHF error %v, want %v (tokenizer %v)", err, tc.want, tk != nil)
			}
			if !strings.HasPrefix(err.Error(), "tokenizer: hf:") {
				t.Errorf("error %q lacks the operation prefix", err)
			}
		})
	}
}

func TestDeepSequenceRejected(t *testing.T) {
	s := `{"type":"Lowercase"}`
	for range maxSeqDepth + 2 {
		s = `{"type":"Sequence","normalizers":[` + s + `]}`
	}
	var doc map[string]any
	if err := json.Unmarshal(tinyLlamaJSON(false, nil), &doc); err != nil {
		t.Fatal(err)
	}
	doc["normalizer"] = json.RawMessage(s)
	data, _ := json.Marshal(doc)
	if _, err := ParseHF(data); !errors.Is(err, ErrFormat) {
		t.Errorf("deep Sequence: error %v, want ErrFormat", err)
	}
}

func TestNoBOS(t *testing.T) {
	tk, err := ParseGPT2(func() ([]byte, []byte) {
		v := map[string]int{}
		for b := range 256 {
			v[string(byteToRune[b])] = b
		}
		d, _ := json.Marshal(v)
		return d, nil
	}())
	if err != nil {
		t.Fatal(err)
	}
	if tk.BOS() != -1 || tk.EOS() != -1 {
		t.Errorf("BOS %d EOS %d, want -1 -1", tk.BOS(), tk.EOS())
	}
	if _, err := tk.Encode("x", true); !errors.Is(err, ErrNoBOS) {
		t.Errorf("Encode with bos: %v, want ErrNoBOS", err)
	}
	if ids, err := tk.Encode("xy", false); err != nil || len(ids) != 2 {
		t.Errorf("Encode without merges = %v, %v", ids, err)
	}
}

func TestUnencodable(t *testing.T) {
	// No unk, no byte fallback: a character outside the vocabulary is an
	// error, not silently dropped.
	data := []byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}`)
	tk, err := ParseHF(data)
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := tk.Encode("abab", false); err != nil || !slices.Equal(ids, []int{2, 2}) {
		t.Errorf("Encode(abab) = %v, %v", ids, err)
	}
	if _, err := tk.Encode("abc", false); !errors.Is(err, ErrUnencodable) {
		t.Errorf("Encode(abc) error %v, want ErrUnencodable", err)
	}
}

func TestLoadDispatch(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// tokenizer.json in a directory, with tokenizer_config.json overriding
	// the special tokens.
	hfDir := filepath.Join(dir, "hf")
	if err := os.Mkdir(hfDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hfDir, "tokenizer.json"), tinyLlamaJSON(false, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `{"bos_token": {"content": "</s>"}, "eos_token": "<unk>"}`
	if err := os.WriteFile(filepath.Join(hfDir, "tokenizer_config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	tk := mustLoad(t, hfDir)
	if tk.BOS() != 2 || tk.EOS() != 0 {
		t.Errorf("config override: BOS %d EOS %d, want 2 0", tk.BOS(), tk.EOS())
	}
	// A bad config is an error.
	if err := os.WriteFile(filepath.Join(hfDir, "tokenizer_config.json"), []byte(`{"bos_token":"<nope>"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(hfDir); !errors.Is(err, ErrFormat) {
		t.Errorf("bad config: %v, want ErrFormat", err)
	}

	// vocab.json + merges.txt.
	v, m := gpt2Files()
	gdir := filepath.Join(dir, "gpt2")
	if err := os.Mkdir(gdir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(gdir, "vocab.json"), v, 0o600)
	os.WriteFile(filepath.Join(gdir, "merges.txt"), m, 0o600)
	g := mustLoad(t, gdir)
	if _, ok := g.(*BPE); !ok || g.EOS() < 0 {
		t.Errorf("gpt2 dir: %T EOS %d", g, g.EOS())
	}

	// Sniffing a file without extension.
	sniff := write("tok", gpt2JSON())
	if _, ok := mustLoad(t, sniff).(*BPE); !ok {
		t.Error("sniffed JSON is not a BPE tokenizer")
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("Load of a missing path succeeded")
	}
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o700)
	if _, err := Load(empty); !errors.Is(err, ErrFormat) {
		t.Errorf("empty dir: %v, want ErrFormat", err)
	}

	// Real files, when present.
	if _, ok := mustLoad(t, sharedtest.TinyStories(t)).(*BPE); !ok {
		t.Error("tinystories dir did not load as BPE")
	}
	tok512 := sharedtest.Path(t, "models", "llama2c", "tok512.bin")
	if _, ok := mustLoad(t, tok512).(*Llama2c); !ok {
		t.Error("tok512.bin did not load as Llama2c")
	}
	bin, err := os.ReadFile(tok512)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mustLoad(t, write("tok512", bin)).(*Llama2c); !ok {
		t.Error("sniffed tok512 did not load as Llama2c")
	}
}

// TestConcurrentUse encodes and decodes from several goroutines at once (run
// with -race to check that tokenizers keep no mutable state).
func TestConcurrentUse(t *testing.T) {
	tk, err := ParseHF(tinyLlamaJSON(false, nil))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			for _, s := range roundTripStrings {
				ids, err := tk.Encode(s+strings.Repeat("x", g), true)
				if err != nil {
					done <- err
					return
				}
				if _, err := tk.Decode(ids); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
