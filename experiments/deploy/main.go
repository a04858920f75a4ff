// Command deploy measures HSS-EE as deployed on three hosts: party 0,
// party 1 and the dealer service as separate processes (this binary
// re-executed as cmd/party0, cmd/party1 and cmd/dealer) with real gRPC and
// TLS 1.3, every connection through a userspace link emulator
// (experiments/internal/netem), and the client in this process.
//
//	go run ./experiments/deploy [-preset stories15M | -model DIR] [-prompt-len 128] [-decode 32]
//	    [-rtt 0.5ms,2ms,10ms] [-party-mbps 1000] [-dealer-rtt 0.5ms] [-dealer-mbps 1000]
//	    [-client-rtt 20ms] [-client-mbps 50] [-baseline] [-json]
//
// The links: party 0 ↔ party 1 at each -rtt and -party-mbps; each party ↔
// the dealer at -dealer-rtt and -dealer-mbps (a dealer next to the
// parties); the client ↔ everything at -client-rtt through one shared
// -client-mbps bottleneck per direction (a home connection). For each RTT
// it runs two sessions of a -prompt-len prefill and -decode decoded tokens:
//
//   - cold: the client opens the session (which starts the dealer on the
//     prefill) and submits the prompt at once, so the prefill's wall time
//     includes making and streaming its material;
//   - warm: the client opens the session and submits the prompt once the
//     parties hold the prefill's material (the dealer's offline phase ran
//     ahead, as it does while a user types); the time that took is
//     reported as prepare.
//
// Beside them: the same passes with both parties in this process (the
// compute the network adds to), and the analytic line
// compute + rounds·RTT/2 + bytes/bandwidth (a protocol round is one
// message each way at once, so it costs half a round trip; the issue's
// bar uses rounds·RTT). With -baseline it also measures the client-aided
// design (the client makes the material and uploads it over its own link)
// on a short prompt, and models it for the full one.
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
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/hssee/hssee/experiments/internal/netem"
	"github.com/hssee/hssee/experiments/internal/procs"
	"github.com/hssee/hssee/experiments/internal/records"
	"github.com/hssee/hssee/experiments/internal/stats"
	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/infer"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/loader"
	"github.com/hssee/hssee/party"
	"github.com/hssee/hssee/secure"
)

const roleEnv = "HSSEE_DEPLOY_ROLE"

type config struct {
	Model     string `json:"model"`
	Weights   string `json:"weights"`
	PromptLen int    `json:"prompt_len"`
	Decode    int    `json:"decode"`
	Frac      uint   `json:"frac"`
	records.DeployLinks
	CPU   string `json:"cpu"`
	Cores int    `json:"cores"`
}

// session is one measured session through the emulated links.
type session struct {
	PrepareMS float64 `json:"prepare_ms,omitempty"` // warm: open until the parties held the prefill's material
	records.DeploySession
	// CPU seconds each process spent from the prompt\'s submission to the
	// session\'s end (dealer, party 0, party 1, this client process with
	// the emulator): all share this machine\'s cores.
	CPUSeconds  [4]float64 `json:"cpu_seconds_dealer_p0_p1_client"`
	WallSeconds float64    `json:"wall_seconds"`
}

type point struct {
	RTTms float64 `json:"rtt_ms"`
	Cold  session `json:"cold"`
	Warm  session `json:"warm"`
	// Analytic: in-process compute + rounds·RTT/2 + one direction's bytes
	// over the party link + the client's bytes over its link + one client
	// round trip (and, cold, the larger party's material over its dealer
	// link, which overlaps the rest).
	ModelPrefillWarmMS float64 `json:"model_prefill_warm_ms"`
	ModelPrefillColdMS float64 `json:"model_prefill_cold_ms"`
	ModelDecodeMS      float64 `json:"model_decode_ms_per_token"`
	// The bars: prefill ≤ 3 s; decode ≤ 2 × (in-process + rounds·RTT).
	DecodeBarMS float64 `json:"decode_bar_ms"`
}

type result struct {
	Config config `json:"config"`
	// In process (both parties, no network), same passes.
	InProcPrefillMS float64                 `json:"inproc_prefill_online_ms"`
	InProcDealerMS  float64                 `json:"inproc_prefill_dealer_ms"` // making the prefill\'s material here (one core)
	InProcDecodeMS  float64                 `json:"inproc_decode_online_ms_per_token"`
	PrefillRounds   int64                   `json:"prefill_rounds"`
	PrefillOnline   int64                   `json:"prefill_online_bytes"`
	PrefillDealer   int64                   `json:"prefill_dealer_bytes"`
	PrefillDealer0  int64                   `json:"prefill_dealer_bytes_party0"`
	PrefillDealer1  int64                   `json:"prefill_dealer_bytes_party1"`
	DecodeRounds    int64                   `json:"decode_rounds_per_token"`
	DecodeOnline    int64                   `json:"decode_online_bytes_per_token"`
	DecodeDealer    int64                   `json:"decode_dealer_bytes_per_token"`
	Points          []point                 `json:"points"`
	Baseline        *records.DeployBaseline `json:"baseline,omitempty"`
}

func main() {
	procs.Serve(roleEnv)
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		os.Exit(1)
	}
}

type options struct {
	preset, dir             string
	promptLen, decode       int
	frac                    uint
	prm                     hss.Params // -frac over the default width
	rtts                    []time.Duration
	partyMbps               float64
	dealerRTT               time.Duration
	dealerMbps              float64
	clientRTT               time.Duration
	clientMbps              float64
	baseline                bool
	baselinePrompt, baseDec int
	asJSON                  bool
	log                     io.Writer
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{log: stderr}
	fs.StringVar(&o.preset, "preset", "stories15M", "model shape with random weights (ignored with -model)")
	fs.StringVar(&o.dir, "model", "", "a model directory or .bin checkpoint instead of a preset")
	fs.IntVar(&o.promptLen, "prompt-len", 128, "prompt tokens")
	fs.IntVar(&o.decode, "decode", 32, "decoded tokens per session")
	fs.UintVar(&o.frac, "frac", hss.DefaultParams().Frac, "fixed-point fractional bits")
	rtts := fs.String("rtt", "0.5ms,2ms,10ms", "round-trip times between the parties")
	fs.Float64Var(&o.partyMbps, "party-mbps", 1000, "bandwidth between the parties, each direction (Mbit/s)")
	fs.DurationVar(&o.dealerRTT, "dealer-rtt", 500*time.Microsecond, "round trip between each party and the dealer")
	fs.Float64Var(&o.dealerMbps, "dealer-mbps", 1000, "bandwidth between each party and the dealer, each direction (Mbit/s)")
	fs.DurationVar(&o.clientRTT, "client-rtt", 20*time.Millisecond, "round trip between the client and the servers")
	fs.Float64Var(&o.clientMbps, "client-mbps", 50, "the client's link, each direction, shared by its connections (Mbit/s)")
	fs.BoolVar(&o.baseline, "baseline", false, "also measure the client-aided design (material uploaded by the client) on a short prompt")
	fs.IntVar(&o.baselinePrompt, "baseline-prompt", 8, "the baseline's prompt tokens")
	fs.IntVar(&o.baseDec, "baseline-decode", 2, "the baseline's decoded tokens")
	fs.BoolVar(&o.asJSON, "json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.prm, err = hss.DefaultParams().WithFrac(o.frac); err != nil {
		return fmt.Errorf("-frac: %w", err)
	}
	for _, f := range strings.Split(*rtts, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d < 0 {
			return fmt.Errorf("-rtt: %q", f)
		}
		o.rtts = append(o.rtts, d)
	}
	if o.promptLen < 1 || o.decode < 1 || len(o.rtts) == 0 || o.partyMbps <= 0 || o.dealerMbps <= 0 || o.clientMbps <= 0 {
		return errors.New("prompt length, decode count, RTTs and bandwidths must be positive")
	}
	res, err := measure(&o)
	if err != nil {
		return err
	}
	if o.asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	printTable(stdout, res)
	return nil
}

func ms(d time.Duration) float64 { return stats.Round(float64(d.Microseconds())/1e3, 1) }

func (o *options) progress(format string, a ...any) { fmt.Fprintf(o.log, format+"\n", a...) }

// deployment is one set of processes and links.
type deployment struct {
	dir     string
	procs   []*procs.Proc
	proxies []*netem.Proxy
	client  struct {
		parties [2]*netem.Proxy
		dealer  *netem.Proxy
	}
	peer   *netem.Proxy
	dealer [2]*netem.Proxy // party i → dealer
}

func (d *deployment) close() {
	for _, p := range d.procs {
		p.Stop()
	}
	for _, p := range d.proxies {
		p.Close()
	}
}

func (d *deployment) proxy(target string, up, down netem.Link) (*netem.Proxy, error) {
	p, err := netem.Listen("127.0.0.1:0", target, up, down)
	if err == nil {
		d.proxies = append(d.proxies, p)
	}
	return p, err
}

func (d *deployment) tls(name string) []string {
	return []string{"-tls-ca", filepath.Join(d.dir, "ca.pem"), "-tls-cert", filepath.Join(d.dir, name+".pem"),
		"-tls-key", filepath.Join(d.dir, name+"-key.pem"), "-listen", "127.0.0.1:0"}
}

// start runs the dealer, party 1 and party 0 with the emulated links of
// round trip rtt between the parties.
func start(o *options, dir, eeDir string, rtt time.Duration) (*deployment, error) {
	clientLink := netem.Link{Delay: o.clientRTT / 2, Bandwidth: o.clientMbps * netem.Mbps}
	client, err := netem.NewShared(clientLink, clientLink)
	if err != nil {
		return nil, err
	}
	d := &deployment{dir: dir}
	ok := false
	defer func() {
		if !ok {
			d.close()
		}
	}()
	half := func(r time.Duration) time.Duration { return r / 2 }
	dl, err := procs.Start(roleEnv, "dealer", d.tls("dealer")...)
	if err != nil {
		return nil, err
	}
	d.procs = append(d.procs, dl)
	dealerLink := netem.Link{Delay: half(o.dealerRTT), Bandwidth: o.dealerMbps * netem.Mbps}
	for i := range d.dealer {
		if d.dealer[i], err = d.proxy(dl.Addr, dealerLink, dealerLink); err != nil {
			return nil, err
		}
	}
	party := func(id int, extra ...string) (*procs.Proc, error) {
		args := append(d.tls(fmt.Sprintf("party%d", id)), "-model", eeDir, "-dealer", d.dealer[id].Addr(),
			"-max-feed-mib", "4096")
		p, err := procs.Start(roleEnv, fmt.Sprintf("party%d", id), append(args, extra...)...)
		if err == nil {
			d.procs = append(d.procs, p)
		}
		return p, err
	}
	p1, err := party(1)
	if err != nil {
		return nil, err
	}
	peerLink := netem.Link{Delay: half(rtt), Bandwidth: o.partyMbps * netem.Mbps}
	if d.peer, err = d.proxy(p1.Addr, peerLink, peerLink); err != nil {
		return nil, err
	}
	p0, err := party(0, "-peer", d.peer.Addr())
	if err != nil {
		return nil, err
	}
	for i, target := range []string{p0.Addr, p1.Addr} {
		if d.client.parties[i], err = client.Listen("127.0.0.1:0", target); err != nil {
			return nil, err
		}
		d.proxies = append(d.proxies, d.client.parties[i])
	}
	if d.client.dealer, err = client.Listen("127.0.0.1:0", dl.Addr); err != nil {
		return nil, err
	}
	d.proxies = append(d.proxies, d.client.dealer)
	ok = true
	return d, nil
}

// cpu returns the CPU time the dealer, party 0, party 1 and this process
// have used so far.
func (d *deployment) cpu() [4]time.Duration {
	var t [4]time.Duration
	for _, p := range d.procs {
		switch p.Role {
		case "dealer":
			t[0] = p.CPU()
		case "party0":
			t[1] = p.CPU()
		case "party1":
			t[2] = p.CPU()
		}
	}
	t[3] = procs.SelfCPU()
	return t
}

// dial connects a client to the parties through the client link.
func (d *deployment) dial(creds *party.Credentials) (*party.Client, error) {
	return party.Dial([2]string{d.client.parties[0].Addr(), d.client.parties[1].Addr()}, creds)
}

// wire sums the client proxies' counters.
func (d *deployment) wire() (up, down int64, dealer [2]int64, peer int64) {
	for _, p := range []*netem.Proxy{d.client.parties[0], d.client.parties[1], d.client.dealer} {
		s := p.Stats()
		up, down = up+s.Up, down+s.Down
	}
	for i, p := range d.dealer {
		dealer[i] = p.Stats().Down
	}
	s := d.peer.Stats()
	return up, down, dealer, s.Up + s.Down
}

// settled waits until each dealer link has carried at least want[i] bytes
// more than before (the prefill's exact key bytes; the frames, gRPC and
// TLS add a little) and then nothing for quiet: the parties hold the
// prefill's material.
func (d *deployment) settled(before, want [2]int64, quiet time.Duration, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	last, lastChange := before, time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		_, _, cur, _ := d.wire()
		if cur != last {
			last, lastChange = cur, time.Now()
			continue
		}
		if cur[0]-before[0] >= want[0] && cur[1]-before[1] >= want[1] && time.Since(lastChange) >= quiet {
			return nil
		}
	}
	return errors.New("the parties did not receive the prefill's material in time")
}

func measure(o *options) (*result, error) {
	m, name, err := loader.Source(o.preset, o.dir, 1)
	if err != nil {
		return nil, err
	}
	weights := "random"
	if o.dir != "" {
		weights = "real"
	}
	if o.promptLen+o.decode > m.Config.MaxSeqLen {
		return nil, fmt.Errorf("%d + %d positions exceed the model's %d", o.promptLen, o.decode, m.Config.MaxSeqLen)
	}
	maxSeq := o.promptLen + o.decode
	dir, err := os.MkdirTemp("", "hssee-deploy-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	eeDir := filepath.Join(dir, "ee")
	em, _, err := procs.EEModel(m, eeDir)
	if err != nil {
		return nil, err
	}
	pki, err := party.NewPKI(nil)
	if err != nil {
		return nil, err
	}
	if err := pki.WriteFiles(dir); err != nil {
		return nil, err
	}
	creds, err := pki.Credentials("client")
	if err != nil {
		return nil, err
	}
	prm := o.prm
	r := mrand.New(mrand.NewPCG(1, 2))
	prompt := make([]int, o.promptLen)
	for i := range prompt {
		prompt[i] = r.IntN(em.Config.VocabSize)
	}
	cpu, _ := stats.CPU()
	res := &result{Config: config{Model: name, Weights: weights, PromptLen: o.promptLen, Decode: o.decode, Frac: o.frac,
		DeployLinks: records.DeployLinks{PartyMbps: o.partyMbps, DealerRTTms: ms(o.dealerRTT), DealerMbps: o.dealerMbps,
			ClientRTTms: ms(o.clientRTT), ClientMbps: o.clientMbps}, CPU: cpu, Cores: runtime.NumCPU()}}
	for _, rtt := range o.rtts {
		res.Config.RTTs = append(res.Config.RTTs, float64(rtt.Microseconds())/1e3)
	}

	// In process: the compute the links add to, and the reference tokens.
	o.progress("deploy: %s, in process (both parties and the dealer here)", name)
	local, err := infer.NewHSS(em, prm, maxSeq, rand.Reader, nil, nil)
	if err != nil {
		return nil, err
	}
	want, pre, dec, err := session1(local, prompt, o.decode)
	local.Close()
	if err != nil {
		return nil, err
	}
	res.InProcPrefillMS, res.InProcDecodeMS, res.InProcDealerMS = pre.online, dec.online, ms(pre.cost.Offline)
	res.PrefillRounds, res.PrefillOnline, res.PrefillDealer = pre.cost.Rounds, pre.cost.OnlineBytes, pre.cost.DealerBytes
	res.PrefillDealer0, res.PrefillDealer1 = pre.cost.DealerBytes0, pre.cost.DealerBytes1
	res.DecodeRounds, res.DecodeOnline, res.DecodeDealer = dec.cost.Rounds, dec.cost.OnlineBytes, dec.cost.DealerBytes
	o.progress("  prefill %.0f ms online (its material took %.0f ms to make), decode %.1f ms/token; prefill %d rounds, %s online, %s material",
		pre.online, res.InProcDealerMS, dec.online, pre.cost.Rounds, stats.Size(pre.cost.OnlineBytes), stats.Size(pre.cost.DealerBytes))

	for _, rtt := range o.rtts {
		pt := point{RTTms: float64(rtt.Microseconds()) / 1e3}
		for _, warm := range []bool{false, true} {
			s, err := deployed(o, dir, eeDir, em, creds, prm, maxSeq, rtt, prompt, want, warm)
			if err != nil {
				return nil, fmt.Errorf("rtt %v: %w", rtt, err)
			}
			if warm {
				pt.Warm = s
			} else {
				pt.Cold = s
			}
		}
		pt.ModelPrefillWarmMS, pt.ModelPrefillColdMS, pt.ModelDecodeMS = o.model(res, rtt, pt)
		pt.DecodeBarMS = stats.Round(2*(res.InProcDecodeMS+float64(res.DecodeRounds)*float64(rtt.Microseconds())/1e3), 1)
		res.Points = append(res.Points, pt)
	}
	if o.baseline {
		b, err := measureBaseline(o, dir, eeDir, em, creds, prm, res)
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		res.Baseline = b
	}
	return res, nil
}

// model is the analytic line for one RTT.
func (o *options) model(res *result, rtt time.Duration, pt point) (warm, cold, decode float64) {
	sec := func(bytes float64, mbps float64) float64 { return bytes * 8 / (mbps * 1e6) * 1e3 }
	rttMS := float64(rtt.Microseconds()) / 1e3
	client := float64(o.clientRTT.Microseconds()) / 1e3
	// The client's payload per row sent and per pass received, from the
	// warm session's counts (input shares scale with rows, output shares
	// are one vocabulary-wide vector per pass).
	passes := float64(res.Config.Decode + 1)
	up := float64(pt.Warm.ClientSent) / float64(res.Config.PromptLen+res.Config.Decode)
	down := float64(pt.Warm.ClientRecv) / passes
	warm = res.InProcPrefillMS + stats.LinkDelayMS(res.PrefillRounds, res.PrefillOnline, rttMS, o.partyMbps) +
		sec(up*float64(res.Config.PromptLen)+down, o.clientMbps) + client
	// Cold, the pass cannot end before its last key is made and has
	// crossed the larger party's dealer link.
	material := sec(float64(max(res.PrefillDealer0, res.PrefillDealer1)), o.dealerMbps)
	cold = max(warm, max(material, res.InProcDealerMS)+client)
	decode = res.InProcDecodeMS + stats.LinkDelayMS(res.DecodeRounds, res.DecodeOnline, rttMS, o.partyMbps) +
		sec(up+down, o.clientMbps) + client
	return stats.Round(warm, 1), stats.Round(cold, 1), stats.Round(decode, 1)
}

type passStats struct {
	online float64 // ms: the pass's online time (median for decode)
	wall   float64 // ms: Forward's wall time (median for decode)
	mean   float64
	cost   infer.Costs
}

// session1 runs a prefill and decode steps (greedy) on eng and returns the
// tokens and the prefill's and the decode steps' figures.
func session1(eng *infer.HSS, prompt []int, decode int) ([]int, passStats, passStats, error) {
	var pre, dec passStats
	start := time.Now()
	logits, err := eng.Forward(prompt)
	if err != nil {
		return nil, pre, dec, err
	}
	pre.wall, pre.online, pre.cost = ms(time.Since(start)), ms(eng.Last().Online), eng.Last()
	var ids []int
	var walls, onlines []float64
	var sum infer.Costs
	for range decode {
		id := model.Argmax(logits)
		ids = append(ids, id)
		start := time.Now()
		if logits, err = eng.Forward([]int{id}); err != nil {
			return nil, pre, dec, err
		}
		walls = append(walls, float64(time.Since(start).Microseconds())/1e3)
		onlines = append(onlines, float64(eng.Last().Online.Microseconds())/1e3)
		sum = sum.Add(eng.Last())
	}
	ids = append(ids, model.Argmax(logits))
	n := int64(decode)
	dec.wall, dec.online = stats.Round(stats.Median(walls), 1), stats.Round(stats.Median(onlines), 1)
	var tot float64
	for _, w := range walls {
		tot += w
	}
	dec.mean = stats.Round(tot/float64(len(walls)), 1)
	dec.cost = infer.Costs{OnlineBytes: sum.OnlineBytes / n, Rounds: sum.Rounds / n, DealerBytes: sum.DealerBytes / n}
	return ids, pre, dec, nil
}

// deployed runs one session through freshly started processes and links.
func deployed(o *options, dir, eeDir string, em *model.Model, creds *party.Credentials, prm hss.Params, maxSeq int,
	rtt time.Duration, prompt, want []int, warm bool) (session, error) {
	var s session
	d, err := start(o, dir, eeDir, rtt)
	if err != nil {
		return s, err
	}
	defer d.close()
	c, err := d.dial(creds)
	if err != nil {
		return s, err
	}
	defer c.Close()
	_, _, before, _ := d.wire()
	start := time.Now()
	if err := c.Open(party.Session{Fingerprint: model.Fingerprint(em), Params: prm, MaxSeq: maxSeq,
		Dealer: d.client.dealer.Addr(), Config: em.Config, FirstRows: len(prompt)}); err != nil {
		return s, err
	}
	if warm {
		cnt, err := secure.Count(em.Config, prm, len(prompt), 0)
		if err != nil {
			return s, err
		}
		want := [2]int64{cnt.Prefill.Total.Dealer0, cnt.Prefill.Total.Dealer1}
		const quiet = 300 * time.Millisecond
		if err := d.settled(before, want, quiet, 10*time.Minute); err != nil {
			return s, err
		}
		s.PrepareMS = ms(time.Since(start) - quiet)
	}
	cpu0 := d.cpu()
	eng, err := infer.NewHSSWith(em, prm, maxSeq, rand.Reader, c)
	if err != nil {
		return s, err
	}
	submitted := time.Now()
	ids, pre, dec, err := session1(eng, prompt, o.decode)
	if err != nil {
		return s, err
	}
	s.PrefillMS, s.DecodeMS, s.DecodeMean = pre.wall, dec.wall, dec.mean
	s.IDsEqual = slices.Equal(ids, want)
	s.DealerBytes = eng.Total().DealerBytes
	s.ClientSent, s.ClientRecv = c.Traffic()
	cpu1 := d.cpu()
	for i := range cpu1 {
		s.CPUSeconds[i] = stats.Round((cpu1[i] - cpu0[i]).Seconds(), 2)
	}
	s.WallSeconds = stats.Round(time.Since(submitted).Seconds(), 2)
	c.Close()
	time.Sleep(50 * time.Millisecond) // the Close messages cross the links
	s.ClientUp, s.ClientDown, s.DealerWire, s.PeerWire = d.wire()
	what := "cold"
	if warm {
		what = fmt.Sprintf("warm (material in place after %.0f ms)", s.PrepareMS)
	}
	o.progress("  rtt %v, %s: prefill %.0f ms, decode %.1f ms/token; client up %s, down %s; same tokens as in process: %v",
		rtt, what, s.PrefillMS, s.DecodeMS, stats.Size(s.ClientUp), stats.Size(s.ClientDown), s.IDsEqual)
	return s, nil
}

// measureBaseline runs the client-aided design (material made here and
// uploaded through the client link) on a short prompt at the middle RTT,
// and models the full prompt from its exact material size.
func measureBaseline(o *options, dir, eeDir string, em *model.Model, creds *party.Credentials, prm hss.Params, res *result) (*records.DeployBaseline, error) {
	rtt := o.rtts[len(o.rtts)/2]
	d, err := start(o, dir, eeDir, rtt)
	if err != nil {
		return nil, err
	}
	defer d.close()
	c, err := d.dial(creds)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	maxSeq := o.baselinePrompt + o.baseDec
	if err := c.Open(party.Session{Fingerprint: model.Fingerprint(em), Params: prm, MaxSeq: maxSeq}); err != nil {
		return nil, err
	}
	eng, err := infer.NewHSSWith(em, prm, maxSeq, rand.Reader, c)
	if err != nil {
		return nil, err
	}
	eng.Prefetch = true
	defer eng.Close()
	prompt := make([]int, o.baselinePrompt)
	o.progress("deploy: baseline (client-aided dealer through the client link), %d-token prompt, rtt %v", len(prompt), rtt)
	_, pre, dec, err := session1(eng, prompt, o.baseDec)
	if err != nil {
		return nil, err
	}
	up, _, _, _ := d.wire()
	b := &records.DeployBaseline{PromptLen: o.baselinePrompt, Decode: o.baseDec, RTTms: float64(rtt.Microseconds()) / 1e3,
		PrefillMS: pre.wall, DecodeMS: dec.wall, ClientUp: up}
	full, err := secure.Count(em.Config, prm, o.promptLen, 1)
	if err != nil {
		return nil, err
	}
	sec := func(bytes int64) float64 { return float64(bytes) * 8 / (o.clientMbps * 1e6) * 1e3 }
	b.ModelFullPrefMS = stats.Round(sec(full.Prefill.Total.Dealer)+res.InProcPrefillMS, 0)
	b.ModelFullDecMS = stats.Round(sec(full.Decode[0].Total.Dealer)+res.InProcDecodeMS, 0)
	o.progress("  prefill %.0f ms, decode %.0f ms/token; modelled for %d tokens: prefill %.0f s, decode %.1f s/token",
		b.PrefillMS, b.DecodeMS, o.promptLen, b.ModelFullPrefMS/1e3, b.ModelFullDecMS/1e3)
	return b, nil
}

func printTable(w io.Writer, r *result) {
	c := r.Config
	fmt.Fprintf(w, "%s (%s weights), %d-token prompt + %d decoded; parties %g Mbit/s; dealer %.1f ms / %g Mbit/s; client %.0f ms / %g Mbit/s shared; %s, %d cores\n",
		c.Model, c.Weights, c.PromptLen, c.Decode, c.PartyMbps, c.DealerRTTms, c.DealerMbps, c.ClientRTTms, c.ClientMbps, c.CPU, c.Cores)
	fmt.Fprintf(w, "in process: prefill %.0f ms online (%d rounds, %s online, %s material made in %.0f ms), decode %.1f ms/token (%d rounds, %s material)\n",
		r.InProcPrefillMS, r.PrefillRounds, stats.Size(r.PrefillOnline), stats.Size(r.PrefillDealer), r.InProcDealerMS, r.InProcDecodeMS,
		r.DecodeRounds, stats.Size(r.DecodeDealer))
	fmt.Fprintln(w, "| RTT | prefill cold | prefill warm (prepare) | model warm / cold | decode cold / warm | model decode | decode bar | client up / down per session | same tokens |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, p := range r.Points {
		fmt.Fprintf(w, "| %g ms | %.0f ms | %.0f ms (%.1f s) | %.0f / %.0f ms | %.0f / %.0f ms | %.0f ms | %.0f ms | %s / %s | %v |\n",
			p.RTTms, p.Cold.PrefillMS, p.Warm.PrefillMS, p.Warm.PrepareMS/1e3, p.ModelPrefillWarmMS, p.ModelPrefillColdMS,
			p.Cold.DecodeMS, p.Warm.DecodeMS, p.ModelDecodeMS, p.DecodeBarMS, stats.Size(p.Cold.ClientUp), stats.Size(p.Cold.ClientDown),
			p.Cold.IDsEqual && p.Warm.IDsEqual)
	}
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "client-aided baseline (material uploaded by the client), %d-token prompt at %g ms: prefill %.0f ms, decode %.0f ms/token, client up %s; modelled for %d tokens: prefill %.0f s, decode %.1f s/token\n",
			b.PromptLen, b.RTTms, b.PrefillMS, b.DecodeMS, stats.Size(b.ClientUp), c.PromptLen, b.ModelFullPrefMS/1e3, b.ModelFullDecMS/1e3)
	}
}
