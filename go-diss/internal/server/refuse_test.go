package server

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"swimfd/go-diss/internal/broadcast"
	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/pb"
)

// rawCodec sends bytes as they are, so a test can send what is not a protobuf.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func TestMalformedInputIsInvalidArgumentAndLogged(t *testing.T) {
	h := newHarness(t, setup{peers: 1})
	for _, method := range []string{"Report", "Notify", "Join", "Leave"} {
		for _, tc := range []struct {
			name string
			data []byte
		}{
			{"truncated varint", []byte{0x08, 0xff}},
			{"bad wire type", []byte{0x0f}},
			{"truncated field", []byte{0x0a, 0x10, 0x01}},
		} {
			t.Run(method+"/"+tc.name, func(t *testing.T) {
				var out []byte
				err := h.cc.Invoke(ctx(t), "/swimfd.v1.Dissemination/"+method, &tc.data, &out, grpc.ForceCodec(rawCodec{}))
				if status.Code(err) != codes.InvalidArgument {
					t.Fatalf("%s: %v, want InvalidArgument", method, err)
				}
			})
		}
	}
	lines := h.log.events(t, "request_refused")
	if len(lines) == 0 || lines[0]["peer_addr"] == "" || lines[0]["code"] != "InvalidArgument" {
		t.Fatalf("request_refused lines: %v", lines)
	}
	if len(h.det.Notices()) != 0 {
		t.Fatal("malformed input reached the detector")
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"unavailable", status.Error(codes.Unavailable, "down"), true},
		{"overloaded", status.Error(codes.ResourceExhausted, "Notify: more than 256 calls in flight"), true},
		{"oversize received", status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5 vs. 4)"), false},
		{"oversize sent", status.Error(codes.ResourceExhausted, "grpc: trying to send message larger than max (5 vs. 4)"), false},
		{"invalid argument", status.Error(codes.InvalidArgument, "malformed"), false},
		{"unauthenticated", status.Error(codes.Unauthenticated, "mac"), false},
		{"canceled", context.Canceled, false},
		{"plain error", errors.New("x"), true}, // Unknown: may be transient
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := broadcast.Retryable(tc.err); got != tc.want {
				t.Fatalf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestLimitListenerClosesConnectionsBeyondTheCap(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := LimitListener(lis, 1)
	defer l.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	first, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	held := <-accepted
	second, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	_ = second.SetReadDeadline(time.Now().Add(hang))
	if _, err := second.Read(make([]byte, 1)); err == nil {
		t.Fatal("second connection was served beyond the cap")
	}
	if l.Refused() != 1 {
		t.Fatalf("refused = %d, want 1", l.Refused())
	}
	_ = held.Close() // frees the slot
	third, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	select {
	case c := <-accepted:
		_ = c.Close()
	case <-time.After(hang):
		t.Fatal("a freed slot was not reused")
	}
}

func TestHalfOpenConnectionIsClosedAfterTheHandshakeTimeout(t *testing.T) {
	tu := config.DefaultTuning()
	tu.HandshakeTimeout = 200 * time.Millisecond
	g := grpc.NewServer(ServerOptionsFor(tu)...)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	defer g.Stop()
	c, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(hang))
	buf := make([]byte, 1024)
	for {
		if _, err := c.Read(buf); err != nil { // the server's settings frame first, then the close
			break
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("half-open connection held %v", took)
	}
}

func TestEveryReplyAnnouncesTheMessageLimit(t *testing.T) {
	tu := config.DefaultTuning()
	tu.MaxMessageBytes = 123456
	g := grpc.NewServer(ServerOptionsFor(tu)...)
	fuzzServer(t).Register(g)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	defer g.Stop()
	cc, err := grpc.NewClient(lis.Addr().String(), broadcast.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var md metadata.MD
	_, err = pb.NewDisseminationClient(cc).Notify(ctx(t), &pb.Notice{}, grpc.Header(&md))
	if status.Code(err) != codes.InvalidArgument { // no header: refused, and still announced
		t.Fatalf("Notify: %v", err)
	}
	if got := md.Get(MessageLimitHeader); len(got) != 1 || got[0] != "123456" {
		t.Fatalf("%s = %v", MessageLimitHeader, got)
	}
}
