package server

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestConcurrencyLimit(t *testing.T) {
	info := &grpc.UnaryServerInfo{FullMethod: "/swimfd.Dissemination/Notify"}
	for _, tc := range []struct {
		name     string
		max      int
		inFlight int // calls blocked inside the handler when the probe call arrives
		want     codes.Code
	}{
		{"below the limit", 2, 1, codes.OK},
		{"at the limit", 2, 2, codes.ResourceExhausted},
		{"limit one, idle", 1, 0, codes.OK},
		{"limit one, busy", 1, 1, codes.ResourceExhausted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limit := ConcurrencyLimit(tc.max)
			entered := make(chan struct{})
			// block starts n calls that stay inside the handler until the returned func is called,
			// which waits for them to return.
			block := func(n int) (finish func()) {
				release := make(chan struct{})
				done := make(chan struct{})
				handler := func(ctx context.Context, req any) (any, error) {
					entered <- struct{}{}
					<-release
					return "blocked", nil
				}
				for i := 0; i < n; i++ {
					go func() {
						defer func() { done <- struct{}{} }()
						if _, err := limit(ctx(t), nil, info, handler); err != nil {
							t.Errorf("blocked call: %v", err)
						}
					}()
					<-entered
				}
				return func() {
					close(release)
					for i := 0; i < n; i++ {
						<-done
					}
				}
			}
			finish := block(tc.inFlight)
			quick := func(ctx context.Context, req any) (any, error) { return "ok", nil }
			_, err := limit(ctx(t), nil, info, quick)
			if got := status.Code(err); got != tc.want {
				t.Fatalf("probe call: code %v, want %v (err %v)", got, tc.want, err)
			}
			finish()
			// Every slot is free again once the calls have returned: max calls fit at once.
			block(tc.max)()
		})
	}
}
