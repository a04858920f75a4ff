package party

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	pb "github.com/hssee/hssee/proto/hsseepb"
)

// EE is an infer.Engine over one server running an EE model in the clear
// (single-server EE): encrypted ids in, encrypted logits out.
type EE struct {
	addr   string
	conn   *grpc.ClientConn
	ctx    context.Context
	stop   context.CancelFunc
	id     SessionID
	run    pb.Session_RunClient
	pass   uint64
	pos    int
	maxSeq int
	vocab  int
	logits []float32
	err    error
}

// DialEE opens an ee session on the server at addr.
func DialEE(addr string, creds *Credentials, s Session) (*EE, error) {
	conn, err := dial(addr, creds, "")
	if err != nil {
		return nil, fmt.Errorf("party: dial %s: %w", addr, err)
	}
	e := &EE{addr: addr, conn: conn}
	e.ctx, e.stop = context.WithCancel(context.Background())
	if e.id, err = newSessionID(); err != nil {
		e.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	who := fmt.Sprintf("server %s", addr)
	resp, err := pb.NewSessionClient(conn).Open(ctx, &pb.OpenRequest{SessionId: e.id[:], Mode: ModeEE,
		Fingerprint: s.Fingerprint[:], MaxSeq: uint32(s.MaxSeq)}, grpc.WaitForReady(true))
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("party: open session: %w", describe(who, err))
	}
	e.maxSeq, e.vocab = int(resp.GetMaxSeq()), int(resp.GetVocabSize())
	md := metadata.NewOutgoingContext(e.ctx, metadata.Pairs(mdSession, e.id.String()))
	if e.run, err = pb.NewSessionClient(conn).Run(md); err != nil {
		e.Close()
		return nil, fmt.Errorf("party: open session: %w", describe(who, err))
	}
	return e, nil
}

// Forward sends (encrypted) ids and returns the (encrypted) logits.
func (e *EE) Forward(ids []int) ([]float32, error) {
	if e.err != nil {
		return nil, e.err
	}
	logits, err := e.forward(ids)
	if err != nil {
		e.err = fmt.Errorf("party: ee pass %d: %w", e.pass, describe("server "+e.addr, err))
		e.stop()
		return nil, e.err
	}
	e.pass++
	e.pos += len(ids)
	return logits, nil
}

func (e *EE) forward(ids []int) ([]float32, error) {
	if len(ids) == 0 || e.pos+len(ids) > e.maxSeq {
		return nil, errors.New("pass exceeds the session's positions")
	}
	req := &pb.RunRequest{Pass: e.pass, Rows: uint32(len(ids)), Pos0: uint32(e.pos), Last: true, Ids: make([]uint32, len(ids))}
	for i, id := range ids {
		if id < 0 {
			return nil, errors.New("negative token id")
		}
		req.Ids[i] = uint32(id)
	}
	if err := e.run.Send(req); err != nil {
		return nil, recvErr(e.run, err)
	}
	e.logits = e.logits[:0]
	for {
		r, err := e.run.Recv()
		if err != nil {
			return nil, err
		}
		if r.GetPass() != e.pass || r.GetProgress() != nil {
			continue
		}
		if len(r.GetLogits()) > 4*(e.vocab-len(e.logits)) {
			return nil, errors.New("more logits than the vocabulary")
		}
		if e.logits, err = decodeF32s(e.logits, r.GetLogits()); err != nil {
			return nil, err
		}
		if r.GetLast() {
			if len(e.logits) != e.vocab {
				return nil, errors.New("logits of the wrong length")
			}
			return e.logits, nil
		}
	}
}

// Pos is the number of positions in the server's cache.
func (e *EE) Pos() int { return e.pos }

// MaxSeq is the session's capacity.
func (e *EE) MaxSeq() int { return e.maxSeq }

// Close closes the session and the connection.
func (e *EE) Close() error {
	if e.run != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = pb.NewSessionClient(e.conn).Close(ctx, &pb.CloseRequest{SessionId: e.id[:]})
		cancel()
	}
	if e.stop != nil {
		e.stop()
	}
	return e.conn.Close()
}
