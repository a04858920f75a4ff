package dealersvc

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/hssee/hssee/dealer"
	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/infer"
	"github.com/hssee/hssee/internal/waitfor"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/party"
	pb "github.com/hssee/hssee/proto/hsseepb"
)

const testSeq = 24

type deployment struct {
	pki     *party.PKI
	m       *model.Model
	dealer  *Server
	dlis    net.Listener
	daddr   string
	parties [2]*party.Server
	addrs   [2]string
}

func creds(t testing.TB, pki *party.PKI, name string) *party.Credentials {
	t.Helper()
	c, err := pki.Credentials(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// deploy starts a dealer service (seeded) and two parties that pull from
// it, all on loopback with TLS; mut edits the parties' configs.
func deploy(t *testing.T, mut func(*party.Config)) *deployment {
	t.Helper()
	m, err := model.Preset("tinystories-656k", 3)
	if err != nil {
		t.Fatal(err)
	}
	pki, err := party.NewPKI(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &deployment{pki: pki, m: m}
	seed := [32]byte{9}
	d.dealer, err = NewServer(Config{Service: dealer.NewService(dealer.ServiceConfig{Seed: &seed}), Creds: creds(t, pki, "dealer")})
	if err != nil {
		t.Fatal(err)
	}
	d.dlis = listen(t)
	d.daddr = d.dlis.Addr().String()
	go d.dealer.Serve(d.dlis)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		d.dealer.Shutdown(ctx)
	})
	for _, id := range []int{1, 0} {
		cfg := party.Config{ID: id, Model: m, Creds: creds(t, pki, "party"+string(rune('0'+id))), Peer: d.addrs[1], Dealer: d.daddr}
		if mut != nil {
			mut(&cfg)
		}
		s, err := party.NewServer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		lis := listen(t)
		d.parties[id], d.addrs[id] = s, lis.Addr().String()
		go s.Serve(lis)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			s.Shutdown(ctx)
		})
	}
	return d
}

func (d *deployment) client(t *testing.T, dealerAddr string, first int) (*party.Client, error) {
	t.Helper()
	c, err := party.Dial(d.addrs, creds(t, d.pki, "client"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, c.Open(party.Session{Fingerprint: model.Fingerprint(d.m), Params: hss.DefaultParams(), MaxSeq: testSeq,
		Dealer: dealerAddr, Config: d.m.Config, FirstRows: first})
}

var passes = [][]int{{1, 40, 7, 300}, {5}, {77}, {12}}

func run(t *testing.T, eng *infer.HSS) ([][]float32, error) {
	var all [][]float32
	for _, ids := range passes {
		l, err := eng.Forward(ids)
		if err != nil {
			return all, err
		}
		all = append(all, slices.Clone(l))
	}
	return all, nil
}

// With the dealer service the parties compute what they compute with the
// client's dealer: the same costs, logits within the fixed-point error of
// the plain model, and the same greedy choices; the client makes and
// sends no material.
func TestServiceMatchesClientDealer(t *testing.T) {
	d := deploy(t, nil)
	prm := hss.DefaultParams()
	local, err := infer.NewHSS(d.m, prm, testSeq, hss.NewPRG([32]byte{1}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := run(t, local)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := model.NewRunner(d.m, testSeq)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for _, first := range []int{len(passes[0]), 0} { // announced at open, or taken from the first pass
		c, err := d.client(t, d.daddr, first)
		if err != nil {
			t.Fatal(err)
		}
		eng, err := infer.NewHSSWith(d.m, prm, testSeq, hss.NewPRG([32]byte{2}), c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := run(t, eng)
		if err != nil {
			t.Fatal(err)
		}
		plain.Reset()
		for i, ids := range passes {
			pl, err := plain.Forward(ids)
			if err != nil {
				t.Fatal(err)
			}
			var worst float64
			for j := range pl {
				worst = max(worst, math.Abs(float64(got[i][j]-pl[j])))
			}
			if worst > 0.05 {
				t.Fatalf("pass %d: |HSS − plain| = %v", i, worst)
			}
			if model.Argmax(got[i]) != model.Argmax(want[i]) || model.Argmax(got[i]) != model.Argmax(pl) {
				t.Fatalf("pass %d: greedy choices differ", i)
			}
		}
		lt, rt := local.Total(), eng.Total()
		if lt.OnlineBytes != rt.OnlineBytes || lt.Rounds != rt.Rounds || lt.DealerBytes != rt.DealerBytes || rt.DealerBytes == 0 ||
			lt.DealerBytes0 != rt.DealerBytes0 || lt.DealerBytes1 != rt.DealerBytes1 {
			t.Fatalf("costs: client dealer %+v, dealer service %+v", lt, rt)
		}
		if rt.Offline != 0 {
			t.Fatal("the client made material")
		}
		c.Close()
		waitSessions(t, d, 0)
	}
}

func waitSessions(t *testing.T, d *deployment, want int) {
	t.Helper()
	if waitfor.Until(5*time.Second, 20*time.Millisecond, func() bool {
		return d.parties[0].Sessions() == want && d.parties[1].Sessions() == want && d.dealer.svc.Stats().Sessions == want
	}) {
		return
	}
	t.Fatalf("sessions: party 0 %d, party 1 %d, dealer %d, want %d", d.parties[0].Sessions(), d.parties[1].Sessions(),
		d.dealer.svc.Stats().Sessions, want)
}

// A dealer that goes away mid-generation ends the client's pass at once
// with an error naming the dealer; the parties free the session and serve
// the next one (here with the client's own dealer).
func TestDealerKilled(t *testing.T) {
	d := deploy(t, nil)
	prm := hss.DefaultParams()
	c, err := d.client(t, d.daddr, 0)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := infer.NewHSSWith(d.m, prm, testSeq, hss.NewPRG([32]byte{2}), c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Forward(passes[0]); err != nil {
		t.Fatal(err)
	}
	d.dealer.grpc.Stop() // hard: connections drop as if the process died
	start := time.Now()
	// The parties hold at most the next pass's material: a pass after it
	// needs the dealer.
	for i := 1; err == nil; i++ {
		if i == len(passes) {
			t.Fatal("passes ran without the dealer")
		}
		_, err = eng.Forward(passes[i])
	}
	if !strings.Contains(err.Error(), "the dealer at "+d.daddr) {
		t.Fatalf("pass after the dealer died: %v", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("the client learned of the dead dealer after %v", el)
	}
	t.Logf("client error after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if !waitfor.Until(5*time.Second, 20*time.Millisecond, func() bool { return d.parties[0].Sessions()+d.parties[1].Sessions() == 0 }) {
		t.Fatal("the parties kept the failed session")
	}
	c2, err := party.Dial(d.addrs, creds(t, d.pki, "client"))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Open(party.Session{Fingerprint: model.Fingerprint(d.m), Params: hss.DefaultParams(), MaxSeq: testSeq}); err != nil {
		t.Fatal(err)
	}
	eng2, err := infer.NewHSSWith(d.m, prm, testSeq, hss.NewPRG([32]byte{3}), c2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, eng2); err != nil {
		t.Fatalf("next session after the dealer died: %v", err)
	}
}

// stallDealer is a dealer that accepts every request and never sends.
type stallDealer struct {
	pb.UnimplementedDealerServer
}

func (stallDealer) Open(context.Context, *pb.DealerOpenRequest) (*pb.DealerOpenResponse, error) {
	return nil, status.Error(codes.Unimplemented, "stall")
}

func (stallDealer) Material(_ *pb.MaterialRequest, st pb.Dealer_MaterialServer) error {
	<-st.Context().Done()
	return nil
}

// A dealer that sends nothing fails the pass after the stall limit, with
// DeadlineExceeded naming the dealer.
func TestDealerStall(t *testing.T) {
	lis := listen(t)
	d := deploy(t, func(c *party.Config) { c.Dealer, c.DealerStall = lis.Addr().String(), 300*time.Millisecond })
	g := grpc.NewServer(grpc.Creds(credentials.NewTLS(creds(t, d.pki, "dealer").ServerConfig())))
	pb.RegisterDealerServer(g, stallDealer{})
	go g.Serve(lis)
	defer g.Stop()
	// The client opens at the real dealer (the stalling one refuses Open);
	// the parties pull from the stalling one.
	c, err := d.client(t, d.daddr, 0)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := infer.NewHSSWith(d.m, hss.DefaultParams(), testSeq, hss.NewPRG([32]byte{2}), c)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = eng.Forward(passes[0])
	if err == nil || !strings.Contains(err.Error(), "sent no material") || !strings.Contains(err.Error(), "did not answer in time") {
		t.Fatalf("stalled dealer: %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("stall detected after %v", el)
	}
}

// Only the dealer's certificate serves material, only a client's opens
// sessions, only the parties' pull, each its own share, once.
func TestAuthorization(t *testing.T) {
	d := deploy(t, nil)
	// A server with another role's certificate is refused as the dealer.
	c, err := party.Dial(d.addrs, creds(t, d.pki, "client"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Open(party.Session{Fingerprint: model.Fingerprint(d.m), Params: hss.DefaultParams(), MaxSeq: testSeq,
		Dealer: d.addrs[1], Config: d.m.Config, FirstRows: 4})
	if err == nil || !strings.Contains(err.Error(), "hssee-dealer") {
		t.Fatalf("a party's certificate accepted as the dealer's: %v", err)
	}
	call := func(role string) pb.DealerClient {
		conn, err := grpc.NewClient(d.daddr, grpc.WithTransportCredentials(credentials.NewTLS(creds(t, d.pki, role).ClientConfig(party.DealerName))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return pb.NewDealerClient(conn)
	}
	ctx := context.Background()
	id := make([]byte, party.SessionIDLen)
	id[0] = 42
	open := &pb.DealerOpenRequest{SessionId: id, Config: mustJSON(t, d.m.Config), Frac: uint32(hss.DefaultParams().Frac), MaxSeq: testSeq, FirstRows: 3}
	if _, err := call("party0").Open(ctx, open); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a party opened a dealer session: %v", err)
	}
	resp, err := call("client").Open(ctx, open)
	if err != nil {
		t.Fatal(err)
	}
	shape := party.ShapeDigest(d.m.Config, hss.DefaultParams().Frac, testSeq)
	if !slices.Equal(resp.GetShape(), shape[:]) {
		t.Fatal("shape digest")
	}
	pull := func(role string, pass uint64, rows, pos0 uint32, shape []byte) (int, error) {
		st, err := call(role).Material(ctx, &pb.MaterialRequest{SessionId: id, Pass: pass, Rows: rows, Pos0: pos0, Shape: shape})
		if err != nil {
			return 0, err
		}
		n := 0
		for {
			ch, err := st.Recv()
			if err == io.EOF {
				return n, nil
			}
			if err != nil {
				return n, err
			}
			n += len(ch.GetData())
		}
	}
	if _, err := pull("client", 0, 3, 0, shape[:]); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a client pulled material: %v", err)
	}
	if _, err := pull("party0", 0, 3, 0, make([]byte, 32)); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a party of another shape pulled material: %v", err)
	}
	if _, err := pull("party0", 0, 5, 0, shape[:]); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a pass off the plan: %v", err)
	}
	n0, err := pull("party0", 0, 3, 0, shape[:])
	if err != nil || n0 == 0 {
		t.Fatalf("party 0's pull: %d bytes, %v", n0, err)
	}
	if _, err := pull("party0", 0, 3, 0, shape[:]); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a replayed pull: %v", err)
	}
	n1, err := pull("party1", 0, 3, 0, shape[:])
	if err != nil || n1 <= n0 { // party 0's share is seed-compressed
		t.Fatalf("party 1's pull: %d bytes (party 0 %d), %v", n1, n0, err)
	}
	if _, err := call("client").Close(ctx, &pb.CloseRequest{SessionId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := pull("party1", 1, 1, 3, shape[:]); status.Code(err) != codes.NotFound {
		t.Fatalf("pull after close: %v", err)
	}
}

// Sessions that want the dealer service are refused by a party without
// one, and a party with one refuses uploads for them.
func TestPartyRefusals(t *testing.T) {
	d := deploy(t, func(c *party.Config) { c.Dealer = "" })
	if _, err := d.client(t, d.daddr, 4); err == nil || !strings.Contains(err.Error(), "no dealer service configured") {
		t.Fatalf("dealer session on a party without a dealer: %v", err)
	}
}

func mustJSON(t testing.TB, c model.Config) []byte {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDecodeSpec: the Open request's decoder refuses anything malformed
// without panicking, and what it accepts is a valid session spec.
func FuzzDecodeSpec(f *testing.F) {
	c, _ := model.PresetConfig("tinystories-656k")
	js, _ := json.Marshal(c)
	f.Add(make([]byte, 16), js, uint32(14), uint32(8), uint32(2))
	f.Add([]byte{1}, []byte(`{"arch":"llama"}`), uint32(0), uint32(0), uint32(0))
	f.Add(make([]byte, 16), []byte(`{"arch":"gpt2","dim":-1}`), uint32(60), uint32(1<<31), uint32(9))
	f.Fuzz(func(t *testing.T, id, cfg []byte, frac, maxSeq, first uint32) {
		_, spec, err := DecodeSpec(&pb.DealerOpenRequest{SessionId: id, Config: cfg, Frac: frac, MaxSeq: maxSeq, FirstRows: first})
		if err != nil {
			return
		}
		if spec.Config.Validate() != nil || spec.Params.Validate() != nil || spec.MaxSeq < 1 || spec.MaxSeq > spec.Config.MaxSeqLen ||
			spec.FirstRows < 0 || spec.FirstRows > spec.MaxSeq {
			t.Fatalf("accepted a bad spec %+v", spec)
		}
	})
}
