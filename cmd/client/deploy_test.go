package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hssee/hssee/internal/metricstest"
	"github.com/hssee/hssee/internal/sharedtest"
	"github.com/hssee/hssee/party"
	"github.com/hssee/hssee/party/dealersvc"
)

// The test binary doubles as party0, party1 and the client, so the
// deployment tests run real separate processes without building anything.
func TestMain(m *testing.M) {
	switch os.Getenv("HSSEE_TEST_ROLE") {
	case "party0":
		os.Exit(party.Main(0, os.Args[1:], os.Stderr))
	case "party1":
		os.Exit(party.Main(1, os.Args[1:], os.Stderr))
	case "dealer":
		os.Exit(dealersvc.Main(os.Args[1:], os.Stderr))
	case "client":
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type proc struct {
	cmd    *exec.Cmd
	stdout *syncBuf
	stderr *syncBuf
	done   chan struct{}
	addr   string
}

// spawn starts the test binary in a role; the process is killed when the
// test ends.
func spawn(t *testing.T, role string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(os.Args[0], args...), stdout: &syncBuf{}, stderr: &syncBuf{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "HSSEE_TEST_ROLE="+role)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// waitText waits until the client process has streamed some text.
func (c *proc) waitText(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(c.stdout.String()) < len("Once upon a time")+20 {
		if time.Now().After(deadline) {
			t.Fatalf("no text streamed: %s", c.stderr.String())
		}
		select {
		case <-c.done:
			t.Fatalf("client exited early: %s", c.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// exitsWithin waits for the process to end within d after a kill and
// returns how long it took.
func (c *proc) exitsWithin(t *testing.T, d time.Duration, what string) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(d):
		t.Fatalf("client still running %v after %s", d, what)
	}
	if c.cmd.ProcessState.ExitCode() == 0 {
		t.Fatalf("client exited 0 after %s", what)
	}
}

// startParty starts a party process and waits for its "serving" log line.
func startParty(t *testing.T, id int, args ...string) *proc {
	t.Helper()
	return startServer(t, fmt.Sprintf("party%d", id), args...)
}

// startServer starts a server process (party0, party1, dealer) and waits
// for its "serving" log line.
func startServer(t *testing.T, role string, args ...string) *proc {
	t.Helper()
	p := spawn(t, role, args...)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
		for sc.Scan() {
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "serving" {
				p.addr = l.Addr
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited: %s", role, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not start: %s", role, p.stderr.String())
	return nil
}

type deployment struct {
	base, eeDir, key, certs string
}

func (d *deployment) tls(name string) []string {
	return []string{"-tls-ca", filepath.Join(d.certs, "ca.pem"), "-tls-cert", filepath.Join(d.certs, name+".pem"),
		"-tls-key", filepath.Join(d.certs, name+"-key.pem")}
}

func (d *deployment) party(t *testing.T, id int, listen, peer string, extra ...string) *proc {
	args := append([]string{"-listen", listen, "-model", d.eeDir}, d.tls(fmt.Sprintf("party%d", id))...)
	if peer != "" {
		args = append(args, "-peer", peer)
	}
	return startParty(t, id, append(args, extra...)...)
}

func (d *deployment) genArgs(extra ...string) []string {
	return append([]string{"generate", "-model", d.eeDir, "-key", d.key, "-tokenizer", d.base,
		"-prompt", "Once upon a time", "-ignore-eos"}, extra...)
}

func setup(t *testing.T) *deployment {
	t.Helper()
	base := sharedtest.TinyStories(t)
	dir := t.TempDir()
	d := &deployment{base: base, eeDir: filepath.Join(dir, "ee"), key: filepath.Join(dir, "k"), certs: filepath.Join(dir, "certs")}
	mustClient(t, "certs", "-out", d.certs)
	mustClient(t, "keygen", "-out", d.key)
	mustClient(t, "transform", "-model", base, "-key", d.key, "-out", d.eeDir)
	return d
}

const testDealerSeed = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func TestDeployedMatchesInProcess(t *testing.T) {
	d := setup(t)
	p1 := d.party(t, 1, "127.0.0.1:0", "")
	p0 := d.party(t, 0, "127.0.0.1:0", p1.addr)

	plain := genJSON(t, "-model", d.base, "-prompt", "Once upon a time", "-ignore-eos", "-n", "8")
	var local genOutput
	if err := json.Unmarshal([]byte(mustClient(t, d.genArgs("-json", "-n", "8", "-mode", "hss",
		"-dealer-seed", testDealerSeed)...)), &local); err != nil {
		t.Fatal(err)
	}
	c := spawn(t, "client", append(d.genArgs("-json", "-n", "8", "-mode", "hss", "-dealer-seed", testDealerSeed,
		"-parties", p0.addr+","+p1.addr), d.tls("client")...)...)
	<-c.done
	var remote genOutput
	if err := json.Unmarshal([]byte(c.stdout.String()), &remote); err != nil {
		t.Fatalf("deployed hss: %v\n%s", err, c.stderr.String())
	}
	if !slices.Equal(remote.IDs, local.IDs) || !slices.Equal(remote.IDs, plain.IDs) || len(plain.IDs) != 8 {
		t.Fatalf("ids: deployed %v, in-process %v, plain %v", remote.IDs, local.IDs, plain.IDs)
	}
	if *remote.OnlineBytes != *local.OnlineBytes || *remote.Rounds != *local.Rounds || *remote.DealerBytes != *local.DealerBytes {
		t.Fatalf("costs: deployed %d B %d rounds, in-process %d B %d rounds", *remote.OnlineBytes, *remote.Rounds,
			*local.OnlineBytes, *local.Rounds)
	}
	t.Logf("hss decode: deployed %.1f ms/token, in-process %.1f ms/token", remote.DecodeMSPerToken, local.DecodeMSPerToken)

	// Single-server EE on a third process.
	e := d.party(t, 0, "127.0.0.1:0", "", "-mode", "ee")
	c = spawn(t, "client", append(d.genArgs("-json", "-n", "8", "-mode", "ee", "-server", e.addr), d.tls("client")...)...)
	<-c.done
	var eeOut genOutput
	if err := json.Unmarshal([]byte(c.stdout.String()), &eeOut); err != nil {
		t.Fatalf("deployed ee: %v\n%s", err, c.stderr.String())
	}
	if !slices.Equal(eeOut.IDs, plain.IDs) {
		t.Fatalf("ids: deployed ee %v, plain %v", eeOut.IDs, plain.IDs)
	}
	for _, s := range []string{p0.stderr.String(), p1.stderr.String()} {
		if strings.Contains(s, "Once upon") || strings.Contains(s, "panic") {
			t.Fatalf("party log: %s", s)
		}
	}
}

func TestDeployedPartyKilled(t *testing.T) {
	d := setup(t)
	p1 := d.party(t, 1, "127.0.0.1:0", "")
	p0 := d.party(t, 0, "127.0.0.1:0", p1.addr)
	c := spawn(t, "client", append(d.genArgs("-n", "400", "-mode", "hss", "-parties", p0.addr+","+p1.addr), d.tls("client")...)...)
	c.waitText(t)
	p1.cmd.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	c.exitsWithin(t, 10*time.Second, "party 1 was killed")
	msg := c.stderr.String()
	if !strings.Contains(msg, "party") || !(strings.Contains(msg, "unreachable") || strings.Contains(msg, "lost its peer")) {
		t.Fatalf("unclear error: %q", msg)
	}
	t.Logf("client exited %v after the kill: %s", time.Since(killed).Round(time.Millisecond), strings.TrimSpace(msg))

	// Party 0 keeps serving: with party 1 back on its address, a new
	// session works.
	d.party(t, 1, p1.addr, "")
	c = spawn(t, "client", append(d.genArgs("-json", "-n", "4", "-mode", "hss", "-parties", p0.addr+","+p1.addr), d.tls("client")...)...)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatal("new session did not finish")
	}
	if c.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("new session after the restart: %s", c.stderr.String())
	}

	// SIGTERM: a graceful stop, exit 0.
	p0.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p0.done:
	case <-time.After(15 * time.Second):
		t.Fatal("party 0 still running 15 s after SIGTERM")
	}
	if code := p0.cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(p0.stderr.String(), `"msg":"stopped"`) {
		t.Fatalf("party 0 after SIGTERM: exit %d\n%s", code, p0.stderr.String())
	}
}

func TestCertsAndDemo(t *testing.T) {
	dir := t.TempDir()
	mustClient(t, "certs", "-out", dir, "-hosts", "localhost,127.0.0.1")
	for _, f := range party.Files {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := client(t, "certs", "-out", dir); err == nil {
		t.Fatal("certs overwrote an existing deployment")
	}
	out := mustClient(t, "demo", "-model", sharedtest.TinyStories(t), "-n", "6")
	for _, want := range []string{"agreement:  HSS-EE output identical to plaintext", "latency:", "rounds"} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// dealer starts the dealer service (seeded: reproducible material).
func (d *deployment) dealer(t *testing.T, listen string) *proc {
	return startServer(t, "dealer", append([]string{"-listen", listen, "-seed", testDealerSeed}, d.tls("dealer")...)...)
}

// Three hosts: the dealer service, party 0 and party 1 as separate
// processes over TLS; the client only shares its input. The ids equal the
// in-process path's and plain's, the online costs and the dealer bytes are
// the same, and the client sends no material.
func TestDeployedDealerService(t *testing.T) {
	d := setup(t)
	dl := d.dealer(t, "127.0.0.1:0")
	p1 := d.party(t, 1, "127.0.0.1:0", "", "-dealer", dl.addr)
	p0 := d.party(t, 0, "127.0.0.1:0", p1.addr, "-dealer", dl.addr)
	const n = "24"
	plain := genJSON(t, "-model", d.base, "-prompt", "Once upon a time", "-ignore-eos", "-n", n)
	var local genOutput
	if err := json.Unmarshal([]byte(mustClient(t, d.genArgs("-json", "-n", n, "-mode", "hss",
		"-dealer-seed", testDealerSeed)...)), &local); err != nil {
		t.Fatal(err)
	}
	c := spawn(t, "client", append(d.genArgs("-json", "-n", n, "-mode", "hss", "-dealer", dl.addr,
		"-parties", p0.addr+","+p1.addr), d.tls("client")...)...)
	<-c.done
	var remote genOutput
	if err := json.Unmarshal([]byte(c.stdout.String()), &remote); err != nil {
		t.Fatalf("deployed hss with the dealer service: %v\n%s", err, c.stderr.String())
	}
	if !slices.Equal(remote.IDs, local.IDs) || !slices.Equal(remote.IDs, plain.IDs) {
		t.Fatalf("ids: dealer service %v, in-process %v, plain %v", remote.IDs, local.IDs, plain.IDs)
	}
	if *remote.OnlineBytes != *local.OnlineBytes || *remote.Rounds != *local.Rounds || *remote.DealerBytes != *local.DealerBytes {
		t.Fatalf("costs: dealer service %d B %d rounds %d dealer B, in-process %d B %d rounds %d dealer B", *remote.OnlineBytes,
			*remote.Rounds, *remote.DealerBytes, *local.OnlineBytes, *local.Rounds, *local.DealerBytes)
	}
	// The client sends its input shares (party 1: rows × dim words; party
	// 0: a seed per pass) and nothing else.
	passes := int64(len(remote.IDs)) // the prefill and len-1 decode steps
	rows := int64(len(remote.PromptIDs)) + passes - 1
	if want := rows*128*8 + passes*32; remote.ClientSentBytes == nil || *remote.ClientSentBytes != want {
		t.Fatalf("client sent %v bytes, want exactly the input shares' %d", remote.ClientSentBytes, want)
	}
	t.Logf("client sent %d B, received %d B; dealer service %d B of material", *remote.ClientSentBytes,
		*remote.ClientRecvBytes, *remote.DealerBytes)
	for _, s := range []string{p0.stderr.String(), p1.stderr.String(), dl.stderr.String()} {
		if strings.Contains(s, "Once upon") || strings.Contains(s, "panic") {
			t.Fatalf("server log: %s", s)
		}
	}
}

// Killing the dealer mid-generation ends the client with an error naming
// the dealer within 10 s; both parties free the session and serve the next
// one.
func TestDeployedDealerKilled(t *testing.T) {
	d := setup(t)
	dl := d.dealer(t, "127.0.0.1:0")
	p1 := d.party(t, 1, "127.0.0.1:0", "", "-dealer", dl.addr)
	p0 := d.party(t, 0, "127.0.0.1:0", p1.addr, "-dealer", dl.addr)
	c := spawn(t, "client", append(d.genArgs("-n", "400", "-mode", "hss", "-dealer", dl.addr,
		"-parties", p0.addr+","+p1.addr), d.tls("client")...)...)
	c.waitText(t)
	dl.cmd.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	c.exitsWithin(t, 10*time.Second, "the dealer was killed")
	msg := c.stderr.String()
	if !strings.Contains(msg, "the dealer at "+dl.addr) {
		t.Fatalf("unclear error: %q", msg)
	}
	t.Logf("client exited %v after the kill: %s", time.Since(killed).Round(time.Millisecond), strings.TrimSpace(msg))
	// Both parties keep serving: a session with the client's own dealer,
	// then, with the dealer back on its address, one with the service.
	for _, args := range [][]string{{"-dealer", "local"}, {"-dealer", dl.addr}} {
		if args[1] != "local" {
			d.dealer(t, dl.addr)
		}
		c = spawn(t, "client", append(d.genArgs(append([]string{"-json", "-n", "4", "-mode", "hss", "-parties",
			p0.addr + "," + p1.addr}, args...)...), d.tls("client")...)...)
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			t.Fatal("new session did not finish")
		}
		if c.cmd.ProcessState.ExitCode() != 0 {
			t.Fatalf("new session (%v) after the dealer was killed: %s", args, c.stderr.String())
		}
	}
}

// metricsURL is the /metrics URL a server process logged (-metrics).
func (p *proc) metricsURL(t *testing.T) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
	for sc.Scan() {
		var l struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "metrics serving" {
			return "http://" + l.Addr + "/metrics"
		}
	}
	t.Fatalf("no metrics address logged: %s", p.stderr.String())
	return ""
}

// scrapeMetric GETs a metrics page and returns the value of one series
// (-1 when absent).
func scrapeMetric(t *testing.T, url, series string) float64 {
	t.Helper()
	if v, ok := metricstest.Scrape(t, url)[series]; ok {
		return v
	}
	return -1
}

// The parties' and the dealer's -metrics pages, fetched over HTTP from the
// running processes while a client generates: passes, peer bytes and
// dealer material move between two scrapes.
func TestDeployedMetrics(t *testing.T) {
	d := setup(t)
	dl := startServer(t, "dealer", append([]string{"-listen", "127.0.0.1:0", "-metrics", "127.0.0.1:0"}, d.tls("dealer")...)...)
	p1 := d.party(t, 1, "127.0.0.1:0", "", "-dealer", dl.addr, "-metrics", "127.0.0.1:0")
	p0 := d.party(t, 0, "127.0.0.1:0", p1.addr, "-dealer", dl.addr, "-metrics", "127.0.0.1:0")
	urls := []string{p0.metricsURL(t), p1.metricsURL(t), dl.metricsURL(t)}
	series := []string{`hssee_party_passes_total{mode="hss",outcome="ok",party="0"}`,
		`hssee_party_peer_sent_bytes_total{mode="hss",party="1"}`, `hssee_dealer_material_sent_bytes_total{party="1"}`}
	for i, u := range urls {
		if v := scrapeMetric(t, u, series[i]); v != 0 {
			t.Fatalf("%s before any session: %v", series[i], v)
		}
	}
	c := spawn(t, "client", append(d.genArgs("-n", "400", "-mode", "hss", "-dealer", dl.addr,
		"-parties", p0.addr+","+p1.addr), d.tls("client")...)...)
	c.waitText(t)
	var first [3]float64
	for i, u := range urls {
		first[i] = scrapeMetric(t, u, series[i])
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < len(urls); {
		if v := scrapeMetric(t, urls[i], series[i]); v > first[i] && first[i] > 0 {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not move during the generation (first scrape %v)", series[i], first[i])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := scrapeMetric(t, urls[0], `hssee_party_sessions_open{mode="hss",party="0"}`); v != 1 {
		t.Fatalf("party 0 sessions open during the generation: %v", v)
	}
	if v := scrapeMetric(t, urls[2], "hssee_dealer_sessions_opened_total"); v != 1 {
		t.Fatalf("dealer sessions opened: %v", v)
	}
}
