// Command eebench compares vanilla and EE inference on the same plain
// float32 engine: latency (runs interleaved, medians, their ratio) and
// fidelity after decryption (teacher-forced top-1 agreement and max |Δlogit|
// at every position, and identical free-running greedy continuations).
//
//	go run ./experiments/eebench                        # real tinystories-656k + ../shared/eval prompts, both modes
//	go run ./experiments/eebench -preset stories15M     # random weights, random prompts
//	go run ./experiments/eebench -model DIR -eval FILE.jsonl -mode rotate -runs 9
//
// The EE timing includes everything the client adds: mapping ids through the
// vocabulary permutation and decrypting every step's logits.
//
// It prints a markdown table, then one JSON line whose top-level figures are
// the worst over the modes run:
//
//	{"ee_overhead_pct":…,"token_agreement_pct":…,"max_abs_logit_diff":…,"modes":[…],…}
package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/hssee/hssee/ee"
	"github.com/hssee/hssee/experiments/internal/records"
	"github.com/hssee/hssee/experiments/internal/stats"
	"github.com/hssee/hssee/internal/evalset"
	"github.com/hssee/hssee/model"
)

type report struct {
	OverheadPct       float64 `json:"ee_overhead_pct"`
	TokenAgreementPct float64 `json:"token_agreement_pct"`
	MaxAbsLogitDiff   float64 `json:"max_abs_logit_diff"`
	records.EERun
}

type config struct {
	preset, path, eval string
	modes              []ee.Mode
	seed               uint64
	promptLen, decode  int
	runs, threads      int
	prompts            int // random fidelity prompts when there is no eval file
	gen                int // greedy tokens per fidelity prompt
}

func main() {
	var cfg config
	flag.StringVar(&cfg.preset, "preset", "", "random-weight preset: "+fmt.Sprint(model.PresetNames()))
	flag.StringVar(&cfg.path, "model", "", "model: Hugging Face directory or llama2.c .bin (default: ../shared tinystories-656k)")
	flag.StringVar(&cfg.eval, "eval", "", "fidelity prompts, JSON lines with prompt_ids and greedy_ids (default: ../shared/eval golden file with the default model; none with -preset)")
	mode := flag.String("mode", "both", "EE mode: rotate, perm or both")
	flag.Uint64Var(&cfg.seed, "seed", 1, "seed for random weights and prompts")
	flag.IntVar(&cfg.promptLen, "prompt-len", 128, "latency: prompt tokens (prefill)")
	flag.IntVar(&cfg.decode, "decode", 64, "latency: tokens decoded after the prompt")
	flag.IntVar(&cfg.runs, "runs", 9, "latency: runs of each (interleaved; medians reported)")
	flag.IntVar(&cfg.threads, "threads", 0, "threads (0: all cores)")
	flag.IntVar(&cfg.prompts, "prompts", 10, "fidelity: random prompts when there is no eval file")
	flag.IntVar(&cfg.gen, "gen", 48, "fidelity: greedy tokens per prompt when there is no eval file")
	flag.Parse()
	switch *mode {
	case "both":
		cfg.modes = []ee.Mode{ee.ModePerm, ee.ModeRotate}
	default:
		m, err := ee.ParseMode(*mode)
		if err != nil {
			fmt.Fprintln(os.Stderr, "eebench:", err)
			os.Exit(2)
		}
		cfg.modes = []ee.Mode{m}
	}
	if cfg.preset == "" && cfg.path == "" {
		cfg.path, cfg.eval = defaultPaths(cfg.eval)
	}
	rep, err := run(cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "eebench:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		os.Exit(1)
	}
}

// defaultPaths is the real model and its reference prompts in ../shared,
// looked up from the working directory and from the repository root.
func defaultPaths(eval string) (string, string) {
	for _, root := range []string{"..", filepath.Join("..", "..", ".."), filepath.Join("..", "..", "..", "..")} {
		dir := filepath.Join(root, "shared", "models", "tinystories-656k")
		if _, err := os.Stat(dir); err == nil {
			if eval == "" {
				eval = filepath.Join(root, "shared", "eval", "tinystories-656k-golden.jsonl")
			}
			return dir, eval
		}
	}
	return filepath.Join("..", "shared", "models", "tinystories-656k"), eval
}

type fidelityCase struct {
	prompt []int
	golden []int // reference continuation, may be nil
	gen    int
}

func run(cfg config, w io.Writer) (*report, error) {
	if cfg.promptLen < 1 || cfg.decode < 1 || cfg.runs < 1 || cfg.threads < 0 || cfg.prompts < 1 || cfg.gen < 1 {
		return nil, errors.New("-prompt-len, -decode, -runs, -prompts and -gen must be positive, -threads >= 0")
	}
	if len(cfg.modes) == 0 {
		return nil, errors.New("no EE mode")
	}
	m, name, err := stats.LoadModel(cfg.preset, cfg.path, cfg.seed, cfg.promptLen, cfg.decode)
	if err != nil {
		return nil, err
	}
	c := m.Config
	rng := mrand.New(mrand.NewPCG(cfg.seed, 77))
	randomIDs := func(n int) []int {
		ids := make([]int, n)
		for i := range ids {
			ids[i] = rng.IntN(c.VocabSize)
		}
		if c.BOS >= 0 {
			ids[0] = c.BOS
		}
		return ids
	}
	var cases []fidelityCase
	if cfg.eval != "" {
		ev, err := evalset.Load(cfg.eval)
		if err != nil {
			return nil, err
		}
		for _, e := range ev {
			cases = append(cases, fidelityCase{prompt: e.PromptIDs, golden: e.GreedyIDs, gen: len(e.GreedyIDs)})
		}
	} else {
		for range cfg.prompts {
			cases = append(cases, fidelityCase{prompt: randomIDs(16), gen: cfg.gen})
		}
	}
	for i, fc := range cases {
		if len(fc.prompt)+fc.gen > c.MaxSeqLen {
			return nil, fmt.Errorf("fidelity prompt %d: %d + %d tokens exceed the context %d", i, len(fc.prompt), fc.gen, c.MaxSeqLen)
		}
	}

	van, err := model.NewRunnerThreads(m, 0, cfg.threads)
	if err != nil {
		return nil, err
	}
	defer van.Close()
	// The vanilla side of every fidelity comparison: free-running greedy
	// continuation, then every position's logits over prompt+continuation.
	vanCont := make([][]int, len(cases))
	vanLogits := make([][][]float32, len(cases))
	for i, fc := range cases {
		if vanCont[i], err = greedy(van, nil, fc.prompt, fc.gen, nil); err != nil {
			return nil, err
		}
		van.Reset()
		if vanLogits[i], err = van.ForwardAll(append(slices.Clone(fc.prompt), vanCont[i]...)); err != nil {
			return nil, err
		}
	}

	latPrompt := randomIDs(cfg.promptLen)
	rep := &report{TokenAgreementPct: 100, EERun: records.EERun{Model: name, Params: c.WeightCount(), Threads: cfg.threads,
		PromptLen: cfg.promptLen, Decode: cfg.decode, Runs: cfg.runs}}
	if rep.Threads == 0 {
		rep.Threads = runtime.GOMAXPROCS(0)
	}
	fmt.Fprintf(w, "model %s (%s, dim %d, %d layers, vocab %d, %.2fM params), %d threads\n",
		name, c.Arch, c.Dim, c.NLayers, c.VocabSize, float64(rep.Params)/1e6, rep.Threads)
	fmt.Fprintf(w, "latency: prefill %d + decode %d tokens, %d interleaved runs each, medians; fidelity: %d prompts\n\n",
		cfg.promptLen, cfg.decode, cfg.runs, len(cases))
	fmt.Fprintln(w, "| mode | vanilla ms | EE ms | EE overhead | decode tok/s vanilla / EE | top-1 agreement | max abs dlogit | greedy identical |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, mode := range cfg.modes {
		key, err := ee.GenerateKey(rand.Reader, mode)
		if err != nil {
			return nil, err
		}
		em, err := ee.Transform(m, key)
		if err != nil {
			return nil, err
		}
		er, err := model.NewRunnerThreads(em, 0, cfg.threads)
		if err != nil {
			return nil, err
		}
		mr, err := measure(van, er, key, latPrompt, cfg)
		if err == nil {
			err = fidelity(er, key, cases, vanCont, vanLogits, mr)
		}
		er.Close()
		if err != nil {
			return nil, err
		}
		mr.Mode = string(mode)
		rep.Modes = append(rep.Modes, *mr)
		if len(rep.Modes) == 1 || mr.OverheadPct > rep.OverheadPct {
			rep.OverheadPct = mr.OverheadPct
		}
		rep.TokenAgreementPct = min(rep.TokenAgreementPct, mr.TokenAgreementPct)
		rep.MaxAbsLogitDiff = max(rep.MaxAbsLogitDiff, mr.MaxAbsLogitDiff)
		greedyCol := fmt.Sprintf("%d/%d", mr.GreedyIdentical, mr.Prompts)
		if cases[0].golden != nil {
			greedyCol += fmt.Sprintf(" (reference: %d/%d)", mr.GoldenGreedy, mr.Prompts)
		}
		fmt.Fprintf(w, "| %s | %.2f | %.2f | %+.2f%% | %.1f / %.1f | %.3f%% of %d | %.3g | %s |\n",
			mode, mr.VanillaMS, mr.EEMS, mr.OverheadPct, mr.VanillaDecodeTokS, mr.EEDecodeTokS,
			mr.TokenAgreementPct, mr.PositionsCompared, mr.MaxAbsLogitDiff, greedyCol)
	}
	fmt.Fprintln(w)
	return rep, nil
}

// greedy runs prompt then n-1 single-token steps from an empty cache and
// returns the n greedy (plaintext) ids; with a key the runner holds the EE
// model and ids/logits cross the key as the client does. after, if not nil,
// is called when each step's token is known.
func greedy(r *model.Runner, key *ee.Key, prompt []int, n int, after func()) ([]int, error) {
	r.Reset()
	step := func(ids []int) (int, error) {
		if key == nil {
			l, err := r.Forward(ids)
			if err != nil {
				return 0, err
			}
			return model.Argmax(l), nil
		}
		enc, err := key.EncryptIDs(ids)
		if err != nil {
			return 0, err
		}
		l, err := r.Forward(enc)
		if err != nil {
			return 0, err
		}
		if l, err = key.DecryptLogits(l); err != nil {
			return 0, err
		}
		return model.Argmax(l), nil
	}
	out := make([]int, 0, n)
	id, err := step(prompt)
	for err == nil {
		if after != nil {
			after()
		}
		out = append(out, id)
		if len(out) == n {
			break
		}
		id, err = step([]int{id})
	}
	return out, err
}

// measure times vanilla and EE alternately (warm-up first) and fills the
// latency fields.
func measure(van, er *model.Runner, key *ee.Key, prompt []int, cfg config) (*records.EEMode, error) {
	// One run: a prefill, then cfg.decode single-token steps.
	once := func(r *model.Runner, k *ee.Key) (total, decode time.Duration, err error) {
		var first time.Duration
		start := time.Now()
		_, err = greedy(r, k, prompt, cfg.decode+1, func() {
			if first == 0 {
				first = time.Since(start)
			}
		})
		total = time.Since(start)
		return total, total - first, err
	}
	for _, r := range []struct {
		r *model.Runner
		k *ee.Key
	}{{van, nil}, {er, key}} {
		if _, _, err := once(r.r, r.k); err != nil {
			return nil, err
		}
	}
	var vt, et, vd, ed []float64
	for i := 0; i < cfg.runs; i++ {
		// Alternate which goes first so that drift favours neither.
		order := []bool{false, true}
		if i%2 == 1 {
			order = []bool{true, false}
		}
		for _, isEE := range order {
			r, k := van, (*ee.Key)(nil)
			if isEE {
				r, k = er, key
			}
			total, dec, err := once(r, k)
			if err != nil {
				return nil, err
			}
			if isEE {
				et, ed = append(et, ms(total)), append(ed, ms(dec))
			} else {
				vt, vd = append(vt, ms(total)), append(vd, ms(dec))
			}
		}
	}
	mv, me := stats.Median(vt), stats.Median(et)
	return &records.EEMode{
		VanillaMS: stats.Round(mv, 3), EEMS: stats.Round(me, 3), OverheadPct: stats.Round((me/mv-1)*100, 2),
		VanillaDecodeTokS: stats.Round(float64(cfg.decode)/(stats.Median(vd)/1e3), 1),
		EEDecodeTokS:      stats.Round(float64(cfg.decode)/(stats.Median(ed)/1e3), 1),
	}, nil
}

// fidelity compares the EE model with vanilla after decryption.
func fidelity(er *model.Runner, key *ee.Key, cases []fidelityCase, vanCont [][]int, vanLogits [][][]float32, mr *records.EEMode) error {
	agree, total := 0, 0
	for i, fc := range cases {
		cont, err := greedy(er, key, fc.prompt, fc.gen, nil)
		if err != nil {
			return err
		}
		mr.Prompts++
		if slices.Equal(cont, vanCont[i]) {
			mr.GreedyIdentical++
		}
		if fc.golden != nil && slices.Equal(cont, fc.golden) {
			mr.GoldenGreedy++
		}
		ids := append(slices.Clone(fc.prompt), vanCont[i]...)
		enc, err := key.EncryptIDs(ids)
		if err != nil {
			return err
		}
		er.Reset()
		rows, err := er.ForwardAll(enc)
		if err != nil {
			return err
		}
		for p, row := range rows {
			dec, err := key.DecryptLogits(row)
			if err != nil {
				return err
			}
			want := vanLogits[i][p]
			if model.Argmax(dec) == model.Argmax(want) {
				agree++
			}
			total++
			for v := range dec {
				mr.MaxAbsLogitDiff = max(mr.MaxAbsLogitDiff, math.Abs(float64(dec[v])-float64(want[v])))
			}
		}
	}
	mr.PositionsCompared = total
	mr.TokenAgreementPct = stats.Round(100*float64(agree)/float64(total), 4)
	mr.MaxAbsLogitDiff, _ = strconv.ParseFloat(fmt.Sprintf("%.3g", mr.MaxAbsLogitDiff), 64)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
