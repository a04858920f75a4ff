// Command hssbench compares the plain float32 executor with HSS-EE on the
// same model and machine, in one run: prefill of a prompt and per-token
// decode latency, their ratio, and HSS-EE's online bytes, rounds and
// dealer bytes. Both parties and the dealer run in this process (the
// client-aided deployment's dealer runs in the client), over an in-memory
// transport or, with -rtt/-mbps, a simulated link.
//
//	go run ./experiments/hssbench -preset stories15M [-prompt-len 128] [-decode 8] [-json]
//	go run ./experiments/hssbench -model DIR [-rtt 2ms -mbps 1000] [-cpuprofile FILE]
//
// Latency of HSS-EE is reported three ways: online (the parties' phase,
// what a user waits for once material is ready), offline (the dealer), and
// their sum. The ratios use online time; the JSON line has all of them.
package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/hssee/hssee/experiments/internal/records"
	"github.com/hssee/hssee/experiments/internal/stats"
	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/infer"
	"github.com/hssee/hssee/model"
)

type result struct {
	Model     string  `json:"model"`
	Params    int64   `json:"params"`
	Threads   int     `json:"threads"`
	PromptLen int     `json:"prompt_len"`
	Decode    int     `json:"decode"`
	Frac      uint    `json:"frac"`
	RTTms     float64 `json:"rtt_ms"`
	Mbps      float64 `json:"mbps"`

	records.HSSTimes
	PrefillRatio    float64 `json:"prefill_ratio"` // HSS online / plain
	DecodeRatio     float64 `json:"decode_ratio"`
	PrefillRatioAll float64 `json:"prefill_ratio_with_offline"`
	DecodeRatioAll  float64 `json:"decode_ratio_with_offline"`
	records.HSSCosts
	MaxAbsLogitDiff float64 `json:"max_abs_logit_diff"`
}

type config struct {
	preset, path      string
	seed              uint64
	promptLen, decode int
	runs, threads     int
	frac              uint
	rtt               time.Duration
	mbps              float64
}

func main() {
	var c config
	flag.StringVar(&c.preset, "preset", "", "random-weight preset: "+fmt.Sprint(model.PresetNames()))
	flag.StringVar(&c.path, "model", "", "model: Hugging Face directory or llama2.c .bin")
	flag.Uint64Var(&c.seed, "seed", 1, "seed for random weights and prompt ids")
	flag.IntVar(&c.promptLen, "prompt-len", 128, "prompt tokens (prefill)")
	flag.IntVar(&c.decode, "decode", 8, "tokens decoded after the prompt")
	flag.IntVar(&c.runs, "runs", 3, "plain runs (median); HSS runs once")
	flag.IntVar(&c.threads, "threads", 0, "plain executor threads (0: all cores)")
	flag.UintVar(&c.frac, "frac", hss.DefaultParams().Frac, "HSS fixed-point fractional bits")
	flag.DurationVar(&c.rtt, "rtt", 0, "simulated round-trip time between the parties (0: in-memory)")
	flag.Float64Var(&c.mbps, "mbps", 0, "simulated link bandwidth in Mbit/s (0: unlimited)")
	jsonOut := flag.Bool("json", false, "print only the JSON line")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "hssbench:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	var w io.Writer = os.Stdout
	if *jsonOut {
		w = io.Discard
	}
	res, err := run(c, w)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hssbench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		os.Exit(1)
	}
}

func run(c config, w io.Writer) (*result, error) {
	if c.promptLen < 1 || c.decode < 1 || c.runs < 1 || c.threads < 0 || c.rtt < 0 || c.mbps < 0 {
		return nil, errors.New("-prompt-len, -decode and -runs must be positive; -threads, -rtt, -mbps >= 0")
	}
	prm, err := hss.DefaultParams().WithFrac(c.frac)
	if err != nil {
		return nil, fmt.Errorf("-frac: %w", err)
	}
	m, name, err := stats.LoadModel(c.preset, c.path, c.seed, c.promptLen, c.decode)
	if err != nil {
		return nil, err
	}
	cfg := m.Config
	rng := mrand.New(mrand.NewPCG(c.seed, 5))
	prompt := make([]int, c.promptLen)
	for i := range prompt {
		prompt[i] = rng.IntN(cfg.VocabSize)
	}
	if cfg.BOS >= 0 {
		prompt[0] = cfg.BOS
	}
	res := &result{Model: name, Params: cfg.WeightCount(), PromptLen: c.promptLen, Decode: c.decode,
		Frac: c.frac, RTTms: float64(c.rtt.Microseconds()) / 1e3, Mbps: c.mbps, Threads: c.threads}
	if res.Threads == 0 {
		res.Threads = runtime.GOMAXPROCS(0)
	}

	// Plain: median of runs; the greedy ids it decodes drive HSS too, so
	// both walk the same positions with the same tokens.
	r, err := model.NewRunnerThreads(m, c.promptLen+c.decode, c.threads)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var pre, dec []float64
	var ids []int
	var plainFirst []float32
	for i := 0; i < c.runs; i++ {
		r.Reset()
		start := time.Now()
		logits, err := r.Forward(prompt)
		if err != nil {
			return nil, err
		}
		pre = append(pre, ms(time.Since(start)))
		plainFirst = slices.Clone(logits)
		ids = ids[:0]
		start = time.Now()
		for range c.decode {
			id := model.Argmax(logits)
			ids = append(ids, id)
			if logits, err = r.Forward([]int{id}); err != nil {
				return nil, err
			}
		}
		dec = append(dec, ms(time.Since(start))/float64(c.decode))
	}
	res.PlainPrefillMS, res.PlainDecodeMS = stats.Round(stats.Median(pre), 3), stats.Round(stats.Median(dec), 4)

	// HSS-EE.
	var t0, t1 hss.Transport = hss.Pipe()
	if c.rtt > 0 || c.mbps > 0 {
		t0, t1 = hss.WithLink(t0, c.rtt, c.mbps*1e6), hss.WithLink(t1, c.rtt, c.mbps*1e6)
	}
	h, err := infer.NewHSS(m, prm, c.promptLen+c.decode, rand.Reader, t0, t1)
	if err != nil {
		return nil, err
	}
	logits, err := h.Forward(prompt)
	if err != nil {
		return nil, err
	}
	p := h.Last()
	res.HSSPrefillMS, res.HSSPrefillOffMS = stats.Round(ms(p.Online), 3), stats.Round(ms(p.Offline), 3)
	res.PrefillOnlineB, res.PrefillRounds, res.PrefillDealerB = p.OnlineBytes, p.Rounds, p.DealerBytes
	for i, v := range logits {
		res.MaxAbsLogitDiff = max(res.MaxAbsLogitDiff, abs(float64(v)-float64(plainFirst[i])))
	}
	var d infer.Costs
	for _, id := range ids {
		if _, err := h.Forward([]int{id}); err != nil {
			return nil, err
		}
		d = d.Add(h.Last())
	}
	n := int64(c.decode)
	res.HSSDecodeMS = stats.Round(ms(d.Online)/float64(n), 3)
	res.HSSDecodeOffMS = stats.Round(ms(d.Offline)/float64(n), 3)
	res.DecodeOnlineB, res.DecodeRounds, res.DecodeDealerB = d.OnlineBytes/n, d.Rounds/n, d.DealerBytes/n
	res.PrefillRatio = stats.Round(res.HSSPrefillMS/res.PlainPrefillMS, 1)
	res.DecodeRatio = stats.Round(res.HSSDecodeMS/res.PlainDecodeMS, 1)
	res.PrefillRatioAll = stats.Round((res.HSSPrefillMS+res.HSSPrefillOffMS)/res.PlainPrefillMS, 1)
	res.DecodeRatioAll = stats.Round((res.HSSDecodeMS+res.HSSDecodeOffMS)/res.PlainDecodeMS, 1)
	res.MaxAbsLogitDiff = stats.Round(res.MaxAbsLogitDiff, 5)

	link := "in-memory transport"
	if c.rtt > 0 || c.mbps > 0 {
		link = fmt.Sprintf("simulated link: %v RTT, %g Mbit/s", c.rtt, c.mbps)
	}
	fmt.Fprintf(w, "model %s (%s, dim %d, %d layers, %.2fM params), %d threads, %s, %d fractional bits\n\n",
		name, cfg.Arch, cfg.Dim, cfg.NLayers, float64(res.Params)/1e6, res.Threads, link, c.frac)
	fmt.Fprintln(w, "| phase | plain ms | HSS online ms | HSS offline ms | ratio (online) | ratio (with offline) | online bytes | rounds | dealer bytes |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	fmt.Fprintf(w, "| prefill %d tokens | %.2f | %.1f | %.1f | %.1f× | %.1f× | %s | %d | %s |\n", c.promptLen,
		res.PlainPrefillMS, res.HSSPrefillMS, res.HSSPrefillOffMS, res.PrefillRatio, res.PrefillRatioAll,
		stats.Size(res.PrefillOnlineB), res.PrefillRounds, stats.Size(res.PrefillDealerB))
	fmt.Fprintf(w, "| decode, per token (%d) | %.3f | %.2f | %.2f | %.1f× | %.1f× | %s | %d | %s |\n", c.decode,
		res.PlainDecodeMS, res.HSSDecodeMS, res.HSSDecodeOffMS, res.DecodeRatio, res.DecodeRatioAll,
		stats.Size(res.DecodeOnlineB), res.DecodeRounds, stats.Size(res.DecodeDealerB))
	fmt.Fprintf(w, "\nfirst-step logits: max |HSS − plain| = %.4g\n\n", res.MaxAbsLogitDiff)
	return res, nil
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
