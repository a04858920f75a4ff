package tokenizer

// The tokenizer.json pipeline around the BPE model: normalizers,
// pre-tokenizers and decoders, parsed strictly (bounded depth and growth).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// ---- normalizers ----

type normalizer func(string) string

// hfComponent holds the fields of every normalizer, pre-tokenizer and
// decoder the package understands.
type hfComponent struct {
	Type          string            `json:"type"`
	Normalizers   []json.RawMessage `json:"normalizers"`
	PreTokenizers []json.RawMessage `json:"pretokenizers"`
	Decoders      []json.RawMessage `json:"decoders"`
	Prepend       string            `json:"prepend"`
	Pattern       *hfPattern        `json:"pattern"`
	Content       string            `json:"content"`
	Start         int               `json:"start"`
	Stop          int               `json:"stop"`
	Left          *bool             `json:"left"`
	Right         *bool             `json:"right"`
	StripLeft     *bool             `json:"strip_left"`
	StripRight    *bool             `json:"strip_right"`
	AddPrefix     *bool             `json:"add_prefix_space"`
	UseRegex      *bool             `json:"use_regex"`
	Replacement   string            `json:"replacement"`
	PrependScheme string            `json:"prepend_scheme"`
	Split         *bool             `json:"split"`
}

type hfPattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// parseComponent parses one pipeline component; a null or absent one is nil.
func parseComponent(raw json.RawMessage, depth int) (*hfComponent, error) {
	if isNull(raw) {
		return nil, nil
	}
	if depth > maxSeqDepth {
		return nil, fmt.Errorf("nesting deeper than %d: %w", maxSeqDepth, ErrFormat)
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return &c, nil
}

// parseSequence parses the parts of a Sequence component with parse, one level deeper, and joins
// their steps.
func parseSequence[T any](parts []json.RawMessage, depth int, growth *float64, parse func(json.RawMessage, int, *float64) ([]T, error)) ([]T, error) {
	var out []T
	for _, r := range parts {
		ts, err := parse(r, depth+1, growth)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

// replacer compiles a Replace pattern into a function.
// It multiplies *growth by the most the replacement can lengthen a text.
func replacer(p *hfPattern, content string, growth *float64) (func(string) string, error) {
	switch {
	case p == nil:
		return nil, fmt.Errorf("Replace without pattern: %w", ErrFormat)
	case p.String != nil:
		if *p.String == "" {
			return nil, fmt.Errorf("Replace with empty pattern: %w", ErrFormat)
		}
		old := *p.String
		*growth *= max(1, float64(len(content))/float64(len(old)))
		return func(s string) string { return strings.ReplaceAll(s, old, content) }, nil
	case p.Regex != nil:
		re, err := regexp.Compile(*p.Regex)
		if err != nil {
			return nil, fmt.Errorf("Replace regex not supported by Go regexp: %w", ErrUnsupported)
		}
		if re.MatchString("") {
			return nil, fmt.Errorf("Replace regex matches the empty string: %w", ErrUnsupported)
		}
		*growth *= max(1, float64(len(content)))
		// content is literal text, not a $1-style template.
		return func(s string) string { return re.ReplaceAllLiteralString(s, content) }, nil
	}
	return nil, fmt.Errorf("Replace pattern is neither String nor Regex: %w", ErrFormat)
}

func parseNormalizer(raw json.RawMessage, depth int, growth *float64) ([]normalizer, error) {
	c, err := parseComponent(raw, depth)
	if c == nil || err != nil {
		return nil, err
	}
	switch c.Type {
	case "Sequence":
		return parseSequence(c.Normalizers, depth, growth, parseNormalizer)
	case "Prepend":
		p := c.Prepend
		return []normalizer{func(s string) string {
			if s == "" {
				return s
			}
			return p + s
		}}, nil
	case "Replace":
		f, err := replacer(c.Pattern, c.Content, growth)
		if err != nil {
			return nil, err
		}
		return []normalizer{f}, nil
	case "Lowercase":
		*growth *= 2 // a few characters lengthen when lowercased
		return []normalizer{strings.ToLower}, nil
	case "Strip":
		left := c.StripLeft == nil || *c.StripLeft
		right := c.StripRight == nil || *c.StripRight
		return []normalizer{func(s string) string {
			if left {
				s = strings.TrimLeftFunc(s, isSpace)
			}
			if right {
				s = strings.TrimRightFunc(s, isSpace)
			}
			return s
		}}, nil
	}
	return nil, fmt.Errorf("type %q: %w", c.Type, ErrUnsupported)
}

// ---- pre-tokenizers ----

// preTokenizer splits every word further; first is true for the first
// segment of the input text.
type preTokenizer func(words []string, first bool) []string

func parsePreTokenizer(raw json.RawMessage, depth int, growth *float64) ([]preTokenizer, error) {
	c, err := parseComponent(raw, depth)
	if c == nil || err != nil {
		return nil, err
	}
	switch c.Type {
	case "Sequence":
		return parseSequence(c.PreTokenizers, depth, growth, parsePreTokenizer)
	case "ByteLevel":
		addPrefix := c.AddPrefix == nil || *c.AddPrefix
		useRegex := c.UseRegex == nil || *c.UseRegex
		*growth *= 2 // a byte becomes a one- or two-byte symbol
		return []preTokenizer{byteLevelPreTokenizer(addPrefix, useRegex)}, nil
	case "Metaspace":
		repl, scheme, split, err := metaspaceParams(c)
		if err != nil {
			return nil, err
		}
		*growth *= float64(len(repl)) // a space becomes repl
		return []preTokenizer{func(words []string, first bool) []string {
			var out []string
			for i, w := range words {
				w = strings.ReplaceAll(w, " ", repl)
				if w != "" && !strings.HasPrefix(w, repl) &&
					(scheme == "always" || (scheme == "first" && first && i == 0)) {
					w = repl + w
				}
				if !split {
					out = append(out, w)
					continue
				}
				out = append(out, splitBefore(w, repl)...)
			}
			return out
		}}, nil
	}
	return nil, fmt.Errorf("type %q: %w", c.Type, ErrUnsupported)
}

func metaspaceParams(c *hfComponent) (repl, scheme string, split bool, err error) {
	repl = c.Replacement
	if repl == "" {
		repl = "▁"
	}
	scheme = strings.ToLower(c.PrependScheme)
	if scheme == "" {
		scheme = "always"
		if c.AddPrefix != nil && !*c.AddPrefix {
			scheme = "never"
		}
	}
	if scheme != "always" && scheme != "first" && scheme != "never" {
		return "", "", false, fmt.Errorf("Metaspace prepend_scheme %q: %w", c.PrependScheme, ErrFormat)
	}
	split = c.Split == nil || *c.Split
	return repl, scheme, split, nil
}

// splitBefore splits s before every occurrence of sep (Hugging Face's
// MergedWithNext behaviour).
func splitBefore(s, sep string) []string {
	var out []string
	start := 0
	for i := 0; ; {
		j := strings.Index(s[i:], sep)
		if j < 0 {
			break
		}
		j += i
		if j > start {
			out = append(out, s[start:j])
			start = j
		}
		i = j + len(sep)
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// ---- decoders ----

type decoderKind int

const (
	decReplace decoderKind = iota
	decByteFallback
	decFuse
	decStrip
	decByteLevel
	decMetaspace
)

type decoderStep struct {
	kind        decoderKind
	replace     func(string) string
	content     string // Strip: the character stripped
	start, stop int    // Strip counts
	repl        string // Metaspace replacement
	prefix      bool   // Metaspace: strip the prepended space of the first token
}

func parseDecoder(raw json.RawMessage, depth int, growth *float64) ([]decoderStep, error) {
	c, err := parseComponent(raw, depth)
	if c == nil || err != nil {
		return nil, err
	}
	switch c.Type {
	case "Sequence":
		return parseSequence(c.Decoders, depth, growth, parseDecoder)
	case "Replace":
		f, err := replacer(c.Pattern, c.Content, growth)
		if err != nil {
			return nil, err
		}
		return []decoderStep{{kind: decReplace, replace: f}}, nil
	case "ByteFallback":
		return []decoderStep{{kind: decByteFallback}}, nil
	case "Fuse":
		return []decoderStep{{kind: decFuse}}, nil
	case "Strip":
		if c.Content == "" || c.Start < 0 || c.Stop < 0 || c.Start > maxStripLength || c.Stop > maxStripLength {
			return nil, fmt.Errorf("Strip with bad content or counts: %w", ErrFormat)
		}
		return []decoderStep{{kind: decStrip, content: c.Content, start: c.Start, stop: c.Stop}}, nil
	case "ByteLevel":
		return []decoderStep{{kind: decByteLevel}}, nil
	case "Metaspace":
		repl, scheme, _, err := metaspaceParams(c)
		if err != nil {
			return nil, err
		}
		return []decoderStep{{kind: decMetaspace, repl: repl, prefix: scheme != "never"}}, nil
	}
	return nil, fmt.Errorf("type %q: %w", c.Type, ErrUnsupported)
}

// runDecoders applies a decoder chain to tokens as Hugging Face's
// decode_chain does, except that bytes are emitted raw (never replaced by
// U+FFFD). In streaming mode tokens holds one token somewhere in a stream:
// steps that act on the start of the whole text (Metaspace's prefix, Strip
// after Fuse) apply only when atStart, and Strip never strips the end of a
// fused stream (its end is not known yet).
func runDecoders(steps []decoderStep, toks []string, streaming, atStart bool) []string {
	fused := false
	for _, st := range steps {
		switch st.kind {
		case decReplace:
			for i := range toks {
				toks[i] = st.replace(toks[i])
			}
		case decByteFallback:
			out := toks[:0:0]
			var pending []byte
			for _, tk := range toks {
				if b, ok := byteToken(tk); ok {
					pending = append(pending, b)
					continue
				}
				if len(pending) > 0 {
					out = append(out, string(pending))
					pending = pending[:0]
				}
				out = append(out, tk)
			}
			if len(pending) > 0 {
				out = append(out, string(pending))
			}
			toks = out
		case decFuse:
			toks = []string{strings.Join(toks, "")}
			fused = true
		case decStrip:
			for i := range toks {
				start, stop := st.start, st.stop
				if streaming && fused {
					stop = 0
					if !atStart {
						start = 0
					}
				}
				toks[i] = stripN(toks[i], st.content, start, stop)
			}
		case decByteLevel:
			for i := range toks {
				toks[i] = byteLevelDecode(toks[i])
			}
		case decMetaspace:
			for i := range toks {
				s := strings.ReplaceAll(toks[i], st.repl, " ")
				first := i == 0
				if streaming {
					first = atStart
				}
				if st.prefix && first {
					s = strings.TrimPrefix(s, " ")
				}
				toks[i] = s
			}
		}
	}
	return toks
}

// stripN removes up to start leading and stop trailing occurrences of c.
func stripN(s, c string, start, stop int) string {
	for ; start > 0 && strings.HasPrefix(s, c); start-- {
		s = s[len(c):]
	}
	for ; stop > 0 && strings.HasSuffix(s, c); stop-- {
		s = s[:len(s)-len(c)]
	}
	return s
}

// isSpace matches Unicode White_Space, as \s does in the regex engines
// Hugging Face and GPT-2 use.
func isSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}
