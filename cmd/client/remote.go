package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hssee/hssee/dealer"
	"github.com/hssee/hssee/ee"
	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/infer"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/loader"
	"github.com/hssee/hssee/model/tokenizer"
	"github.com/hssee/hssee/party"
	"github.com/hssee/hssee/party/dealersvc"
)

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressDisplay shows a pass that runs longer than a second as one
// rewritten line on w.
func progressDisplay(w io.Writer) func(party.Progress) {
	var mu sync.Mutex
	return func(p party.Progress) {
		if p.Elapsed < time.Second {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		what := "decode step"
		if p.Pass == 0 {
			what = "prefill"
		}
		fmt.Fprintf(w, "\r[%s: %.1f s, %d protocol rounds]\r", what, p.Elapsed.Seconds(), p.Rounds)
	}
}

func certs(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	out := fs.String("out", "", "directory to write ca.pem and the party and client certificates and keys to")
	hosts := fs.String("hosts", strings.Join(party.DefaultHosts, ","), "comma-separated DNS names and IP addresses the party certificates are valid for")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *out == "" {
		return usageError{"certs: -out is required"}
	}
	for _, f := range party.Files {
		if _, err := os.Stat(filepath.Join(*out, f)); err == nil {
			return fmt.Errorf("certs: %s already exists", filepath.Join(*out, f))
		}
	}
	var hs []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hs = append(hs, h)
		}
	}
	pki, err := party.NewPKI(hs)
	if err != nil {
		return err
	}
	if err := pki.WriteFiles(*out); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s to %s (party certificates valid for %s; keys mode 0600; the CA key was not kept)\n",
		strings.Join(party.Files, ", "), *out, strings.Join(hs, ", "))
	return nil
}

// demoModel finds the demo's model: -model, else the first of
// $HSSEE_MODEL and ../shared/models/tinystories-656k that exists.
func demoModel(flagPath string) string {
	if flagPath != "" {
		return flagPath
	}
	for _, p := range []string{os.Getenv("HSSEE_MODEL"), filepath.Join("..", "shared", "models", "tinystories-656k")} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// demo runs both parties in this process over real loopback gRPC with TLS
// (ephemeral certificates), the dealer in the client or (-dealer service)
// as a third server, and compares HSS-EE with the plain model.
func demo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	path := fs.String("model", "", "base model (default: $HSSEE_MODEL, else ../shared/models/tinystories-656k, else random weights)")
	prompt := fs.String("prompt", "Once upon a time", "prompt text")
	n := fs.Int("n", 32, "tokens to generate (greedy; stops at end-of-sequence)")
	frac := fs.Uint("frac", hss.DefaultParams().Frac, "fixed-point fractional bits")
	dealerMode := fs.String("dealer", "local", "local (the client makes and uploads the material) or service (a dealer service beside the parties streams it to them)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *dealerMode != "local" && *dealerMode != "service" {
		return usageError{"demo: -dealer wants local or service"}
	}
	prm, err := hss.DefaultParams().WithFrac(*frac)
	if err != nil {
		return usageError{fmt.Sprintf("demo: -frac: %v", err)}
	}
	p := demoModel(*path)
	var m *model.Model
	var tok tokenizer.Tokenizer
	name := p
	if p == "" {
		fmt.Fprintln(stderr, "demo: NOTICE: no model found ($HSSEE_MODEL unset, ../shared/models/tinystories-656k absent):\n"+
			"demo: using the tinystories-656k shape with RANDOM weights and a byte tokenizer; the text is gibberish,\n"+
			"demo: but plain and HSS-EE must still agree. Pass -model PATH for a real model.")
		if m, err = model.Preset("tinystories-656k", 1); err != nil {
			return err
		}
		tok, name = tokenizer.Bytes{}, "tinystories-656k (random weights)"
	} else {
		if man, err := ee.ReadManifest(p); err != nil {
			return err
		} else if man != nil {
			return fmt.Errorf("demo: %s is an EE model; the demo wants a base model (it makes a session key)", p)
		}
		if tok, err = openTokenizer("", p, false); err != nil {
			return err
		}
		if m, err = loader.Load(p); err != nil {
			return err
		}
	}
	key, err := ee.GenerateKey(rand.Reader, ee.DefaultMode)
	if err != nil {
		return err
	}
	em, err := ee.Transform(m, key)
	if err != nil {
		return err
	}
	pki, err := party.NewPKI(nil)
	if err != nil {
		return err
	}
	addrs, dealerAddr, stop, err := startDemoParties(em, pki, *dealerMode == "service")
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(stdout, "model %s; EE key %s (%s, fresh for this run)\n", name, key.ID(), key.Mode())
	where := "dealer in the client"
	if dealerAddr != "" {
		where = "dealer service at " + dealerAddr + " streaming each party its material"
	}
	fmt.Fprintf(stdout, "party 0 at %s, party 1 at %s (gRPC, TLS 1.3, mutual TLS between the parties); %s\n\n", addrs[0], addrs[1], where)

	req := infer.Request{Prompt: *prompt, N: *n}
	r, err := model.NewRunner(m, 0)
	if err != nil {
		return err
	}
	defer r.Close()
	plain, err := infer.Generate(r, tok, nil, req)
	if err != nil {
		return fmt.Errorf("demo: plain: %w", err)
	}

	creds, err := pki.Credentials("client")
	if err != nil {
		return err
	}
	pc, err := party.Dial(addrs, creds)
	if err != nil {
		return err
	}
	defer pc.Close()
	sess := party.Session{Fingerprint: model.Fingerprint(em), Params: prm}
	if dealerAddr != "" {
		sess.Dealer, sess.Config, sess.FirstRows = dealerAddr, em.Config, len(plain.PromptIDs)
	}
	if err := pc.Open(sess); err != nil {
		return err
	}
	if isTerminal(stderr) {
		pc.OnProgress = progressDisplay(stderr)
	}
	eng, err := infer.NewHSSWith(em, prm, 0, rand.Reader, pc)
	if err != nil {
		return err
	}
	eng.Prefetch = true
	defer eng.Close()
	fmt.Fprint(stdout, *prompt)
	req.OnText = func(s string) { fmt.Fprint(stdout, s) }
	res, err := infer.Generate(eng, tok, key, req)
	fmt.Fprintln(stdout)
	if err != nil {
		return fmt.Errorf("demo: hss: %w", err)
	}
	same := 0
	for same < min(len(res.IDs), len(plain.IDs)) && res.IDs[same] == plain.IDs[same] {
		same++
	}
	c := eng.Total()
	fmt.Fprintln(stdout)
	if same == len(res.IDs) && same == len(plain.IDs) {
		fmt.Fprintf(stdout, "agreement:  HSS-EE output identical to plaintext (%d of %d tokens)\n", same, len(plain.IDs))
	} else {
		fmt.Fprintf(stdout, "agreement:  first %d tokens identical to plaintext (HSS-EE %d tokens, plaintext %d; fixed-point error)\n",
			same, len(res.IDs), len(plain.IDs))
	}
	fmt.Fprintf(stdout, "latency:    HSS-EE prefill %.0f ms (%d prompt tokens), decode %.1f ms/token; plaintext %.2f ms, %.3f ms/token\n",
		ms(res.Prefill), len(res.PromptIDs), ms(res.DecodePerToken()), ms(plain.Prefill), ms(plain.DecodePerToken()))
	fmt.Fprintf(stdout, "online:     %.2f MB between the parties in %d rounds (%.0f ms)\n", float64(c.OnlineBytes)/1e6, c.Rounds, ms(c.Online))
	sent, recv := pc.Traffic()
	if dealerAddr != "" {
		fmt.Fprintf(stdout, "offline:    %.2f MB of dealer material made by the dealer service and streamed to the parties\n", float64(c.DealerBytes)/1e6)
	} else {
		fmt.Fprintf(stdout, "offline:    %.2f MB of dealer material made by the client and uploaded (%.0f ms)\n", float64(c.DealerBytes)/1e6, ms(c.Offline))
	}
	fmt.Fprintf(stdout, "client:     sent %.2f MB, received %.2f MB\n", float64(sent)/1e6, float64(recv)/1e6)
	return nil
}

// startDemoParties serves party 1 and party 0 on loopback ports, and with
// withDealer a dealer service that they pull material from.
func startDemoParties(m *model.Model, pki *party.PKI, withDealer bool) (addrs [2]string, dealerAddr string, stop func(), err error) {
	var stops []func(context.Context)
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, s := range stops {
			s(ctx)
		}
	}
	fail := func(e error) ([2]string, string, func(), error) {
		stop()
		return addrs, "", nil, e
	}
	listen := func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
	if withDealer {
		cr, err := pki.Credentials("dealer")
		if err != nil {
			return fail(err)
		}
		d, err := dealersvc.NewServer(dealersvc.Config{Service: dealer.NewService(dealer.ServiceConfig{}), Creds: cr})
		if err != nil {
			return fail(err)
		}
		lis, err := listen()
		if err != nil {
			return fail(err)
		}
		dealerAddr = lis.Addr().String()
		stops = append(stops, d.Shutdown)
		go d.Serve(lis)
	}
	for _, id := range []int{1, 0} {
		cr, err := pki.Credentials(fmt.Sprintf("party%d", id))
		if err != nil {
			return fail(err)
		}
		lis, err := listen()
		if err != nil {
			return fail(err)
		}
		s, err := party.NewServer(party.Config{ID: id, Model: m, Creds: cr, Peer: addrs[1], Dealer: dealerAddr})
		if err != nil {
			lis.Close()
			return fail(err)
		}
		addrs[id] = lis.Addr().String()
		stops = append(stops, s.Shutdown)
		go s.Serve(lis)
	}
	return addrs, dealerAddr, stop, nil
}
