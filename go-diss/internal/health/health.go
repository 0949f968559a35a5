// Package health puts the standard grpc.health.v1 service and server
// reflection on go-diss's gRPC server, so that probes (Kubernetes, grpcurl,
// `swimfd health`) and the local detector can ask whether it is serving.
package health

import (
	"log/slog"

	"google.golang.org/grpc"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// Status is the serving status go-diss reports for itself ("") and for each
// service it registered.
type Status struct {
	srv      *grpchealth.Server
	services []string
	log      *slog.Logger
	shut     bool
}

// Register adds health (starting NOT_SERVING) and reflection to g. services
// are the names whose status follows the whole process's.
func Register(g *grpc.Server, log *slog.Logger, services ...string) *Status {
	s := &Status{srv: grpchealth.NewServer(), services: append([]string{""}, services...), log: log}
	for _, name := range s.services {
		s.srv.SetServingStatus(name, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	healthpb.RegisterHealthServer(g, s.srv)
	reflection.Register(g)
	return s
}

// Serving marks every service SERVING (once the listener is up).
func (s *Status) Serving() {
	if s.shut {
		return
	}
	s.set(healthpb.HealthCheckResponse_SERVING, "started")
}

// Shutdown marks every service NOT_SERVING for good: later Serving calls
// are ignored, so a probe never sees a stopping process come back.
// Serving and Shutdown are called from main's goroutine only.
func (s *Status) Shutdown() {
	s.shut = true
	s.set(healthpb.HealthCheckResponse_NOT_SERVING, "shutting_down")
	s.srv.Shutdown()
}

func (s *Status) set(st healthpb.HealthCheckResponse_ServingStatus, reason string) {
	for _, name := range s.services {
		s.srv.SetServingStatus(name, st)
	}
	s.log.Info("health_changed", "status", st.String(), "reason", reason)
}
