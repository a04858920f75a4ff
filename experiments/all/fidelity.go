package main

// Experiment 5: fidelity of HSS-EE vs plain on tinystories-656k: teacher-
// forced top-1 agreement (the plain greedy continuation fed to both, every
// position's argmax compared), free-running greedy continuations, and the
// logit error against the fixed-point fractional bits. Both parties run in
// this process over an in-memory pipe (the transport does not change the
// arithmetic: the deployed path gives identical ids, cmd/client's tests).

import (
	"crypto/rand"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"slices"

	"github.com/hssee/hssee/ee"
	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/infer"
	"github.com/hssee/hssee/internal/evalset"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/loader"
)

type fracRow struct {
	Frac         uint    `json:"frac"`
	Prompts      int     `json:"prompts"`
	Positions    int     `json:"positions"`
	Agree        int     `json:"top1_agree"`
	AgreementPct float64 `json:"top1_agreement_pct"`
	MaxAbsDiff   float64 `json:"max_abs_logit_diff"`
	MeanAbsDiff  float64 `json:"mean_abs_logit_diff"`
	Error        string  `json:"error,omitempty"`
}

type fidelityResults struct {
	Model         string    `json:"model"`
	Prompts       string    `json:"prompts"`
	EEMode        string    `json:"ee_mode"`
	Tokens        int       `json:"tokens_per_prompt"`
	DefaultFrac   uint      `json:"default_frac"`
	TeacherForced fracRow   `json:"teacher_forced"` // at the default frac
	GreedyPrompts int       `json:"greedy_prompts"`
	GreedyIdentic int       `json:"greedy_identical"`
	GreedyPrefix  []int     `json:"greedy_matching_prefix"` // per prompt
	GreedyTokens  []int     `json:"greedy_tokens"`
	Sweep         []fracRow `json:"frac_sweep"`
	SweepTokens   int       `json:"frac_sweep_tokens_per_prompt"`
}

type fidCase struct {
	prompt, cont []int
	logits       [][]float32 // plain logits predicting cont[j]
}

func runFidelity(o *options) (*fidelityResults, error) {
	dir, eval := o.tinystories()
	m, name, err := loader.Source(map[bool]string{true: "tinystories-656k"}[dir == ""], dir, 1)
	if err != nil {
		return nil, err
	}
	res := &fidelityResults{Model: name, DefaultFrac: hss.DefaultParams().Frac, EEMode: string(ee.DefaultMode)}
	if dir == "" {
		res.Model += " (RANDOM weights: ../shared absent)"
	}
	var prompts [][]int
	if eval != "" {
		cs, err := evalset.Load(eval)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			prompts = append(prompts, c.PromptIDs)
		}
		res.Prompts = "../shared/eval/tinystories-656k-golden.jsonl"
	} else {
		rng := mrand.New(mrand.NewPCG(3, 3))
		for range 10 {
			p := make([]int, 8)
			for i := range p {
				p[i] = rng.IntN(m.Config.VocabSize)
			}
			prompts = append(prompts, p)
		}
		res.Prompts = "random"
	}
	var sweep []uint
	switch o.scale {
	case full:
		res.Tokens, res.SweepTokens, sweep = 48, 16, []uint{8, 10, 12, 14}
	case quick:
		prompts, res.Tokens, res.SweepTokens, sweep = prompts[:3], 12, 6, []uint{10, 14}
	default:
		prompts, res.Tokens, res.SweepTokens, sweep = prompts[:1], 3, 2, []uint{14}
	}
	key, err := ee.GenerateKey(rand.Reader, ee.DefaultMode)
	if err != nil {
		return nil, err
	}
	em, err := ee.Transform(m, key)
	if err != nil {
		return nil, err
	}
	// The plain side: greedy continuations and their logits.
	r, err := model.NewRunner(m, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cases := make([]fidCase, len(prompts))
	for i, p := range prompts {
		r.Reset()
		l, err := r.Forward(p)
		fc := fidCase{prompt: p}
		for err == nil && len(fc.cont) < res.Tokens {
			fc.logits = append(fc.logits, slices.Clone(l))
			id := model.Argmax(l)
			fc.cont = append(fc.cont, id)
			if len(fc.cont) < res.Tokens {
				l, err = r.Forward([]int{id})
			}
		}
		if err != nil {
			return nil, err
		}
		cases[i] = fc
	}

	tf, err := teacherForced(em, key, cases, hss.DefaultParams().Frac, res.Tokens)
	if err != nil {
		return nil, err
	}
	res.TeacherForced = tf
	o.progress("  teacher-forced, frac %d: top-1 %d/%d (%.2f%%), max |Δlogit| %.4g", tf.Frac, tf.Agree, tf.Positions, tf.AgreementPct, tf.MaxAbsDiff)
	for _, fc := range cases {
		h, err := infer.NewHSS(em, hss.DefaultParams(), len(fc.prompt)+res.Tokens, rand.Reader, nil, nil)
		if err != nil {
			return nil, err
		}
		enc, err := key.EncryptIDs(fc.prompt)
		if err != nil {
			return nil, err
		}
		var got []int
		for len(got) < res.Tokens {
			l, err := h.Forward(enc)
			if err != nil {
				return nil, err
			}
			if l, err = key.DecryptLogits(l); err != nil {
				return nil, err
			}
			id := model.Argmax(l)
			got = append(got, id)
			if enc, err = key.EncryptIDs([]int{id}); err != nil {
				return nil, err
			}
		}
		prefix := 0
		for prefix < len(got) && got[prefix] == fc.cont[prefix] {
			prefix++
		}
		res.GreedyPrompts++
		if prefix == len(got) {
			res.GreedyIdentic++
		}
		res.GreedyPrefix = append(res.GreedyPrefix, prefix)
		res.GreedyTokens = append(res.GreedyTokens, len(got))
	}
	o.progress("  greedy: %d/%d continuations identical (matching prefixes %v)", res.GreedyIdentic, res.GreedyPrompts, res.GreedyPrefix)
	for _, f := range sweep {
		row, err := teacherForced(em, key, cases, f, res.SweepTokens)
		if err != nil {
			row = fracRow{Frac: f, Error: err.Error()}
		}
		o.progress("  frac %d, %d tokens/prompt: top-1 %.2f%%, max |Δlogit| %.4g %s", f, res.SweepTokens, row.AgreementPct, row.MaxAbsDiff, row.Error)
		res.Sweep = append(res.Sweep, row)
	}
	return res, nil
}

// teacherForced runs every case's prompt and its first n-1 plain tokens
// under HSS-EE with frac bits and compares the n positions' logits.
func teacherForced(em *model.Model, key *ee.Key, cases []fidCase, frac uint, n int) (fracRow, error) {
	row := fracRow{Frac: frac}
	var sum float64
	var cnt int
	for _, fc := range cases {
		prm, err := hss.DefaultParams().WithFrac(frac)
		if err != nil {
			return row, err
		}
		h, err := infer.NewHSS(em, prm, len(fc.prompt)+n, rand.Reader, nil, nil)
		if err != nil {
			return row, err
		}
		in := fc.prompt
		for j := 0; j < n && j < len(fc.cont); j++ {
			enc, err := key.EncryptIDs(in)
			if err != nil {
				return row, err
			}
			l, err := h.Forward(enc)
			if err != nil {
				return row, fmt.Errorf("frac %d: %w", frac, err)
			}
			if l, err = key.DecryptLogits(l); err != nil {
				return row, err
			}
			if model.Argmax(l) == fc.cont[j] {
				row.Agree++
			}
			row.Positions++
			for v := range l {
				d := math.Abs(float64(l[v]) - float64(fc.logits[j][v]))
				row.MaxAbsDiff = max(row.MaxAbsDiff, d)
				sum += d
				cnt++
			}
			in = []int{fc.cont[j]}
		}
		row.Prompts++
	}
	row.AgreementPct = round(100*float64(row.Agree)/float64(row.Positions), 3)
	row.MaxAbsDiff = round(row.MaxAbsDiff, 5)
	row.MeanAbsDiff = round(sum/float64(cnt), 6)
	return row, nil
}
