package tokenizer

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hssee/hssee/internal/sharedtest"
)

// longText is about n bytes of TinyStories-like prose.
func longText(n int) string {
	const para = "Once upon a time, there was a little girl named Lily. She loved to play outside with her big red ball. " +
		"One day, she saw a small bird in the tree and said, \"Hello, bird! Do you want to play?\"\n"
	return strings.Repeat(para, n/len(para)+1)[:n]
}

// TestEncodeLongTextFast guards against quadratic merging: a 256 KiB text is
// one BPE word for the TinyStories tokenizer (no pre-tokenizer), so an
// O(n^2) merge loop would take minutes; the heap takes well under a second.
func TestEncodeLongTextFast(t *testing.T) {
	text := longText(256 << 10)
	for _, p := range []string{
		tinyStoriesPath(t),
		sharedtest.Path(t, "models", "llama2c", "tokenizer.bin"),
	} {
		tk := mustLoad(t, p)
		start := time.Now()
		ids, err := tk.Encode(text, true)
		if err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		if el > 20*time.Second {
			t.Errorf("%s: encoding %d bytes took %v", filepath.Base(p), len(text), el)
		}
		got, err := tk.Decode(ids)
		if err != nil || got != text {
			t.Errorf("%s: long text does not round-trip", filepath.Base(p))
		}
		t.Logf("%s: %d bytes -> %d tokens in %v", filepath.Base(p), len(text), len(ids), el)
	}
}

func benchEncode(b *testing.B, path string, n int) {
	tk := mustLoad(b, path)
	text := longText(n)
	ids, err := tk.Encode(text, true)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for range b.N {
		if _, err := tk.Encode(text, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(ids)), "tokens/op")
}

// BenchmarkEncode encodes prompts of a few thousand tokens.
func BenchmarkEncode(b *testing.B) {
	b.Run("tinystories-16KiB", func(b *testing.B) { benchEncode(b, tinyStoriesPath(b), 16<<10) })
	b.Run("llama2c-32k-16KiB", func(b *testing.B) {
		benchEncode(b, sharedtest.Path(b, "models", "llama2c", "tokenizer.bin"), 16<<10)
	})
	b.Run("gpt2-tiny-16KiB", func(b *testing.B) {
		v, m := gpt2Files()
		tk, err := ParseGPT2(v, m)
		if err != nil {
			b.Fatal(err)
		}
		text := longText(16 << 10)
		b.SetBytes(int64(len(text)))
		for range b.N {
			if _, err := tk.Encode(text, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	tk := mustLoad(b, tinyStoriesPath(b))
	ids, err := tk.Encode(longText(16<<10), true)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := tk.Decode(ids); err != nil {
			b.Fatal(err)
		}
	}
}
