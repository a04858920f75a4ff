package tokenizer

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hssee/hssee/internal/sharedtest"
)

func llamaFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(sharedtest.Path(t, "models", "llama2c", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestLlama2cFiles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		vocab  int
		maxLen int
	}{{"tokenizer.bin", 32000, 27}, {"tok512.bin", 512, 7}} {
		data := llamaFile(t, tc.name)
		tk, err := ParseLlama2c(data)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tk.VocabSize() != tc.vocab || tk.maxTokenLen != tc.maxLen || !tk.byteFallback {
			t.Errorf("%s: vocab %d max %d bytes %v", tc.name, tk.VocabSize(), tk.maxTokenLen, tk.byteFallback)
		}
		// The parser consumes exactly the whole file: one byte more or
		// less is an error.
		if _, err := ParseLlama2c(append(slices.Clone(data), 0)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s + 1 byte: %v, want ErrFormat", tc.name, err)
		}
		if _, err := ParseLlama2c(data[:len(data)-1]); !errors.Is(err, ErrFormat) {
			t.Errorf("%s - 1 byte: %v, want ErrFormat", tc.name, err)
		}
		if p, _ := tk.Piece(1); p != "\n<s>\n" {
			t.Errorf("%s: piece 1 = %q", tc.name, p)
		}
		if p, _ := tk.Piece(3 + 0x41); p != "<0x41>" {
			t.Errorf("%s: piece 68 = %q", tc.name, p)
		}
	}
}

func TestLlama2cEncode(t *testing.T) {
	big, err := ParseLlama2c(llamaFile(t, "tokenizer.bin"))
	if err != nil {
		t.Fatal(err)
	}
	small, err := ParseLlama2c(llamaFile(t, "tok512.bin"))
	if err != nil {
		t.Fatal(err)
	}
	id := func(tk *Llama2c, s string) int {
		i, ok := tk.TokenID(s)
		if !ok {
			t.Fatalf("no piece %q", s)
		}
		return i
	}
	// The pieces carry real spaces (the exporter wrote "▁" as " ").
	if _, ok := big.TokenID("▁Hello"); ok {
		t.Error("tokenizer.bin has a ▁ piece; expected spaces")
	}
	tests := []struct {
		tk   *Llama2c
		text string
		want []int
	}{
		// " Hello" = 15043 and " world" = 3186 (Llama 2's well-known encoding).
		{big, "Hello world", []int{1, id(big, " Hello"), id(big, " world")}},
		{big, "", []int{1}},
		// An emoji not in the vocabulary falls back to its UTF-8 bytes + 3
		// after the dummy-prefix space.
		{big, "🙂", []int{1, id(big, " "), 0xF0 + 3, 0x9F + 3, 0x99 + 3, 0x82 + 3}},
		// tok512 has no " Hello": " H" merges first (best score), then
		// "el"/"lo" etc. Check against the pieces' concatenation instead.
		{small, "the", []int{1, id(small, " the")}},
	}
	for _, tc := range tests {
		got, err := tc.tk.Encode(tc.text, true)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q) = %v, %v; want %v", tc.text, got, err, tc.want)
		}
	}
	if got := []int{id(big, " Hello"), id(big, " world")}; !slices.Equal(got, []int{15043, 3186}) {
		t.Errorf("piece ids %v, want [15043 3186]", got)
	}
	ids, err := small.Encode("Hello world", false)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, i := range ids {
		p, _ := small.Piece(i)
		sb.WriteString(p)
	}
	if sb.String() != " Hello world" {
		t.Errorf("tok512 pieces of Hello world concatenate to %q", sb.String())
	}
}

// naiveLlama2c is run.c's merge loop verbatim: rescan for the best score,
// first occurrence wins.
func naiveLlama2c(tk *Llama2c, ids []int32) []int32 {
	ids = slices.Clone(ids)
	for {
		best, bestIdx, bestID := float32(-1e10), -1, int32(-1)
		for i := 0; i+1 < len(ids); i++ {
			id, ok := tk.vocab[tk.pieces[ids[i]]+tk.pieces[ids[i+1]]]
			if ok && tk.scores[id] > best {
				best, bestIdx, bestID = tk.scores[id], i, id
			}
		}
		if bestIdx < 0 {
			return ids
		}
		ids[bestIdx] = bestID
		ids = slices.Delete(ids, bestIdx+1, bestIdx+2)
	}
}

func TestLlama2cMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []string{"a", "e", "t", "o", " ", " ", "the", "ing", "é", "🙂", "\n", ".", "Lily", "中"}
	for _, name := range []string{"tokenizer.bin", "tok512.bin"} {
		tk, err := ParseLlama2c(llamaFile(t, name))
		if err != nil {
			t.Fatal(err)
		}
		for n := range 200 {
			var sb strings.Builder
			for range rng.IntN(60) {
				sb.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			text := sb.String()
			got, err := tk.Encode(text, false)
			if err != nil {
				t.Fatal(err)
			}
			// Initial symbols as run.c builds them.
			var syms []int32
			if text != "" {
				syms = append(syms, tk.vocab[" "])
			}
			for _, r := range text {
				if id, ok := tk.vocab[string(r)]; ok {
					syms = append(syms, id)
				} else {
					for _, b := range []byte(string(r)) {
						syms = append(syms, int32(b)+3)
					}
				}
			}
			want := naiveLlama2c(tk, syms)
			if len(got) != len(want) {
				t.Fatalf("%s case %d %q: heap %v naive %v", name, n, text, got, want)
			}
			for i := range got {
				if int32(got[i]) != want[i] {
					t.Fatalf("%s case %d %q: heap %v naive %v", name, n, text, got, want)
				}
			}
		}
	}
}

func TestLlama2cRoundTrip(t *testing.T) {
	for _, name := range []string{"tokenizer.bin", "tok512.bin"} {
		tk, err := ParseLlama2c(llamaFile(t, name))
		if err != nil {
			t.Fatal(err)
		}
		texts := append(slices.Clone(roundTripStrings), "▁ meta symbol ▁", "invalid \xff\xfe \xc3", "\x00nul")
		for _, s := range texts {
			for _, bos := range []bool{true, false} {
				ids, err := tk.Encode(s, bos)
				if err != nil {
					t.Fatal(err)
				}
				got, err := tk.Decode(ids)
				if err != nil || got != s {
					t.Errorf("%s bos=%v Decode(Encode(%q)) = %q, %v", name, bos, s, got, err)
				}
				if st := streamDecode(t, tk, ids); st != s {
					t.Errorf("%s streamed decode of %q = %q", name, s, st)
				}
			}
		}
	}
}

func TestLlama2cDecodeToken(t *testing.T) {
	tk, err := ParseLlama2c(llamaFile(t, "tokenizer.bin"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		prev, id int
		want     string
	}{
		{1, 15043, "Hello"},       // leading space stripped after BOS
		{-1, 15043, "Hello"},      // and at the start of a stream
		{3186, 15043, " Hello"},   // kept elsewhere
		{15043, 3 + 0x0A, "\n"},   // byte piece -> raw byte
		{1, 3 + ' ', " "},         // <0x20> is a byte, not a stripped space
		{15043, 1, ""},            // BOS
		{15043, 2, ""},            // EOS
		{15043, 0, "<unk>"},       // unk piece as stored
		{1 << 40, 3186, " world"}, // prev out of range is just "not BOS"
	}
	for _, tc := range tests {
		got, err := tk.DecodeToken(tc.prev, tc.id)
		if err != nil || got != tc.want {
			t.Errorf("DecodeToken(%d, %d) = %q, %v; want %q", tc.prev, tc.id, got, err, tc.want)
		}
	}
	for _, bad := range []int{-1, 32000, math.MaxInt} {
		if _, err := tk.DecodeToken(1, bad); !errors.Is(err, ErrTokenID) {
			t.Errorf("DecodeToken(%d): %v, want ErrTokenID", bad, err)
		}
		if _, err := tk.Decode([]int{1, bad}); !errors.Is(err, ErrTokenID) {
			t.Errorf("Decode(%d): %v, want ErrTokenID", bad, err)
		}
	}
}

// llamaBin builds a tokenizer.bin from pieces and scores.
func llamaBin(maxLen int32, pieces []string, scores []float32) []byte {
	out := binary.LittleEndian.AppendUint32(nil, uint32(maxLen))
	for i, p := range pieces {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(scores[i]))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(p)))
		out = append(out, p...)
	}
	return out
}

func TestParseLlama2cErrors(t *testing.T) {
	pieces := []string{"<unk>", "\n<s>\n", "\n</s>\n", " ", "a", " a"}
	scores := []float32{0, 0, 0, -1, -2, -3}
	good := llamaBin(6, pieces, scores)
	tk, err := ParseLlama2c(good)
	if err != nil {
		t.Fatal(err)
	}
	// Without byte tokens an unknown character cannot be encoded.
	if ids, err := tk.Encode("aa", true); err != nil || !slices.Equal(ids, []int{1, 5, 4}) {
		t.Errorf("Encode(aa) = %v, %v; want [1 5 4]", ids, err)
	}
	if _, err := tk.Encode("b", false); !errors.Is(err, ErrUnencodable) {
		t.Errorf("Encode(b) = %v, want ErrUnencodable", err)
	}
	noSpace, err := ParseLlama2c(llamaBin(6, pieces[:3], scores[:3]))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noSpace.Encode("x", false); !errors.Is(err, ErrUnencodable) {
		t.Errorf("Encode without \" \" piece = %v, want ErrUnencodable", err)
	}

	withLen := func(n int32) []byte {
		b := llamaBin(6, pieces[:3], scores[:3])
		b = binary.LittleEndian.AppendUint32(b, 0)
		return binary.LittleEndian.AppendUint32(b, uint32(n))
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"short header", []byte{1, 0}},
		{"zero max length", llamaBin(0, nil, nil)},
		{"negative max length", llamaBin(-5, pieces, scores)},
		{"huge max length", llamaBin(1<<30, pieces, scores)},
		{"header only", llamaBin(6, nil, nil)},
		{"two tokens", llamaBin(6, pieces[:2], scores[:2])},
		{"negative token length", withLen(-1)},
		{"token longer than max", withLen(7)},
		{"huge token length", withLen(math.MaxInt32)},
		{"truncated piece", withLen(3)},
		{"truncated score", good[:len(good)-6]},
		{"NaN score", llamaBin(6, pieces, []float32{0, 0, float32(math.NaN()), 0, 0, 0})},
	}
	for _, tc := range tests {
		_, err := ParseLlama2c(tc.data)
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: error %v, want ErrFormat", tc.name, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "tokenizer: llama2c:") {
			t.Errorf("%s: error %q lacks prefix", tc.name, err)
		}
	}
	if _, err := LoadLlama2c("/nonexistent/tokenizer.bin"); err == nil {
		t.Error("LoadLlama2c of a missing file succeeded")
	}
}
