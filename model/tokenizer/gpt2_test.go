package tokenizer

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestGPT2Split(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		// The task brief listed "end" last; the regex gives " end": in
		// "  end", \s+(?!\S) backtracks to the first space and ` ?\p{L}+`
		// then takes " end" (the split must also rejoin to the input).
		{"Hello world's 123  end", []string{"Hello", " world", "'s", " 123", " ", " end"}},
		{"don't", []string{"don", "'t"}},
		{"I'm they'll we've you're he'd", []string{"I", "'m", " they", "'ll", " we", "'ve", " you", "'re", " he", "'d"}},
		{"'sup", []string{"'s", "up"}},
		{"'''s", []string{"'''", "s"}},
		{"hello  world", []string{"hello", " ", " world"}},
		{"a\n\nb", []string{"a", "\n", "\n", "b"}},
		{"x   ", []string{"x", "   "}},
		{"   ", []string{"   "}},
		{" ", []string{" "}},
		{"  hi", []string{" ", " hi"}},
		{"\thi", []string{"\t", "hi"}},
		{"123abc", []string{"123", "abc"}},
		{"?!. ,;", []string{"?!.", " ,;"}},
		{"héllo wörld", []string{"héllo", " wörld"}},
		{"日本語 テキスト", []string{"日本語", " テキスト"}},
		{"👋 hi", []string{"👋", " hi"}},
		{"x ٣٤", []string{"x", " ٣٤"}},
		{"a\u00a0b", []string{"a", "\u00a0", "b"}},
		{"a \nb", []string{"a", " ", "\n", "b"}},
		{"a\xffb", []string{"a", "\xff", "b"}},
		{"", nil},
	}
	for _, tc := range tests {
		if got := gpt2Split(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("gpt2Split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// gpt2Both parses the test GPT-2 tokenizer from its classic files and from its tokenizer.json.
func gpt2Both(t *testing.T) (classic, fromJSON *BPE) {
	t.Helper()
	v, m := gpt2Files()
	classic, err := ParseGPT2(v, m)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err = ParseHF(gpt2JSON())
	if err != nil {
		t.Fatal(err)
	}
	return classic, fromJSON
}

func TestGPT2Encode(t *testing.T) {
	classic, fromJSON := gpt2Both(t)
	eot, _ := classic.TokenID("<|endoftext|>")
	if classic.BOS() != eot || classic.EOS() != eot || fromJSON.BOS() != eot || fromJSON.EOS() != eot {
		t.Fatalf("special ids: classic %d/%d json %d/%d, want %d", classic.BOS(), classic.EOS(), fromJSON.BOS(), fromJSON.EOS(), eot)
	}
	id := func(s string) int {
		i, ok := classic.TokenID(s)
		if !ok {
			t.Fatalf("no token %q", s)
		}
		return i
	}
	b := func(c byte) int { return id(string(byteToRune[c])) }
	tests := []struct {
		text string
		want []int
	}{
		{"Hello world", []int{id("Hello"), id("Ġworld")}},
		{"Hello world's 123  end", []int{id("Hello"), id("Ġworld"), id("'s"), id("Ġ123"), id("Ġ"), id("Ġ"), id("end")}},
		{"\n\n", []int{id("ĊĊ")}},
		{"é", []int{b(0xC3), b(0xA9)}},
		{"<|endoftext|>", []int{b('<'), b('|'), id("end"), b('o'), b('f'), b('t'), b('e'), b('x'), b('t'), b('|'), b('>')}},
	}
	for _, tc := range tests {
		for name, tk := range map[string]*BPE{"classic": classic, "json": fromJSON} {
			got, err := tk.Encode(tc.text, false)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("%s Encode(%q) = %v, %v; want %v", name, tc.text, got, err, tc.want)
			}
		}
	}
	ids, err := classic.Encode("Hi", true)
	if err != nil || ids[0] != eot {
		t.Errorf("Encode with BOS = %v, %v", ids, err)
	}
	if s, err := classic.DecodeToken(-1, id("Ġworld")); err != nil || s != " world" {
		t.Errorf("DecodeToken(Ġworld) = %q, %v (byte-level keeps the space)", s, err)
	}
}

func TestGPT2RoundTrip(t *testing.T) {
	classic, fromJSON := gpt2Both(t)
	texts := append(slices.Clone(roundTripStrings), "invalid \xff\xfe utf8 \xc3", "Hello world's 123  end")
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		texts = append(texts, string(b))
	}
	for _, s := range texts {
		// Splitting loses nothing.
		if j := strings.Join(gpt2Split(s), ""); j != s {
			t.Fatalf("split of %q rejoins to %q", s, j)
		}
		a, err := classic.Encode(s, true)
		if err != nil {
			t.Fatal(err)
		}
		c, err := fromJSON.Encode(s, true)
		if err != nil || !slices.Equal(a, c) {
			t.Fatalf("classic and tokenizer.json encodings of %q differ: %v vs %v (%v)", s, a, c, err)
		}
		got, err := classic.Decode(a)
		if err != nil || got != s {
			t.Errorf("Decode(Encode(%q)) = %q, %v", s, got, err)
		}
		if st := streamDecode(t, classic, a); st != s {
			t.Errorf("streamed decode of %q = %q", s, st)
		}
	}
}

func TestParseGPT2Errors(t *testing.T) {
	v, _ := gpt2Files()
	tests := []struct {
		name          string
		vocab, merges string
	}{
		{"vocab not json", "[", ""},
		{"vocab list", "[1,2]", ""},
		{"merge one part", string(v), "#version: 0.2\nab\n"},
		{"merge three parts", string(v), "a b c\n"},
		{"merge unknown", string(v), "a ☃\n"},
		{"version not first", string(v), "H e\n#version: 0.2\n"},
	}
	for _, tc := range tests {
		if _, err := ParseGPT2([]byte(tc.vocab), []byte(tc.merges)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: error %v, want ErrFormat", tc.name, err)
		} else if !strings.HasPrefix(err.Error(), "tokenizer: gpt2:") {
			t.Errorf("%s: error %q lacks prefix", tc.name, err)
		}
	}
	if _, err := LoadGPT2("/nonexistent/vocab.json", "/nonexistent/merges.txt"); err == nil {
		t.Error("LoadGPT2 of missing files succeeded")
	}
}

func TestByteLevelTable(t *testing.T) {
	seen := map[rune]bool{}
	for b := range 256 {
		r := byteToRune[b]
		if seen[r] {
			t.Fatalf("rune %U used twice", r)
		}
		seen[r] = true
		if runeToByte[r] != byte(b) {
			t.Fatalf("table not inverse at %d", b)
		}
	}
	if byteToRune[' '] != 'Ġ' || byteToRune['\n'] != 'Ċ' || byteToRune['A'] != 'A' {
		t.Errorf("unexpected mapping: space %q newline %q", byteToRune[' '], byteToRune['\n'])
	}
}
