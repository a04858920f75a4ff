package party

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	"github.com/hssee/hssee/hss"
	pb "github.com/hssee/hssee/proto/hsseepb"
	"github.com/hssee/hssee/secure"
)

// A session whose material comes from the dealer service pulls it with a
// puller: one Material stream per pass, in the order of the dealer's plan
// (pass 0: the prefill, then one row per pass), each feeding an
// hss.Material that the pass consumes while the rest still arrives. At
// most the running pass and the next one stream at once; the next one is
// pulled while the running one computes, so a decode step finds its
// material in place. Each feed holds at most Config.MaxFeed bytes of keys
// not yet consumed: a full feed stops reading the stream, which holds the
// dealer back (gRPC flow control), which stops its generator at its
// memory cap.

// dealerError is a failure of the dealer or of the stream from it; a pass
// that meets one fails with its code and a message naming the dealer.
type dealerError struct {
	code codes.Code
	msg  string
}

func (e *dealerError) Error() string { return e.msg }

type feed struct {
	index      uint64
	rows, pos0 int
	mat        *hss.Material
	bytes      atomic.Int64 // key bytes received (payloads, as hss.Key.Size counts them)
	lastData   atomic.Int64 // unix nanoseconds of the last chunk received
	cancel     context.CancelCauseFunc
	done       chan struct{} // the stream has ended
}

type puller struct {
	s     *Server
	ss    *session
	shape [32]byte

	mu      sync.Mutex
	first   int // rows of pass 0 (0: not known yet)
	feeds   map[uint64]*feed
	taken   int64 // the highest pass handed to a Run, -1 before the first
	stopped bool
}

func newPuller(s *Server, ss *session, first int) *puller {
	pl := &puller{s: s, ss: ss, first: first, feeds: map[uint64]*feed{}, taken: -1,
		shape: ShapeDigest(s.cfg.Model.Config, ss.prm.Frac, ss.maxSeq)}
	if first > 0 {
		pl.mu.Lock()
		pl.tryStart(0)
		pl.mu.Unlock()
	}
	return pl
}

// take returns pass k's feed, which must be the plan's shape; it starts
// pulling pass k (if a prefetch did not) and lets pass k+1 follow.
func (pl *puller) take(k uint64, rows, pos0 int) (*feed, error) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.stopped {
		return nil, status.Error(codes.Aborted, "session closed")
	}
	if pl.first == 0 {
		if k != 0 || pos0 != 0 {
			return nil, status.Error(codes.FailedPrecondition, "the first pass must start at position 0")
		}
		pl.first = rows
	}
	if wr, wp := secure.PlanPass(pl.first, k); rows != wr || pos0 != wp {
		return nil, status.Errorf(codes.FailedPrecondition,
			"pass %d of %d rows at %d does not follow the dealer plan (%d rows at %d: a prefill, then one row per pass)", k, rows, pos0, wr, wp)
	}
	pl.taken = max(pl.taken, int64(k))
	pl.tryStart(k)
	f := pl.feeds[k]
	if f == nil {
		return nil, status.Error(codes.FailedPrecondition, "pass beyond the session's positions")
	}
	select {
	case <-f.done:
		pl.tryStart(k + 1)
	default:
	}
	return f, nil
}

// finish forgets pass k's feed (its stream has ended).
func (pl *puller) finish(k uint64) {
	pl.mu.Lock()
	delete(pl.feeds, k)
	pl.mu.Unlock()
}

// stop ends every stream (the session is freed).
func (pl *puller) stop() {
	pl.mu.Lock()
	pl.stopped = true
	fs := make([]*feed, 0, len(pl.feeds))
	for _, f := range pl.feeds {
		fs = append(fs, f)
	}
	pl.mu.Unlock()
	for _, f := range fs {
		f.cancel(errors.New("session closed"))
		f.mat.End(&dealerError{codes.Aborted, "session closed"})
	}
}

// tryStart starts pulling pass j if it is at most one pass ahead of the
// running one, lies within the session, and is not pulled yet. Call with
// pl.mu held.
func (pl *puller) tryStart(j uint64) {
	if pl.stopped || pl.first == 0 || int64(j) > pl.taken+1 || pl.feeds[j] != nil {
		return
	}
	rows, pos0 := secure.PlanPass(pl.first, j)
	if pos0+rows > pl.ss.maxSeq {
		return
	}
	ctx, cancel := context.WithCancelCause(pl.ss.ctx)
	f := &feed{index: j, rows: rows, pos0: pos0, mat: hss.NewFeed(pl.s.cfg.MaxFeed), cancel: cancel, done: make(chan struct{})}
	f.lastData.Store(time.Now().UnixNano())
	pl.feeds[j] = f
	go pl.stream(ctx, f)
	go pl.watch(ctx, f)
}

// stream pulls one pass's material into its feed.
func (pl *puller) stream(ctx context.Context, f *feed) {
	err := pl.pull(ctx, f)
	if err != nil {
		f.mat.End(pl.describe(ctx, err))
	} else {
		f.mat.End(nil)
	}
	f.cancel(nil)
	close(f.done)
	pl.mu.Lock()
	if err == nil {
		pl.tryStart(f.index + 1)
	}
	pl.mu.Unlock()
}

// dealerConnect is how long a pull waits for the connection to the dealer
// (a dealer that restarts is reached again; one that is down fails the
// pass after this).
const dealerConnect = 3 * time.Second

// connected waits until the connection to the dealer is ready, retrying at
// once if it was backing off after a failure.
func (pl *puller) connected(ctx context.Context) error {
	conn := pl.s.dealer
	st := conn.GetState()
	if st == connectivity.Ready {
		return nil
	}
	conn.ResetConnectBackoff()
	conn.Connect()
	ctx, cancel := context.WithTimeout(ctx, dealerConnect)
	defer cancel()
	for st = conn.GetState(); st != connectivity.Ready; st = conn.GetState() {
		if !conn.WaitForStateChange(ctx, st) {
			if pl.ss.ctx.Err() != nil {
				return ctx.Err()
			}
			return status.Errorf(codes.Unavailable, "no connection in %v", dealerConnect)
		}
	}
	return nil
}

func (pl *puller) pull(ctx context.Context, f *feed) error {
	if err := pl.connected(ctx); err != nil {
		return err
	}
	st, err := pb.NewDealerClient(pl.s.dealer).Material(ctx, &pb.MaterialRequest{SessionId: pl.ss.id[:], Pass: f.index,
		Rows: uint32(f.rows), Pos0: uint32(f.pos0), Shape: pl.shape[:]}, grpc.WaitForReady(true))
	if err != nil {
		return err
	}
	r := &chunkReader{recv: st.Recv, limit: pl.s.cfg.MaxMaterial, onData: func() { f.lastData.Store(time.Now().UnixNano()) }}
	var total int64
	for {
		k, n, err := hss.ReadKeyFrame(r, min(pl.s.cfg.MaxMaterial-total, MaxKeyPayload))
		if err == io.EOF {
			return nil
		}
		if errors.Is(err, hss.ErrFrameTooLarge) || errors.Is(err, errTooLarge) {
			return status.Error(codes.ResourceExhausted, "material over this party's limit")
		}
		if err != nil {
			return err
		}
		total += n
		f.bytes.Add(n)
		if p, ok := k.(interface{ PartyID() int }); ok && p.PartyID() != pl.s.cfg.ID {
			return status.Errorf(codes.InvalidArgument, "the dealer sent party %d's key to party %d", p.PartyID(), pl.s.cfg.ID)
		}
		if err := f.mat.Feed(k); err != nil {
			return err
		}
	}
}

// describe turns a stream failure into the pass's error.
func (pl *puller) describe(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && pl.ss.ctx.Err() == nil {
		var de *dealerError
		if errors.As(c, &de) {
			return de
		}
	}
	if pl.ss.ctx.Err() != nil || errors.Is(err, hss.ErrFeedEnded) {
		return &dealerError{codes.Aborted, "session closed"}
	}
	who := fmt.Sprintf("the dealer at %s", pl.s.cfg.Dealer)
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unavailable, codes.Canceled:
			return &dealerError{codes.Unavailable, who + " is unreachable or went away: " + st.Message()}
		case codes.Unknown:
		default:
			return &dealerError{st.Code(), who + " refused the material request: " + st.Message()}
		}
	}
	return &dealerError{codes.DataLoss, who + " sent malformed material: " + err.Error()}
}

// watch fails a feed whose pass waits for material that does not come:
// the dealer is down, stuck or far too slow.
func (pl *puller) watch(ctx context.Context, f *feed) {
	stall := pl.s.cfg.DealerStall
	tick := time.NewTicker(min(stall/4, 250*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			w := f.mat.Waiting()
			if w.IsZero() {
				continue
			}
			since := max(w.UnixNano(), f.lastData.Load())
			if now.UnixNano()-since > int64(stall) {
				err := &dealerError{codes.DeadlineExceeded, fmt.Sprintf("the dealer at %s sent no material for %v while the pass waited", pl.s.cfg.Dealer, stall)}
				f.cancel(err)
				f.mat.End(err)
				return
			}
		}
	}
}
