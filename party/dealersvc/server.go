// Package dealersvc is the dealer service of a three-host HSS-EE
// deployment (cmd/dealer): the gRPC face of dealer.Service. The client
// opens a session with the model's shape; each party pulls its own share
// of each pass's material, as a stream of key frames made while it is
// sent, at datacenter bandwidth, so the client uploads nothing but its
// input shares.
//
// Trust: the dealer sees shapes only (no weights, inputs or keys of the EE
// model) but knows both parties' material, so it must collude with
// neither party: run it on the client's own cloud VM or a third provider.
// Every call needs a certificate from the deployment's CA: Open and Close
// a client's ("hssee-client"), Material a party's ("hssee-party0" or
// "hssee-party1"), and the share a caller gets is chosen by its
// certificate, never by the request. Material is one-time: a pass is
// streamed once to each party.
//
// The parties never link this package (they pull material with the
// client code in package party); it is the only gRPC code that imports
// package dealer.
package dealersvc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/hssee/hssee/dealer"
	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/party"
	pb "github.com/hssee/hssee/proto/hsseepb"
)

// Config configures a Server.
type Config struct {
	Service     *dealer.Service    // its MaxPerOwner is -max-sessions-per-client
	Creds       *party.Credentials // the dealer's certificate and the deployment's CA
	Log         *slog.Logger       // nil: discard
	IdleTimeout time.Duration      // a session without requests this long is freed (default 5 min)
}

// Server is the dealer's gRPC server: the Dealer service and the standard
// health service.
type Server struct {
	cfg    Config
	svc    *dealer.Service
	log    *slog.Logger
	grpc   *grpc.Server
	health *health.Server
	plain  *grpc.Server // grpc.health.v1 alone, without TLS (ServeHealth)
	stop   chan struct{}

	metrics *metrics
}

// NewServer prepares a server; Serve starts it.
func NewServer(cfg Config) (*Server, error) {
	switch {
	case cfg.Service == nil:
		return nil, errors.New("dealersvc: no dealer service")
	case cfg.Creds == nil:
		return nil, errors.New("dealersvc: no TLS credentials")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, svc: cfg.Service, log: cfg.Log, stop: make(chan struct{})}
	s.metrics = newMetrics(s)
	s.grpc = party.NewGRPCServer(cfg.Creds, party.RPCErrorInterceptors(s.metrics.rpcErrors, services...)...)
	pb.RegisterDealerServer(s.grpc, &service{s: s})
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	s.plain = party.NewHealthServer(s.health)
	return s, nil
}

// Serve serves on lis until Shutdown.
func (s *Server) Serve(lis net.Listener) error {
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(pb.Dealer_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	go s.reap()
	s.log.Info("serving", "addr", lis.Addr().String(), "prefetch_passes", s.svc.Prefetch())
	return party.ServeGRPC(s.grpc, lis)
}

// Sessions is the number of open sessions.
func (s *Server) Sessions() int { return s.svc.Stats().Sessions }

// ServeHealth serves the health service alone, without TLS, on lis until
// Shutdown (-health: for orchestrators' probes, which present no client
// certificate).
func (s *Server) ServeHealth(lis net.Listener) error { return party.ServeGRPC(s.plain, lis) }

// Shutdown reports NOT_SERVING, ends every session (their streams fail)
// and stops (gracefully until ctx is done, then hard).
func (s *Server) Shutdown(ctx context.Context) {
	s.health.Shutdown()
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.svc.Shutdown()
	party.StopGRPC(ctx, s.grpc, s.plain)
}

func (s *Server) reap() {
	party.ReapLoop(s.stop, s.cfg.IdleTimeout, func(time.Time) {
		if n := s.svc.Reap(s.cfg.IdleTimeout); n > 0 {
			s.metrics.closed.WithLabelValues("idle").Add(float64(n))
			s.log.Info("sessions closed", "why", "idle timeout", "sessions", n)
		}
	})
}

type service struct {
	pb.UnimplementedDealerServer
	s *Server
}

// MaxConfig bounds the JSON of a model shape in an Open request.
const MaxConfig = 64 << 10

// DecodeSpec checks and decodes an Open request: the session id and the
// session's shape (strict JSON: unknown fields are refused), precision,
// positions and first pass.
func DecodeSpec(req *pb.DealerOpenRequest) (party.SessionID, dealer.SessionSpec, error) {
	var spec dealer.SessionSpec
	id, err := party.ParseSessionID(req.GetSessionId())
	if err != nil {
		return id, spec, err
	}
	if len(req.GetConfig()) > MaxConfig {
		return id, spec, errors.New("model shape too large")
	}
	dec := json.NewDecoder(bytes.NewReader(req.GetConfig()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec.Config); err != nil {
		return id, spec, errors.New("malformed model shape")
	}
	if dec.More() {
		return id, spec, errors.New("malformed model shape: trailing data")
	}
	if err := spec.Config.Validate(); err != nil {
		return id, spec, err
	}
	// Only the precision travels; the width is the default (not negotiated).
	if spec.Params, err = hss.DefaultParams().WithFrac(uint(req.GetFrac())); err != nil {
		return id, spec, fmt.Errorf("bad fixed-point precision: %w", err)
	}
	spec.MaxSeq = int(req.GetMaxSeq())
	if spec.MaxSeq == 0 {
		spec.MaxSeq = spec.Config.MaxSeqLen
	}
	if spec.MaxSeq > spec.Config.MaxSeqLen {
		return id, spec, fmt.Errorf("max seq %d exceeds the model's context %d", spec.MaxSeq, spec.Config.MaxSeqLen)
	}
	if req.GetFirstRows() > uint32(spec.MaxSeq) {
		return id, spec, errors.New("first pass longer than the session")
	}
	spec.FirstRows = int(req.GetFirstRows())
	return id, spec, nil
}

func (h *service) Open(ctx context.Context, req *pb.DealerOpenRequest) (*pb.DealerOpenResponse, error) {
	resp, err := h.open(ctx, req)
	party.CountOpen(err, h.s.metrics.opened, h.s.metrics.refused)
	return resp, err
}

func (h *service) open(ctx context.Context, req *pb.DealerOpenRequest) (*pb.DealerOpenResponse, error) {
	if party.PeerName(ctx) != party.ClientName {
		return nil, status.Error(codes.PermissionDenied, "only a client certificate may open dealer sessions")
	}
	id, spec, err := DecodeSpec(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if spec.Owner, err = owner(ctx); err != nil {
		return nil, err
	}
	if _, err := h.s.svc.Open(id, spec); err != nil {
		return nil, statusOf(err)
	}
	d := party.ShapeDigest(spec.Config, spec.Params.Frac, spec.MaxSeq)
	h.s.log.Info("session opened", "session", id.LogID(), "dim", spec.Config.Dim, "layers", spec.Config.NLayers,
		"max_seq", spec.MaxSeq, "frac", spec.Params.Frac, "first_rows", spec.FirstRows)
	return &pb.DealerOpenResponse{Shape: d[:], Prefetch: uint32(h.s.svc.Prefetch())}, nil
}

func (h *service) Close(ctx context.Context, req *pb.CloseRequest) (*pb.CloseResponse, error) {
	if party.PeerName(ctx) != party.ClientName {
		return nil, status.Error(codes.PermissionDenied, "only a client certificate may close dealer sessions")
	}
	id, err := party.ParseSessionID(req.GetSessionId())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	who, err := owner(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.s.svc.CloseAs(id, who); err != nil {
		return nil, statusOf(err)
	}
	h.s.metrics.closed.WithLabelValues("client").Inc()
	h.s.log.Info("session closed", "session", id.LogID(), "why", "closed by client")
	return &pb.CloseResponse{}, nil
}

// owner is the dealer session owner of the caller: its certificate's
// identity (only the certificate that opened a session may close it).
func owner(ctx context.Context) (string, error) {
	who, ok := party.PeerIdentity(ctx)
	if !ok {
		return "", status.Error(codes.Unauthenticated, "no verified client certificate")
	}
	return string(who[:]), nil
}

// callerParty is the party whose certificate made the call, or -1.
func callerParty(ctx context.Context) int {
	switch party.PeerName(ctx) {
	case party.PartyName(0):
		return 0
	case party.PartyName(1):
		return 1
	}
	return -1
}

func (h *service) Material(req *pb.MaterialRequest, stream pb.Dealer_MaterialServer) error {
	s := h.s
	ctx := stream.Context()
	p := callerParty(ctx)
	if p < 0 {
		return status.Error(codes.PermissionDenied, "only the parties' certificates may pull material")
	}
	id, err := party.ParseSessionID(req.GetSessionId())
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	ss, err := s.svc.Lookup(id)
	if err != nil {
		return statusOf(err)
	}
	spec := ss.Spec()
	if want := party.ShapeDigest(spec.Config, spec.Params.Frac, spec.MaxSeq); !bytes.Equal(req.GetShape(), want[:]) {
		return status.Error(codes.FailedPrecondition, "the party's model shape, precision or length differs from the dealer session's")
	}
	start := time.Now()
	d, err := ss.Deliver(ctx, p, req.GetPass(), int(req.GetRows()), int(req.GetPos0()))
	if err != nil {
		return statusOf(err)
	}
	defer d.Close()
	pl := strconv.Itoa(p)
	var sent int64
	defer func() { s.metrics.sent.WithLabelValues(pl).Add(float64(sent)) }()
	// Small frames are gathered into messages of up to ChunkSize bytes;
	// a large frame is sent in ChunkSize slices of its own memory (Send has
	// serialised a message when it returns).
	buf := make([]byte, 0, party.ChunkSize)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		err := stream.Send(&pb.MaterialChunk{Data: buf})
		sent += int64(len(buf))
		buf = buf[:0]
		return err
	}
	for {
		fs, err := d.Next(ctx)
		if err != nil && !errors.Is(err, io.EOF) {
			s.log.Warn("material stream failed", "session", id.LogID(), "party", p, "pass", req.GetPass(), "err", err)
			return statusOf(err)
		}
		for _, f := range fs {
			if len(buf)+len(f) <= party.ChunkSize {
				buf = append(buf, f...)
				continue
			}
			n := party.ChunkSize - len(buf) // fill the message being gathered
			buf = append(buf, f[:n]...)
			if err := flush(); err != nil {
				return err
			}
			for f = f[n:]; len(f) >= party.ChunkSize; f = f[party.ChunkSize:] {
				if err := stream.Send(&pb.MaterialChunk{Data: f[:party.ChunkSize]}); err != nil {
					return err
				}
				sent += party.ChunkSize
			}
			buf = append(buf, f...)
		}
		if err := flush(); err != nil { // nothing more is ready: send what is
			return err
		}
		if err != nil { // the end of the pass
			s.metrics.passes.WithLabelValues(pl).Inc()
			s.metrics.passTime.WithLabelValues(pl).Observe(time.Since(start).Seconds())
			s.log.Debug("material sent", "session", id.LogID(), "party", p, "pass", req.GetPass(), "rows", d.Rows,
				"pos0", d.Pos0, "bytes", d.Bytes(), "ms", time.Since(start).Milliseconds())
			return nil
		}
	}
}

// statusCodes are the gRPC codes of the service's errors, the first that
// an error matches.
var statusCodes = []struct {
	err  error
	code codes.Code
}{
	{dealer.ErrNoSession, codes.NotFound},
	{dealer.ErrExists, codes.AlreadyExists},
	{dealer.ErrTooMany, codes.ResourceExhausted},
	{dealer.ErrDelivered, codes.FailedPrecondition},
	{dealer.ErrPlan, codes.FailedPrecondition},
	{dealer.ErrBadSpec, codes.InvalidArgument},
	{dealer.ErrClosed, codes.Aborted},
	{dealer.ErrShutdown, codes.Unavailable},
	{dealer.ErrNotOwner, codes.PermissionDenied},
}

// statusOf maps the service's errors to gRPC statuses (their messages
// carry no secret: shapes, pass numbers and limits); any other error is
// Internal.
func statusOf(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	code := codes.Internal
	for _, c := range statusCodes {
		if errors.Is(err, c.err) {
			code = c.code
			break
		}
	}
	return status.Error(code, err.Error())
}
