package dealersvc

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hssee/hssee/dealer"
	"github.com/hssee/hssee/party"
)

// EnvPrefix prefixes the environment variable that sets each flag of Main:
// -tls-cert is HSSEE_DEALER_TLS_CERT. A flag on the command line wins.
const EnvPrefix = "HSSEE_DEALER_"

// DefaultPort is the dealer service's default TCP port.
const DefaultPort = 7442

// Main is cmd/dealer: it parses flags (and their environment variables),
// serves until SIGTERM or SIGINT, then shuts down gracefully. It returns
// the process exit code.
func Main(args []string, stderr io.Writer) int {
	const name = "dealer"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", fmt.Sprintf(":%d", DefaultPort), "address to serve on")
	cert := fs.String("tls-cert", "", "the dealer's certificate (PEM, common name hssee-dealer)")
	key := fs.String("tls-key", "", "the dealer's private key (PEM)")
	ca := fs.String("tls-ca", "", "the deployment's CA certificate (PEM)")
	prefetch := fs.Int("prefetch-passes", 2, "passes of a session made ahead of the oldest one not yet delivered to both parties")
	maxMem := fs.Int64("max-memory-mib", 4096, "MiB of material made and not yet sent, over all sessions (generation waits beyond it)")
	maxSessions := fs.Int("max-sessions", 64, "concurrent sessions")
	idle := fs.Duration("idle-timeout", 5*time.Minute, "free a session without requests this long")
	seedHex := fs.String("seed", "", "64 hex digits making every session's material reproducible (tests only: whoever knows it can recompute all keys)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	log, code := party.ParseFlags(fs, name, EnvPrefix, args, logLevel, stderr)
	if log == nil {
		return code
	}
	if fs.NArg() > 0 || *prefetch < 1 || *maxMem < 1 || *maxSessions < 1 {
		fmt.Fprintf(stderr, "%s: unexpected arguments, or a limit below 1\n", name)
		fs.Usage()
		return 2
	}
	cfg := dealer.ServiceConfig{Prefetch: *prefetch, MaxMemory: *maxMem << 20, MaxSessions: *maxSessions}
	if *seedHex != "" {
		b, err := hex.DecodeString(*seedHex)
		if err != nil || len(b) != 32 {
			fmt.Fprintf(stderr, "%s: -seed wants 64 hex digits\n", name)
			return 2
		}
		seed := [32]byte(b)
		cfg.Seed = &seed
		log.Warn("material is reproducible from -seed: for tests only")
	}
	creds, err := party.LoadCredentials(*cert, *key, *ca)
	if err != nil {
		log.Error("tls", "err", err)
		return 1
	}
	if creds.Name != party.DealerName {
		log.Warn("certificate common name is not the dealer's: the parties will refuse it", "cn", creds.Name, "want", party.DealerName)
	}
	srv, err := NewServer(Config{Service: dealer.NewService(cfg), Creds: creds, Log: log, IdleTimeout: *idle})
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		if err != nil {
			log.Error("serve", "err", err)
			return 1
		}
		return 0
	case <-ctx.Done():
	}
	log.Info("shutting down", "sessions", srv.svc.Stats().Sessions)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	<-errc
	log.Info("stopped")
	return 0
}
