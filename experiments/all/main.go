// Command all runs every experiment of the project and writes its results
// (markdown tables, PNG plots, the raw JSON) to experiments/results:
//
//	go run ./experiments/all              # the full run (< 20 min on a 2-core machine)
//	go run ./experiments/all -quick       # a small grid for CI smoke use (< 3 min), to results/tmp/quick
//	go run ./experiments/all -only 4,6    # some experiments only
//	go run ./experiments/all -replot      # rewrite results.md, the plots and README's table from results.json
//
// The experiments (see experiments/README.md):
//
//  1. EE overhead and fidelity, vanilla vs EE, both modes (experiments/eebench);
//  2. HSS-EE vs plain latency over prompt lengths and model sizes, both
//     parties as separate processes over loopback gRPC with TLS;
//  3. the same under simulated links (experiments/hssbench -rtt -mbps);
//  4. exact costs (secure.Count) beside SIGMA's published GPT-2 figures;
//  5. fidelity of HSS-EE vs plain over the eval prompts and vs fixed-point
//     fractional bits;
//  6. what a sub-second LLaMA-7B decode step would need;
//  7. HSS-EE deployed on three hosts: party 0, party 1 and the dealer
//     service as separate processes through emulated links
//     (experiments/deploy).
//
// Progress goes to stderr. Points too costly to measure on this machine
// come from the cost model and are labelled modelled wherever they appear.
//
// The binary doubles as party 0 and party 1 for experiment 2: with
// HSSEE_EXPERIMENTS_ROLE=party0 or party1 it is cmd/party0 or cmd/party1.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hssee/hssee/experiments/internal/procs"
	"github.com/hssee/hssee/experiments/internal/stats"
)

const roleEnv = "HSSEE_EXPERIMENTS_ROLE"

// asParty runs party.Main when the role variable asks for it.
func asParty() { procs.Serve(roleEnv) }

// scale is the size of the grids.
type scale int

const (
	full scale = iota
	quick
	smoke // the test's: seconds
)

func (s scale) String() string { return [...]string{"full", "quick", "smoke"}[s] }

type options struct {
	scale  scale
	out    string
	root   string // repository root
	shared string // ../shared (may be absent)
	only   map[int]bool
	log    io.Writer
	start  time.Time
	bins   string // built experiment programs
}

func main() {
	asParty()
	q := flag.Bool("quick", false, "small grid for CI smoke use (< 3 min); writes to experiments/results/tmp/quick unless -out")
	out := flag.String("out", "", "output directory (default experiments/results, or results/tmp/quick with -quick)")
	only := flag.String("only", "", "comma-separated experiment numbers to run (default all)")
	replot := flag.Bool("replot", false, "rewrite results.md and the plots from the output directory's results.json (no measuring)")
	flag.Parse()
	o := options{scale: full, out: *out, log: os.Stderr}
	if *q {
		o.scale = quick
	}
	if err := o.parseOnly(*only); err != nil {
		fmt.Fprintln(os.Stderr, "all:", err)
		os.Exit(2)
	}
	if *replot {
		if err := replotFrom(&o); err != nil {
			fmt.Fprintln(os.Stderr, "all:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(&o); err != nil {
		fmt.Fprintln(os.Stderr, "all:", err)
		os.Exit(1)
	}
}

func (o *options) parseOnly(s string) error {
	if s == "" {
		return nil
	}
	o.only = map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 7 {
			return fmt.Errorf("-only: %q is not an experiment number 1..7", f)
		}
		o.only[n] = true
	}
	return nil
}

func (o *options) want(n int) bool { return o.only == nil || o.only[n] }

func (o *options) progress(format string, args ...any) {
	el := time.Since(o.start).Round(time.Second)
	fmt.Fprintf(o.log, "[%02d:%02d] %s\n", int(el.Minutes()), int(el.Seconds())%60, fmt.Sprintf(format, args...))
}

// results is everything the run produced: results.json.
type results struct {
	Command   string            `json:"command"`
	Scale     string            `json:"scale"`
	Machine   machine           `json:"machine"`
	Started   string            `json:"started"`
	Seconds   float64           `json:"seconds"`
	EE        *eeResults        `json:"ee,omitempty"`
	Latency   *latencyResults   `json:"latency,omitempty"`
	Network   *networkResults   `json:"network,omitempty"`
	Costs     *costResults      `json:"costs,omitempty"`
	Fidelity  *fidelityResults  `json:"fidelity,omitempty"`
	SubSecond *subSecondResults `json:"sub_second,omitempty"`
	Deploy    *deployResults    `json:"deploy,omitempty"`
}

type machine struct {
	CPU    string `json:"cpu"`
	AVX512 *bool  `json:"avx512,omitempty"` // the CPU has AVX-512 F and VAES (the fast lookup and matmul kernels)
	Cores  int    `json:"cores"`
	MemGiB int    `json:"mem_gib"`
	Go     string `json:"go"`
	OS     string `json:"os"`
}

func describeMachine() machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	m.CPU, m.AVX512 = stats.CPU()
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemGiB = int((kb + 1<<19) >> 20)
		}
	}
	return m
}

func (r *results) command() string { return r.Command }

func run(o *options) error {
	o.start = time.Now()
	if o.root == "" {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
		if err != nil {
			return fmt.Errorf("finding the module root (go list -m): %w", err)
		}
		o.root = strings.TrimSpace(string(out))
	}
	if o.shared == "" {
		o.shared = filepath.Join(filepath.Dir(o.root), "shared")
	}
	if o.out == "" {
		o.out = filepath.Join(o.root, "experiments", "results")
		if o.scale != full {
			o.out = filepath.Join(o.out, "tmp", o.scale.String())
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	bins, err := os.MkdirTemp("", "hssee-experiments-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bins)
	o.bins = bins

	res := &results{Scale: o.scale.String(), Machine: describeMachine(), Started: o.start.UTC().Format(time.RFC3339),
		Command: "go run ./experiments/all"}
	if o.scale == quick {
		res.Command += " -quick"
	} else if o.scale == smoke {
		res.Command += " (smoke test grid)"
	}
	o.progress("experiments (%s grid) -> %s; machine: %s, %d cores", o.scale, o.out, res.Machine.CPU, res.Machine.Cores)
	steps := []struct {
		n    int
		name string
		f    func() error
	}{
		{1, "EE overhead and fidelity", func() (err error) { res.EE, err = runEE(o); return }},
		{2, "HSS-EE vs plain latency (loopback gRPC + TLS, separate party processes)", func() (err error) { res.Latency, err = runLatency(o); return }},
		{3, "network: simulated links", func() (err error) { res.Network, err = runNetwork(o); return }},
		{4, "costs vs SIGMA", func() (err error) { res.Costs, err = runCosts(o); return }},
		{5, "fidelity of HSS-EE vs plain", func() (err error) { res.Fidelity, err = runFidelity(o); return }},
		{6, "what a sub-second LLaMA-7B needs", func() (err error) { res.SubSecond, err = runSubSecond(o, res); return }},
		{7, "deployed on three hosts through emulated links", func() (err error) { res.Deploy, err = runDeploy(o); return }},
	}
	for _, s := range steps {
		if !o.want(s.n) {
			continue
		}
		t := time.Now()
		o.progress("experiment %d: %s", s.n, s.name)
		if err := s.f(); err != nil {
			return fmt.Errorf("experiment %d (%s): %w", s.n, s.name, err)
		}
		o.progress("experiment %d done in %v", s.n, time.Since(t).Round(time.Second))
	}
	res.Seconds = time.Since(o.start).Seconds()
	if err := writeReport(o, res); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if o.scale == full && o.out == filepath.Join(o.root, "experiments", "results") {
		if err := writeSummary(o.root, res); err != nil {
			return fmt.Errorf("README results table: %w", err)
		}
		o.progress("README.md's results table rewritten")
	}
	o.progress("done in %v: %s", time.Since(o.start).Round(time.Second), filepath.Join(o.out, "results.md"))
	return nil
}

// program builds (once) and runs an experiment program with args, and
// decodes the last line of its stdout as JSON into v.
func (o *options) program(name string, v any, args ...string) error {
	bin := filepath.Join(o.bins, name)
	if _, err := os.Stat(bin); err != nil {
		cmd := exec.Command("go", "build", "-o", bin, "./experiments/"+name)
		cmd.Dir = o.root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./experiments/%s: %v\n%s", name, err, out)
		}
	}
	o.progress("  %s %s", name, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir = o.root
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) == 0 {
		return fmt.Errorf("%s: no output", name)
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		return fmt.Errorf("%s: last line is not JSON: %w", name, err)
	}
	return nil
}

// tinystories is the real model's directory and eval file, or "" when
// ../shared is absent (then the experiments use the preset's shape with
// random weights and say so).
func (o *options) tinystories() (dir, eval string) {
	dir = filepath.Join(o.shared, "models", "tinystories-656k")
	eval = filepath.Join(o.shared, "eval", "tinystories-656k-golden.jsonl")
	if _, err := os.Stat(dir); err != nil {
		return "", ""
	}
	if _, err := os.Stat(eval); err != nil {
		eval = ""
	}
	return dir, eval
}

var errSkip = errors.New("skipped")

// replotFrom rewrites the report of an earlier run from its results.json.
func replotFrom(o *options) error {
	if o.out == "" {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
		if err != nil {
			return err
		}
		o.out = filepath.Join(strings.TrimSpace(string(out)), "experiments", "results")
		if o.scale != full {
			o.out = filepath.Join(o.out, "tmp", o.scale.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(o.out, "results.json"))
	if err != nil {
		return err
	}
	var r results
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	if err := writeReport(o, &r); err != nil {
		return err
	}
	if r.Scale != full.String() {
		return nil
	}
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return err
	}
	return writeSummary(strings.TrimSpace(string(root)), &r)
}
