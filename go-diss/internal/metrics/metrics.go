// Package metrics holds go-diss's Prometheus series, in a registry of its
// own (never the global default one), and serves them on /metrics.
//
// Every method is safe on a nil *Metrics, so the server and tests that do
// not care about metrics pass none.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Metrics are go-diss's series (docs/running.md, "Metrics").
type Metrics struct {
	Registry          *prometheus.Registry
	noticesBroadcast  *prometheus.CounterVec
	dedupHits         prometheus.Counter
	broadcastDuration prometheus.Histogram
	callsInFlight     prometheus.Gauge
	refusals          *prometheus.CounterVec
}

// DeliveryStats are the broadcaster's cumulative delivery counts, read at scrape time.
type DeliveryStats func() (delivered, failed, dropped, retries uint64)

// New registers every series in a fresh registry; stats may be nil.
func New(stats DeliveryStats) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		noticesBroadcast: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "godiss_notices_broadcast_total",
			Help: "Notices this service broadcast to its peers (duplicates excluded), by kind",
		}, []string{"kind"}),
		dedupHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "godiss_dedup_hits_total",
			Help: "Reports and notices dropped because the same (member, incarnation, kind) was already seen",
		}),
		broadcastDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "godiss_broadcast_duration_seconds",
			Help:    "Time from queueing a broadcast until every recipient acknowledged or was given up on",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}),
		callsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "godiss_calls_in_flight",
			Help: "gRPC calls this service is handling now",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "godiss_refusals_total",
			Help: "Requests refused, by gRPC status code (e.g. FailedPrecondition, PermissionDenied, ResourceExhausted)",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.noticesBroadcast, m.dedupHits, m.broadcastDuration, m.callsInFlight, m.refusals,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	if stats != nil {
		read := func(pick func(d, f, dr, r uint64) uint64) func() float64 {
			return func() float64 { return float64(pick(stats())) }
		}
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "godiss_broadcast_retries_total",
				Help: "Notify attempts to a peer after the first one",
			}, read(func(_, _, _, r uint64) uint64 { return r })),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "godiss_deliveries_total", Help: "Deliveries of a notice to one peer, by result",
				ConstLabels: prometheus.Labels{"result": "delivered"},
			}, read(func(d, _, _, _ uint64) uint64 { return d })),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "godiss_deliveries_total", Help: "Deliveries of a notice to one peer, by result",
				ConstLabels: prometheus.Labels{"result": "failed"},
			}, read(func(_, f, _, _ uint64) uint64 { return f })),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "godiss_deliveries_total", Help: "Deliveries of a notice to one peer, by result",
				ConstLabels: prometheus.Labels{"result": "dropped"},
			}, read(func(_, _, dr, _ uint64) uint64 { return dr })),
		)
	}
	return m
}

// Broadcast counts one broadcast of a notice of kind.
func (m *Metrics) Broadcast(kind string) {
	if m != nil {
		m.noticesBroadcast.WithLabelValues(kind).Inc()
	}
}

// DedupHit counts one duplicate report or notice.
func (m *Metrics) DedupHit() {
	if m != nil {
		m.dedupHits.Inc()
	}
}

// BroadcastDone records how long one broadcast took.
func (m *Metrics) BroadcastDone(d time.Duration) {
	if m != nil {
		m.broadcastDuration.Observe(d.Seconds())
	}
}

// Refused counts one refused request, by its status code.
func (m *Metrics) Refused(err error) {
	if m != nil {
		m.refusals.WithLabelValues(status.Code(err).String()).Inc()
	}
}

// InFlight is a unary interceptor keeping godiss_calls_in_flight, and
// counting calls refused before any handler ran (the concurrency limit).
func (m *Metrics) InFlight() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if m == nil {
			return handler(ctx, req)
		}
		m.callsInFlight.Inc()
		defer m.callsInFlight.Dec()
		resp, err := handler(ctx, req)
		if status.Code(err) == codes.ResourceExhausted {
			m.Refused(err)
		}
		return resp, err
	}
}

// Serve listens on addr and serves /metrics until ctx is done. Listening
// errors are returned at once (before serving); the server then runs in
// the background and stops with ctx.
func (m *Metrics) Serve(ctx context.Context, addr string, log *slog.Logger) (net.Addr, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics_serve_failed", "error", err.Error())
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return lis.Addr(), nil
}
