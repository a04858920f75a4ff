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

// Main is cmd/party0 and cmd/party1 (id 0 or 1): it parses flags (and
// their environment variables), loads the model, serves until SIGTERM or
// SIGINT, then shuts down gracefully. It returns the process exit code.
func Main(id int, args []string, stderr io.Writer) int {
	name := fmt.Sprintf("party%d", id)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", fmt.Sprintf(":%d", 7440+id), "address to serve on")
	peerAddr := fs.String("peer", "", "party 0, hss: party 1's address HOST:PORT (party 1 accepts party 0's link and ignores it)")
	modelPath := fs.String("model", "", "the (EE) model directory to serve; its manifest, if any, must match the weights")
	cert := fs.String("tls-cert", "", "this party's certificate (PEM)")
	key := fs.String("tls-key", "", "this party's private key (PEM)")
	ca := fs.String("tls-ca", "", "the deployment's CA certificate (PEM)")
	dealerAddr := fs.String("dealer", "", "hss: the dealer service's address HOST:PORT; sessions the client opens with the dealer option pull their material from it")
	dealerStall := fs.Duration("dealer-stall", 8*time.Second, "hss: fail a pass that waits this long for dealer material that does not come")
	maxFeed := fs.Int64("max-feed-mib", 256, "hss with -dealer: MiB of a pass's pulled material held before the pass consumes it (reading stops beyond it)")
	mode := fs.String("mode", ModeHSS, "hss (one of two HSS-EE parties) or ee (single-server EE)")
	maxSessions := fs.Int("max-sessions", 64, "concurrent sessions")
	idle := fs.Duration("idle-timeout", 5*time.Minute, "free a session unused this long")
	threads := fs.Int("threads", 0, "ee: threads per session (0: all cores)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	log, code := ParseFlags(fs, name, EnvPrefix, args, logLevel, stderr)
	if log == nil {
		return code
	}
	if fs.NArg() > 0 || *modelPath == "" || (*mode == ModeHSS && id == 0 && *peerAddr == "") {
		fmt.Fprintf(stderr, "%s: -model is required (and -peer for party 0 in hss mode)\n", name)
		fs.Usage()
		return 2
	}
	m, fp, err := LoadModel(*modelPath)
	if err != nil {
		log.Error("load model", "err", err)
		return 1
	}
	creds, err := LoadCredentials(*cert, *key, *ca)
	if err != nil {
		log.Error("tls", "err", err)
		return 1
	}
	if creds.Name != PartyName(id) && *mode == ModeHSS {
		log.Warn("certificate common name is not this party's", "cn", creds.Name, "want", PartyName(id))
	}
	srv, err := NewServer(Config{ID: id, Mode: *mode, Model: m, Creds: creds, Peer: *peerAddr, Log: log,
		MaxSessions: *maxSessions, IdleTimeout: *idle, Threads: *threads, Dealer: *dealerAddr, DealerStall: *dealerStall, MaxFeed: *maxFeed << 20})
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	log.Info("model loaded", "path", *modelPath, "arch", string(m.Config.Arch), "dim", m.Config.Dim,
		"layers", m.Config.NLayers, "fingerprint", hex.EncodeToString(fp[:8]))
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
	log.Info("shutting down", "sessions", srv.Sessions())
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
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
