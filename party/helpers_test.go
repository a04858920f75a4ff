package party

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/hssee/hssee/infer"
	pb "github.com/hssee/hssee/proto/hsseepb"
)

// openEach opens the session on both parties, each with its own
// fingerprint, without Run streams.
func (c *Client) openEach(fp [2][32]byte) (SessionID, error) {
	id, err := newSessionID()
	if err != nil {
		return id, err
	}
	c.id = id
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, i := range []int{1, 0} {
		_, err := pb.NewSessionClient(c.conns[i]).Open(ctx, &pb.OpenRequest{SessionId: id[:], Mode: ModeHSS,
			Fingerprint: fp[i][:], Frac: 14, MaxSeq: testSeq}, grpc.WaitForReady(true))
		if err != nil {
			return id, err
		}
	}
	return id, nil
}

// uploadRaw sends raw material chunks for pass 0 to party i and returns the
// server's status.
func (c *Client) uploadRaw(i int, data [][]byte) error {
	md := metadata.Pairs(mdSession, c.id.String(), mdPass, strconv.Itoa(0))
	up, err := pb.NewSessionClient(c.conns[i]).Upload(metadata.NewOutgoingContext(c.ctx, md))
	if err != nil {
		return err
	}
	for _, d := range data {
		if err := up.Send(&pb.MaterialChunk{Data: d}); err != nil {
			break
		}
	}
	_, err = up.CloseAndRecv()
	return err
}

// runRaw sends one pass's request as given to party i and returns the
// server's status.
func (c *Client) runRaw(i int, p *infer.Pass) error {
	r := &pb.RunRequest{Rows: uint32(p.Rows), Pos0: uint32(p.Pos0), Last: true}
	if i == 0 {
		r.Seed = p.Seed0[:]
	} else {
		r.Shares = appendU64s(nil, p.In1)
	}
	if err := c.runs[i].Send(r); err != nil {
		_, err = c.runs[i].Recv()
		return err
	}
	_, err := c.runs[i].Recv()
	return err
}
