package party

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Metrics (Prometheus, served by -metrics on its own plain-HTTP listener).
// Every label comes from a fixed set: the party id, the mode, a gRPC
// method of the server's own services, a gRPC code, an outcome, a close
// reason. No label or value carries a prompt, a token, a session id, a key
// or a certificate.
type partyMetrics struct {
	reg          *prometheus.Registry
	opened       prometheus.Counter
	refused      *prometheus.CounterVec // code
	closed       *prometheus.CounterVec // reason
	passes       *prometheus.CounterVec // outcome
	passSeconds  *prometheus.HistogramVec
	peerSent     prometheus.Counter
	peerReceived prometheus.Counter
	peerRounds   prometheus.Counter
	material     *prometheus.CounterVec // source
	rpcErrors    *prometheus.CounterVec
}

// PassBuckets are the pass-latency histogram buckets (seconds): 5 ms to
// about 10 minutes.
var PassBuckets = prometheus.ExponentialBuckets(0.005, 2, 18)

// NewRegistry returns a private registry (one per server, so several
// servers in one process do not collide) with the Go runtime and process
// collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func newPartyMetrics(s *Server) *partyMetrics {
	reg := NewRegistry()
	f := MetricFactory{Reg: reg, Labels: prometheus.Labels{"party": strconv.Itoa(s.cfg.ID), "mode": s.cfg.Mode}}
	const ns = "hssee_party"
	m := &partyMetrics{reg: reg,
		opened: f.Counter(ns, "sessions_opened_total", "Sessions opened."),
		refused: f.CounterVec(ns, "sessions_refused_total", "Session opens refused, by gRPC code (ResourceExhausted: a session limit).",
			"code"),
		closed: f.CounterVec(ns, "sessions_closed_total", "Sessions freed, by reason.", "reason"),
		passes: f.CounterVec(ns, "passes_total", "Forward passes run, by outcome (ok or failed).", "outcome"),
		passSeconds: f.HistogramVec(ns, "pass_duration_seconds",
			"Forward pass latency at this party, from its request to its answer; kind is prefill (more than one row) or decode.",
			PassBuckets, "kind"),
		peerSent:     f.Counter(ns, "peer_sent_bytes_total", "Protocol bytes sent to the peer party (hss)."),
		peerReceived: f.Counter(ns, "peer_received_bytes_total", "Protocol bytes received from the peer party (hss)."),
		peerRounds:   f.Counter(ns, "peer_rounds_total", "Protocol rounds exchanged with the peer party (hss)."),
		material: f.CounterVec(ns, "material_received_bytes_total",
			"Dealer material bytes received, by source (upload: from the client; dealer: pulled from the dealer service).", "source"),
	}
	f.GaugeFunc(ns, "sessions_open", "Sessions open now.", func() float64 { return float64(s.Sessions()) })
	m.rpcErrors = f.CounterVec(ns, "grpc_errors_total", "gRPC calls that ended with an error, by method and code.", "method", "code")
	for _, o := range []string{"ok", "failed"} {
		m.passes.WithLabelValues(o)
	}
	for _, k := range []string{"prefill", "decode"} {
		m.passSeconds.WithLabelValues(k)
	}
	for _, src := range []string{"upload", "dealer"} {
		m.material.WithLabelValues(src)
	}
	return m
}

// MetricFactory makes metrics with constant labels in one registry.
type MetricFactory struct {
	Reg    prometheus.Registerer
	Labels prometheus.Labels
}

// Counter registers a counter.
func (f MetricFactory) Counter(ns, name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help, ConstLabels: f.Labels})
	f.Reg.MustRegister(c)
	return c
}

// CounterVec registers a counter with variable labels (their values must
// come from fixed sets).
func (f MetricFactory) CounterVec(ns, name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help, ConstLabels: f.Labels}, labels)
	f.Reg.MustRegister(c)
	return c
}

// HistogramVec registers a histogram with variable labels.
func (f MetricFactory) HistogramVec(ns, name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, ConstLabels: f.Labels,
		Buckets: buckets}, labels)
	f.Reg.MustRegister(h)
	return h
}

// GaugeFunc registers a gauge read by fn at each scrape.
func (f MetricFactory) GaugeFunc(ns, name, help string, fn func() float64) {
	f.Reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help, ConstLabels: f.Labels}, fn))
}

// RPCErrorInterceptors count the calls of services that end with an error
// in errs (method, code). Methods outside services are counted as
// "unknown", so a caller cannot make labels up.
func RPCErrorInterceptors(errs *prometheus.CounterVec, services ...*grpc.ServiceDesc) []grpc.ServerOption {
	known := map[string]bool{}
	for _, sd := range services {
		for _, m := range sd.Methods {
			known["/"+sd.ServiceName+"/"+m.MethodName] = true
		}
		for _, st := range sd.Streams {
			known["/"+sd.ServiceName+"/"+st.StreamName] = true
		}
	}
	count := func(method string, err error) {
		if err == nil {
			return
		}
		if !known[method] {
			method = "unknown"
		}
		errs.WithLabelValues(method, status.Code(err).String()).Inc()
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			resp, err := h(ctx, req)
			count(info.FullMethod, err)
			return resp, err
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			err := h(srv, ss)
			count(info.FullMethod, err)
			return err
		}),
	}
}

// MetricsHandler serves the server's metrics (Prometheus text format).
func (s *Server) MetricsHandler() http.Handler { return MetricsHandler(s.metrics.reg) }

// MetricsHandler serves g's metrics.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// MetricsServer serves /metrics (and nothing else) over plain HTTP on its
// own listener: -metrics ADDR. It carries no secret, but it is for the
// cluster's Prometheus only: do not expose it publicly.
type MetricsServer struct {
	http *http.Server
	lis  net.Listener
	done chan struct{}
}

// StartMetrics listens on addr and serves h at /metrics.
func StartMetrics(addr string, h http.Handler, log *slog.Logger) (*MetricsServer, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	m := &MetricsServer{http: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, lis: lis, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		if err := m.http.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) && log != nil {
			log.Error("metrics", "err", err)
		}
	}()
	if log != nil {
		log.Info("metrics serving", "addr", lis.Addr().String())
	}
	return m, nil
}

// Addr is the address the metrics are served on.
func (m *MetricsServer) Addr() string { return m.lis.Addr().String() }

// Close stops serving metrics.
func (m *MetricsServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m.http.Shutdown(ctx)
	<-m.done
}

// CountOpen counts a session open's outcome in opened, or in refused under its gRPC code.
func CountOpen(err error, opened prometheus.Counter, refused *prometheus.CounterVec) {
	if err != nil {
		refused.WithLabelValues(status.Code(err).String()).Inc()
	} else {
		opened.Inc()
	}
}
