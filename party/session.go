package party

// A party's sessions: their state, lookup (bound to the opening
// certificate), Open and Close.

import (
	"bytes"
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/internal/idle"
	"github.com/hssee/hssee/model"
	pb "github.com/hssee/hssee/proto/hsseepb"
	"github.com/hssee/hssee/secure"
)

// session is one client's state at this party.
type session struct {
	id     SessionID
	owner  Identity // the certificate that opened it: only it may use the session
	mode   string
	prm    hss.Params // Frac from the Open request, the default width
	maxSeq int
	ctx    context.Context // done when the session is freed
	cancel context.CancelFunc
	opened time.Time
	act    *idle.Activity // Run streams and uploads in progress, the last event

	mu       sync.Mutex
	running  bool
	material map[uint64][]hss.MarshalKey
	matCh    chan struct{} // closed (and replaced) on each upload
	nextPass uint64
	started  uint64 // passes whose material a Run has taken (uploads for them are refused)
	uploads  int    // material uploads in flight
	link     *Link
	linkCh   chan struct{} // closed when link is set

	exec    *secure.Exec
	backend *secure.Party
	runner  *model.Runner
	pull    *puller // material from the dealer service (nil: uploads)
	out32   bool    // output shares go out mod 2^32
}

// free removes ss and releases everything it holds (its peer link too).
func (s *Server) free(ss *session, why string) {
	s.mu.Lock()
	cur, ok := s.sessions[ss.id]
	if ok && cur == ss {
		delete(s.sessions, ss.id)
	}
	s.mu.Unlock()
	if !ok || cur != ss {
		return
	}
	ss.cancel()
	ss.mu.Lock()
	link, runner, passes, pull := ss.link, ss.runner, ss.nextPass, ss.pull
	ss.material = nil
	ss.mu.Unlock()
	if pull != nil {
		pull.stop()
	}
	if link != nil {
		link.Close()
	}
	if runner != nil {
		runner.Close()
	}
	s.metrics.closed.WithLabelValues(why).Inc() // why is one of free's fixed reasons
	s.log.Info("session closed", "session", ss.id.LogID(), "why", why, "passes", passes,
		"age_ms", time.Since(ss.opened).Milliseconds())
}

func (s *Server) lookup(id SessionID) (*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[id]
	if !ok {
		return nil, status.Error(codes.NotFound, "no such session (closed, timed out, or never opened)")
	}
	return ss, nil
}

func (s *Server) sessionFromMD(ctx context.Context) (*session, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	v := md.Get(mdSession)
	if len(v) != 1 {
		return nil, status.Error(codes.InvalidArgument, "missing session id")
	}
	id, err := parseSessionHex(v[0])
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return s.lookupOwned(ctx, id)
}

// lookupOwned is lookup for a client's call: the session must have been
// opened with the caller's certificate (PermissionDenied otherwise).
func (s *Server) lookupOwned(ctx context.Context, id SessionID) (*session, error) {
	who, err := callerIdentity(ctx)
	if err != nil {
		return nil, err
	}
	ss, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	if ss.owner != who {
		return nil, errNotOwner
	}
	return ss, nil
}

type sessionService struct {
	pb.UnimplementedSessionServer
	s *Server
}

func (h *sessionService) Open(ctx context.Context, req *pb.OpenRequest) (*pb.OpenResponse, error) {
	resp, err := h.open(ctx, req)
	CountOpen(err, h.s.metrics.opened, h.s.metrics.refused)
	return resp, err
}

func (h *sessionService) open(ctx context.Context, req *pb.OpenRequest) (*pb.OpenResponse, error) {
	s := h.s
	id, err := parseSessionID(req.GetSessionId())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	owner, err := callerIdentity(ctx)
	if err != nil {
		return nil, err
	}
	c := s.cfg.Model.Config
	switch {
	case req.GetMode() != s.cfg.Mode:
		return nil, status.Errorf(codes.FailedPrecondition, "this party serves mode %q, not %q", s.cfg.Mode, req.GetMode())
	case !bytes.Equal(req.GetFingerprint(), s.fp[:]):
		return nil, status.Error(codes.FailedPrecondition, "model fingerprint mismatch: the client's model is not the one this party serves")
	case req.GetMaxSeq() > uint32(c.MaxSeqLen):
		return nil, status.Errorf(codes.InvalidArgument, "max seq %d exceeds the model's context %d", req.GetMaxSeq(), c.MaxSeqLen)
	case req.GetDealer() && s.cfg.Mode != ModeHSS:
		return nil, status.Error(codes.InvalidArgument, "ee sessions take no dealer material")
	case req.GetDealer() && s.dealer == nil:
		return nil, status.Error(codes.FailedPrecondition, "this party has no dealer service configured (its -dealer flag): upload material instead")
	}
	maxSeq := int(req.GetMaxSeq())
	if maxSeq == 0 {
		maxSeq = c.MaxSeqLen
	}
	if req.GetFirstRows() > uint32(maxSeq) {
		return nil, status.Error(codes.InvalidArgument, "first pass longer than the session")
	}
	if b := req.GetOutputBits(); b != 0 && b != 32 && b != 64 {
		return nil, status.Error(codes.InvalidArgument, "output bits must be 32 or 64")
	}
	// Only the precision travels; the width is the default (not negotiated).
	prm := hss.Params{Frac: uint(req.GetFrac()), Width: hss.DefaultParams().Width}
	if s.cfg.Mode == ModeHSS {
		if err := prm.Validate(); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "bad fixed-point precision: %v", err)
		}
	}
	sctx, cancel := context.WithCancel(context.Background())
	now := time.Now()
	ss := &session{id: id, owner: owner, mode: s.cfg.Mode, prm: prm, maxSeq: maxSeq, ctx: sctx, cancel: cancel, opened: now, act: idle.New(now), out32: req.GetOutputBits() == 32,
		material: map[uint64][]hss.MarshalKey{}, matCh: make(chan struct{}), linkCh: make(chan struct{})}
	switch s.cfg.Mode {
	case ModeHSS:
		w, err := s.encoded(prm)
		if err != nil {
			cancel()
			return nil, status.Errorf(codes.ResourceExhausted, "encode weights: %v", err)
		}
		ss.backend = &secure.Party{}
		if ss.exec, err = secure.NewExec(c, prm, w, ss.backend, maxSeq); err != nil {
			cancel()
			return nil, status.Errorf(codes.InvalidArgument, "%v", err)
		}
	case ModeEE:
		if ss.runner, err = model.NewRunnerThreads(s.cfg.Model, maxSeq, s.cfg.Threads); err != nil {
			cancel()
			return nil, status.Errorf(codes.InvalidArgument, "%v", err)
		}
	}
	s.mu.Lock()
	switch {
	case len(s.sessions) >= s.cfg.MaxSessions:
		s.mu.Unlock()
		cancel()
		return nil, status.Errorf(codes.ResourceExhausted, "too many sessions (%d)", s.cfg.MaxSessions)
	case s.sessions[id] != nil:
		s.mu.Unlock()
		cancel()
		return nil, status.Error(codes.AlreadyExists, "session id in use")
	case s.ownedLocked(owner) >= s.cfg.MaxPerClient:
		s.mu.Unlock()
		cancel()
		return nil, status.Errorf(codes.ResourceExhausted, "too many sessions for this client certificate (%d)", s.cfg.MaxPerClient)
	}
	s.sessions[id] = ss
	s.mu.Unlock()
	if s.cfg.Mode == ModeHSS && s.cfg.ID == 0 {
		if err := s.dialLink(ctx, ss); err != nil {
			s.free(ss, "peer link failed")
			return nil, err
		}
	}
	if req.GetDealer() {
		pl := newPuller(s, ss, int(req.GetFirstRows()))
		ss.mu.Lock()
		ss.pull = pl
		ss.mu.Unlock()
		if ss.ctx.Err() != nil { // freed meanwhile (peer link closed)
			pl.stop()
			return nil, status.Error(codes.Aborted, "session closed while opening")
		}
	}
	s.log.Info("session opened", "session", id.LogID(), "max_seq", maxSeq, "frac", prm.Frac, "dealer", req.GetDealer())
	return &pb.OpenResponse{Party: uint32(s.cfg.ID), Mode: s.cfg.Mode, MaxSeq: uint32(maxSeq),
		VocabSize: uint32(c.VocabSize), Dim: uint32(c.Dim)}, nil
}

// ownedLocked counts the sessions opened with certificate who (s.mu held).
func (s *Server) ownedLocked(who Identity) int {
	n := 0
	for _, ss := range s.sessions {
		if ss.owner == who {
			n++
		}
	}
	return n
}

func (h *sessionService) Close(ctx context.Context, req *pb.CloseRequest) (*pb.CloseResponse, error) {
	id, err := parseSessionID(req.GetSessionId())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	ss, err := h.s.lookupOwned(ctx, id)
	if err != nil {
		return nil, err
	}
	h.s.free(ss, "closed by client")
	return &pb.CloseResponse{}, nil
}
