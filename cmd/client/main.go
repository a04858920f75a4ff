// Command client is the user's side of hssee: it makes EE keys, transforms
// models, and generates text locally (plain, or through an EE model).
//
//	client keygen    -out KEY [-mode rotate|perm] [-force]
//	client transform -model PATH -key KEY -out DIR
//	client generate  -model PATH [-key KEY | -mode ee [-ee-mode rotate|perm]] [-tokenizer PATH]
//	                 -prompt TEXT -n N [-temp T] [-top-p P] [-top-k K] [-seed S] [-threads N]
//	                 [-ignore-eos] [-json] [-dealer-seed HEX]
//	client generate  -mode hss -parties HOST:PORT,HOST:PORT [-dealer local|HOST:PORT] -tls-ca F -tls-cert F -tls-key F -model EEDIR -key KEY ...
//	client generate  -mode ee -server HOST:PORT -tls-ca F -tls-cert F -tls-key F -model EEDIR -key KEY ...
//	client certs     -out DIR [-hosts NAMES]
//	client demo      [-model PATH] [-prompt TEXT] [-n N]
//
// PATH is a Hugging Face model directory or a llama2.c .bin checkpoint.
// transform binds an unbound key to the base model (the key file is
// rewritten) and writes the EE model as a Hugging Face directory with a
// manifest naming the key. generate with -key accepts either the base model
// (transformed in memory) or the EE directory; the tokenizer is read from the
// model directory, from tokenizer.bin beside a .bin checkpoint, or from
// -tokenizer (needed for EE directories, which carry none). -mode ee without
// -key draws a fresh session key for this run only (the base model is
// transformed in memory; the key is never written).
//
// Nothing secret is printed: not the key, not logits; -json prints the ids
// and text the user asked for on standard output only.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/hssee/hssee/ee"
	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/infer"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/hf"
	"github.com/hssee/hssee/model/loader"
	"github.com/hssee/hssee/model/tokenizer"
	"github.com/hssee/hssee/party"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		var u usageError
		if errors.As(err, &u) {
			if u.msg != "" {
				fmt.Fprintln(os.Stderr, "client:", u.msg)
			}
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

const usage = `usage: client <command> [flags]

commands:
  keygen     make a new EE key file
  transform  write the EE model of a base model under a key
  generate   generate text (plain, EE or HSS-EE; locally, or on deployed servers with -parties / -server)
  certs      make a CA and certificates for a test deployment
  demo       the one-command tour: both parties in process over real gRPC and TLS

run "client <command> -h" for the flags of a command`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return usageError{}
	}
	cmds := map[string]func([]string, io.Writer, io.Writer) error{
		"keygen": keygen, "transform": transform, "generate": generate, "certs": certs, "demo": demo,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		if args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
			fmt.Fprintln(stdout, usage)
			return nil
		}
		fmt.Fprintln(stderr, usage)
		return usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
	return cmd(args[1:], stdout, stderr)
}

// parse parses a subcommand's flags; -h prints its help and returns
// flag.ErrHelp, which run turns into a clean exit.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usageError{}
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

func keygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	out := fs.String("out", "", "key file to write (mode 0600)")
	mode := fs.String("mode", string(ee.DefaultMode), "EE mode: rotate or perm")
	force := fs.Bool("force", false, "overwrite an existing key file")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *out == "" {
		return usageError{"keygen: -out is required"}
	}
	m, err := ee.ParseMode(*mode)
	if err != nil {
		return usageError{"keygen: " + err.Error()}
	}
	if _, err := os.Stat(*out); err == nil && !*force {
		return fmt.Errorf("keygen: %s exists (use -force to replace it)", *out)
	}
	k, err := ee.GenerateKey(rand.Reader, m)
	if err != nil {
		return err
	}
	if err := ee.SaveKey(*out, k); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s key %s to %s\n", k.Mode(), k.ID(), *out)
	return nil
}

func transform(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("transform", flag.ContinueOnError)
	path := fs.String("model", "", "base model: Hugging Face directory or llama2.c .bin")
	keyPath := fs.String("key", "", "key file (an unbound key is bound to this model and rewritten)")
	out := fs.String("out", "", "directory to write the EE model to (must not exist or be empty)")
	progress := fs.Bool("progress", isTerminal(stderr), "show the step a long transform is in on standard error")
	quiet := fs.Bool("quiet", false, "show no progress (overrides -progress)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	st := newStageLine(stderr, *progress && !*quiet)
	defer st.Done()
	if *path == "" || *keyPath == "" || *out == "" {
		return usageError{"transform: -model, -key and -out are required"}
	}
	if m, err := ee.ReadManifest(*path); err != nil {
		return err
	} else if m != nil {
		return fmt.Errorf("transform: %s is already an EE model", *path)
	}
	if ents, err := os.ReadDir(*out); err == nil && len(ents) > 0 {
		return fmt.Errorf("transform: %s exists and is not empty", *out)
	}
	st.Stage("transform: loading the base model")
	base, err := loader.Load(*path)
	if err != nil {
		return err
	}
	k, err := ee.LoadKey(*keyPath)
	if err != nil {
		return err
	}
	_, wasBound := k.ModelFingerprint()
	st.Stage("transform: transforming the weights")
	enc, err := ee.Transform(base, k)
	if err != nil {
		return err
	}
	st.Stage("transform: writing " + *out)
	if err := hf.Save(*out, enc); err != nil {
		return err
	}
	// The manifest fingerprints the model as it reads back from disk (the
	// Hugging Face layout may reorder RoPE rows of a llama2.c base model).
	st.Stage("transform: reading back and fingerprinting")
	saved, err := hf.Load(*out)
	if err != nil {
		return fmt.Errorf("transform: reading back %s: %w", *out, err)
	}
	man, err := ee.NewManifest(k, saved)
	if err != nil {
		return err
	}
	if err := ee.WriteManifest(*out, man); err != nil {
		return err
	}
	if !wasBound {
		if err := ee.SaveKey(*keyPath, k); err != nil {
			return err
		}
	}
	st.Done()
	c := enc.Config
	fmt.Fprintf(stdout, "wrote EE model (%s, %s, dim %d, %d layers, vocab %d) under key %s to %s\n",
		k.Mode(), c.Arch, c.Dim, c.NLayers, c.VocabSize, k.ID(), *out)
	return nil
}

// genOutput is generate's -json object.
type genOutput struct {
	Mode             string  `json:"mode"`
	Model            string  `json:"model"`
	PromptIDs        []int   `json:"prompt_ids"`
	IDs              []int   `json:"ids"`
	Text             string  `json:"text"`
	PrefillMS        float64 `json:"prefill_ms"`
	DecodeMSPerToken float64 `json:"decode_ms_per_token"`
	Threads          int     `json:"threads"`
	// HSS only: totals over the whole generation.
	OnlineBytes *int64   `json:"online_bytes,omitempty"`
	Rounds      *int64   `json:"rounds,omitempty"`
	DealerBytes *int64   `json:"dealer_bytes,omitempty"`
	OfflineMS   *float64 `json:"offline_ms,omitempty"`
	OnlineMS    *float64 `json:"online_ms,omitempty"`
	// HSS on deployed parties: the client's own payload bytes, both
	// parties together (input shares and seeds, uploaded material; output
	// shares), and where the material came from.
	ClientSentBytes *int64 `json:"client_sent_bytes,omitempty"`
	ClientRecvBytes *int64 `json:"client_recv_bytes,omitempty"`
	Dealer          string `json:"dealer,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

// genOpts are generate's flags, checked.
type genOpts struct {
	path, keyPath, mode, tokPath, prompt string
	prm                                  hss.Params // -frac over the default width (checked with -mode hss)
	sessionMode                          ee.Mode
	n, topK, threads                     int
	temp, topP                           float64
	seed                                 uint64
	ignoreEOS, asJSON, progress          bool
	parties                              [2]string // deployed HSS parties ("": in process)
	server                               string    // deployed EE server
	tlsCA, tlsCert, tlsKey               string
	dealer                               string // "local" or the dealer service's address
	rng                                  io.Reader
}

func (g *genOpts) deployed() bool { return g.parties[0] != "" }

func parseGenerate(args []string, stderr io.Writer) (*genOpts, error) {
	g := &genOpts{rng: rand.Reader}
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.StringVar(&g.path, "model", "", "model: Hugging Face directory (base or EE) or llama2.c .bin")
	fs.StringVar(&g.keyPath, "key", "", "EE key: run through EE (the base model is transformed in memory)")
	fs.StringVar(&g.mode, "mode", "", "plain, ee or hss (default: ee with -key, else plain); ee/hss without -key use a fresh session key")
	frac := fs.Uint("frac", hss.DefaultParams().Frac, "hss: fixed-point fractional bits")
	eeMode := fs.String("ee-mode", string(ee.DefaultMode), "EE mode of a fresh session key: rotate or perm")
	fs.StringVar(&g.tokPath, "tokenizer", "", "tokenizer (default: the model directory, or tokenizer.bin beside a .bin)")
	fs.StringVar(&g.prompt, "prompt", "", "prompt text")
	fs.IntVar(&g.n, "n", 64, "tokens to generate (at most; stops at end-of-sequence unless -ignore-eos)")
	fs.Float64Var(&g.temp, "temp", 0, "sampling temperature (0: greedy)")
	fs.Float64Var(&g.topP, "top-p", 0, "nucleus sampling mass (0 or 1: off)")
	fs.IntVar(&g.topK, "top-k", 0, "keep the K most likely tokens (0: off)")
	fs.Uint64Var(&g.seed, "seed", 0, "sampling seed")
	fs.IntVar(&g.threads, "threads", 0, "threads (0: all cores)")
	fs.BoolVar(&g.ignoreEOS, "ignore-eos", false, "generate exactly -n tokens")
	fs.BoolVar(&g.asJSON, "json", false, "print one JSON object instead of streaming text")
	parties := fs.String("parties", "", "hss: run on deployed parties PARTY0:PORT,PARTY1:PORT (needs -key and the EE model they serve)")
	fs.StringVar(&g.server, "server", "", "ee: run on a deployed EE server HOST:PORT (needs -key and the EE model it serves)")
	fs.StringVar(&g.tlsCA, "tls-ca", "", "with -parties/-server: the deployment's CA certificate")
	fs.StringVar(&g.tlsCert, "tls-cert", "", "with -parties/-server: the client's certificate")
	fs.StringVar(&g.tlsKey, "tls-key", "", "with -parties/-server: the client's private key")
	dealerSeed := fs.String("dealer-seed", "", "hss: 64 hex digits seeding the dealer's and the sharing's randomness (tests only: it makes the shares predictable)")
	fs.BoolVar(&g.progress, "progress", isTerminal(stderr), "show the progress of long steps (transform in memory, prefill, long passes on deployed parties) on standard error")
	quiet := fs.Bool("quiet", false, "show no progress (overrides -progress)")
	fs.StringVar(&g.dealer, "dealer", "local", "hss with -parties: local (this client makes and uploads the material) or the dealer service's HOST:PORT (the parties pull it; the client sends only input shares)")
	if err := parse(fs, args, stderr); err != nil {
		return nil, err
	}
	if g.path == "" {
		return nil, usageError{"generate: -model is required"}
	}
	if g.threads < 0 {
		return nil, usageError{"generate: -threads must be >= 0"}
	}
	if *quiet {
		g.progress = false
	}
	switch {
	case g.mode == "":
		g.mode = "plain"
		if g.keyPath != "" {
			g.mode = "ee"
		}
	case g.mode == "plain" && g.keyPath != "":
		return nil, usageError{"generate: -mode plain and -key contradict each other"}
	case g.mode != "plain" && g.mode != "ee" && g.mode != "hss":
		return nil, usageError{fmt.Sprintf("generate: unknown -mode %q (plain, ee or hss)", g.mode)}
	case *parties != "" && g.mode != "hss", g.server != "" && g.mode != "ee":
		return nil, usageError{"generate: -parties goes with -mode hss, -server with -mode ee"}
	case (*parties != "" || g.server != "") && g.keyPath == "":
		return nil, usageError{"generate: deployed servers run an EE model: give its key with -key (and the EE model with -model)"}
	case g.dealer != "local" && *parties == "":
		return nil, usageError{"generate: -dealer HOST:PORT goes with -parties (in process, the dealer is local)"}
	case g.dealer == "":
		return nil, usageError{"generate: -dealer wants local or HOST:PORT"}
	}
	if g.mode == "hss" {
		var err error
		if g.prm, err = hss.DefaultParams().WithFrac(*frac); err != nil {
			return nil, usageError{fmt.Sprintf("generate: -frac: %v", err)}
		}
	}
	if *parties != "" {
		a := strings.Split(*parties, ",")
		if len(a) != 2 || a[0] == "" || a[1] == "" {
			return nil, usageError{"generate: -parties wants PARTY0:PORT,PARTY1:PORT"}
		}
		g.parties = [2]string{a[0], a[1]}
	}
	if *dealerSeed != "" {
		b, err := hex.DecodeString(*dealerSeed)
		if err != nil || len(b) != 32 {
			return nil, usageError{"generate: -dealer-seed wants 64 hex digits"}
		}
		g.rng = hss.NewPRG([32]byte(b))
	}
	var err error
	if g.sessionMode, err = ee.ParseMode(*eeMode); err != nil {
		return nil, usageError{"generate: " + err.Error()}
	}
	return g, nil
}

// load opens the model and tokenizer and, unless the mode is plain, the EE
// key (a fresh session key without -key), transforming a base model in
// memory.
func (g *genOpts) load(st *stageLine, stderr io.Writer) (*model.Model, tokenizer.Tokenizer, *ee.Key, error) {
	man, err := ee.ReadManifest(g.path)
	if err != nil {
		return nil, nil, nil, err
	}
	if man != nil && g.keyPath == "" {
		return nil, nil, nil, fmt.Errorf("generate: %s is an EE model: give its key with -key", g.path)
	}
	tok, err := openTokenizer(g.tokPath, g.path, man != nil)
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := loader.Load(g.path)
	if err != nil {
		return nil, nil, nil, err
	}
	var key *ee.Key
	if g.mode != "plain" {
		if g.keyPath == "" {
			// A session key: fresh for this run, never written anywhere.
			key, err = ee.GenerateKey(rand.Reader, g.sessionMode)
		} else {
			key, err = ee.LoadKey(g.keyPath)
		}
		if err != nil {
			return nil, nil, nil, err
		}
		if man != nil {
			if err := man.Check(key, m); err != nil {
				return nil, nil, nil, err
			}
		} else {
			st.Stage("transforming the model in memory")
			if m, err = ee.Transform(m, key); err != nil {
				return nil, nil, nil, err
			}
			st.Done()
		}
		// EE alone protects nothing against a server that can match the EE
		// model with a public base model (see SECURITY.md).
		if w := ee.PublicBaseWarning(key); g.mode == "ee" && w != "" {
			fmt.Fprintln(stderr, w)
		}
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, nil, nil, fmt.Errorf("generate: tokenizer has %d tokens, model only %d", tok.VocabSize(), m.Config.VocabSize)
	}
	return m, tok, key, nil
}

// genEngine is the engine generate runs and what its output reports.
type genEngine struct {
	infer.Engine
	hss     *infer.HSS                // HSS modes
	traffic func() (sent, recv int64) // on deployed parties: the client's own bytes
	closers []func()                  // run in reverse order by close
}

func (e *genEngine) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

// engine opens the engine of g's mode: in process, or on deployed servers.
func (g *genOpts) engine(m *model.Model, tok tokenizer.Tokenizer, stderr io.Writer) (*genEngine, error) {
	e := &genEngine{}
	var creds *party.Credentials
	if g.deployed() || g.server != "" {
		var err error
		if creds, err = party.LoadCredentials(g.tlsCert, g.tlsKey, g.tlsCA); err != nil {
			return nil, err
		}
	}
	sess := party.Session{Fingerprint: model.Fingerprint(m), Params: g.prm}
	switch {
	case g.mode == "hss" && g.deployed():
		pc, err := party.Dial(g.parties, creds)
		if err != nil {
			return nil, err
		}
		e.closers = append(e.closers, func() { pc.Close() })
		if g.dealer != "local" {
			// The dealer service makes the material: tell it the prefill's
			// length so it starts before the prompt is submitted.
			ids, err := infer.PromptIDs(tok, g.prompt)
			if err != nil {
				e.close()
				return nil, err
			}
			sess.Dealer, sess.Config, sess.FirstRows = g.dealer, m.Config, len(ids)
		}
		if err := pc.Open(sess); err != nil {
			e.close()
			return nil, err
		}
		e.traffic = pc.Traffic
		if g.progress {
			pc.OnProgress = progressDisplay(stderr)
		}
		if e.hss, err = infer.NewHSSWith(m, g.prm, 0, g.rng, pc); err != nil {
			e.close()
			return nil, err
		}
		// With the local dealer, the dealer runs here and the parties
		// elsewhere: prepare each decode step's material while the parties
		// run the previous one (the dealer service prefetches on its own).
		e.hss.Prefetch = true
		e.closers = append(e.closers, e.hss.Close) // before the session closes
		e.Engine = e.hss
	case g.mode == "hss":
		var err error
		if e.hss, err = infer.NewHSS(m, g.prm, 0, g.rng, nil, nil); err != nil {
			return nil, err
		}
		e.Engine = e.hss
	case g.server != "":
		ec, err := party.DialEE(g.server, creds, sess)
		if err != nil {
			return nil, err
		}
		e.closers = append(e.closers, func() { ec.Close() })
		e.Engine = ec
	default:
		r, err := model.NewRunnerThreads(m, 0, g.threads)
		if err != nil {
			return nil, err
		}
		e.closers = append(e.closers, r.Close)
		e.Engine = r
	}
	return e, nil
}

func generate(args []string, stdout, stderr io.Writer) error {
	g, err := parseGenerate(args, stderr)
	if err != nil {
		return err
	}
	st := newStageLine(stderr, g.progress)
	defer st.Done()
	m, tok, key, err := g.load(st, stderr)
	if err != nil {
		return err
	}
	eng, err := g.engine(m, tok, stderr)
	if err != nil {
		return err
	}
	defer eng.close()
	req := infer.Request{
		Prompt: g.prompt, N: g.n, IgnoreEOS: g.ignoreEOS,
		Sampler: model.SamplerConfig{Temperature: float32(g.temp), TopP: float32(g.topP), TopK: g.topK, Seed: g.seed},
	}
	if !g.asJSON {
		fmt.Fprint(stdout, g.prompt)
		req.OnText = func(s string) { st.Done(); fmt.Fprint(stdout, s) }
	} else {
		req.OnText = func(string) { st.Done() }
	}
	if !g.deployed() { // deployed parties report their own progress (OnProgress)
		st.Stage("prefill")
	}
	res, err := infer.Generate(eng, tok, key, req)
	st.Done()
	if err != nil {
		if !g.asJSON {
			fmt.Fprintln(stdout)
		}
		return err
	}
	return g.output(res, eng, stdout, stderr)
}

// output prints the result: a summary line on stderr after the streamed
// text, or one JSON object.
func (g *genOpts) output(res *infer.Result, eng *genEngine, stdout, stderr io.Writer) error {
	prefill := float64(res.Prefill.Microseconds()) / 1e3
	perTok := float64(res.DecodePerToken().Microseconds()) / 1e3
	if !g.asJSON {
		fmt.Fprintln(stdout)
		fmt.Fprintf(stderr, "%s: %d prompt tokens, %d generated; prefill %.1f ms, decode %.2f ms/token\n",
			g.mode, len(res.PromptIDs), len(res.IDs), prefill, perTok)
		return nil
	}
	th := g.threads
	if th == 0 {
		th = runtime.GOMAXPROCS(0)
	}
	o := genOutput{
		Mode: g.mode, Model: filepath.Base(filepath.Clean(g.path)), PromptIDs: res.PromptIDs, IDs: nonNil(res.IDs),
		Text: res.Text, PrefillMS: prefill, DecodeMSPerToken: perTok, Threads: th,
	}
	if eng.hss != nil {
		c := eng.hss.Total()
		o.OnlineBytes, o.Rounds, o.DealerBytes = &c.OnlineBytes, &c.Rounds, &c.DealerBytes
		off, on := ms(c.Offline), ms(c.Online)
		o.OfflineMS, o.OnlineMS = &off, &on
	}
	if eng.traffic != nil {
		sent, recv := eng.traffic()
		o.ClientSentBytes, o.ClientRecvBytes, o.Dealer = &sent, &recv, g.dealer
	}
	return json.NewEncoder(stdout).Encode(o)
}

func nonNil(ids []int) []int {
	if ids == nil {
		return []int{}
	}
	return ids
}

// openTokenizer finds the tokenizer for the model at path.
func openTokenizer(tokPath, path string, isEE bool) (tokenizer.Tokenizer, error) {
	if tokPath != "" {
		return tokenizer.Load(tokPath)
	}
	if isEE {
		return nil, errors.New("generate: EE model directories carry no tokenizer: pass the base model's with -tokenizer")
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	if st.IsDir() {
		return tokenizer.Load(path)
	}
	beside := filepath.Join(filepath.Dir(path), "tokenizer.bin")
	if _, err := os.Stat(beside); err != nil {
		return nil, fmt.Errorf("generate: no tokenizer.bin beside %s: pass -tokenizer", path)
	}
	return tokenizer.Load(beside)
}
