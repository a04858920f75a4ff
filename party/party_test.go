package party

import (
	"context"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/infer"
	"github.com/hssee/hssee/internal/waitfor"
	"github.com/hssee/hssee/model"
)

type pair struct {
	srv  [2]*Server
	addr [2]string
	pki  *PKI
}

func testPKI(t *testing.T) *PKI {
	t.Helper()
	p, err := NewPKI(nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func creds(t *testing.T, p *PKI, name string) *Credentials {
	t.Helper()
	c, err := p.Credentials(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startServer serves cfg on a loopback port until the test ends.
func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(lis)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s, lis.Addr().String()
}

// startPair starts party 1 (model m1) and party 0 (model m0) over TLS;
// mut, if set, edits each config.
func startPair(t *testing.T, m0, m1 *model.Model, pki0, pki1 *PKI, mut func(*Config)) *pair {
	t.Helper()
	p := &pair{pki: pki0}
	cfg1 := Config{ID: 1, Model: m1, Creds: creds(t, pki1, "party1")}
	if mut != nil {
		mut(&cfg1)
	}
	p.srv[1], p.addr[1] = startServer(t, cfg1)
	cfg0 := Config{ID: 0, Model: m0, Creds: creds(t, pki0, "party0"), Peer: p.addr[1]}
	if mut != nil {
		mut(&cfg0)
	}
	p.srv[0], p.addr[0] = startServer(t, cfg0)
	return p
}

func testModel(t *testing.T, seed uint64) *model.Model {
	t.Helper()
	m, err := model.Preset("tinystories-656k", seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const testSeq = 32

func openClient(t *testing.T, p *pair, m *model.Model) *Client {
	t.Helper()
	c, err := Dial(p.addr, creds(t, p.pki, "client"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(Session{Fingerprint: model.Fingerprint(m), Params: hss.DefaultParams(), MaxSeq: testSeq}); err != nil {
		c.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// steps runs a prefill and decode steps on eng and returns every pass's
// logits.
func steps(t *testing.T, eng *infer.HSS) [][]float32 {
	t.Helper()
	var all [][]float32
	for _, ids := range [][]int{{1, 40, 7, 300}, {5}, {77}} {
		l, err := eng.Forward(ids)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, slices.Clone(l))
	}
	return all
}

func TestRemoteMatchesLocal(t *testing.T) {
	m := testModel(t, 3)
	pki := testPKI(t)
	p := startPair(t, m, m, pki, pki, nil)
	prm := hss.DefaultParams()
	seed := [32]byte{7}
	local, err := infer.NewHSS(m, prm, testSeq, hss.NewPRG(seed), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := steps(t, local)
	c := openClient(t, p, m)
	// Progress arrives every 500 ms of a pass (party/run.go), so a fast run may report none; what does
	// arrive must be sane.
	var mu sync.Mutex
	var seen []Progress
	c.OnProgress = func(p Progress) {
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
	}
	remote, err := infer.NewHSSWith(m, prm, testSeq, hss.NewPRG(seed), c)
	if err != nil {
		t.Fatal(err)
	}
	got := steps(t, remote)
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("pass %d: remote logits differ from in-process", i)
		}
	}
	lt, rt := local.Total(), remote.Total()
	if lt.OnlineBytes != rt.OnlineBytes || lt.Rounds != rt.Rounds || rt.Rounds == 0 {
		t.Fatalf("costs: local %d B %d rounds, remote %d B %d rounds", lt.OnlineBytes, lt.Rounds, rt.OnlineBytes, rt.Rounds)
	}
	mu.Lock()
	for _, pr := range seen {
		if pr.Rounds < 0 || pr.Rounds > rt.Rounds || pr.Elapsed < 0 {
			t.Errorf("progress %+v beyond the run's %d rounds", pr, rt.Rounds)
		}
	}
	mu.Unlock()
	if n := p.srv[0].Sessions() + p.srv[1].Sessions(); n != 2 {
		t.Fatalf("%d sessions open, want 2", n)
	}
	c.Close()
	waitSessions(t, p, 0)
}

func waitSessions(t *testing.T, p *pair, want int) {
	t.Helper()
	if waitfor.Until(5*time.Second, 20*time.Millisecond, func() bool {
		return p.srv[0].Sessions() == want && p.srv[1].Sessions() == want
	}) {
		return
	}
	t.Fatalf("sessions: party 0 %d, party 1 %d, want %d", p.srv[0].Sessions(), p.srv[1].Sessions(), want)
}

func TestEE(t *testing.T) {
	m := testModel(t, 4)
	pki := testPKI(t)
	_, addr := startServer(t, Config{Mode: ModeEE, Model: m, Creds: creds(t, pki, "party0")})
	e, err := DialEE(addr, creds(t, pki, "client"), Session{Fingerprint: model.Fingerprint(m), MaxSeq: testSeq})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r, err := model.NewRunner(m, testSeq)
	if err != nil {
		t.Fatal(err)
	}
	for _, ids := range [][]int{{1, 2, 3}, {9}, {100}} {
		want, err := r.Forward(ids)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Forward(ids)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatal("ee logits differ from the plain runner's")
		}
	}
}

// TestOpenParams: the client refuses invalid parameters, and a width other than the default (only
// the precision travels), before it sends anything.
func TestOpenParams(t *testing.T) {
	for _, prm := range []hss.Params{{}, {Frac: 20, Width: 64}, {Frac: 14, Width: 40}} {
		err := (&Client{}).Open(Session{Params: prm, MaxSeq: testSeq})
		if err == nil || !strings.Contains(err.Error(), "party: open session: ") {
			t.Errorf("%v: %v", prm, err)
		}
	}
}

func TestFingerprintMismatch(t *testing.T) {
	m, other := testModel(t, 5), testModel(t, 6)
	pki := testPKI(t)
	t.Run("client", func(t *testing.T) {
		p := startPair(t, m, m, pki, pki, nil)
		c, err := Dial(p.addr, creds(t, pki, "client"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Open(Session{Fingerprint: model.Fingerprint(other), Params: hss.DefaultParams(), MaxSeq: testSeq})
		if err == nil || !strings.Contains(err.Error(), "fingerprint mismatch") {
			t.Fatalf("open with another model: %v", err)
		}
	})
	t.Run("parties", func(t *testing.T) {
		p := startPair(t, m, other, pki, pki, nil)
		c, err := Dial(p.addr, creds(t, pki, "client"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Each party is asked with its own model, so the peers' handshake
		// is what refuses.
		_, err = c.openEach([2][32]byte{model.Fingerprint(m), model.Fingerprint(other)})
		if err == nil || !strings.Contains(err.Error(), "fingerprint mismatch between the parties") {
			t.Fatalf("open with mismatched parties: %v", err)
		}
		waitSessions(t, p, 0)
	})
}

func TestWrongCA(t *testing.T) {
	m := testModel(t, 5)
	pki, rogue := testPKI(t), testPKI(t)
	t.Run("peer", func(t *testing.T) {
		p := startPair(t, m, m, rogue, pki, func(c *Config) { c.LinkTimeout = 2 * time.Second })
		// The client trusts party 0's CA for party 0 and party 1's for party 1.
		c := &Client{addrs: p.addr}
		for i, pk := range []*PKI{rogue, pki} {
			conn, err := dial(p.addr[i], creds(t, pk, "client"), PartyName(i))
			if err != nil {
				t.Fatal(err)
			}
			c.conns[i] = conn
		}
		c.ctx, c.stop = context.WithCancel(context.Background())
		defer c.Close()
		err := c.Open(Session{Fingerprint: model.Fingerprint(m), Params: hss.DefaultParams(), MaxSeq: testSeq})
		if err == nil || !strings.Contains(err.Error(), "party 1") {
			t.Fatalf("open with a rogue party 0: %v", err)
		}
		waitSessions(t, p, 0)
	})
	t.Run("client", func(t *testing.T) {
		p := startPair(t, m, m, pki, pki, nil)
		c, err := Dial(p.addr, creds(t, rogue, "client"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.OpenTimeout = 2 * time.Second
		if err := c.Open(Session{Fingerprint: model.Fingerprint(m), Params: hss.DefaultParams(), MaxSeq: testSeq}); err == nil {
			t.Fatal("a client with a certificate of another CA was served")
		}
	})
}

func TestClientDisconnectFreesSessions(t *testing.T) {
	m := testModel(t, 8)
	pki := testPKI(t)
	p := startPair(t, m, m, pki, pki, nil)
	c := openClient(t, p, m)
	eng, err := infer.NewHSSWith(m, hss.DefaultParams(), testSeq, hss.NewPRG([32]byte{1}), c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Forward([]int{1, 2}); err != nil {
		t.Fatal(err)
	}
	// Drop the connections without closing the session.
	for _, conn := range c.conns {
		conn.Close()
	}
	c.open = false
	waitSessions(t, p, 0)
}

func TestIdleTimeout(t *testing.T) {
	m := testModel(t, 8)
	pki := testPKI(t)
	p := startPair(t, m, m, pki, pki, func(c *Config) { c.IdleTimeout = time.Second })
	c, err := Dial(p.addr, creds(t, pki, "client"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Open only (no Run stream): the reaper frees it.
	if _, err := c.openEach([2][32]byte{model.Fingerprint(m), model.Fingerprint(m)}); err != nil {
		t.Fatal(err)
	}
	waitSessions(t, p, 0)
}

func TestConcurrentSessions(t *testing.T) {
	m := testModel(t, 9)
	pki := testPKI(t)
	p := startPair(t, m, m, pki, pki, nil)
	prm := hss.DefaultParams()
	local, err := infer.NewHSS(m, prm, testSeq, hss.NewPRG([32]byte{2}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := steps(t, local)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Dial(p.addr, creds(t, pki, "client"))
			if err != nil {
				errs <- err.Error()
				return
			}
			defer c.Close()
			if err := c.Open(Session{Fingerprint: model.Fingerprint(m), Params: hss.DefaultParams(), MaxSeq: testSeq}); err != nil {
				errs <- err.Error()
				return
			}
			eng, _ := infer.NewHSSWith(m, prm, testSeq, hss.NewPRG([32]byte{2}), c)
			for i, ids := range [][]int{{1, 40, 7, 300}, {5}, {77}} {
				l, err := eng.Forward(ids)
				if err != nil {
					errs <- err.Error()
					return
				}
				if !slices.Equal(l, want[i]) {
					errs <- "logits differ"
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		t.Fatal("8 concurrent sessions did not finish in 40 s")
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	waitSessions(t, p, 0)
}

func TestMalformed(t *testing.T) {
	m := testModel(t, 10)
	pki := testPKI(t)
	p := startPair(t, m, m, pki, pki, func(c *Config) { c.MaxMaterial = 1 << 20 })
	open := func() *Client {
		c := openClient(t, p, m)
		return c
	}
	code := func(err error) codes.Code { return status.Code(err) }
	t.Run("garbage material", func(t *testing.T) {
		c := open()
		err := c.uploadRaw(1, [][]byte{{3, 'x', 'y', 'z', 0, 0, 0, 0}})
		if code(err) != codes.InvalidArgument {
			t.Fatalf("unknown key kind: %v", err)
		}
	})
	t.Run("oversized material", func(t *testing.T) {
		c := open()
		frame := []byte{5, 't', 'r', 'u', 'n', 'c', 0xff, 0xff, 0xff, 0x0f}
		err := c.uploadRaw(1, [][]byte{frame})
		if code(err) != codes.ResourceExhausted {
			t.Fatalf("material over the limit: %v", err)
		}
	})
	t.Run("oversized message", func(t *testing.T) {
		c := open()
		err := c.uploadRaw(1, [][]byte{make([]byte, 5<<20)})
		if code(err) != codes.ResourceExhausted {
			t.Fatalf("5 MiB message: %v", err)
		}
	})
	t.Run("wrong share length", func(t *testing.T) {
		c := open()
		err := c.runRaw(1, &infer.Pass{Rows: 2, In1: make([]uint64, 3)})
		if code(err) != codes.InvalidArgument {
			t.Fatalf("short share: %v", err)
		}
	})
	t.Run("bad position", func(t *testing.T) {
		c := open()
		err := c.runRaw(0, &infer.Pass{Rows: 1, Pos0: 5})
		if code(err) != codes.InvalidArgument {
			t.Fatalf("pass at the wrong position: %v", err)
		}
	})
}

func TestHealthAndShutdown(t *testing.T) {
	m := testModel(t, 11)
	pki := testPKI(t)
	s, addr := startServer(t, Config{Mode: ModeEE, Model: m, Creds: creds(t, pki, "party0")})
	conn, err := dial(addr, creds(t, pki, "client"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", r, err)
	}
	e, err := DialEE(addr, creds(t, pki, "client"), Session{Fingerprint: model.Fingerprint(m), MaxSeq: testSeq})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s.Shutdown(ctx)
	if n := s.Sessions(); n != 0 {
		t.Fatalf("%d sessions after shutdown", n)
	}
	if _, err := e.Forward([]int{1}); err == nil {
		t.Fatal("a pass after shutdown succeeded")
	}
}

// TestPreload: with HSS.Prefetch the client sends each decode step's
// material ahead, during the previous pass (Client.Preload); the logits are
// exactly the in-process ones, and a pass of another shape than the one
// prefetched (two tokens after a decode step) replaces the material sent
// ahead and still matches the plain model.
func TestPreload(t *testing.T) {
	m := testModel(t, 3)
	pki := testPKI(t)
	p := startPair(t, m, m, pki, pki, nil)
	prm := hss.DefaultParams()
	seed := [32]byte{9}
	local, err := infer.NewHSS(m, prm, testSeq, hss.NewPRG(seed), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := steps(t, local)
	c := openClient(t, p, m)
	remote, err := infer.NewHSSWith(m, prm, testSeq, hss.NewPRG(seed), c)
	if err != nil {
		t.Fatal(err)
	}
	remote.Prefetch = true
	got := steps(t, remote)
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("pass %d: preloaded remote logits differ from in-process", i)
		}
	}
	// Another shape than prefetched: the material sent ahead is replaced.
	plain, err := model.NewRunner(m, testSeq)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for _, ids := range [][]int{{1, 40, 7, 300}, {5}, {77}, {3, 9}, {11}} {
		w, err := plain.Forward(ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == 2 || ids[0] == 11 {
			l, err := remote.Forward(ids)
			if err != nil {
				t.Fatalf("pass after a mismatched prefetch: %v", err)
			}
			var d float64
			for i := range l {
				d = max(d, math.Abs(float64(l[i]-w[i])))
			}
			if d > 0.05 {
				t.Fatalf("|HSS − plain| = %.4f after replacing prefetched material", d)
			}
		}
	}
	c.Close()
	waitSessions(t, p, 0)
}
