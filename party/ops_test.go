package party

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/infer"
	"github.com/hssee/hssee/internal/metricstest"
	"github.com/hssee/hssee/model"
	pb "github.com/hssee/hssee/proto/hsseepb"
)

// A session id is usable only with the certificate that opened it: a
// second client certificate (same CA, same common name) that knows the id
// gets PermissionDenied on Run, Upload and Close at both parties, cannot
// take the id over, and the owner's session goes on working.
func TestSessionBoundToCertificate(t *testing.T) {
	m := testModel(t, 3)
	pki := testPKI(t)
	if err := pki.AddClient("client2"); err != nil {
		t.Fatal(err)
	}
	if err := pki.AddClient("client2"); err == nil {
		t.Fatal("AddClient replaced a certificate")
	}
	p := startPair(t, m, m, pki, pki, nil)
	prm := hss.DefaultParams()
	a := openClient(t, p, m)
	eng, err := infer.NewHSSWith(m, prm, testSeq, hss.NewPRG([32]byte{5}), a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Forward([]int{1, 40, 7}); err != nil {
		t.Fatal(err)
	}

	b, err := Dial(p.addr, creds(t, pki, "client2"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close() // b never opened: its Close closes no session
	b.id = a.id
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	denied := func(what string, err error) {
		t.Helper()
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("%s with another certificate: %v, want PermissionDenied", what, err)
		}
		if msg := status.Convert(err).Message(); strings.Contains(msg, a.id.String()) {
			t.Fatalf("%s: the refusal names the session: %q", what, msg)
		}
	}
	for i := range 2 {
		denied("upload", b.uploadRaw(i, [][]byte{{0}}))
		md := metadata.NewOutgoingContext(ctx, metadata.Pairs(mdSession, a.id.String()))
		run, err := pb.NewSessionClient(b.conns[i]).Run(md)
		if err == nil {
			_, err = run.Recv()
		}
		denied("run", err) // not FailedPrecondition (the owner's Run stream exists): refused before
		_, err = pb.NewSessionClient(b.conns[i]).Close(ctx, &pb.CloseRequest{SessionId: a.id[:]})
		denied("close", err)
		_, err = pb.NewSessionClient(b.conns[i]).Open(ctx, &pb.OpenRequest{SessionId: a.id[:], Mode: ModeHSS,
			Fingerprint: p.srv[i].fp[:], Frac: uint32(hss.DefaultParams().Frac), MaxSeq: testSeq})
		if status.Code(err) != codes.AlreadyExists {
			t.Fatalf("open of a taken id with another certificate: %v", err)
		}
	}
	for _, ids := range [][]int{{5}, {77}} {
		if _, err := eng.Forward(ids); err != nil {
			t.Fatalf("the owner's session after the refusals: %v", err)
		}
	}
	if n := p.srv[0].Sessions() + p.srv[1].Sessions(); n != 2 {
		t.Fatalf("%d sessions, want the owner's on both parties", n)
	}
}

// -max-sessions-per-client counts sessions per certificate: a client at
// its limit is refused with ResourceExhausted, another certificate is not.
func TestMaxSessionsPerClient(t *testing.T) {
	m := testModel(t, 3)
	pki := testPKI(t)
	if err := pki.AddClient("client2"); err != nil {
		t.Fatal(err)
	}
	p := startPair(t, m, m, pki, pki, func(c *Config) { c.MaxPerClient = 2 })
	open := func(name string) error {
		c, err := Dial(p.addr, creds(t, pki, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.Open(Session{Fingerprint: model.Fingerprint(m), Params: hss.DefaultParams(), MaxSeq: testSeq})
	}
	for range 2 {
		if err := open("client"); err != nil {
			t.Fatal(err)
		}
	}
	if err := open("client"); err == nil || !strings.Contains(err.Error(), "ResourceExhausted") {
		t.Fatalf("a third session of one certificate with a limit of 2: %v", err)
	}
	if err := open("client2"); err != nil {
		t.Fatalf("another certificate under the first's limit: %v", err)
	}
	if s := metricstest.ScrapeHandler(t, p.srv[1].MetricsHandler()); s[`hssee_party_sessions_refused_total{code="ResourceExhausted",mode="hss",party="1"}`] != 1 {
		t.Fatalf("refusal not counted: %v", s)
	}
}

// The metrics of a running party, scraped over HTTP (-metrics) during a
// generation: sessions, passes, latency, peer bytes and rounds, material
// and errors move; nothing in the page names the session.
func TestMetricsScrape(t *testing.T) {
	m := testModel(t, 3)
	pki := testPKI(t)
	p := startPair(t, m, m, pki, pki, nil)
	var urls [2]string
	for i, s := range p.srv {
		ms, err := StartMetrics("127.0.0.1:0", s.MetricsHandler(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ms.Close)
		urls[i] = "http://" + ms.Addr() + "/metrics"
	}
	before := metricstest.Scrape(t, urls[1])
	c := openClient(t, p, m)
	eng, err := infer.NewHSSWith(m, hss.DefaultParams(), testSeq, hss.NewPRG([32]byte{5}), c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Forward([]int{1, 40, 7, 300}); err != nil {
		t.Fatal(err)
	}
	mid := metricstest.Scrape(t, urls[1])
	for _, ids := range [][]int{{5}, {77}} {
		if _, err := eng.Forward(ids); err != nil {
			t.Fatal(err)
		}
	}
	after := metricstest.Scrape(t, urls[1])
	const l = `mode="hss",party="1"` // labels are sorted by name
	for _, k := range []string{"hssee_party_peer_sent_bytes_total{" + l + "}", "hssee_party_peer_received_bytes_total{" + l + "}",
		"hssee_party_peer_rounds_total{" + l + "}", `hssee_party_passes_total{mode="hss",outcome="ok",party="1"}`,
		`hssee_party_material_received_bytes_total{` + l + `,source="upload"}`} {
		if !(before[k] == 0 && mid[k] > 0 && after[k] > mid[k]) {
			t.Errorf("%s: %v -> %v -> %v, want 0 and rising during the generation", k, before[k], mid[k], after[k])
		}
	}
	checks := map[string][3]float64{ // before, after the prefill, after two decode steps
		"hssee_party_sessions_opened_total{" + l + "}":                      {0, 1, 1},
		"hssee_party_sessions_open{" + l + "}":                              {0, 1, 1},
		`hssee_party_passes_total{mode="hss",outcome="ok",party="1"}`:       {0, 1, 3},
		`hssee_party_pass_duration_seconds_count{kind="prefill",` + l + `}`: {0, 1, 1},
		`hssee_party_pass_duration_seconds_count{kind="decode",` + l + `}`:  {0, 0, 2},
	}
	for k, want := range checks {
		if got := [3]float64{before[k], mid[k], after[k]}; got != want {
			t.Errorf("%s: %v, want %v", k, got, want)
		}
	}
	// An error is counted by method and code.
	ctx := context.Background()
	if _, err := pb.NewSessionClient(c.conns[1]).Close(ctx, &pb.CloseRequest{SessionId: make([]byte, SessionIDLen)}); status.Code(err) != codes.NotFound {
		t.Fatal(err)
	}
	errs := metricstest.Scrape(t, urls[1])
	if k := `hssee_party_grpc_errors_total{code="NotFound",method="/hssee.v1.Session/Close",` + l + `}`; errs[k] != 1 {
		t.Errorf("%s = %v, want 1", k, errs[k])
	}
	c.Close()
	waitSessions(t, p, 0)
	end := metricstest.Scrape(t, urls[1])
	closed := 0.0
	for k, v := range end {
		if strings.HasPrefix(k, "hssee_party_sessions_closed_total{") {
			closed += v
		}
	}
	if closed != 1 {
		t.Errorf("%v sessions closed, want 1", closed)
	}
	if k := "hssee_party_sessions_open{" + l + "}"; end[k] != 0 {
		t.Errorf("%s = %v after close", k, end[k])
	}
	page := metricstest.Scrape(t, urls[0])
	if page[`hssee_party_peer_rounds_total{mode="hss",party="0"}`] != after["hssee_party_peer_rounds_total{"+l+"}"] {
		t.Error("the parties count different rounds")
	}
	for series := range page {
		if strings.Contains(series, c.id.String()) || strings.Contains(series, c.id.LogID()) {
			t.Fatalf("a series names the session: %s", series)
		}
	}
}

// -health serves grpc.health.v1 alone without TLS (for the kubelet's gRPC
// probe): SERVING while the party serves, and nothing else is reachable
// there.
func TestPlainHealth(t *testing.T) {
	m := testModel(t, 3)
	pki := testPKI(t)
	s, _ := startServer(t, Config{ID: 1, Model: m, Creds: creds(t, pki, "party1")})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.ServeHealth(lis)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, svc := range []string{"", pb.Session_ServiceDesc.ServiceName} {
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: svc}, grpc.WaitForReady(true))
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("plain health %q: %v %v", svc, resp, err)
		}
	}
	_, err = pb.NewSessionClient(conn).Close(ctx, &pb.CloseRequest{SessionId: make([]byte, SessionIDLen)})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("the session service on the health port: %v", err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer scancel()
	s.Shutdown(sctx)
	if resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err == nil &&
		resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
		t.Fatal("SERVING after shutdown")
	}
}
