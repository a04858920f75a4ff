// Package party is the deployed form of HSS-EE: the gRPC services a party
// runs (Server: the client-facing Session service and, on party 1, the Peer
// service that party 0 links to), the hss.Transport over a peer stream
// (Link), the pull of dealer material from the dealer service (one stream
// per pass into an hss.NewFeed queue that the pass consumes as it arrives;
// the service itself is package party/dealersvc), and the client side of
// both deployments: Client, which implements infer.Parties over two servers
// (with the client's dealer uploading material, or the dealer service), and
// EE, an infer.Engine over one server running an EE model in the clear.
//
// Trust: every connection is TLS with certificates from one CA; the parties
// require a client certificate from every caller, party 1's Peer service
// accepts only party 0's certificate (common name "hssee-party0"), and a
// party pulls material only from a server with the dealer's certificate
// ("hssee-dealer"). A session is bound to the certificate that opened it
// (Identity: the hash of the client's leaf certificate, since every client
// certificate has the common name "hssee-client"): Run, Upload and Close
// from another certificate are refused with PermissionDenied, and
// Config.MaxPerClient (-max-sessions-per-client) bounds each certificate's
// sessions. A party
// sees its own input share (uniform ring elements), its dealer material,
// the masked values the protocol opens, and the shapes and positions of the
// passes; it never sees the other share, a plaintext activation, or, with
// an EE model, a plaintext token id or weight. In ee mode the single server
// sees the EE-encrypted token ids and logits (a substitution cipher; see
// package ee).
//
// Nothing secret is logged: logs carry session ids, shapes, sizes, timings
// and error kinds, never shares, keys, ids or logits.
// Metrics (-metrics, Prometheus text on a plain-HTTP listener of their own)
// carry counts, bytes and latencies with labels from fixed sets only; -health
// serves grpc.health.v1 alone without TLS for orchestrators' probes.
//
// Every decoder of bytes from the network (key frames, share vectors,
// logits, session ids, peer frames) has a fuzz target in this package.
package party
