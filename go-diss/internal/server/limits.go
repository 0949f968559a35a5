package server

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/pb"
)

// MessageLimitHeader is the response header in which go-diss announces its
// message bound on every reply, so that the detector can check at start that
// both sides bound messages alike (swimfd.runtime.diss_client.message_limit).
const MessageLimitHeader = "swimfd-max-message-bytes"

// ServerOptionsFor bound the size of every message, the calls in flight, how
// long a connection may take to handshake, stay idle or live, and reap
// connections whose peer vanished (keepalive pings unanswered) within seconds.
// Outer interceptors (e.g. metrics) run before the limits, so they see refusals too.
func ServerOptionsFor(t config.Tuning, outer ...grpc.UnaryServerInterceptor) []grpc.ServerOption {
	size := t.MaxMessageBytes
	if size <= 0 {
		size = config.MaxMessageBytes
	}
	return []grpc.ServerOption{
		grpc.ForceServerCodec(requestCodec{}),
		grpc.MaxRecvMsgSize(size),
		grpc.MaxSendMsgSize(size),
		grpc.ConnectionTimeout(t.HandshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:                  t.KeepaliveTime,
			Timeout:               t.KeepaliveTimeout,
			MaxConnectionIdle:     t.MaxConnIdle,
			MaxConnectionAge:      t.MaxConnAge,
			MaxConnectionAgeGrace: t.MaxConnAgeGrace,
		}),
		// Clients may ping (no more than once a second) even without calls; a client pinging
		// faster is disconnected.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(append(outer, announceLimit(size), ConcurrencyLimit(config.MaxConcurrentRPCs))...),
	}
}

func announceLimit(size int) grpc.UnaryServerInterceptor {
	md := metadata.Pairs(MessageLimitHeader, strconv.Itoa(size))
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		_ = grpc.SetHeader(ctx, md) // best effort: a header the transport cannot set only skips the check
		return handler(ctx, req)
	}
}

// LimitListener accepts at most max connections at once; a connection beyond
// that is closed at once (counted in Refused) instead of waiting in the
// backlog, so a flood of connections costs one accept each.
func LimitListener(l net.Listener, max int) *Limited {
	return &Limited{Listener: l, slots: make(chan struct{}, max)}
}

// Limited is a net.Listener with a connection cap.
type Limited struct {
	net.Listener
	slots   chan struct{}
	refused atomic.Uint64
}

// Refused is the number of connections closed because the cap was reached.
func (l *Limited) Refused() uint64 { return l.refused.Load() }

// Accept returns the next connection within the cap.
func (l *Limited) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &slotConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
			l.refused.Add(1)
			_ = c.Close()
		}
	}
}

type slotConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// malformed marks a request whose bytes did not parse (see requestCodec). It
// is a sentinel compared by address and never modified.
var malformed = &pb.Header{Cluster: "\x00malformed"}

// requestCodec is the proto codec, except that a Dissemination request whose
// bytes do not parse is handed to the handler marked malformed instead of
// failing inside grpc-go, which would answer Internal (a code senders retry)
// before any handler runs; serviceDesc's decoder turns the mark into
// InvalidArgument. Other messages (health, reflection) fail as usual.
type requestCodec struct{}

func (requestCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("requestCodec: %T is not a protobuf message", v)
	}
	return proto.Marshal(m)
}

func (requestCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("requestCodec: %T is not a protobuf message", v)
	}
	err := proto.Unmarshal(data, m)
	if err == nil {
		return nil
	}
	switch r := v.(type) {
	case *pb.FailureReport:
		proto.Reset(r)
		r.Header = malformed
	case *pb.Notice:
		proto.Reset(r)
		r.Header = malformed
	case *pb.JoinRequest:
		proto.Reset(r)
		r.Header = malformed
	case *pb.LeaveRequest:
		proto.Reset(r)
		r.Header = malformed
	default:
		return err
	}
	return nil
}

func (requestCodec) Name() string { return "proto" }

// isMalformed reports whether requestCodec marked v.
func isMalformed(v any) bool {
	h, ok := v.(interface{ GetHeader() *pb.Header })
	return ok && h.GetHeader() == malformed
}
