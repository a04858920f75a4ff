package party

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

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
func (s *Server) ServeHealth(lis net.Listener) error { return ServeGRPC(s.plain, lis) }

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
	return ServeGRPC(s.grpc, lis)
}

// ServeGRPC serves g on lis until it is stopped (which is not an error).
func ServeGRPC(g *grpc.Server, lis net.Listener) error {
	err := g.Serve(lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// StopGRPC stops g gracefully until ctx is done, then hard, and then plain (the health port's server).
func StopGRPC(ctx context.Context, g, plain *grpc.Server) {
	done := make(chan struct{})
	go func() { g.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		g.Stop()
	}
	plain.Stop()
}

// ReapLoop calls reap every quarter of idle (at most every 50 ms) until stop is closed: a server's
// sweep for sessions idle longer than idle.
func ReapLoop(stop <-chan struct{}, idle time.Duration, reap func(now time.Time)) {
	tick := time.NewTicker(max(idle/4, 50*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			reap(now)
		}
	}
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
	StopGRPC(ctx, s.grpc, s.plain)
	if s.peer != nil {
		s.peer.Close()
	}
	if s.dealer != nil {
		s.dealer.Close()
	}
}

// reap frees idle sessions.
func (s *Server) reap() { ReapLoop(s.stop, s.cfg.IdleTimeout, s.reapIdle) }

func (s *Server) reapIdle(now time.Time) {
	s.mu.Lock()
	var idle []*session
	for _, ss := range s.sessions {
		if ss.act.Idle(now) > s.cfg.IdleTimeout {
			idle = append(idle, ss)
		}
	}
	s.mu.Unlock()
	for _, ss := range idle {
		s.free(ss, "idle timeout")
	}
}

func (s *Server) encoded(prm hss.Params) (*secure.Weights, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if w, ok := s.weights[prm.Frac]; ok {
		return w, nil
	}
	if len(s.weights) >= 4 {
		return nil, errors.New("too many fixed-point precisions in use")
	}
	w, err := secure.EncodeWeights(s.cfg.Model, prm)
	if err != nil {
		return nil, err
	}
	s.weights[prm.Frac] = w
	return w, nil
}
