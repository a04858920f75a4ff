package party

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
	pb "github.com/hssee/hssee/proto/hsseepb"
	"github.com/hssee/hssee/secure"
)

// Modes a server runs in.
const (
	ModeHSS = "hss" // one of two HSS-EE parties
	ModeEE  = "ee"  // single-server EE: the plain engine on an EE model
)

// Config configures a Server. The zero value of every limit means its
// default.
type Config struct {
	ID    int          // 0 or 1 (hss); ee servers may use either
	Mode  string       // ModeHSS (default) or ModeEE
	Model *model.Model // the (EE) model every session runs
	Creds *Credentials // this party's certificate and the deployment's CA
	Peer  string       // party 0, hss: party 1's address (host:port)
	// Dealer, hss: the dealer service's address (host:port). Sessions
	// opened with the dealer option pull their material from it (its
	// certificate must be the dealer's); without it, such sessions are
	// refused and the client uploads material.
	Dealer string
	Log    *slog.Logger // nil: discard

	MaxSessions     int           // concurrent sessions (default 64)
	MaxPerClient    int           // concurrent sessions of one client certificate (default DefaultMaxSessionsPerClient)
	IdleTimeout     time.Duration // a session unused this long is freed (default 5 min)
	MaterialTimeout time.Duration // how long a pass waits for its dealer material (default 2 min)
	LinkTimeout     time.Duration // how long opening the peer link may take (default 10 s)
	MaxMaterial     int64         // bytes of dealer material per pass (default 16 GiB)
	MaxRound        int           // bytes of one protocol round from the peer (default DefaultMaxRound)
	Threads         int           // ee: threads per session (0: all cores)
	DealerStall     time.Duration // a pass waiting this long for dealer material that does not come fails (default 8 s)
	MaxFeed         int64         // bytes of pulled material a pass holds before it consumes them (default 256 MiB)
}

// Server is one party's gRPC server: the Session service, the Peer service
// (party 1, hss), and the standard health service.
type Server struct {
	cfg     Config
	fp      [32]byte
	log     *slog.Logger
	grpc    *grpc.Server
	health  *health.Server
	plain   *grpc.Server     // grpc.health.v1 alone, without TLS (ServeHealth)
	peer    *grpc.ClientConn // party 0, hss
	metrics *partyMetrics
	dealer  *grpc.ClientConn // hss with Config.Dealer

	wmu     sync.Mutex
	weights map[uint]*secure.Weights

	mu       sync.Mutex
	sessions map[SessionID]*session
	stop     chan struct{}
	stopOnce sync.Once
}

// NewServer checks cfg and prepares a server; Serve starts it.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Mode == "" {
		cfg.Mode = ModeHSS
	}
	switch {
	case cfg.Mode != ModeHSS && cfg.Mode != ModeEE:
		return nil, fmt.Errorf("party: unknown mode %q (hss or ee)", cfg.Mode)
	case cfg.ID != 0 && cfg.ID != 1:
		return nil, fmt.Errorf("party: id %d is not 0 or 1", cfg.ID)
	case cfg.Model == nil:
		return nil, errors.New("party: no model")
	case cfg.Creds == nil:
		return nil, errors.New("party: no TLS credentials")
	case cfg.Mode == ModeHSS && cfg.ID == 0 && cfg.Peer == "":
		return nil, errors.New("party: party 0 needs its peer's address")
	}
	if err := cfg.Model.Check(); err != nil {
		return nil, fmt.Errorf("party: %w", err)
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.IdleTimeout, 5*time.Minute)
	def(&cfg.MaterialTimeout, 2*time.Minute)
	def(&cfg.LinkTimeout, 10*time.Second)
	def(&cfg.DealerStall, 8*time.Second)
	if cfg.MaxFeed <= 0 {
		cfg.MaxFeed = 256 << 20
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 64
	}
	if cfg.MaxPerClient <= 0 {
		cfg.MaxPerClient = DefaultMaxSessionsPerClient
	}
	if cfg.MaxMaterial <= 0 {
		cfg.MaxMaterial = 16 << 30
	}
	if cfg.MaxRound <= 0 {
		cfg.MaxRound = DefaultMaxRound
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, fp: model.Fingerprint(cfg.Model), log: cfg.Log.With("party", cfg.ID, "mode", cfg.Mode),
		weights: map[uint]*secure.Weights{}, sessions: map[SessionID]*session{}, stop: make(chan struct{})}
	s.metrics = newPartyMetrics(s)
	s.grpc = NewGRPCServer(cfg.Creds, RPCErrorInterceptors(s.metrics.rpcErrors, &pb.Session_ServiceDesc, &pb.Peer_ServiceDesc,
		&healthpb.Health_ServiceDesc)...)
	pb.RegisterSessionServer(s.grpc, &sessionService{s: s})
	if cfg.Mode == ModeHSS && cfg.ID == 1 {
		pb.RegisterPeerServer(s.grpc, &peerService{s: s})
	}
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	s.plain = NewHealthServer(s.health)
	if cfg.Mode == ModeHSS && cfg.ID == 0 {
		conn, err := dialWith(cfg.Peer, cfg.Creds, PartyName(1), time.Second)
		if err != nil {
			return nil, fmt.Errorf("party: peer %s: %w", cfg.Peer, err)
		}
		s.peer = conn
	}
	if cfg.Mode == ModeHSS && cfg.Dealer != "" {
		conn, err := dialWith(cfg.Dealer, cfg.Creds, DealerName, time.Second)
		if err != nil {
			return nil, fmt.Errorf("party: dealer %s: %w", cfg.Dealer, err)
		}
		s.dealer = conn
	}
	return s, nil
}

// NewGRPCServer returns a gRPC server for one of the deployment's servers:
// TLS 1.3 requiring a client certificate from the CA, and keepalives.
func NewGRPCServer(creds *Credentials, opts ...grpc.ServerOption) *grpc.Server {
	return grpc.NewServer(append([]grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(creds.ServerConfig())),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 15 * time.Second, Timeout: 5 * time.Second}),
	}, opts...)...)
}

// NewHealthServer returns a plaintext gRPC server with only h, the
// grpc.health.v1 service (-health): orchestrators' probes (the kubelet's
// gRPC probe) cannot present a client certificate, and the health status
// is not a secret. It serves nothing else.
func NewHealthServer(h *health.Server) *grpc.Server {
	g := grpc.NewServer(grpc.MaxRecvMsgSize(4<<10), grpc.MaxConcurrentStreams(16))
	healthpb.RegisterHealthServer(g, h)
	return g
}

// ServeHealth serves the health service alone, without TLS, on lis until
// Shutdown (-health).
func (s *Server) ServeHealth(lis net.Listener) error {
	err := s.plain.Serve(lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// dialWith prepares a connection to addr presenting creds and requiring a
// server certificate of common name want ("" any), with reconnection
// backoff up to maxBackoff and keepalives.
func dialWith(addr string, creds *Credentials, want string, maxBackoff time.Duration) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(creds.ClientConfig(want))),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond,
			Multiplier: 1.6, Jitter: 0.2, MaxDelay: maxBackoff}, MinConnectTimeout: 5 * time.Second}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 15 * time.Second, Timeout: 5 * time.Second}))
}

// Fingerprint is the served model's fingerprint.
func (s *Server) Fingerprint() [32]byte { return s.fp }

// Sessions is the number of live sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Serve serves on lis until Shutdown.
func (s *Server) Serve(lis net.Listener) error {
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(pb.Session_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	go s.reap()
	s.log.Info("serving", "addr", lis.Addr().String(), "fingerprint", fmt.Sprintf("%x", s.fp[:8]))
	err := s.grpc.Serve(lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Shutdown stops accepting calls, reports NOT_SERVING, frees every
// session and waits for handlers to return (at most until ctx is done,
// then stops hard).
func (s *Server) Shutdown(ctx context.Context) {
	s.health.Shutdown()
	s.stopOnce.Do(func() { close(s.stop) })
	s.mu.Lock()
	all := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		s.free(ss, "shutdown")
	}
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.grpc.Stop()
	}
	s.plain.Stop()
	if s.peer != nil {
		s.peer.Close()
	}
	if s.dealer != nil {
		s.dealer.Close()
	}
}

// reap frees idle sessions.
func (s *Server) reap() {
	tick := time.NewTicker(max(s.cfg.IdleTimeout/4, 50*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-tick.C:
			s.mu.Lock()
			var idle []*session
			for _, ss := range s.sessions {
				if ss.idleSince(now) > s.cfg.IdleTimeout {
					idle = append(idle, ss)
				}
			}
			s.mu.Unlock()
			for _, ss := range idle {
				s.free(ss, "idle timeout")
			}
		}
	}
}

func (s *Server) encoded(fx hss.Fixed) (*secure.Weights, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if w, ok := s.weights[fx.Frac]; ok {
		return w, nil
	}
	if len(s.weights) >= 4 {
		return nil, errors.New("too many fixed-point precisions in use")
	}
	w, err := secure.EncodeWeights(s.cfg.Model, fx)
	if err != nil {
		return nil, err
	}
	s.weights[fx.Frac] = w
	return w, nil
}

// session is one client's state at this party.
type session struct {
	id     SessionID
	owner  Identity // the certificate that opened it: only it may use the session
	mode   string
	fx     hss.Fixed
	maxSeq int
	ctx    context.Context // done when the session is freed
	cancel context.CancelFunc
	opened time.Time

	mu       sync.Mutex
	last     time.Time
	busy     int // Run streams and uploads in progress
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

func (ss *session) idleSince(now time.Time) time.Duration {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.busy > 0 {
		return 0
	}
	return now.Sub(ss.last)
}

func (ss *session) touch(delta int) {
	ss.mu.Lock()
	ss.busy += delta
	ss.last = time.Now()
	ss.mu.Unlock()
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
	if err != nil {
		h.s.metrics.refused.WithLabelValues(status.Code(err).String()).Inc()
	} else {
		h.s.metrics.opened.Inc()
	}
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
	fx := hss.Fixed{Frac: uint(req.GetFrac())}
	if s.cfg.Mode == ModeHSS {
		if err := fx.Validate(); err != nil || fx.Frac == 0 {
			return nil, status.Error(codes.InvalidArgument, "bad fixed-point precision")
		}
	}
	sctx, cancel := context.WithCancel(context.Background())
	now := time.Now()
	ss := &session{id: id, owner: owner, mode: s.cfg.Mode, fx: fx, maxSeq: maxSeq, ctx: sctx, cancel: cancel, opened: now, last: now, out32: req.GetOutputBits() == 32,
		material: map[uint64][]hss.MarshalKey{}, matCh: make(chan struct{}), linkCh: make(chan struct{})}
	switch s.cfg.Mode {
	case ModeHSS:
		w, err := s.encoded(fx)
		if err != nil {
			cancel()
			return nil, status.Errorf(codes.ResourceExhausted, "encode weights: %v", err)
		}
		ss.backend = &secure.Party{}
		if ss.exec, err = secure.NewExec(c, fx, w, ss.backend, maxSeq); err != nil {
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
	s.log.Info("session opened", "session", id.LogID(), "max_seq", maxSeq, "frac", fx.Frac, "dealer", req.GetDealer())
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

// dialLink opens the peer link for ss (party 0) and runs the handshake.
func (s *Server) dialLink(ctx context.Context, ss *session) error {
	sctx, cancel := context.WithCancel(ss.ctx)
	md := metadata.Pairs(mdSession, ss.id.String())
	timer := time.AfterFunc(s.cfg.LinkTimeout, cancel)
	stop := context.AfterFunc(ctx, cancel) // the client gave up on Open
	defer stop()
	stream, err := pb.NewPeerClient(s.peer).Link(metadata.NewOutgoingContext(sctx, md), grpc.WaitForReady(true))
	if err == nil {
		err = stream.Send(&pb.PeerFrame{Hello: s.hello(ss)})
	}
	var reply *pb.PeerFrame
	if err == nil {
		reply, err = stream.Recv()
	}
	if !timer.Stop() || ctx.Err() != nil {
		cancel()
		return status.Errorf(codes.Unavailable, "party 0 could not link to party 1 at %s in time", s.cfg.Peer)
	}
	if err != nil {
		cancel()
		if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown && st.Code() != codes.Unavailable {
			return status.Errorf(st.Code(), "party 1 refused the link: %s", st.Message())
		}
		return status.Errorf(codes.Unavailable, "party 0 cannot reach party 1 at %s: %v", s.cfg.Peer, err)
	}
	if h := reply.GetHello(); h == nil || !bytes.Equal(h.GetFingerprint(), s.fp[:]) || h.GetParty() != 1 {
		cancel()
		return status.Error(codes.FailedPrecondition, "model fingerprint mismatch between the parties")
	}
	ss.mu.Lock()
	ss.link = newLink(stream, cancel, s.cfg.MaxRound)
	close(ss.linkCh)
	ss.mu.Unlock()
	return nil
}

func (s *Server) hello(ss *session) *pb.Hello {
	return &pb.Hello{SessionId: ss.id[:], Fingerprint: s.fp[:], Frac: uint32(ss.fx.Frac), MaxSeq: uint32(ss.maxSeq),
		Party: uint32(s.cfg.ID)}
}

type peerService struct {
	pb.UnimplementedPeerServer
	s *Server
}

// PeerName is the verified common name of the caller's certificate in a
// gRPC handler's context ("" without one).
func PeerName(ctx context.Context) string { return peerName(ctx) }

// peerName is the verified common name of the caller's certificate.
func peerName(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return ""
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return ""
	}
	return ti.State.VerifiedChains[0][0].Subject.CommonName
}

func (h *peerService) Link(stream pb.Peer_LinkServer) error {
	s := h.s
	if peerName(stream.Context()) != PartyName(0) {
		return status.Error(codes.PermissionDenied, "only party 0 may link")
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	hello := first.GetHello()
	if hello == nil {
		return status.Error(codes.InvalidArgument, "first peer message is not a hello")
	}
	id, err := parseSessionID(hello.GetSessionId())
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	ss, err := s.lookup(id)
	if err != nil {
		return err
	}
	switch {
	case !bytes.Equal(hello.GetFingerprint(), s.fp[:]):
		s.free(ss, "peer model mismatch")
		return status.Error(codes.FailedPrecondition, "model fingerprint mismatch between the parties")
	case hello.GetFrac() != uint32(ss.fx.Frac) || hello.GetMaxSeq() != uint32(ss.maxSeq) || hello.GetParty() != 0:
		s.free(ss, "peer session mismatch")
		return status.Error(codes.FailedPrecondition, "the parties' sessions differ (precision or length)")
	}
	if err := stream.Send(&pb.PeerFrame{Hello: s.hello(ss)}); err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	ss.mu.Lock()
	if ss.link != nil {
		ss.mu.Unlock()
		return status.Error(codes.AlreadyExists, "session already linked")
	}
	ss.link = newLink(stream, cancel, s.cfg.MaxRound)
	close(ss.linkCh)
	ss.mu.Unlock()
	select {
	case <-ss.ctx.Done():
	case <-lctx.Done():
		s.free(ss, "peer link closed")
	}
	return nil
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

// chunkReader reads a stream of material chunks (an Upload, or a pull from
// the dealer service) as one byte stream.
type chunkReader struct {
	recv   func() (*pb.MaterialChunk, error) // the stream's next message
	onData func()                            // called for every message (nil: none)
	buf    []byte
	total  int64
	limit  int64
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		c, err := r.recv()
		if err != nil {
			return 0, err
		}
		if len(c.GetData()) > ChunkSize {
			return 0, fmt.Errorf("material chunk: %w", errTooLarge)
		}
		r.total += int64(len(c.GetData()))
		if r.total > r.limit+1<<16 {
			return 0, fmt.Errorf("material: %w", errTooLarge)
		}
		if r.onData != nil {
			r.onData()
		}
		r.buf = c.GetData()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// maxUploads bounds a session's material uploads in flight at one party:
// the client sends one per pass, at most two passes ahead (plus a
// replacement), so more is a misbehaving client holding memory.
const maxUploads = 4

func (h *sessionService) Upload(stream pb.Session_UploadServer) error {
	s := h.s
	ss, err := s.sessionFromMD(stream.Context())
	if err != nil {
		return err
	}
	if ss.mode != ModeHSS {
		return status.Error(codes.FailedPrecondition, "ee sessions take no dealer material")
	}
	ss.mu.Lock()
	fromDealer := ss.pull != nil
	ss.mu.Unlock()
	if fromDealer {
		return status.Error(codes.FailedPrecondition, "this session's material comes from the dealer service: uploads are refused")
	}
	md, _ := metadata.FromIncomingContext(stream.Context())
	v := md.Get(mdPass)
	if len(v) != 1 {
		return status.Error(codes.InvalidArgument, "missing pass index")
	}
	pass, err := strconv.ParseUint(v[0], 10, 64)
	if err != nil {
		return status.Error(codes.InvalidArgument, "malformed pass index")
	}
	ss.mu.Lock()
	next, started := ss.nextPass, ss.started
	if ss.uploads >= maxUploads {
		ss.mu.Unlock()
		return status.Errorf(codes.ResourceExhausted, "more than %d material uploads in flight", maxUploads)
	}
	ss.uploads++
	ss.mu.Unlock()
	defer func() {
		ss.mu.Lock()
		ss.uploads--
		ss.mu.Unlock()
	}()
	if pass < max(next, started) || pass > next+2 {
		return status.Errorf(codes.InvalidArgument, "material for pass %d, expected pass %d..%d", pass, max(next, started), next+2)
	}
	ss.touch(1)
	defer ss.touch(-1)
	r := &chunkReader{recv: stream.Recv, limit: s.cfg.MaxMaterial}
	keys, n, err := readKeys(r, s.cfg.ID, s.cfg.MaxMaterial)
	s.metrics.material.WithLabelValues("upload").Add(float64(r.total))
	if err != nil {
		return rpcError(stream.Context(), "material", err)
	}
	ss.mu.Lock()
	if ss.material == nil || pass < ss.nextPass || pass < ss.started {
		ss.mu.Unlock()
		return status.Error(codes.Aborted, "session moved on or closed during upload")
	}
	// Material for a pass that has not started may be replaced: a client
	// that uploaded ahead for a pass of another shape sends the right one
	// before it submits the pass.
	if keys == nil {
		keys = []hss.MarshalKey{}
	}
	ss.material[pass] = keys
	close(ss.matCh)
	ss.matCh = make(chan struct{})
	ss.mu.Unlock()
	return stream.SendAndClose(&pb.UploadResponse{Keys: uint64(len(keys)), Bytes: uint64(n)})
}

// rpcError maps a decoding or stream error to a status.
func rpcError(ctx context.Context, what string, err error) error {
	if _, ok := status.FromError(err); ok && status.Code(err) != codes.Unknown {
		return err
	}
	switch {
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	case errors.Is(err, errTooLarge):
		return status.Errorf(codes.ResourceExhausted, "%s: %v", what, err)
	default:
		return status.Errorf(codes.InvalidArgument, "%s: %v", what, err)
	}
}

// pass is one forward pass as the client submitted it.
type pass struct {
	index      uint64
	rows, pos0 int
	seed       []byte
	shares     []uint64
	ids        []int
}

func (h *sessionService) Run(stream pb.Session_RunServer) error {
	s := h.s
	ss, err := s.sessionFromMD(stream.Context())
	if err != nil {
		return err
	}
	ss.mu.Lock()
	if ss.running {
		ss.mu.Unlock()
		return status.Error(codes.FailedPrecondition, "session already has a Run stream")
	}
	ss.running = true
	ss.mu.Unlock()
	why := "run stream ended"
	defer func() { s.free(ss, why) }()
	// A client that goes away frees the session at once, even mid-pass
	// (the peer link is closed, so the protocol aborts).
	stop := context.AfterFunc(stream.Context(), func() { s.free(ss, "client gone") })
	defer stop()

	reqs := make(chan *pb.RunRequest)
	rerr := make(chan error, 1)
	go func() {
		for {
			r, err := stream.Recv()
			if err != nil {
				rerr <- err
				return
			}
			select {
			case reqs <- r:
			case <-ss.ctx.Done():
				return
			}
		}
	}()
	next := func() (*pb.RunRequest, error) {
		select {
		case r := <-reqs:
			return r, nil
		case err := <-rerr:
			return nil, err
		case <-ss.ctx.Done():
			return nil, status.Error(codes.Aborted, "session closed")
		}
	}
	var sendMu sync.Mutex
	send := func(r *pb.RunResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(r)
	}
	for {
		first, err := next()
		if err == io.EOF {
			why = "closed by client"
			return nil
		} else if err != nil {
			return rpcError(stream.Context(), "run", err)
		}
		p, err := s.readPass(ss, first, next)
		if err != nil {
			why = "bad request"
			return rpcError(stream.Context(), "run", err)
		}
		ss.touch(1)
		start := time.Now()
		var out []byte
		var traffic hss.Stats
		var material int64
		switch ss.mode {
		case ModeHSS:
			out, traffic, material, err = s.passHSS(ss, p, send)
		case ModeEE:
			out, err = s.passEE(ss, p)
		}
		ss.touch(-1)
		s.observePass(ss, p, time.Since(start), traffic, material, err)
		if err != nil {
			why = "pass failed"
			s.log.Warn("pass failed", "session", ss.id.LogID(), "pass", p.index, "rows", p.rows, "pos0", p.pos0, "err", err)
			if status.Code(err) == codes.Unknown {
				err = status.Errorf(codes.Internal, "pass %d: %v", p.index, err)
			}
			return err
		}
		s.log.Debug("pass", "session", ss.id.LogID(), "pass", p.index, "rows", p.rows, "pos0", p.pos0,
			"ms", time.Since(start).Milliseconds(), "rounds", traffic.Rounds, "bytes_sent", traffic.BytesSent)
		parts := chunks(out)
		for i, c := range parts {
			r := &pb.RunResponse{Pass: p.index, Last: i == len(parts)-1}
			if ss.mode == ModeHSS {
				r.Shares = c
			} else {
				r.Logits = c
			}
			if r.Last && ss.mode == ModeHSS {
				r.Traffic = &pb.Traffic{BytesSent: traffic.BytesSent, BytesRecv: traffic.BytesRecv, Rounds: traffic.Rounds,
					MaterialBytes: material}
			}
			if err := send(r); err != nil {
				return err
			}
		}
		ss.mu.Lock()
		ss.nextPass++
		ss.mu.Unlock()
	}
}

// observePass records a pass in the metrics.
func (s *Server) observePass(ss *session, p *pass, d time.Duration, traffic hss.Stats, material int64, err error) {
	m := s.metrics
	if err != nil {
		m.passes.WithLabelValues("failed").Inc()
		return
	}
	m.passes.WithLabelValues("ok").Inc()
	kind := "decode"
	if p.rows > 1 {
		kind = "prefill"
	}
	m.passSeconds.WithLabelValues(kind).Observe(d.Seconds())
	m.peerSent.Add(float64(traffic.BytesSent))
	m.peerReceived.Add(float64(traffic.BytesRecv))
	m.peerRounds.Add(float64(traffic.Rounds))
	ss.mu.Lock()
	pulled := ss.pull != nil
	ss.mu.Unlock()
	if pulled {
		m.material.WithLabelValues("dealer").Add(float64(material))
	}
}

// readPass reads and checks one pass's requests.
func (s *Server) readPass(ss *session, first *pb.RunRequest, next func() (*pb.RunRequest, error)) (*pass, error) {
	c := s.cfg.Model.Config
	ss.mu.Lock()
	want := ss.nextPass
	ss.mu.Unlock()
	pos := 0
	if ss.exec != nil {
		pos = ss.exec.Pos()
	} else if ss.runner != nil {
		pos = ss.runner.Pos()
	}
	p := &pass{index: first.GetPass(), rows: int(first.GetRows()), pos0: int(first.GetPos0())}
	switch {
	case p.index != want:
		return nil, fmt.Errorf("pass %d out of order (want %d)", p.index, want)
	case p.rows < 1 || p.rows > ss.maxSeq:
		return nil, fmt.Errorf("pass of %d rows", p.rows)
	case p.pos0 != pos:
		return nil, fmt.Errorf("pass at position %d, the session is at %d", p.pos0, pos)
	case p.pos0+p.rows > ss.maxSeq:
		return nil, fmt.Errorf("pass of %d rows at %d exceeds the session's %d positions", p.rows, p.pos0, ss.maxSeq)
	}
	if ss.mode == ModeEE {
		if len(first.GetIds()) != p.rows || !first.GetLast() || len(first.GetShares()) > 0 || len(first.GetSeed()) > 0 {
			return nil, errors.New("ee pass: want exactly rows ids in one message")
		}
		p.ids = make([]int, p.rows)
		for i, id := range first.GetIds() {
			if id >= uint32(c.VocabSize) {
				return nil, errors.New("ee pass: token id out of range")
			}
			p.ids[i] = int(id)
		}
		return p, nil
	}
	if len(first.GetIds()) > 0 {
		return nil, errors.New("hss pass: unexpected ids")
	}
	if s.cfg.ID == 0 {
		if len(first.GetSeed()) != 32 || len(first.GetShares()) > 0 || !first.GetLast() {
			return nil, errors.New("party 0 pass: want one message with a 32-byte seed")
		}
		p.seed = first.GetSeed()
		return p, nil
	}
	want64 := p.rows * c.Dim
	p.shares = make([]uint64, 0, want64)
	r := first
	for {
		if len(r.GetSeed()) > 0 || len(r.GetIds()) > 0 || (r != first && (r.GetRows() != 0 || r.GetPass() != p.index)) {
			return nil, errors.New("party 1 pass: malformed continuation")
		}
		if len(r.GetShares()) > 8*(want64-len(p.shares)) {
			return nil, errors.New("party 1 pass: more shares than rows × dim")
		}
		var err error
		if p.shares, err = decodeU64s(p.shares, r.GetShares()); err != nil {
			return nil, err
		}
		if r.GetLast() {
			break
		}
		if r, err = next(); err != nil {
			return nil, err
		}
	}
	if len(p.shares) != want64 {
		return nil, fmt.Errorf("party 1 pass: %d shares, want rows × dim = %d", len(p.shares), want64)
	}
	return p, nil
}

// waitMaterial waits for pass index's material (and, on party 1, the peer
// link).
func (s *Server) waitMaterial(ss *session, index uint64) ([]hss.MarshalKey, *Link, error) {
	deadline := time.NewTimer(s.cfg.MaterialTimeout)
	defer deadline.Stop()
	for {
		ss.mu.Lock()
		keys, ch, link := ss.material[index], ss.matCh, ss.link
		if keys != nil && link != nil {
			// Taken under the same lock it was read: a replacement cannot
			// slip in between, and no upload for this pass is taken after.
			delete(ss.material, index)
			ss.started = max(ss.started, index+1)
			ss.mu.Unlock()
			return keys, link, nil
		}
		ss.mu.Unlock()
		if keys != nil {
			ch = ss.linkCh
		}
		select {
		case <-ch:
		case <-ss.ctx.Done():
			return nil, nil, status.Error(codes.Aborted, "session closed")
		case <-deadline.C:
			if keys == nil {
				return nil, nil, status.Error(codes.DeadlineExceeded, "the pass's dealer material did not arrive in time")
			}
			return nil, nil, status.Error(codes.DeadlineExceeded, "party 0 did not link in time")
		}
	}
}

func (s *Server) passHSS(ss *session, p *pass, send func(*pb.RunResponse) error) (out []byte, traffic hss.Stats, material int64, err error) {
	ss.mu.Lock()
	pull := ss.pull
	ss.mu.Unlock()
	var mat *hss.Material
	var link *Link
	var fd *feed
	if pull != nil {
		if fd, err = pull.take(p.index, p.rows, p.pos0); err != nil {
			return nil, traffic, 0, err
		}
		defer pull.finish(p.index)
		if link, err = s.waitLink(ss); err != nil {
			return nil, traffic, 0, err
		}
		mat = fd.mat
	} else {
		var keys []hss.MarshalKey
		if keys, link, err = s.waitMaterial(ss, p.index); err != nil {
			return nil, traffic, 0, err
		}
		ks := make([]hss.Key, len(keys))
		for i, k := range keys {
			ks[i] = k
			material += int64(k.Size())
		}
		mat = hss.NewMaterial(ks...)
	}
	c := s.cfg.Model.Config
	in := p.shares
	if s.cfg.ID == 0 {
		var seed [32]byte
		copy(seed[:], p.seed)
		in = hss.ExpandShare(seed, p.rows*c.Dim)
	}
	before := link.Stats()
	start := time.Now()
	done := make(chan struct{})
	var ticker sync.WaitGroup
	defer ticker.Wait() // no progress message may follow the pass's answer
	defer close(done)
	ticker.Add(1)
	go func() {
		defer ticker.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				send(&pb.RunResponse{Pass: p.index, Progress: &pb.Progress{Rounds: link.Stats().Rounds - before.Rounds,
					ElapsedMs: time.Since(start).Milliseconds()}})
			}
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("internal error in pass", "session", ss.id.LogID(), "panic", fmt.Sprint(r))
			err = status.Error(codes.Internal, "internal error")
			link.Close()
		}
	}()
	// A pulled pass ends with its stream: it must bring no more keys.
	o, err := ss.exec.Pass(ss.backend, s.cfg.Model, &hss.Party{ID: s.cfg.ID, T: link, Fx: ss.fx, Keys: mat}, in, p.rows, p.pos0)
	if fd != nil {
		material = fd.bytes.Load()
	}
	if err != nil {
		link.Close()
		var de *dealerError
		switch {
		case errors.As(err, &de):
			if ss.ctx.Err() != nil {
				return nil, traffic, material, status.Error(codes.Aborted, "session closed during the pass")
			}
			return nil, traffic, material, status.Errorf(de.code, "party %d, pass %d: %s", s.cfg.ID, p.index, de.msg)
		case errors.Is(err, ErrLinkBroken):
			if ss.ctx.Err() != nil {
				return nil, traffic, material, status.Error(codes.Aborted, "session closed during the pass")
			}
			return nil, traffic, material, status.Errorf(codes.Unavailable, "party %d lost its peer during the pass", s.cfg.ID)
		}
		return nil, traffic, material, status.Errorf(codes.Internal, "pass %d: %v", p.index, err)
	}
	if ss.out32 {
		return appendU32s(make([]byte, 0, 4*len(o)), o), link.Stats().Sub(before), material, nil
	}
	return appendU64s(make([]byte, 0, 8*len(o)), o), link.Stats().Sub(before), material, nil
}

// waitLink waits for the session's peer link (party 1: until party 0 has
// linked).
func (s *Server) waitLink(ss *session) (*Link, error) {
	deadline := time.NewTimer(s.cfg.LinkTimeout)
	defer deadline.Stop()
	ss.mu.Lock()
	link, ch := ss.link, ss.linkCh
	ss.mu.Unlock()
	if link != nil {
		return link, nil
	}
	select {
	case <-ch:
	case <-ss.ctx.Done():
		return nil, status.Error(codes.Aborted, "session closed")
	case <-deadline.C:
		return nil, status.Error(codes.DeadlineExceeded, "party 0 did not link in time")
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.link, nil
}

func (s *Server) passEE(ss *session, p *pass) ([]byte, error) {
	logits, err := ss.runner.Forward(p.ids)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	return appendF32s(make([]byte, 0, 4*len(logits)), logits), nil
}
