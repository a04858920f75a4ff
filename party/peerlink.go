package party

// The link between the parties: party 0 dials it per session, party 1's
// Peer service accepts it (only from party 0's certificate).

import (
	"bytes"
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	pb "github.com/hssee/hssee/proto/hsseepb"
)

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
	return &pb.Hello{SessionId: ss.id[:], Fingerprint: s.fp[:], Frac: uint32(ss.prm.Frac), MaxSeq: uint32(ss.maxSeq),
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
	case hello.GetFrac() != uint32(ss.prm.Frac) || hello.GetMaxSeq() != uint32(ss.maxSeq) || hello.GetParty() != 0:
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
