package dealersvc

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/hssee/hssee/dealer"
	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/infer"
	"github.com/hssee/hssee/internal/metricstest"
	"github.com/hssee/hssee/party"
	pb "github.com/hssee/hssee/proto/hsseepb"
)

// dealerClient is a Dealer client presenting the certificate name.
func dealerClient(t *testing.T, pki *party.PKI, addr, name string) pb.DealerClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(creds(t, pki, name).ClientConfig(party.DealerName))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewDealerClient(conn)
}

// A dealer session is closed only by the certificate that opened it; a
// second client certificate is refused with PermissionDenied and cannot
// take the id over; -max-sessions-per-client counts per certificate.
func TestDealerSessionBound(t *testing.T) {
	d := deploy(t, nil)
	if err := d.pki.AddClient("client2"); err != nil {
		t.Fatal(err)
	}
	// A second dealer with a per-client limit of 1.
	svc, err := NewServer(Config{Service: dealer.NewService(dealer.ServiceConfig{MaxPerOwner: 1}), Creds: creds(t, d.pki, "dealer")})
	if err != nil {
		t.Fatal(err)
	}
	lis := listen(t)
	go svc.Serve(lis)
	t.Cleanup(func() { svc.Shutdown(context.Background()) })

	ctx := context.Background()
	a, b := dealerClient(t, d.pki, d.daddr, "client"), dealerClient(t, d.pki, d.daddr, "client2")
	id := make([]byte, party.SessionIDLen)
	id[0] = 7
	open := &pb.DealerOpenRequest{SessionId: id, Config: mustJSON(t, d.m.Config), Frac: uint32(hss.DefaultParams().Frac), MaxSeq: testSeq, FirstRows: 3}
	if _, err := a.Open(ctx, open); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Close(ctx, &pb.CloseRequest{SessionId: id}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("another certificate closed the session: %v", err)
	}
	if _, err := b.Open(ctx, open); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("another certificate reopened a taken id: %v", err)
	}
	if _, err := d.dealer.svc.Lookup([16]byte(id)); err != nil {
		t.Fatal("the session is gone after the refusals")
	}
	if _, err := a.Close(ctx, &pb.CloseRequest{SessionId: id}); err != nil {
		t.Fatalf("the owner's close: %v", err)
	}

	a, b = dealerClient(t, d.pki, lis.Addr().String(), "client"), dealerClient(t, d.pki, lis.Addr().String(), "client2")
	if _, err := a.Open(ctx, open); err != nil {
		t.Fatal(err)
	}
	open2 := &pb.DealerOpenRequest{SessionId: append([]byte{8}, id[1:]...), Config: open.Config, Frac: open.Frac,
		MaxSeq: open.MaxSeq, FirstRows: open.FirstRows}
	if _, err := a.Open(ctx, open2); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a second session of a certificate with a limit of 1: %v", err)
	}
	if _, err := b.Open(ctx, open2); err != nil {
		t.Fatalf("another certificate under the first's limit: %v", err)
	}
}

// The dealer's metrics, scraped over HTTP during a generation through it:
// sessions, passes delivered and material bytes move, and the bytes it
// counts as sent to each party cover the bytes that party counts as
// received from the dealer (the dealer also counts material streamed ahead
// for a pass that never ran).
func TestDealerMetrics(t *testing.T) {
	d := deploy(t, nil)
	serve := func(h http.Handler) string {
		ms, err := party.StartMetrics("127.0.0.1:0", h, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ms.Close)
		return "http://" + ms.Addr() + "/metrics"
	}
	durl := serve(d.dealer.MetricsHandler())
	purl := [2]string{serve(d.parties[0].MetricsHandler()), serve(d.parties[1].MetricsHandler())}
	c, err := d.client(t, d.daddr, len(passes[0]))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := infer.NewHSSWith(d.m, hss.DefaultParams(), testSeq, hss.NewPRG([32]byte{2}), c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Forward(passes[0]); err != nil {
		t.Fatal(err)
	}
	mid := metricstest.Scrape(t, durl)
	for _, ids := range passes[1:] {
		if _, err := eng.Forward(ids); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	waitSessions(t, d, 0)
	end := metricstest.Scrape(t, durl)
	for p := range 2 {
		pl := `{party="` + strconv.Itoa(p) + `"}`
		if mid["hssee_dealer_passes_delivered_total"+pl] < 1 || mid["hssee_dealer_material_sent_bytes_total"+pl] <= 0 ||
			mid["hssee_dealer_pass_generation_seconds_count"+pl] < 1 {
			t.Errorf("party %d after the prefill: %v", p, mid)
		}
		got := metricstest.Scrape(t, purl[p])[`hssee_party_material_received_bytes_total{mode="hss",party="`+strconv.Itoa(p)+`",source="dealer"}`]
		if sent := end["hssee_dealer_material_sent_bytes_total"+pl]; got <= 0 || got > sent {
			t.Errorf("party %d: the dealer sent %v bytes, the party counts %v", p, sent, got)
		}
	}
	if end["hssee_dealer_sessions_opened_total"] != 1 || end["hssee_dealer_sessions_open"] != 0 ||
		end[`hssee_dealer_sessions_closed_total{reason="client"}`] != 1 {
		t.Errorf("sessions: %v", end)
	}
	if _, ok := end["hssee_dealer_memory_buffered_bytes"]; !ok {
		t.Error("no memory gauge")
	}
}
