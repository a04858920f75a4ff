package dealersvc

import (
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hssee/hssee/dealer"
	"github.com/hssee/hssee/party"
)

// EnvPrefix prefixes the environment variable that sets each flag of Main:
// -tls-cert is HSSEE_DEALER_TLS_CERT. A flag on the command line wins.
const EnvPrefix = "HSSEE_DEALER_"

// DefaultPort is the dealer service's default TCP port.
const DefaultPort = 7442

// Flags are the command-line flags of cmd/dealer (each also set by its
// environment variable, EnvPrefix and the name in capitals).
type Flags struct {
	Set *flag.FlagSet

	Listen                    string
	TLSCert, TLSKey, TLSCA    string
	Prefetch                  int
	MaxMemoryMiB              int64
	MaxSessions, MaxPerClient int
	IdleTimeout               time.Duration
	Seed                      string
	Metrics, Health           string
	LogLevel                  string
}

// NewFlags defines the dealer's flags (Main parses them; the deployment
// tests read their names and defaults).
func NewFlags() *Flags {
	f := &Flags{Set: flag.NewFlagSet("dealer", flag.ContinueOnError)}
	fs := f.Set
	fs.StringVar(&f.Listen, "listen", fmt.Sprintf(":%d", DefaultPort), "address to serve gRPC on (Dealer, grpc.health.v1)")
	fs.StringVar(&f.TLSCert, "tls-cert", "", "the dealer's certificate (PEM, common name hssee-dealer)")
	fs.StringVar(&f.TLSKey, "tls-key", "", "the dealer's private key (PEM)")
	fs.StringVar(&f.TLSCA, "tls-ca", "", "the deployment's CA certificate (PEM)")
	fs.IntVar(&f.Prefetch, "prefetch-passes", 2, "passes of a session made ahead of the oldest one not yet delivered to both parties")
	fs.Int64Var(&f.MaxMemoryMiB, "max-memory-mib", 4096, "MiB of material made and not yet sent, over all sessions (generation waits beyond it)")
	fs.IntVar(&f.MaxSessions, "max-sessions", 64, "concurrent sessions")
	fs.IntVar(&f.MaxPerClient, "max-sessions-per-client", party.DefaultMaxSessionsPerClient, "concurrent sessions of one client certificate")
	fs.DurationVar(&f.IdleTimeout, "idle-timeout", 5*time.Minute, "free a session without requests this long")
	fs.StringVar(&f.Seed, "seed", "", "64 hex digits making every session's material reproducible (tests only: whoever knows it can recompute all keys)")
	fs.StringVar(&f.Metrics, "metrics", "", "address to serve Prometheus metrics on over plain HTTP, at /metrics (e.g. :9090; empty: off); no secrets, but keep it off the public network")
	fs.StringVar(&f.Health, "health", "", "address to serve grpc.health.v1 alone on, without TLS, for orchestrators' probes (e.g. :9091; empty: off; the health service on -listen needs a client certificate)")
	fs.StringVar(&f.LogLevel, "log-level", "info", "debug, info, warn or error")
	return f
}

// Main is cmd/dealer: it parses flags (and their environment variables),
// serves until SIGTERM or SIGINT, then shuts down gracefully. It returns
// the process exit code.
func Main(args []string, stderr io.Writer) int {
	const name = "dealer"
	f := NewFlags()
	fs := f.Set
	fs.SetOutput(stderr)
	log, code := party.ParseFlags(fs, name, EnvPrefix, args, &f.LogLevel, stderr)
	if log == nil {
		return code
	}
	if fs.NArg() > 0 || f.Prefetch < 1 || f.MaxMemoryMiB < 1 || f.MaxSessions < 1 || f.MaxPerClient < 1 {
		fmt.Fprintf(stderr, "%s: unexpected arguments, or a limit below 1\n", name)
		fs.Usage()
		return 2
	}
	cfg := dealer.ServiceConfig{Prefetch: f.Prefetch, MaxMemory: f.MaxMemoryMiB << 20, MaxSessions: f.MaxSessions,
		MaxPerOwner: f.MaxPerClient}
	if f.Seed != "" {
		b, err := hex.DecodeString(f.Seed)
		if err != nil || len(b) != 32 {
			fmt.Fprintf(stderr, "%s: -seed wants 64 hex digits\n", name)
			return 2
		}
		seed := [32]byte(b)
		cfg.Seed = &seed
		log.Warn("material is reproducible from -seed: for tests only")
	}
	creds, err := party.LoadCredentials(f.TLSCert, f.TLSKey, f.TLSCA)
	if err != nil {
		log.Error("tls", "err", err)
		return 1
	}
	if creds.Name != party.DealerName {
		log.Warn("certificate common name is not the dealer's: the parties will refuse it", "cn", creds.Name, "want", party.DealerName)
	}
	srv, err := NewServer(Config{Service: dealer.NewService(cfg), Creds: creds, Log: log, IdleTimeout: f.IdleTimeout})
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	return party.Run(log, srv, f.Listen, f.Health, f.Metrics)
}
