package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// optionalShared returns a file under the shared data directory, or "" when
// the directory is absent (fuzz targets then fall back to built-in data).
func optionalShared(parts ...string) string {
	p := filepath.Join(append([]string{"..", "..", "..", "shared"}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// exercise runs a parsed tokenizer over a few inputs; it must not panic and
// must reject out-of-range ids.
func exercise(t *testing.T, tk Tokenizer, extra []byte) {
	for _, s := range []string{"", "Hello wörld 🙂", " a  b\n", string(extra)} {
		ids, err := tk.Encode(s, tk.BOS() >= 0)
		if err != nil {
			continue
		}
		for _, id := range ids {
			if id < 0 || id >= tk.VocabSize() {
				t.Fatalf("Encode produced id %d outside [0, %d)", id, tk.VocabSize())
			}
		}
		if _, err := tk.Decode(ids); err != nil {
			t.Fatalf("Decode of encoded ids failed: %v", err)
		}
	}
	ids := make([]int, 0, len(extra))
	for _, b := range extra {
		ids = append(ids, int(b)*97%(tk.VocabSize()+3)-1)
	}
	_, _ = tk.Decode(ids)
	for i, id := range ids {
		_, _ = tk.DecodeToken(i-1, id)
	}
	if _, err := tk.Decode([]int{tk.VocabSize()}); err == nil {
		t.Fatal("Decode accepted id VocabSize()")
	}
}

func FuzzHFJSON(f *testing.F) {
	f.Add(tinyLlamaJSON(false, nil))
	f.Add(tinyLlamaJSON(true, "null"))
	f.Add(gpt2JSON())
	if p := optionalShared("models", "tinystories-656k", "tokenizer.json"); p != "" {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]},"decoder":{"type":"Strip","content":"a","start":2,"stop":1}}`))
	f.Add([]byte(`{"model":{"vocab":{"a":0,"ab":1,"b":2},"merges":["a b"],"continuing_subword_prefix":"##","end_of_word_suffix":"</w>","ignore_merges":true}}`))
	f.Add([]byte(`{"model":{"vocab":{"▁a":0,"▁":1,"a":2},"merges":["▁ a"]},"pre_tokenizer":{"type":"Metaspace","prepend_scheme":"always"},"decoder":{"type":"Metaspace"}}`))
	f.Add([]byte(`{"added_tokens":[{"id":3,"content":"<x>","special":false}],"model":{"vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},"normalizer":{"type":"Replace","pattern":{"Regex":"a+"},"content":"b"}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"model":{"vocab":{"a":99999999}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := ParseHF(data)
		if err != nil {
			if tk != nil {
				t.Fatal("ParseHF returned a tokenizer and an error")
			}
			return
		}
		exercise(t, tk, data[:min(len(data), 64)])
	})
}

func FuzzLlama2cBin(f *testing.F) {
	pieces := []string{"<unk>", "\n<s>\n", "\n</s>\n", " ", "a", " a", "<0x41>"}
	scores := []float32{0, 0, 0, -1, -2, -3, 0}
	f.Add(llamaBin(6, pieces, scores))
	f.Add(llamaBin(6, pieces[:2], scores[:2]))
	f.Add(llamaBin(-1, pieces, scores))
	if p := optionalShared("models", "llama2c", "tok512.bin"); p != "" {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := ParseLlama2c(data)
		if err != nil {
			if tk != nil {
				t.Fatal("ParseLlama2c returned a tokenizer and an error")
			}
			return
		}
		exercise(t, tk, data[:min(len(data), 64)])
	})
}

func FuzzGPT2Files(f *testing.F) {
	v, m := gpt2Files()
	f.Add(v, m)
	f.Add([]byte(`{"a":0,"b":1,"ab":2}`), []byte("a b\n"))
	f.Add([]byte(`{"a":0}`), []byte("#version: 0.2\r\na a\r\n"))
	f.Fuzz(func(t *testing.T, vocab, merges []byte) {
		tk, err := ParseGPT2(vocab, merges)
		if err != nil {
			return
		}
		exercise(t, tk, merges[:min(len(merges), 64)])
	})
}

// fuzzTokenizers are the tokenizers FuzzEncodeDecode runs, with the
// round-trip property each must satisfy.
type fuzzCase struct {
	name string
	tk   Tokenizer
	// roundTrips reports whether Decode(Encode(s)) must equal s.
	roundTrips func(s string, ids []int) bool
}

func fuzzTokenizers(f *testing.F) []fuzzCase {
	var cases []fuzzCase
	noSpecial := func(tk *BPE) func(string, []int) bool {
		return func(s string, ids []int) bool {
			if !utf8.ValidString(s) || strings.Contains(s, "▁") {
				return false // "▁" decodes to a space, by design
			}
			for _, id := range ids[1:] {
				if tk.special[id] {
					return false // unk: the character was not representable
				}
			}
			return true
		}
	}
	var story *BPE
	if p := optionalShared("models", "tinystories-656k", "tokenizer.json"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if story, err = ParseHF(data); err != nil {
			f.Fatal(err)
		}
	} else {
		var err error
		if story, err = ParseHF(tinyLlamaJSON(false, nil)); err != nil {
			f.Fatal(err)
		}
	}
	cases = append(cases, fuzzCase{"tinystories", story, noSpecial(story)})
	tiny, err := ParseHF(tinyLlamaJSON(true, nil))
	if err != nil {
		f.Fatal(err)
	}
	cases = append(cases, fuzzCase{"tiny-llama", tiny, noSpecial(tiny)})
	v, m := gpt2Files()
	g, err := ParseGPT2(v, m)
	if err != nil {
		f.Fatal(err)
	}
	cases = append(cases, fuzzCase{"gpt2", g, func(string, []int) bool { return true }})
	if p := optionalShared("models", "llama2c", "tok512.bin"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		l, err := ParseLlama2c(data)
		if err != nil {
			f.Fatal(err)
		}
		// Text spelling a piece such as "<0x41>" or "\n<s>\n" can merge
		// into that byte or control token, as in llama2.c itself.
		cases = append(cases, fuzzCase{"tok512", l, func(s string, _ []int) bool { return !strings.Contains(s, "<") }})
	}
	return cases
}

func FuzzEncodeDecode(f *testing.F) {
	for _, s := range roundTripStrings {
		f.Add(s)
	}
	f.Add("Once upon a time, there was a little girl named Lily.")
	f.Add("\xff\xfe invalid \xc3")
	f.Add("▁<|start_story|>Once")
	cases := fuzzTokenizers(f)
	f.Fuzz(func(t *testing.T, s string) {
		if j := strings.Join(gpt2Split(s), ""); j != s {
			t.Fatalf("gpt2Split loses text: %q -> %q", s, j)
		}
		for _, c := range cases {
			ids, err := c.tk.Encode(s, true)
			if err != nil {
				t.Fatalf("%s: Encode: %v", c.name, err)
			}
			got, err := c.tk.Decode(ids)
			if err != nil {
				t.Fatalf("%s: Decode: %v", c.name, err)
			}
			if c.roundTrips(s, ids) {
				if got != s {
					t.Fatalf("%s: Decode(Encode(%q)) = %q (ids %v)", c.name, s, got, ids)
				}
				if st := streamDecode(t, c.tk, ids); st != s {
					t.Fatalf("%s: streamed decode of %q = %q", c.name, s, st)
				}
			}
		}
	})
}
