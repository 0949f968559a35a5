package broadcast

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func fakesStatus(c codes.Code) error { return status.Error(c, "x") }

func TestPoolBounded(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	get := func(addr string) func() {
		t.Helper()
		c, release, err := p.Get(addr)
		if err != nil || c == nil {
			t.Fatalf("Get(%s): %v", addr, err)
		}
		return release
	}
	// Idle connections beyond the bound are closed, least recently used first.
	for _, a := range []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:1", "127.0.0.1:3"} {
		get(a)()
	}
	if p.Len() != 2 {
		t.Fatalf("Len = %d, want 2", p.Len())
	}
	p.mu.Lock()
	_, kept1 := p.conns["127.0.0.1:1"]
	_, kept2 := p.conns["127.0.0.1:2"]
	p.mu.Unlock()
	if !kept1 || kept2 {
		t.Fatalf("evicted the wrong connection: kept 1=%v 2=%v", kept1, kept2)
	}
	// Connections in use are never closed under their caller.
	r := []func(){get("127.0.0.1:4"), get("127.0.0.1:5"), get("127.0.0.1:6")}
	if p.Len() != 3 {
		t.Fatalf("Len with 3 in use = %d, want 3", p.Len())
	}
	for _, f := range r {
		f()
	}
	get("127.0.0.1:7")()
	if p.Len() != 2 {
		t.Fatalf("Len after release = %d, want 2", p.Len())
	}
}
