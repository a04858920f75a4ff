// Command plainbench measures the plain (float32 CPU) executor: prefill
// tokens/s (one batched Forward over the prompt) and decode tokens/s (greedy,
// one token per Forward), after a warm-up, as the median of several runs.
//
//	go run ./experiments/plainbench -preset stories15M [-prompt-len 128] [-decode 128] [-threads N] [-runs 5]
//	go run ./experiments/plainbench -model DIR|FILE.bin   (Hugging Face directory or llama2.c checkpoint)
//	go run ./experiments/plainbench -preset stories15M -write-llama2c /tmp/s15.bin   (export, for run.c)
//
// It prints a short table, then one JSON line:
//
//	{"model":...,"prefill_tok_s":...,"decode_tok_s":...,"threads":...,...}
//
// Prompt ids are pseudo-random (seeded), so no tokenizer is needed.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/hssee/hssee/experiments/internal/stats"
	"github.com/hssee/hssee/kernel/f32"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/llama2c"
	"github.com/hssee/hssee/model/loader"
)

type result struct {
	Model       string  `json:"model"`
	PrefillTokS float64 `json:"prefill_tok_s"`
	DecodeTokS  float64 `json:"decode_tok_s"`
	Threads     int     `json:"threads"`
	PromptLen   int     `json:"prompt_len"`
	Decode      int     `json:"decode"`
	Runs        int     `json:"runs"`
	Kernel      string  `json:"kernel"`
	Params      int64   `json:"params"`
}

func main() {
	preset := flag.String("preset", "", "random-weight preset: "+fmt.Sprint(model.PresetNames()))
	path := flag.String("model", "", "model to load: a Hugging Face directory (config.json + safetensors) or a llama2.c .bin")
	export := flag.String("write-llama2c", "", "write the model as a llama2.c checkpoint to this file and exit (to time run.c on the same weights)")
	seed := flag.Uint64("seed", 1, "seed for random weights and prompt ids")
	promptLen := flag.Int("prompt-len", 128, "prompt tokens (prefill)")
	decode := flag.Int("decode", 128, "tokens to decode")
	threads := flag.Int("threads", 0, "threads (0: GOMAXPROCS)")
	runs := flag.Int("runs", 5, "timed runs (median reported)")
	flag.Parse()
	var err error
	if *export != "" {
		err = writeLlama2c(*preset, *path, *seed, *export)
	} else {
		err = run(*preset, *path, *seed, *promptLen, *decode, *threads, *runs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "plainbench:", err)
		os.Exit(1)
	}
}

func writeLlama2c(preset, path string, seed uint64, out string) error {
	m, _, err := loader.Source(preset, path, seed)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := llama2c.Write(bw, m); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func run(preset, path string, seed uint64, promptLen, decode, threads, runs int) error {
	if promptLen < 1 || decode < 1 || runs < 1 {
		return errors.New("-prompt-len, -decode and -runs must be positive")
	}
	if threads > 0 {
		runtime.GOMAXPROCS(threads)
	}
	t0 := time.Now()
	m, name, err := loader.Source(preset, path, seed)
	if err != nil {
		return err
	}
	loadTime := time.Since(t0)
	c := m.Config
	if promptLen+decode > c.MaxSeqLen {
		return fmt.Errorf("prompt %d + decode %d exceed the context %d", promptLen, decode, c.MaxSeqLen)
	}
	r, err := model.NewRunnerThreads(m, promptLen+decode, threads)
	if err != nil {
		return err
	}
	defer r.Close()

	rng := rand.New(rand.NewPCG(seed, 99))
	prompt := make([]int, promptLen)
	for i := range prompt {
		prompt[i] = rng.IntN(c.VocabSize)
	}
	if c.BOS >= 0 && c.BOS < c.VocabSize {
		prompt[0] = c.BOS
	}

	once := func(decodeN int) (prefill, dec time.Duration, err error) {
		r.Reset()
		start := time.Now()
		logits, err := r.Forward(prompt)
		if err != nil {
			return 0, 0, err
		}
		prefill = time.Since(start)
		start = time.Now()
		for i := 0; i < decodeN; i++ {
			if logits, err = r.Forward([]int{model.Argmax(logits)}); err != nil {
				return 0, 0, err
			}
		}
		return prefill, time.Since(start), nil
	}
	if _, _, err := once(min(decode, 16)); err != nil { // warm-up
		return err
	}
	var pre, dec []float64
	for i := 0; i < runs; i++ {
		p, d, err := once(decode)
		if err != nil {
			return err
		}
		pre = append(pre, float64(promptLen)/p.Seconds())
		dec = append(dec, float64(decode)/d.Seconds())
	}
	res := result{
		Model: name, PrefillTokS: stats.Round(stats.Median(pre), 1), DecodeTokS: stats.Round(stats.Median(dec), 1),
		Threads: runtime.GOMAXPROCS(0), PromptLen: promptLen, Decode: decode, Runs: runs,
		Kernel: f32.Impl(), Params: c.WeightCount(),
	}
	if threads > 0 {
		res.Threads = threads
	}
	fmt.Printf("model      %s (%s, dim %d, %d layers, vocab %d, %.1fM params; loaded in %v)\n",
		name, c.Arch, c.Dim, c.NLayers, c.VocabSize, float64(res.Params)/1e6, loadTime.Round(time.Millisecond))
	fmt.Printf("threads    %d, kernel %s, runs %d (median)\n", res.Threads, res.Kernel, runs)
	fmt.Printf("prefill    %6d tokens  %10.1f tok/s  (min %.1f, max %.1f)\n", promptLen, res.PrefillTokS, slices.Min(pre), slices.Max(pre))
	fmt.Printf("decode     %6d tokens  %10.1f tok/s  (min %.1f, max %.1f)\n", decode, res.DecodeTokS, slices.Min(dec), slices.Max(dec))
	return json.NewEncoder(os.Stdout).Encode(res)
}
