package party

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hssee/hssee/ee"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/loader"
)

// EnvPrefix prefixes the environment variable that sets each flag of Main:
// -tls-cert is HSSEE_PARTY_TLS_CERT. A flag on the command line wins.
const EnvPrefix = "HSSEE_PARTY_"

// Flags are the command-line flags of cmd/party0 and cmd/party1 (each also
// set by its environment variable, EnvPrefix and the name in capitals).
type Flags struct {
	Set *flag.FlagSet

	Listen, Peer, Model       string
	TLSCert, TLSKey, TLSCA    string
	Dealer                    string
	DealerStall               time.Duration
	MaxFeedMiB                int64
	Mode                      string
	MaxSessions, MaxPerClient int
	IdleTimeout               time.Duration
	Threads                   int
	Metrics, Health           string
	LogLevel                  string
}

// NewFlags defines party id's flags (Main parses them; the deployment
// tests read their names and defaults).
func NewFlags(id int) *Flags {
	f := &Flags{Set: flag.NewFlagSet(fmt.Sprintf("party%d", id), flag.ContinueOnError)}
	fs := f.Set
	fs.StringVar(&f.Listen, "listen", fmt.Sprintf(":%d", DefaultPort+id), "address to serve gRPC on (Session, Peer on party 1, grpc.health.v1)")
	fs.StringVar(&f.Peer, "peer", "", "party 0, hss: party 1's address HOST:PORT (party 1 accepts party 0's link and ignores it)")
	fs.StringVar(&f.Model, "model", "", "the (EE) model directory to serve; its manifest, if any, must match the weights")
	fs.StringVar(&f.TLSCert, "tls-cert", "", "this party's certificate (PEM)")
	fs.StringVar(&f.TLSKey, "tls-key", "", "this party's private key (PEM)")
	fs.StringVar(&f.TLSCA, "tls-ca", "", "the deployment's CA certificate (PEM)")
	fs.StringVar(&f.Dealer, "dealer", "", "hss: the dealer service's address HOST:PORT; sessions the client opens with the dealer option pull their material from it")
	fs.DurationVar(&f.DealerStall, "dealer-stall", 8*time.Second, "hss: fail a pass that waits this long for dealer material that does not come")
	fs.Int64Var(&f.MaxFeedMiB, "max-feed-mib", 256, "hss with -dealer: MiB of a pass's pulled material held before the pass consumes it (reading stops beyond it)")
	fs.StringVar(&f.Mode, "mode", ModeHSS, "hss (one of two HSS-EE parties) or ee (single-server EE)")
	fs.IntVar(&f.MaxSessions, "max-sessions", 64, "concurrent sessions")
	fs.IntVar(&f.MaxPerClient, "max-sessions-per-client", DefaultMaxSessionsPerClient, "concurrent sessions of one client certificate")
	fs.DurationVar(&f.IdleTimeout, "idle-timeout", 5*time.Minute, "free a session unused this long")
	fs.IntVar(&f.Threads, "threads", 0, "ee: threads per session (0: all cores)")
	fs.StringVar(&f.Metrics, "metrics", "", "address to serve Prometheus metrics on over plain HTTP, at /metrics (e.g. :9090; empty: off); no secrets, but keep it off the public network")
	fs.StringVar(&f.Health, "health", "", "address to serve grpc.health.v1 alone on, without TLS, for orchestrators' probes (e.g. :9091; empty: off; the health service on -listen needs a client certificate)")
	fs.StringVar(&f.LogLevel, "log-level", "info", "debug, info, warn or error")
	return f
}

// DefaultPort is party 0's default TCP port; party 1's is the next.
const DefaultPort = 7440

// Main is cmd/party0 and cmd/party1 (id 0 or 1): it parses flags (and
// their environment variables), loads the model, serves until SIGTERM or
// SIGINT, then shuts down gracefully. It returns the process exit code.
func Main(id int, args []string, stderr io.Writer) int {
	name := fmt.Sprintf("party%d", id)
	f := NewFlags(id)
	fs := f.Set
	fs.SetOutput(stderr)
	log, code := ParseFlags(fs, name, EnvPrefix, args, &f.LogLevel, stderr)
	if log == nil {
		return code
	}
	if fs.NArg() > 0 || f.Model == "" || (f.Mode == ModeHSS && id == 0 && f.Peer == "") {
		fmt.Fprintf(stderr, "%s: -model is required (and -peer for party 0 in hss mode)\n", name)
		fs.Usage()
		return 2
	}
	m, fp, err := LoadModel(f.Model)
	if err != nil {
		log.Error("load model", "err", err)
		return 1
	}
	creds, err := LoadCredentials(f.TLSCert, f.TLSKey, f.TLSCA)
	if err != nil {
		log.Error("tls", "err", err)
		return 1
	}
	if creds.Name != PartyName(id) && f.Mode == ModeHSS {
		log.Warn("certificate common name is not this party's", "cn", creds.Name, "want", PartyName(id))
	}
	srv, err := NewServer(Config{ID: id, Mode: f.Mode, Model: m, Creds: creds, Peer: f.Peer, Log: log,
		MaxSessions: f.MaxSessions, MaxPerClient: f.MaxPerClient, IdleTimeout: f.IdleTimeout, Threads: f.Threads,
		Dealer: f.Dealer, DealerStall: f.DealerStall, MaxFeed: f.MaxFeedMiB << 20})
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	log.Info("model loaded", "path", f.Model, "arch", string(m.Config.Arch), "dim", m.Config.Dim,
		"layers", m.Config.NLayers, "fingerprint", hex.EncodeToString(fp[:8]))
	return Run(log, srv, f.Listen, f.Health, f.Metrics)
}

// Servable is a server that Run runs: a party's Server, or the dealer
// service's.
type Servable interface {
	Serve(net.Listener) error       // the TLS gRPC port
	ServeHealth(net.Listener) error // the plaintext health port
	MetricsHandler() http.Handler   // /metrics
	Sessions() int
	Shutdown(context.Context)
}

// Run serves srv on listen, and on health and metrics when they are set,
// until it fails or SIGTERM/SIGINT comes; then it shuts srv down (at most
// 10 s of grace) and returns the process exit code.
func Run(log *slog.Logger, srv Servable, listen, health, metrics string) int {
	lis, err := net.Listen("tcp", listen)
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	if health != "" {
		hl, err := net.Listen("tcp", health)
		if err != nil {
			lis.Close()
			log.Error("health listen", "err", err)
			return 1
		}
		go srv.ServeHealth(hl)
		log.Info("health serving", "addr", hl.Addr().String())
	}
	if metrics != "" {
		ms, err := StartMetrics(metrics, srv.MetricsHandler(), log)
		if err != nil {
			lis.Close()
			log.Error("metrics listen", "err", err)
			return 1
		}
		defer ms.Close()
	}
	return ServeUntilSignal(log, srv.Serve, lis, srv.Sessions, srv.Shutdown)
}

// ServeUntilSignal runs serve(lis) until it fails or SIGTERM/SIGINT comes,
// then calls shutdown (at most 10 s of grace) and returns the exit code.
func ServeUntilSignal(log *slog.Logger, serve func(net.Listener) error, lis net.Listener, sessions func() int,
	shutdown func(context.Context)) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- serve(lis) }()
	select {
	case err := <-errc:
		if err != nil {
			log.Error("serve", "err", err)
			return 1
		}
		return 0
	case <-ctx.Done():
	}
	log.Info("shutting down", "sessions", sessions())
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shutdown(sctx)
	<-errc
	log.Info("stopped")
	return 0
}

// ParseFlags sets fs's flags from their environment variables (prefix and
// the flag's name in capitals, - as _), then from args (which win), and
// returns the JSON logger at *logLevel for the service name. With a nil
// logger, the caller exits with code (0 after -h, 2 on a bad flag).
func ParseFlags(fs *flag.FlagSet, name, prefix string, args []string, logLevel *string, stderr io.Writer) (*slog.Logger, int) {
	fs.VisitAll(func(f *flag.Flag) {
		env := prefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := f.Value.Set(v); err != nil {
				fmt.Fprintf(stderr, "%s: %s: %v\n", name, env, err)
			}
		}
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "%s: bad -log-level %q\n", name, *logLevel)
		return nil, 2
	}
	return slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl})).With("service", name), 0
}

// LoadModel loads a model for serving and returns its fingerprint; an EE
// directory's manifest must name exactly these weights.
func LoadModel(path string) (*model.Model, [32]byte, error) {
	var fp [32]byte
	man, err := ee.ReadManifest(path)
	if err != nil {
		return nil, fp, err
	}
	m, err := loader.Load(path)
	if err != nil {
		return nil, fp, err
	}
	fp = model.Fingerprint(m)
	if man != nil && man.Fingerprint != hex.EncodeToString(fp[:]) {
		return nil, fp, fmt.Errorf("party: %s: weights differ from the fingerprint in its manifest", path)
	}
	return m, fp, nil
}
