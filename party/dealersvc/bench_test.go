package dealersvc

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/hssee/hssee/dealer"
	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/party"
	pb "github.com/hssee/hssee/proto/hsseepb"
)

// BenchmarkMaterialStream measures the dealer service's delivery of a
// stories15M prefill's material (prompt of 32 tokens) to both parties over
// loopback TLS: the walk, the frames, gRPC and TLS on both sides, and the
// parties' decoding of every key (what the pull does, without the pass).
func BenchmarkMaterialStream(b *testing.B) {
	pki, err := party.NewPKI(nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := model.PresetConfig("stories15M")
	if err != nil {
		b.Fatal(err)
	}
	const rows, maxSeq = 32, 64
	srv, err := NewServer(Config{Service: dealer.NewService(dealer.ServiceConfig{}), Creds: creds(b, pki, "dealer")})
	if err != nil {
		b.Fatal(err)
	}
	lis := listen(b)
	go srv.Serve(lis)
	defer srv.grpc.Stop()
	conn := func(role string) pb.DealerClient {
		c, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(creds(b, pki, role).ClientConfig(party.DealerName))))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return pb.NewDealerClient(c)
	}
	client, parties := conn("client"), [2]pb.DealerClient{conn("party0"), conn("party1")}
	shape := party.ShapeDigest(cfg, 14, maxSeq)
	ctx := context.Background()
	var total atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		id := make([]byte, party.SessionIDLen)
		id[0], id[1] = byte(i), byte(i>>8)
		if _, err := client.Open(ctx, &pb.DealerOpenRequest{SessionId: id, Config: mustJSONB(b, cfg), Frac: 14, MaxSeq: maxSeq, FirstRows: rows}); err != nil {
			b.Fatal(err)
		}
		errs := make(chan error, 2)
		for p := range 2 {
			go func() {
				st, err := parties[p].Material(ctx, &pb.MaterialRequest{SessionId: id, Pass: 0, Rows: rows, Pos0: 0, Shape: shape[:]})
				if err != nil {
					errs <- err
					return
				}
				r := &chunkReader{st: st}
				for {
					_, n, err := hss.ReadKeyFrame(r, 1<<40)
					if err == io.EOF {
						errs <- nil
						return
					}
					if err != nil {
						errs <- err
						return
					}
					total.Add(n)
				}
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		client.Close(ctx, &pb.CloseRequest{SessionId: id})
	}
	b.ReportMetric(float64(total.Load())/time.Since(start).Seconds()/1e6, "MB/s")
}

type chunkReader struct {
	st  pb.Dealer_MaterialClient
	buf []byte
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		c, err := r.st.Recv()
		if err != nil {
			return 0, err
		}
		r.buf = c.GetData()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func mustJSONB(b *testing.B, c model.Config) []byte { return mustJSON(b, c) }
