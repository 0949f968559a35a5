// Package fakes holds in-process gRPC stand-ins for go-diss's neighbours (peer
// dissemination services and the local detector), for tests only.
package fakes

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/pb"
)

// Serve starts a gRPC server on 127.0.0.1:0 with register's services and
// stops it when the test ends. It returns the bound address.
func Serve(t testing.TB, register func(*grpc.Server), opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	g := grpc.NewServer(opts...)
	register(g)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return lis.Addr().String()
}

// Peer is a fake peer Dissemination service recording the notices it gets.
type Peer struct {
	pb.UnimplementedDisseminationServer
	ID   string
	Addr string

	mu       sync.Mutex
	calls    int
	failFor  int        // answer the first failFor calls with failCode
	failCode codes.Code // code used while failing
	hold     chan struct{}
	got      []*pb.Notice
	arrived  chan struct{} // one token per successful Notify
}

// PeerOption configures a Peer.
type PeerOption func(*Peer)

// FailFirst makes the first n calls fail with code.
func FailFirst(n int, code codes.Code) PeerOption {
	return func(p *Peer) { p.failFor, p.failCode = n, code }
}

// Hold makes every call block until release is closed or its deadline passes.
func Hold(release chan struct{}) PeerOption {
	return func(p *Peer) { p.hold = release }
}

// NewPeer starts a Peer.
func NewPeer(t testing.TB, id string, opts ...PeerOption) *Peer {
	p := &Peer{ID: id, arrived: make(chan struct{}, 1024)}
	for _, o := range opts {
		o(p)
	}
	p.Addr = Serve(t, func(g *grpc.Server) { pb.RegisterDisseminationServer(g, p) })
	return p
}

// Notify records n.
func (p *Peer) Notify(ctx context.Context, n *pb.Notice) (*pb.NoticeAck, error) {
	p.mu.Lock()
	p.calls++
	failing := p.calls <= p.failFor
	p.mu.Unlock()
	if failing {
		return nil, status.Error(p.failCode, "fake peer failing on purpose")
	}
	if p.hold != nil {
		select {
		case <-p.hold:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	p.mu.Lock()
	p.got = append(p.got, proto.Clone(n).(*pb.Notice))
	p.mu.Unlock()
	select {
	case p.arrived <- struct{}{}:
	default: // full: WaitNotices rechecks Got() before each wait, so a lost token is harmless
	}
	return &pb.NoticeAck{Applied: true}, nil
}

// Calls is how many Notify calls arrived (failed ones included).
func (p *Peer) Calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// Got returns the notices accepted so far.
func (p *Peer) Got() []*pb.Notice {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*pb.Notice(nil), p.got...)
}

// WaitNotices waits until n notices were accepted, failing the test after
// timeout (a generous bound against hangs, not a speed assertion).
func (p *Peer) WaitNotices(t testing.TB, n int, timeout time.Duration) []*pb.Notice {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for len(p.Got()) < n {
		select {
		case <-p.arrived:
		case <-deadline.C:
			t.Fatalf("peer %s: got %d notices, want %d", p.ID, len(p.Got()), n)
		}
	}
	return p.Got()
}

// Detector is a fake local FailureDetector service.
type Detector struct {
	pb.UnimplementedFailureDetectorServer
	Addr string

	mu        sync.Mutex
	self      string
	cluster   string
	members   []*pb.Member
	notices   []*pb.Notice
	joins     []*pb.JoinRequest
	memberReq int
	joinErr   error
}

// NewDetector starts a Detector whose Members reply lists members.
func NewDetector(t testing.TB, self, cluster string, members []*pb.Member) *Detector {
	d := &Detector{self: self, cluster: cluster, members: members}
	d.Addr = Serve(t, func(g *grpc.Server) { pb.RegisterFailureDetectorServer(g, d) })
	return d
}

// SetJoinError makes Join fail with err.
func (d *Detector) SetJoinError(err error) {
	d.mu.Lock()
	d.joinErr = err
	d.mu.Unlock()
}

// Members returns the configured list.
func (d *Detector) Members(context.Context, *pb.MembersRequest) (*pb.MembersReply, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.memberReq++
	r := &pb.MembersReply{Header: &pb.Header{Version: config.ProtocolVersion, Cluster: d.cluster, Sender: d.self}, SelfId: d.self}
	for _, m := range d.members {
		r.Members = append(r.Members, &pb.MembershipView{Member: m})
	}
	return r, nil
}

// Notify records n; applied is true the first time a member/kind is seen.
func (d *Detector) Notify(_ context.Context, n *pb.Notice) (*pb.NoticeAck, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notices = append(d.notices, proto.Clone(n).(*pb.Notice))
	return &pb.NoticeAck{Header: &pb.Header{Version: config.ProtocolVersion, Cluster: d.cluster, Sender: d.self}, Applied: true}, nil
}

// Join records req and replies with the member list plus the joiner.
func (d *Detector) Join(_ context.Context, req *pb.JoinRequest) (*pb.JoinReply, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.joinErr != nil {
		return nil, d.joinErr
	}
	d.joins = append(d.joins, proto.Clone(req).(*pb.JoinRequest))
	r := &pb.JoinReply{Header: &pb.Header{Version: config.ProtocolVersion, Cluster: d.cluster, Sender: d.self}}
	r.Members = append(r.Members, d.members...)
	r.Members = append(r.Members, req.GetMember())
	return r, nil
}

// Notices returns the notices the detector was handed.
func (d *Detector) Notices() []*pb.Notice {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*pb.Notice(nil), d.notices...)
}

// Joins returns the join requests forwarded to the detector.
func (d *Detector) Joins() []*pb.JoinRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*pb.JoinRequest(nil), d.joins...)
}

// MembersCalls is how many Members calls arrived.
func (d *Detector) MembersCalls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.memberReq
}
