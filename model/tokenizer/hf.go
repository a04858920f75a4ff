package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// BPE is a byte-pair-encoding tokenizer read from a Hugging Face
// tokenizer.json (or a GPT-2 vocab.json + merges.txt pair). It covers both the
// SentencePiece-style Llama flavour and the GPT-2 byte-level flavour; which
// one is decided by the normalizer, pre-tokenizer and decoder in the file.
type BPE struct {
	vocab   map[string]int32
	pieces  []string // id -> token string
	present []bool   // id has a token
	special []bool   // id is a special (control) token

	merges       map[uint64]mergeRule
	byteIDs      [256]int32 // id of "<0xHH>", or -1
	unk          int32      // -1 when the model has no unk token
	byteFallback bool
	fuseUnk      bool
	ignoreMerges bool
	contPrefix   string
	eowSuffix    string

	normalizers []normalizer
	preTok      []preTokenizer
	decoders    []decoderStep
	added       []string // non-special added tokens matched in input, longest first

	bos, eos int
}

type mergeRule struct {
	rank   int32
	merged int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// Limits on untrusted tokenizer.json contents.
const (
	maxVocab       = 1 << 24
	maxSeqDepth    = 64 // nesting of Sequence normalizers/pre-tokenizers/decoders
	maxStripLength = 1 << 16
	// maxGrowth bounds how many times longer the normalizers and
	// pre-tokenizers (or the decoders) may make a text, so that a chain of
	// expanding Replace steps cannot turn a short prompt into gigabytes.
	maxGrowth = 64
)

// LoadHF reads a Hugging Face tokenizer.json with a BPE model. If a
// tokenizer_config.json sits in the same directory, its bos_token and
// eos_token override the ones inferred from the tokenizer file.
func LoadHF(path string) (Tokenizer, error) {
	data, err := readFile("tokenizer: hf", path)
	if err != nil {
		return nil, err
	}
	t, err := ParseHF(data)
	if err != nil {
		return nil, err
	}
	if err := applyConfig(t, path); err != nil {
		return nil, err
	}
	return t, nil
}

type hfFile struct {
	AddedTokens   []hfAdded       `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         *hfModel        `json:"model"`
}

type hfAdded struct {
	ID      int    `json:"id"`
	Content string `json:"content"`
	Special bool   `json:"special"`
}

type hfModel struct {
	Type                    string           `json:"type"`
	Vocab                   map[string]int64 `json:"vocab"`
	Merges                  json.RawMessage  `json:"merges"`
	UnkToken                *string          `json:"unk_token"`
	ByteFallback            bool             `json:"byte_fallback"`
	FuseUnk                 bool             `json:"fuse_unk"`
	IgnoreMerges            bool             `json:"ignore_merges"`
	ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
}

// ParseHF parses the contents of a Hugging Face tokenizer.json whose model is
// BPE. Dropout, if set, is ignored (encoding is deterministic).
func ParseHF(data []byte) (*BPE, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenizer: hf: %w: %w", ErrFormat, err)
	}
	if f.Model == nil {
		return nil, fmt.Errorf("tokenizer: hf: no model: %w", ErrFormat)
	}
	m := f.Model
	if m.Type != "" && m.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer: hf: model type %q: %w", m.Type, ErrUnsupported)
	}
	merges, err := parseMergeList(m.Merges)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: hf: merges: %w", err)
	}
	t, err := newBPE(m.Vocab, merges, f.AddedTokens, m)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: hf: %w", err)
	}
	normGrowth, decGrowth := 1.0, 1.0
	if t.normalizers, err = parseNormalizer(f.Normalizer, 0, &normGrowth); err != nil {
		return nil, fmt.Errorf("tokenizer: hf: normalizer: %w", err)
	}
	if t.preTok, err = parsePreTokenizer(f.PreTokenizer, 0, &normGrowth); err != nil {
		return nil, fmt.Errorf("tokenizer: hf: pre_tokenizer: %w", err)
	}
	if t.decoders, err = parseDecoder(f.Decoder, 0, &decGrowth); err != nil {
		return nil, fmt.Errorf("tokenizer: hf: decoder: %w", err)
	}
	if normGrowth > maxGrowth || decGrowth > maxGrowth {
		return nil, fmt.Errorf("tokenizer: hf: normalizer, pre-tokenizer or decoder may expand text over %dx: %w", maxGrowth, ErrUnsupported)
	}
	t.bos, t.eos = t.inferSpecial(f.PostProcessor)
	return t, nil
}

// parseMergeList reads merges given either as "a b" strings or as [a, b]
// pairs.
func parseMergeList(raw json.RawMessage) ([][2]string, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	out := make([][2]string, len(items))
	for i, it := range items {
		var s string
		if err := json.Unmarshal(it, &s); err == nil {
			a, b, ok := splitMergeLine(s)
			if !ok {
				return nil, fmt.Errorf("entry %d is not two space-separated tokens: %w", i, ErrFormat)
			}
			out[i] = [2]string{a, b}
			continue
		}
		var p []string
		if err := json.Unmarshal(it, &p); err != nil || len(p) != 2 {
			return nil, fmt.Errorf("entry %d is neither \"a b\" nor [a, b]: %w", i, ErrFormat)
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}

// splitMergeLine splits the legacy "a b" merge format, which requires exactly
// one space.
func splitMergeLine(s string) (string, string, bool) {
	i := strings.IndexByte(s, ' ')
	if i <= 0 || i == len(s)-1 || strings.IndexByte(s[i+1:], ' ') >= 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// newBPE builds the vocabulary tables and the merge map.
func newBPE(vocab map[string]int64, merges [][2]string, added []hfAdded, m *hfModel) (*BPE, error) {
	maxID := int64(-1)
	for _, id := range vocab {
		if id < 0 || id >= maxVocab {
			return nil, fmt.Errorf("vocab id %d out of range: %w", id, ErrFormat)
		}
		maxID = max(maxID, id)
	}
	for _, a := range added {
		if a.ID < 0 || a.ID >= maxVocab {
			return nil, fmt.Errorf("added token id %d out of range: %w", a.ID, ErrFormat)
		}
		if a.Content == "" {
			return nil, fmt.Errorf("added token %d has empty content: %w", a.ID, ErrFormat)
		}
		maxID = max(maxID, int64(a.ID))
	}
	if maxID < 0 {
		return nil, fmt.Errorf("empty vocabulary: %w", ErrFormat)
	}
	// Ids may be sparse, but not absurdly so: this bounds the tables a small
	// hostile file can make us allocate.
	if maxID >= 2*int64(len(vocab)+len(added))+1024 {
		return nil, fmt.Errorf("vocabulary ids too sparse (max id %d for %d tokens): %w", maxID, len(vocab)+len(added), ErrFormat)
	}
	n := int(maxID) + 1
	t := &BPE{
		vocab:        make(map[string]int32, len(vocab)+len(added)),
		pieces:       make([]string, n),
		present:      make([]bool, n),
		special:      make([]bool, n),
		unk:          -1,
		byteFallback: m.ByteFallback,
		fuseUnk:      m.FuseUnk,
		ignoreMerges: m.IgnoreMerges,
		bos:          -1,
		eos:          -1,
	}
	if m.ContinuingSubwordPrefix != nil {
		t.contPrefix = *m.ContinuingSubwordPrefix
	}
	if m.EndOfWordSuffix != nil {
		t.eowSuffix = *m.EndOfWordSuffix
	}
	for s, id := range vocab {
		if t.present[id] {
			return nil, fmt.Errorf("vocab id %d assigned twice: %w", id, ErrFormat)
		}
		t.vocab[s] = int32(id)
		t.pieces[id] = s
		t.present[id] = true
	}
	for _, a := range added {
		if t.present[a.ID] && t.pieces[a.ID] != a.Content {
			return nil, fmt.Errorf("added token id %d conflicts with the vocabulary: %w", a.ID, ErrFormat)
		}
		if old, ok := t.vocab[a.Content]; ok && old != int32(a.ID) {
			return nil, fmt.Errorf("added token %d duplicates token %d: %w", a.ID, old, ErrFormat)
		}
		t.vocab[a.Content] = int32(a.ID)
		t.pieces[a.ID] = a.Content
		t.present[a.ID] = true
		t.special[a.ID] = t.special[a.ID] || a.Special
	}
	seen := make(map[string]bool)
	for _, a := range added {
		if !a.Special && !seen[a.Content] {
			seen[a.Content] = true
			t.added = append(t.added, a.Content)
		}
	}
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i]) > len(t.added[j]) })

	if m.UnkToken != nil && *m.UnkToken != "" {
		id, ok := t.vocab[*m.UnkToken]
		if !ok {
			return nil, fmt.Errorf("unk_token not in vocabulary: %w", ErrFormat)
		}
		t.unk = id
	}
	for b := range 256 {
		t.byteIDs[b] = -1
		if id, ok := t.vocab[byteTokenName(byte(b))]; ok {
			t.byteIDs[b] = id
		}
	}
	t.merges = make(map[uint64]mergeRule, len(merges))
	for rank, mg := range merges {
		a, ok1 := t.vocab[mg[0]]
		b, ok2 := t.vocab[mg[1]]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("merge %d: token not in vocabulary: %w", rank, ErrFormat)
		}
		right := mg[1]
		if t.contPrefix != "" {
			right = strings.TrimPrefix(right, t.contPrefix)
		}
		c, ok := t.vocab[mg[0]+right]
		if !ok {
			return nil, fmt.Errorf("merge %d: merged token not in vocabulary: %w", rank, ErrFormat)
		}
		k := pairKey(a, b)
		if _, dup := t.merges[k]; !dup {
			t.merges[k] = mergeRule{rank: int32(rank), merged: c}
		}
	}
	return t, nil
}

// inferSpecial finds BOS and EOS: from a TemplateProcessing (or
// Bert/Roberta) post-processor, else from well-known token names.
func (t *BPE) inferSpecial(post json.RawMessage) (bos, eos int) {
	bos, eos = -1, -1
	t.specialFromPost(post, &bos, &eos, 0)
	lookup := func(names []string) int {
		for _, n := range names {
			if id, ok := t.vocab[n]; ok {
				return int(id)
			}
		}
		return -1
	}
	if bos < 0 {
		bos = lookup([]string{"<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>", "<|endoftext|>"})
	}
	if eos < 0 {
		eos = lookup([]string{"</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>"})
	}
	if bos < 0 || eos < 0 {
		// Fall back to special added tokens named like a start/end marker.
		for id, sp := range t.special {
			if !sp {
				continue
			}
			p := strings.ToLower(t.pieces[id])
			if bos < 0 && (strings.Contains(p, "start") || strings.Contains(p, "begin") || strings.Contains(p, "bos")) {
				bos = id
			}
			if eos < 0 && (strings.Contains(p, "end") || strings.Contains(p, "eos")) {
				eos = id
			}
		}
	}
	return bos, eos
}

type hfPost struct {
	Type          string            `json:"type"`
	Single        json.RawMessage   `json:"single"`
	SpecialTokens map[string]hfSpec `json:"special_tokens"`
	Processors    []json.RawMessage `json:"processors"`
	Cls           []json.RawMessage `json:"cls"`
	Sep           []json.RawMessage `json:"sep"`
}

type hfSpec struct {
	IDs []int `json:"ids"`
}

type hfTemplatePiece struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *json.RawMessage `json:"Sequence"`
}

// specialFromPost reads BOS/EOS from a post-processor; malformed or unknown
// post-processors are ignored (they only serve to infer these ids).
func (t *BPE) specialFromPost(raw json.RawMessage, bos, eos *int, depth int) {
	if len(raw) == 0 || depth > maxSeqDepth {
		return
	}
	var p hfPost
	if json.Unmarshal(raw, &p) != nil {
		return
	}
	tokenID := func(name string) int {
		if s, ok := p.SpecialTokens[name]; ok && len(s.IDs) == 1 && t.validID(s.IDs[0]) {
			return s.IDs[0]
		}
		if id, ok := t.vocab[name]; ok {
			return int(id)
		}
		return -1
	}
	switch p.Type {
	case "Sequence":
		for _, q := range p.Processors {
			t.specialFromPost(q, bos, eos, depth+1)
		}
	case "TemplateProcessing":
		var names []string // special tokens, "" for the sequence
		var pieces []hfTemplatePiece
		if json.Unmarshal(p.Single, &pieces) == nil {
			for _, pc := range pieces {
				switch {
				case pc.SpecialToken != nil:
					names = append(names, pc.SpecialToken.ID)
				case pc.Sequence != nil:
					names = append(names, "")
				}
			}
		} else {
			var s string
			if json.Unmarshal(p.Single, &s) != nil {
				return
			}
			for _, f := range strings.Fields(s) {
				if strings.HasPrefix(f, "$") {
					names = append(names, "")
					continue
				}
				if i := strings.LastIndexByte(f, ':'); i > 0 {
					f = f[:i]
				}
				names = append(names, f)
			}
		}
		if len(names) >= 2 && names[0] != "" && *bos < 0 {
			*bos = tokenID(names[0])
		}
		if len(names) >= 2 && names[len(names)-1] != "" && *eos < 0 {
			*eos = tokenID(names[len(names)-1])
		}
	case "BertProcessing", "RobertaProcessing":
		id := func(pair []json.RawMessage) int {
			if len(pair) != 2 {
				return -1
			}
			var n int
			if json.Unmarshal(pair[1], &n) != nil || !t.validID(n) {
				return -1
			}
			return n
		}
		if *bos < 0 {
			*bos = id(p.Cls)
		}
		if *eos < 0 {
			*eos = id(p.Sep)
		}
	}
}

func (t *BPE) validID(id int) bool { return id >= 0 && id < len(t.pieces) && t.present[id] }

// TokenID returns the id of a token string.
func (t *BPE) TokenID(piece string) (int, bool) {
	id, ok := t.vocab[piece]
	return int(id), ok
}

// Piece returns the token string of id ("" and false if there is none).
func (t *BPE) Piece(id int) (string, bool) {
	if !t.validID(id) {
		return "", false
	}
	return t.pieces[id], true
}

// VocabSize implements [Tokenizer].
func (t *BPE) VocabSize() int { return len(t.pieces) }

// BOS implements [Tokenizer].
func (t *BPE) BOS() int { return t.bos }

// EOS implements [Tokenizer].
func (t *BPE) EOS() int { return t.eos }

// Encode implements [Tokenizer]: added-token split, normalization,
// pre-tokenization, then BPE on every word.
func (t *BPE) Encode(text string, bos bool) ([]int, error) {
	out := make([]int, 0, len(text)/2+2)
	if bos {
		if t.bos < 0 {
			return nil, fmt.Errorf("tokenizer: encode: %w", ErrNoBOS)
		}
		out = append(out, t.bos)
	}
	first := true
	var err error
	for len(text) > 0 {
		seg, id, rest := t.nextAdded(text)
		text = rest
		if seg != "" {
			for _, nf := range t.normalizers {
				seg = nf(seg)
			}
			words := []string{seg}
			for _, pt := range t.preTok {
				words = pt(words, first)
			}
			for _, w := range words {
				if out, err = t.encodeWord(w, out); err != nil {
					return nil, fmt.Errorf("tokenizer: encode: %w", err)
				}
			}
		}
		if id >= 0 {
			out = append(out, int(id))
		}
		first = false
	}
	return out, nil
}

// nextAdded splits off the text before the first non-special added token,
// returning that text, the added token's id (-1 if none was found) and the
// remaining text.
func (t *BPE) nextAdded(text string) (string, int32, string) {
	if len(t.added) == 0 {
		return text, -1, ""
	}
	for i := 0; i < len(text); i++ {
		for _, a := range t.added { // longest first
			if strings.HasPrefix(text[i:], a) {
				return text[:i], t.vocab[a], text[i+len(a):]
			}
		}
	}
	return text, -1, ""
}

// encodeWord appends the BPE encoding of one pre-tokenized word.
func (t *BPE) encodeWord(w string, out []int) ([]int, error) {
	if w == "" {
		return out, nil
	}
	if t.ignoreMerges {
		if id, ok := t.vocab[w]; ok {
			return append(out, int(id)), nil
		}
	}
	syms := make([]int32, 0, len(w))
	lastUnk := false
	for i := 0; i < len(w); {
		n := nextUnit(w[i:])
		unit := w[i : i+n]
		s := unit
		if i > 0 && t.contPrefix != "" {
			s = t.contPrefix + s
		}
		i += n
		if i == len(w) && t.eowSuffix != "" {
			s += t.eowSuffix
		}
		if id, ok := t.vocab[s]; ok {
			syms = append(syms, id)
			lastUnk = false
			continue
		}
		if t.byteFallback && t.hasBytes(unit) {
			for j := 0; j < len(unit); j++ {
				syms = append(syms, t.byteIDs[unit[j]])
			}
			lastUnk = false
			continue
		}
		if t.unk < 0 {
			return nil, ErrUnencodable
		}
		if t.fuseUnk && lastUnk {
			continue
		}
		syms = append(syms, t.unk)
		lastUnk = true
	}
	syms = mergeSymbols(syms, t.pair)
	for _, id := range syms {
		out = append(out, int(id))
	}
	return out, nil
}

func (t *BPE) hasBytes(unit string) bool {
	for j := 0; j < len(unit); j++ {
		if t.byteIDs[unit[j]] < 0 {
			return false
		}
	}
	return true
}

func (t *BPE) pair(a, b int32) (float64, int32, bool) {
	r, ok := t.merges[pairKey(a, b)]
	return float64(r.rank), r.merged, ok
}

// Decode implements [Tokenizer], running the file's decoder over the
// non-special tokens.
func (t *BPE) Decode(ids []int) (string, error) {
	toks := make([]string, 0, len(ids))
	for i, id := range ids {
		if !t.validID(id) {
			// The position, not the id: ids may be (encrypted) user data.
			return "", fmt.Errorf("tokenizer: decode: position %d: %w", i, ErrTokenID)
		}
		if !t.special[id] {
			toks = append(toks, t.pieces[id])
		}
	}
	return strings.Join(runDecoders(t.decoders, toks, false, false), ""), nil
}

// DecodeToken implements [Tokenizer].
func (t *BPE) DecodeToken(prev, id int) (string, error) {
	if !t.validID(id) {
		return "", fmt.Errorf("tokenizer: decode token: %w", ErrTokenID)
	}
	if t.special[id] {
		return "", nil
	}
	atStart := prev < 0 || (prev == t.bos && t.bos >= 0)
	return strings.Join(runDecoders(t.decoders, []string{t.pieces[id]}, true, atStart), ""), nil
}
