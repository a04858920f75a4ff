package main

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hssee/hssee/ee"
	"github.com/hssee/hssee/hss/hsstest"
	"github.com/hssee/hssee/internal/sharedtest"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/hf"
	"github.com/hssee/hssee/model/tokenizer"
)

func tiny(t *testing.T) (*model.Model, tokenizer.Tokenizer) {
	t.Helper()
	dir := sharedtest.TinyStories(t)
	m, err := hf.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m, tok
}

// TestWeightMatchingBreaksEE: with the public base weights, the EE embedding alone gives away the whole
// vocabulary permutation (so every encrypted id) and the residual map, in both modes. This test pins the
// weakness: if it ever fails, the attack got worse, not EE better.
func TestWeightMatchingBreaksEE(t *testing.T) {
	m, _ := tiny(t)
	for _, mode := range []ee.Mode{ee.ModePerm, ee.ModeRotate} {
		k := fixedKey(mode, 9)
		em, err := ee.Transform(m, k)
		if err != nil {
			t.Fatal(err)
		}
		r := weightAttack(m, em, k)
		if r.VocabRecovered != r.Vocab || r.Residual > 1e-6 || r.Permutation != (mode == ee.ModePerm) {
			t.Errorf("%s: %+v", mode, r)
		}
	}
}

// markov samples a synthetic language over V tokens: Zipf-weighted unigrams, and after each token one of a
// few preferred successors most of the time (sparse bigram structure, as text has).
func markov(V, n int, seed uint64) [][]int {
	r := rand.New(rand.NewPCG(seed, 77))
	g := rand.New(rand.NewPCG(1, 2)) // the language itself is fixed
	succ := make([][]int, V)
	for a := range succ {
		for range 4 {
			succ[a] = append(succ[a], zipf(g, V))
		}
	}
	var out [][]int
	for n > 0 {
		s := []int{0}
		for len(s) < 200 && n > 0 {
			prev := s[len(s)-1]
			if r.IntN(10) < 7 {
				s = append(s, succ[prev][r.IntN(4)])
			} else {
				s = append(s, zipf(r, V))
			}
			n--
		}
		out = append(out, s)
	}
	return out
}

func zipf(r *rand.Rand, V int) int {
	for {
		k := int(1 / (r.Float64() + 1e-9))
		if k-1 < V {
			return k - 1
		}
	}
}

// TestFrequencyAttack: a fixed-key perm deployment (a real ee.Key, bound by Transform) is broken by frequency
// analysis and hill climbing once the server has seen enough tokens, on a small synthetic language where the
// test is fast; per-session keys (ee.Session) leave an attacker who pools every session at chance. The README
// has the numbers on the real 2048-token TinyStories vocabulary, where the same attack needs far more tokens.
func TestFrequencyAttack(t *testing.T) {
	const V = 64
	cfg := model.Config{Arch: model.ArchLlama, Dim: 16, HiddenDim: 32, NLayers: 1, NHeads: 2, NKVHeads: 2, VocabSize: V,
		MaxSeqLen: 16, NormEps: 1e-5, RopeTheta: 10000, RopeStyle: model.RopeHalf, TiedEmbed: true, BOS: 0, EOS: 1}
	base, err := model.RandomModel(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	lm := trainLM(markov(V, 100_000, 1), V, 2)
	priv := markov(V, 40_000, 2)
	attack := func(n int, enc func(int) (func([]int) ([]int, error), error)) float64 {
		rows, err := frequencyAttack(priv, lm, V, []int{n}, 20_000, enc)
		if err != nil {
			t.Fatal(err)
		}
		return rows[0].Occ
	}
	k := fixedKey(ee.ModePerm, 1)
	if _, err := ee.Transform(base, k); err != nil {
		t.Fatal(err)
	}
	fixed := func(int) (func([]int) ([]int, error), error) { return k.EncryptIDs, nil }
	few, many := attack(200, fixed), attack(40_000, fixed)
	session := attack(40_000, func(i int) (func([]int) ([]int, error), error) {
		s, err := ee.NewSession(k, bytes.NewReader(bytes.Repeat([]byte{byte(i), byte(i >> 8), 0x5e, 1}, 8)))
		if err != nil {
			return nil, err
		}
		return s.EncryptIDs, nil
	})
	t.Logf("fixed perm key: %.1f%% of 200 tokens, %.1f%% of 40000 recovered; per-session keys, pooled: %.1f%%", 100*few, 100*many, 100*session)
	if many < 0.9 {
		t.Errorf("fixed key, 40000 observed tokens: recovered %.3f < 0.9 (the attack regressed; the weakness is real)", many)
	}
	if few > many {
		t.Errorf("more tokens recovered less: %.3f > %.3f", few, many)
	}
	if session > 0.25 {
		t.Errorf("per-session keys, pooled: recovered %.3f > 0.25", session)
	}
}

// TestHSSViews: what each HSS party receives is uniform bytes, and its distribution and message sizes do
// not depend on the prompt.
func TestHSSViews(t *testing.T) {
	m, tok := tiny(t)
	k := fixedKey(ee.ModeRotate, 5)
	em, err := ee.Transform(m, k)
	if err != nil {
		t.Fatal(err)
	}
	prompts := []string{"Once upon a time, there was", "Zzz qqq xxx jjj"}
	ids0, _ := tok.Encode(prompts[0], true)
	ids1, _ := tok.Encode(prompts[1], true)
	for len(ids0) < len(ids1) {
		prompts[0] += " and"
		ids0, _ = tok.Encode(prompts[0], true)
	}
	if len(ids0) != len(ids1) {
		t.Fatalf("prompts of %d and %d tokens", len(ids0), len(ids1))
	}
	var views [2][2]*partyView
	for i, p := range prompts {
		if views[i], err = hssViews(em, tok, k, p, 1, byte(i)); err != nil {
			t.Fatal(err)
		}
	}
	limit := hsstest.ChiSquareLimit(8)
	for party := range 2 {
		a, b := views[0][party], views[1][party]
		if err := sameShape(a, b); err != nil {
			t.Errorf("party %d: transcript shape depends on the prompt: %v", party, err)
		}
		for i, v := range []*partyView{a, b} {
			if v.Bytes < 1<<16 || v.ChiSq > limit {
				t.Errorf("party %d prompt %d: %d bytes, chi-square %.1f > %.1f", party, i, v.Bytes, v.ChiSq, limit)
			}
		}
		if c := twoSampleChi(&a.hist, &b.hist); c > limit {
			t.Errorf("party %d: byte distributions differ between prompts: chi-square %.1f > %.1f", party, c, limit)
		}
	}
	// Negative control: the plaintext ids of the two prompts are told apart at once.
	var ha, hb [256]float64
	for _, id := range ids0 {
		ha[id&255] += 1000
	}
	for _, id := range ids1 {
		hb[id&255] += 1000
	}
	if c := twoSampleChi(&ha, &hb); c < limit {
		t.Errorf("negative control: chi-square %.1f does not separate the prompts", c)
	}
}

func TestRunQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	sharedtest.TinyStories(t)
	var out bytes.Buffer
	if err := run([]string{"-quick", "-model", sharedtest.TinyStories(t), "-eval", sharedtest.Golden(t)}, &out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"## 1.", "## 2.", "## 3.", "2048 / 2048", `"hss_views"`} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q", s)
		}
	}
}
