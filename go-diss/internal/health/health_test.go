package health

import (
	"context"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

const svc = "swimfd.v1.Dissemination"

func serve(t *testing.T) (*Status, *grpc.ClientConn) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	st := Register(g, slog.New(slog.NewTextHandler(io.Discard, nil)), svc)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return st, conn
}

func TestStatusFollowsLifecycle(t *testing.T) {
	type step struct {
		name string
		do   func(*Status)
		want healthpb.HealthCheckResponse_ServingStatus
	}
	steps := []step{
		{"before start", func(*Status) {}, healthpb.HealthCheckResponse_NOT_SERVING},
		{"started", (*Status).Serving, healthpb.HealthCheckResponse_SERVING},
		{"shutting down", (*Status).Shutdown, healthpb.HealthCheckResponse_NOT_SERVING},
		{"serving after shutdown is ignored", (*Status).Serving, healthpb.HealthCheckResponse_NOT_SERVING},
	}
	st, conn := serve(t)
	client := healthpb.NewHealthClient(conn)
	for _, s := range steps {
		s.do(st)
		for _, service := range []string{"", svc} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
			cancel()
			if err != nil {
				t.Fatalf("%s: Check(%q): %v", s.name, service, err)
			}
			if resp.Status != s.want {
				t.Fatalf("%s: Check(%q) = %v, want %v", s.name, service, resp.Status, s.want)
			}
		}
	}
}

func TestReflectionListsServices(t *testing.T) {
	_, conn := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := &reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.Name)
	}
	for _, want := range []string{healthpb.Health_ServiceDesc.ServiceName, "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(names, want) {
			t.Fatalf("reflection lists %v, want %s among them", names, want)
		}
	}
}
