// Command attacks measures attacks on this project's own EE and what an HSS
// party sees, on the real tinystories-656k model:
//
//  1. frequency analysis + hill climbing on the encrypted token ids an
//     ee-mode server observes, given a public corpus of the same domain,
//     for fixed perm and rotate keys and for per-session keys (ee.Session);
//
//  2. weight matching of the EE embedding against the public base model:
//     vocabulary permutation and residual transform (sorted Gram rows,
//     orthogonal Procrustes);
//
//  3. the bytes each HSS party receives: uniformity and independence of
//     the prompt.
//
//     go run ./experiments/attacks [-model DIR] [-quick]
//
// Data (reproducible, seeds fixed): the plain model samples stories at
// temperature 1. The attacker's public corpus starts from BOS (seeds from
// 1); the victim's private sessions start from the ../shared/eval prompts
// (seeds from 2). Same model, same domain: the attacker's best realistic
// case. It prints markdown tables and one JSON line.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/hssee/hssee/ee"
	"github.com/hssee/hssee/internal/evalset"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/hf"
	"github.com/hssee/hssee/model/tokenizer"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "attacks:", err)
		os.Exit(1)
	}
}

type freqRow struct {
	Key      string  `json:"key"`
	Observed int     `json:"observed_tokens"`
	FreqOcc  float64 `json:"frequency_only_rate"`
	Occ      float64 `json:"recovered_rate"`
	Types    float64 `json:"recovered_types"`
}

type report struct {
	PublicTokens  int         `json:"public_tokens"`
	PrivateTokens int         `json:"private_tokens"`
	Frequency     []freqRow   `json:"frequency"`
	Weights       []weightRow `json:"weights"`
	Views         []viewRow   `json:"hss_views"`
	Seconds       float64     `json:"seconds"`
	stdout        io.Writer
}

type weightRow struct {
	Mode           ee.Mode `json:"mode"`
	VocabRecovered int     `json:"vocab_recovered"`
	Vocab          int     `json:"vocab"`
	Residual       float64 `json:"residual_rel_error"`
	Permutation    bool    `json:"residual_is_permutation"`
	Seconds        float64 `json:"seconds"`
}

type viewRow struct {
	Party     int     `json:"party"`
	Prompt    string  `json:"prompt"`
	Bytes     int     `json:"bytes"`
	Rounds    int     `json:"rounds"`
	ChiSq     float64 `json:"chi_square"`
	TwoSample float64 `json:"two_sample_chi_square"`
	Limit     float64 `json:"limit"`
	SameShape bool    `json:"same_shape"`
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("attacks", flag.ContinueOnError)
	dir := fs.String("model", filepath.Join("..", "shared", "models", "tinystories-656k"), "base model (Hugging Face directory with tokenizer.json)")
	evalPath := fs.String("eval", filepath.Join("..", "shared", "eval", "tinystories-656k-golden.jsonl"), "victim prompts (eval JSON lines)")
	quick := fs.Bool("quick", false, "small corpora (a smoke run)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	m, err := hf.Load(*dir)
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(*dir)
	if err != nil {
		return err
	}
	cases, err := evalset.Load(*evalPath)
	if err != nil {
		return err
	}
	var prompts []string
	for _, c := range cases {
		prompts = append(prompts, c.Prompt)
	}
	pubN, privN, iters := 800, 500, 300_000
	sizes := []int{1000, 4000, 16000, 64000}
	if *quick {
		pubN, privN, iters, sizes = 60, 40, 30_000, []int{1000, 4000}
	}
	threads := runtime.GOMAXPROCS(0)
	pub, err := generate(m, tok, corpusSpec{Stories: pubN, MaxLen: 256, Temp: 1, Seed: 1}, threads)
	if err != nil {
		return err
	}
	priv, err := generate(m, tok, corpusSpec{Stories: privN, MaxLen: 256, Temp: 1, Seed: 2, Prompts: prompts}, threads)
	if err != nil {
		return err
	}
	rep := &report{PublicTokens: countTokens(pub), PrivateTokens: countTokens(priv), stdout: stdout}
	V := m.Config.VocabSize
	lm := trainLM(pub, V, 2)

	// 1. Frequency analysis.
	for _, mode := range []ee.Mode{ee.ModePerm, ee.ModeRotate} {
		k := fixedKey(mode, 1)
		if _, err := ee.Transform(m, k); err != nil {
			return err
		}
		rows, err := frequencyAttack(priv, lm, V, sizes, iters, func(int) (func([]int) ([]int, error), error) { return k.EncryptIDs, nil })
		if err != nil {
			return err
		}
		for i := range rows {
			rows[i].Key = "fixed " + string(mode)
		}
		rep.Frequency = append(rep.Frequency, rows...)
	}
	k := fixedKey(ee.ModeRotate, 2)
	if _, err := ee.Transform(m, k); err != nil {
		return err
	}
	rows, err := frequencyAttack(priv, lm, V, sizes, iters, func(i int) (func([]int) ([]int, error), error) {
		s, err := ee.NewSession(k, bytes.NewReader(bytes.Repeat([]byte{byte(i), byte(i >> 8), 0x5e, 1}, 8)))
		if err != nil {
			return nil, err
		}
		return s.EncryptIDs, nil
	})
	if err != nil {
		return err
	}
	for i := range rows {
		rows[i].Key = "per-session (rotate), pooled"
	}
	rep.Frequency = append(rep.Frequency, rows...)

	// 2. Weight matching.
	for _, mode := range []ee.Mode{ee.ModePerm, ee.ModeRotate} {
		k := fixedKey(mode, 3)
		em, err := ee.Transform(m, k)
		if err != nil {
			return err
		}
		rep.Weights = append(rep.Weights, weightAttack(m, em, k))
	}

	// 3. HSS views: two very different prompts of the same token count.
	if err := viewsReport(rep, m, tok, *quick); err != nil {
		return err
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.print()
	return nil
}

func fixedKey(mode ee.Mode, seed byte) *ee.Key {
	k, err := ee.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed, 0x3c}, 16)), mode)
	if err != nil {
		panic(err)
	}
	return k
}

// frequencyAttack encrypts the private sessions (session i with encFor(i))
// and runs the attack on the first n observed tokens for every n in sizes.
func frequencyAttack(priv [][]int, lm *bigramLM, V int, sizes []int, iters int, encFor func(int) (func([]int) ([]int, error), error)) ([]freqRow, error) {
	cipher := make([][]int, len(priv))
	// truth[i][x]: the plain token of cipher token x in session i (fixed
	// keys: the same map every session).
	truthAt := make([][]int, len(priv))
	for i, s := range priv {
		enc, err := encFor(i)
		if err != nil {
			return nil, err
		}
		if cipher[i], err = enc(s); err != nil {
			return nil, err
		}
		all := make([]int, V)
		for t := range all {
			all[t] = t
		}
		ea, err := enc(all)
		if err != nil {
			return nil, err
		}
		truthAt[i] = make([]int, V)
		for t, x := range ea {
			truthAt[i][x] = t
		}
	}
	var out []freqRow
	for _, n := range sizes {
		obs := takeTokens(cipher, n)
		o := observe(obs, V)
		g := frequencyGuess(o, lm)
		m := decipher(o, lm, iters, uint64(n))
		row := freqRow{Observed: countTokens(obs)}
		row.FreqOcc, _ = occurrenceRate(obs, g, truthAt)
		row.Occ, row.Types = occurrenceRate(obs, m, truthAt)
		out = append(out, row)
	}
	return out, nil
}

// occurrenceRate scores a single mapping m against each session's own truth:
// the fraction of observed occurrences decrypted correctly, and of distinct
// plain tokens observed that are always decrypted correctly.
func occurrenceRate(obs [][]int, m []int, truthAt [][]int) (occ, types float64) {
	var good, total int
	seen, bad := map[int]bool{}, map[int]bool{}
	for i, s := range obs {
		for _, x := range s {
			total++
			p := truthAt[i][x]
			seen[p] = true
			if m[x] == p {
				good++
			} else {
				bad[p] = true
			}
		}
	}
	if total == 0 {
		return 0, 0
	}
	return float64(good) / float64(total), float64(len(seen)-len(bad)) / float64(len(seen))
}

func weightAttack(base, em *model.Model, k *ee.Key) weightRow {
	start := time.Now()
	V, d := base.Config.VocabSize, base.Config.Dim
	enc, r := matchEmbeddings(base.Embed, em.Embed, V, d)
	all := make([]int, V)
	for i := range all {
		all[i] = i
	}
	want, _ := k.EncryptIDs(all)
	row := weightRow{Mode: k.Mode(), Vocab: V}
	for t := range enc {
		if enc[t] == want[t] {
			row.VocabRecovered++
		}
	}
	row.Residual = residualError(base.Embed, em.Embed, V, d, enc, r)
	row.Permutation = asPermutation(r)
	row.Seconds = time.Since(start).Seconds()
	return row
}

func viewsReport(rep *report, m *model.Model, tok tokenizer.Tokenizer, quick bool) error {
	k := fixedKey(ee.ModeRotate, 4)
	em, err := ee.Transform(m, k)
	if err != nil {
		return err
	}
	prompts := [2]string{"Once upon a time, there was a little girl", "Zzz qqq xxx jjj vvv kkk www"}
	n := 8
	if quick {
		n = 2
	}
	// Pad the shorter prompt so both have the same token count (the
	// transcript's shape depends only on it).
	ids := [2][]int{}
	for i, p := range prompts {
		if ids[i], err = tok.Encode(p, true); err != nil {
			return err
		}
	}
	for len(ids[0]) != len(ids[1]) {
		i := 0
		if len(ids[1]) < len(ids[0]) {
			i = 1
		}
		prompts[i] += " z"
		if ids[i], err = tok.Encode(prompts[i], true); err != nil {
			return err
		}
	}
	var views [2][2]*partyView
	for i, p := range prompts {
		if views[i], err = hssViews(em, tok, k, p, n, byte(i)); err != nil {
			return err
		}
	}
	for party := range 2 {
		a, b := views[0][party], views[1][party]
		two := twoSampleChi(&a.hist, &b.hist)
		for i, v := range []*partyView{a, b} {
			rep.Views = append(rep.Views, viewRow{Party: party, Prompt: prompts[i], Bytes: v.Bytes, Rounds: v.Rounds,
				ChiSq: v.ChiSq, TwoSample: two, Limit: v.ChiLimit, SameShape: sameShape(a, b) == nil})
		}
	}
	return nil
}

func (r *report) print() {
	w := r.stdout
	fmt.Fprintf(w, "## 1. Frequency analysis of encrypted token ids (public corpus %d tokens, private sessions %d tokens)\n\n", r.PublicTokens, r.PrivateTokens)
	fmt.Fprintln(w, "| key | observed tokens | frequency rank only | + hill climbing | distinct tokens always right |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, f := range r.Frequency {
		fmt.Fprintf(w, "| %s | %d | %.1f%% | %.1f%% | %.1f%% |\n", f.Key, f.Observed, 100*f.FreqOcc, 100*f.Occ, 100*f.Types)
	}
	fmt.Fprint(w, "\n## 2. Weight matching against the public base model (embedding only)\n\n")
	fmt.Fprintln(w, "| mode | vocabulary ids recovered | residual map error ‖E·Rᵀ − Π⁻¹E'‖/‖E‖ | R is a permutation | seconds |")
	fmt.Fprintln(w, "|---|---:|---:|---|---:|")
	for _, x := range r.Weights {
		fmt.Fprintf(w, "| %s | %d / %d | %.1e | %v | %.1f |\n", x.Mode, x.VocabRecovered, x.Vocab, x.Residual, x.Permutation, x.Seconds)
	}
	fmt.Fprint(w, "\n## 3. What an HSS party receives (EE rotate model under HSS, prompt + generated tokens)\n\n")
	fmt.Fprintln(w, "| party | prompt | bytes received | rounds | χ² of bytes vs uniform | χ² prompt A vs prompt B | limit | same message sizes |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---|")
	for _, v := range r.Views {
		fmt.Fprintf(w, "| %d | %q | %d | %d | %.1f | %.1f | %.0f | %v |\n", v.Party, v.Prompt, v.Bytes, v.Rounds, v.ChiSq, v.TwoSample, v.Limit, v.SameShape)
	}
	fmt.Fprintf(w, "\ntotal %.0f s\n", r.Seconds)
	b, _ := json.Marshal(r)
	fmt.Fprintln(w, string(b))
}
