package party

import (
	"context"
	"crypto/sha256"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Identity names the certificate a caller presented: the SHA-256 of its
// verified leaf certificate (DER). Every client certificate carries the
// common name hssee-client, so sessions are bound to the certificate
// itself: a session id is accepted only from the certificate that opened
// it, and per-client limits count sessions per Identity. It is never
// logged or exported (it would link sessions to a client).
type Identity [32]byte

// PeerIdentity is the identity of the verified certificate of the caller in
// a gRPC handler's context; false without one.
func PeerIdentity(ctx context.Context) (Identity, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Identity{}, false
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return Identity{}, false
	}
	return sha256.Sum256(ti.State.VerifiedChains[0][0].Raw), true
}

// DefaultMaxSessionsPerClient is the default of -max-sessions-per-client:
// the sessions one client certificate may hold open at a server.
const DefaultMaxSessionsPerClient = 16

// errNotOwner is the status of a call naming a session that another
// certificate opened (the message carries nothing about the session).
var errNotOwner = status.Error(codes.PermissionDenied, "the session was opened with another certificate")

// callerIdentity returns the caller's identity, or Unauthenticated.
func callerIdentity(ctx context.Context) (Identity, error) {
	id, ok := PeerIdentity(ctx)
	if !ok {
		return id, status.Error(codes.Unauthenticated, "no verified client certificate")
	}
	return id, nil
}
