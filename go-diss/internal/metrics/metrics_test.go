package metrics

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"swimfd/go-diss/internal/logging"
)

// A nil *Metrics is a valid "no metrics": nothing panics and the interceptor passes calls through.
func TestNilMetricsIsInert(t *testing.T) {
	var m *Metrics
	m.Broadcast("failed")
	m.DedupHit()
	m.BroadcastDone(time.Second)
	m.Refused(status.Error(codes.Unauthenticated, "x"))
	resp, err := m.InFlight()(context.Background(), "req", &grpc.UnaryServerInfo{},
		func(context.Context, any) (any, error) { return "ok", nil })
	if resp != "ok" || err != nil {
		t.Fatalf("interceptor on nil metrics returned %v, %v", resp, err)
	}
}

func TestServeExposesEverySeries(t *testing.T) {
	m := New(func() (uint64, uint64, uint64, uint64) { return 7, 2, 1, 5 })
	m.Broadcast("failed")
	m.Broadcast("failed")
	m.Broadcast("joined")
	m.DedupHit()
	m.BroadcastDone(30 * time.Millisecond)
	m.Refused(status.Error(codes.FailedPrecondition, "wrong cluster"))
	inside := make(chan float64, 1)
	_, _ = m.InFlight()(context.Background(), nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) {
		inside <- inFlight(t, m)
		return nil, status.Error(codes.ResourceExhausted, "limit")
	})
	during := <-inside

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr, err := m.Serve(ctx, "127.0.0.1:0", logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`godiss_notices_broadcast_total{kind="failed"} 2`,
		`godiss_notices_broadcast_total{kind="joined"} 1`,
		`godiss_dedup_hits_total 1`,
		`godiss_broadcast_duration_seconds_count 1`,
		`godiss_broadcast_duration_seconds_bucket{le="0.05"} 1`,
		`godiss_broadcast_duration_seconds_bucket{le="0.025"} 0`,
		`godiss_calls_in_flight 0`,
		`godiss_refusals_total{reason="FailedPrecondition"} 1`,
		`godiss_refusals_total{reason="ResourceExhausted"} 1`,
		`godiss_broadcast_retries_total 5`,
		`godiss_deliveries_total{result="delivered"} 7`,
		`godiss_deliveries_total{result="failed"} 2`,
		`godiss_deliveries_total{result="dropped"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	for _, want := range []string{"process_resident_memory_bytes ", "go_goroutines "} {
		if !strings.Contains(text, "\n"+want) {
			t.Errorf("scrape lacks the runtime series %q", want)
		}
	}
	if during != 1 {
		t.Errorf("godiss_calls_in_flight during a call = %v, want 1", during)
	}
}

// inFlight reads godiss_calls_in_flight from the registry.
func inFlight(t *testing.T, m *Metrics) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "godiss_calls_in_flight" {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("godiss_calls_in_flight not registered")
	return 0
}
