package dealersvc

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/hssee/hssee/party"
	pb "github.com/hssee/hssee/proto/hsseepb"
)

// metrics are the dealer service's Prometheus metrics (-metrics). Labels
// come from fixed sets only (party 0 or 1, gRPC method and code, close
// reason): no session id, shape or certificate.
type metrics struct {
	reg       *prometheus.Registry
	opened    prometheus.Counter
	refused   *prometheus.CounterVec // code
	closed    *prometheus.CounterVec // reason
	passes    *prometheus.CounterVec // party
	sent      *prometheus.CounterVec // party
	passTime  *prometheus.HistogramVec
	rpcErrors *prometheus.CounterVec
}

const ns = "hssee_dealer"

func newMetrics(s *Server) *metrics {
	reg := party.NewRegistry()
	f := party.MetricFactory{Reg: reg}
	m := &metrics{reg: reg,
		opened:  f.Counter(ns, "sessions_opened_total", "Dealer sessions opened."),
		refused: f.CounterVec(ns, "sessions_refused_total", "Dealer session opens refused, by gRPC code (ResourceExhausted: a session limit).", "code"),
		closed:  f.CounterVec(ns, "sessions_closed_total", "Dealer sessions closed, by reason (client or idle).", "reason"),
		passes:  f.CounterVec(ns, "passes_delivered_total", "Passes of material streamed in full to a party.", "party"),
		sent:    f.CounterVec(ns, "material_sent_bytes_total", "Material bytes sent to a party.", "party"),
		passTime: f.HistogramVec(ns, "pass_generation_seconds",
			"Time to make and stream one pass's material to a party (generation runs while the stream is read).",
			party.PassBuckets, "party"),
		rpcErrors: f.CounterVec(ns, "grpc_errors_total", "gRPC calls that ended with an error, by method and code.", "method", "code"),
	}
	f.GaugeFunc(ns, "sessions_open", "Dealer sessions open now.", func() float64 { return float64(s.svc.Stats().Sessions) })
	f.GaugeFunc(ns, "memory_buffered_bytes", "Material made and not yet sent, over all sessions (bounded by -max-memory-mib).",
		func() float64 { return float64(s.svc.Stats().Buffered) })
	for _, p := range []string{"0", "1"} {
		m.passes.WithLabelValues(p)
		m.sent.WithLabelValues(p)
		m.passTime.WithLabelValues(p)
	}
	for _, r := range []string{"client", "idle"} {
		m.closed.WithLabelValues(r)
	}
	return m
}

// services are the gRPC services whose errors are counted by method.
var services = []*grpc.ServiceDesc{&pb.Dealer_ServiceDesc, &healthpb.Health_ServiceDesc}

// MetricsHandler serves the dealer's metrics (Prometheus text format).
func (s *Server) MetricsHandler() http.Handler { return party.MetricsHandler(s.metrics.reg) }
