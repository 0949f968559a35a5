// Package server implements the Dissemination gRPC service (docs/architecture.md,
// "What each layer promises"; docs/dissemination.md).
//
// The local detector Reports what it confirmed (and calls Leave when its node
// leaves); go-diss broadcasts a Notice to every other live member's
// dissemination service. Peers' Notices are verified, de-duplicated and handed
// to the local detector. Join requests are forwarded to the local detector and
// the join is broadcast. One (member, incarnation, kind) set serves both
// directions: a fact this node already received from a peer is not broadcast
// again, because its origin is already sending it to everyone.
package server

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"swimfd/go-diss/internal/broadcast"
	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/dedup"
	"swimfd/go-diss/internal/faults"
	"swimfd/go-diss/internal/logging"
	"swimfd/go-diss/internal/metrics"
	"swimfd/go-diss/internal/mtls"
	"swimfd/go-diss/internal/pb"
	"swimfd/go-diss/internal/wire"
)

// Detector is what the server needs from the local failure detector
// (implemented by detector.Client).
type Detector interface {
	Members(ctx context.Context) (self string, members []*pb.Member, err error)
	Notify(ctx context.Context, n *pb.Notice) (*pb.NoticeAck, error)
	Join(ctx context.Context, req *pb.JoinRequest) (*pb.JoinReply, error)
}

// Broadcaster queues a stamped notice for delivery to peers.
type Broadcaster interface {
	Send(n *pb.Notice, to []broadcast.Target) *broadcast.Batch
}

// Options configure a Server.
type Options struct {
	ID       string
	Cluster  string
	Stamp    *wire.Stamp
	Detector Detector
	Bcast    Broadcaster
	Tuning   config.Tuning
	Log      *slog.Logger
	Now      func() time.Time // nil: time.Now
	Metrics  *metrics.Metrics // nil: no metrics
	// PeerID names the member the caller's verified certificate names
	// (mtls.PeerID). Nil on an --insecure node: then nobody's identity is known
	// and none is checked.
	PeerID func(ctx context.Context) (string, bool)
}

// Server is the Dissemination service.
type Server struct {
	pb.UnimplementedDisseminationServer
	id      string
	cluster string
	stamp   *wire.Stamp
	det     Detector
	bc      Broadcaster
	seen    *dedup.Set
	log     *slog.Logger
	lim     *logging.Limiter
	m       *metrics.Metrics
	refused atomic.Uint64
	loss    *faults.Loss // test only: drops incoming Notify calls (--test-loss)
	// leaveWait bounds how long Leave waits for its broadcast: the leaving
	// node wants its peers told before it exits, but not forever.
	leaveWait time.Duration
	peerID    func(ctx context.Context) (string, bool)
}

// New returns a Server.
func New(o Options) *Server {
	log := o.Log
	if log == nil {
		log = logging.Discard()
	}
	t := o.Tuning
	return &Server{
		id: o.ID, cluster: o.Cluster, stamp: o.Stamp, det: o.Detector, bc: o.Bcast,
		seen:      dedup.New(t.DedupCapacity, t.DedupTTL, o.Now),
		log:       log,
		lim:       logging.NewLimiter(t.LogEvery, o.Now),
		m:         o.Metrics,
		loss:      faults.NewLoss(t.TestLoss, time.Now().UnixNano()),
		leaveWait: t.PeerCallTimeout * time.Duration(max(t.Attempts, 1)),
		peerID:    o.PeerID,
	}
}

// Register adds the service to a gRPC server.
func (s *Server) Register(g *grpc.Server) { g.RegisterService(s.serviceDesc(), s) }

// serviceDesc is the generated service description with every handler's
// decoding wrapped: bytes that are not the expected message are refused with
// InvalidArgument (and logged), where grpc-go would answer Internal, a code
// senders retry.
func (s *Server) serviceDesc() *grpc.ServiceDesc {
	desc := pb.Dissemination_ServiceDesc
	methods := make([]grpc.MethodDesc, len(desc.Methods))
	for i, m := range desc.Methods {
		name, handler := m.MethodName, m.Handler
		methods[i] = grpc.MethodDesc{MethodName: name, Handler: func(srv any, ctx context.Context,
			dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			return handler(srv, ctx, func(v any) error {
				err := dec(v)
				if err == nil && isMalformed(v) {
					err = errors.New("the bytes are not a " + name + " request")
				}
				if err == nil {
					return nil
				}
				if st, ok := status.FromError(err); ok && st.Code() != codes.Internal && st.Code() != codes.Unknown {
					return s.refuse(ctx, name, nil, err)
				}
				return s.refuse(ctx, name, nil, status.Errorf(codes.InvalidArgument, "%s: malformed request: %v", name, err))
			}, icpt)
		}}
	}
	desc.Methods = methods
	return &desc
}

// Refused is the number of requests refused since start (logged at shutdown).
func (s *Server) Refused() uint64 { return s.refused.Load() }

// ServerOptions are ServerOptionsFor the default tuning.
func ServerOptions(outer ...grpc.UnaryServerInterceptor) []grpc.ServerOption {
	return ServerOptionsFor(config.DefaultTuning(), outer...)
}

// ConcurrencyLimit refuses a call with ResourceExhausted while max calls are
// already in flight, so a flood of Notify or Join calls cannot pile up
// goroutines and memory; callers retry with backoff.
func ConcurrencyLimit(max int) grpc.UnaryServerInterceptor {
	slots := make(chan struct{}, max)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			return handler(ctx, req)
		default:
			return nil, status.Errorf(codes.ResourceExhausted, "%s: more than %d calls in flight", info.FullMethod, max)
		}
	}
}

// Report: the local detector confirmed a failure (or a join or leave).
func (s *Server) Report(ctx context.Context, req *pb.FailureReport) (*pb.ReportAck, error) {
	if err := s.check(ctx, "Report", req); err != nil {
		return nil, err
	}
	if err := s.identity(ctx, "Report", req.GetHeader(), s.ownDetector); err != nil {
		return nil, err
	}
	if err := checkFact("Report", req.GetKind(), req.GetUpdate()); err != nil {
		return nil, s.refuse(ctx, "Report", req.GetHeader(), err)
	}
	origin := req.GetHeader().GetSender()
	if origin == "" {
		origin = s.id
	}
	n := &pb.Notice{Kind: req.GetKind(), Update: req.GetUpdate(), Origin: origin}
	dup, recipients, err := s.broadcast(ctx, n, "report")
	if err != nil {
		return nil, err
	}
	ack := &pb.ReportAck{Header: s.stamp.Header(), Duplicate: dup, Recipients: uint32(recipients)}
	return ack, nil
}

// Notify: a peer's dissemination service tells us a fact.
func (s *Server) Notify(ctx context.Context, n *pb.Notice) (*pb.NoticeAck, error) {
	if s.loss.Drop() {
		// Injected loss: as if the call never arrived; the sender retries as for any unavailable peer.
		return nil, status.Error(codes.Unavailable, "test loss: notice dropped")
	}
	if err := s.check(ctx, "Notify", n); err != nil {
		return nil, err
	}
	if err := s.identity(ctx, "Notify", n.GetHeader(), func(id string) string {
		if n.GetOrigin() != id {
			return "notice origin " + n.GetOrigin() + " is not the certificate's member"
		}
		return sameSender(n.GetHeader(), id)
	}); err != nil {
		return nil, err
	}
	if err := checkFact("Notify", n.GetKind(), n.GetUpdate()); err != nil {
		return nil, s.refuse(ctx, "Notify", n.GetHeader(), err)
	}
	peer := n.GetHeader().GetSender()
	key := dedup.KeyOf(n)
	if !s.seen.Add(key) {
		s.m.DedupHit()
		s.log.Info("notice_duplicate", append(logging.NoticeAttrs(n), "peer", peer, "source", "peer")...)
		return s.noticeAck(false)
	}
	s.log.Info("notice_received", append(logging.NoticeAttrs(n), "peer", peer)...)
	ack, err := s.det.Notify(ctx, n)
	if err != nil {
		// Let the peer's retry (or another origin's notice) through later.
		s.seen.Forget(key)
		return nil, passOn(err, "local detector did not take the notice")
	}
	s.log.Info("notice_forwarded", append(logging.NoticeAttrs(n), "peer", peer, "applied", ack.GetApplied())...)
	return s.noticeAck(ack.GetApplied())
}

// Join: a joiner asks this node (its seed) to join; the local detector admits
// it and the join is broadcast.
func (s *Server) Join(ctx context.Context, req *pb.JoinRequest) (*pb.JoinReply, error) {
	if err := s.check(ctx, "Join", req); err != nil {
		return nil, err
	}
	if err := s.identity(ctx, "Join", req.GetHeader(), func(id string) string {
		if req.GetMember().GetId() != id {
			return "join names member " + req.GetMember().GetId() + ", not the caller"
		}
		return sameSender(req.GetHeader(), id)
	}); err != nil {
		return nil, err
	}
	if req.GetMember().GetId() == "" {
		return nil, s.refuse(ctx, "Join", req.GetHeader(), status.Error(codes.InvalidArgument, "join request without member id"))
	}
	reply, err := s.det.Join(ctx, req)
	if err != nil {
		s.log.Warn("join_failed", "member", req.GetMember().GetId(), "incarnation", req.GetMember().GetIncarnation(),
			"peer", req.GetHeader().GetSender(), "error", err.Error())
		return nil, passOn(err, "local detector did not take the join")
	}
	s.log.Info("join_forwarded", "member", req.GetMember().GetId(), "incarnation", req.GetMember().GetIncarnation(),
		"peer", req.GetHeader().GetSender(), "members", len(reply.GetMembers()))
	m := cloneMember(req.GetMember())
	m.State = pb.MemberState_ALIVE
	n := &pb.Notice{Kind: pb.NoticeKind_JOINED, Update: &pb.Update{Member: m, From: s.id}, Origin: s.id}
	if _, _, err := s.broadcast(ctx, n, "join"); err != nil {
		// The joiner is in; the detector's own gossip still spreads the news.
		s.log.Warn("join_broadcast_failed", append(logging.NoticeAttrs(n), "error", err.Error())...)
	}
	return reply, nil
}

// Leave: a member (normally this node, on shutdown) leaves; tell everyone and
// wait, within a bound, until they were told.
func (s *Server) Leave(ctx context.Context, req *pb.LeaveRequest) (*pb.LeaveReply, error) {
	if err := s.check(ctx, "Leave", req); err != nil {
		return nil, err
	}
	if err := s.identity(ctx, "Leave", req.GetHeader(), func(id string) string {
		if r := s.ownDetector(id); r != "" {
			return r
		}
		if req.GetMember().GetId() != id {
			return "leave names member " + req.GetMember().GetId() + ", not this node"
		}
		return ""
	}); err != nil {
		return nil, err
	}
	if req.GetMember().GetId() == "" {
		return nil, s.refuse(ctx, "Leave", req.GetHeader(), status.Error(codes.InvalidArgument, "leave request without member id"))
	}
	m := cloneMember(req.GetMember())
	m.State = pb.MemberState_LEFT
	origin := req.GetHeader().GetSender()
	if origin == "" {
		origin = m.GetId()
	}
	n := &pb.Notice{Kind: pb.NoticeKind_LEFT_CLUSTER, Update: &pb.Update{Member: m, From: m.GetId()}, Origin: origin}
	batch, err := s.send(ctx, n, "leave")
	if err != nil {
		return nil, err
	}
	if batch != nil {
		if m.GetId() != s.id {
			// Someone else's leave: our own detector must learn it too.
			if _, err := s.det.Notify(ctx, n); err != nil {
				s.log.Warn("leave_forward_failed", append(logging.NoticeAttrs(n), "error", err.Error())...)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, s.waitBudget(ctx))
		werr := batch.Wait(wctx)
		cancel()
		s.log.Info("leave_broadcast", append(logging.NoticeAttrs(n), "delivered", batch.Delivered(),
			"failed", batch.Failed(), "complete", werr == nil)...)
	}
	reply := &pb.LeaveReply{Header: s.stamp.Header()}
	return reply, nil
}

// waitBudget is how long Leave may wait for its broadcast: leaveWait, but
// ending a little before the caller's deadline so the caller gets a reply
// rather than DEADLINE_EXCEEDED (the deliveries continue regardless).
func (s *Server) waitBudget(ctx context.Context) time.Duration {
	d := s.leaveWait
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		d = min(d, left-min(left/5, 200*time.Millisecond))
	}
	return max(d, 0)
}

// broadcast de-duplicates, stamps and queues n for every live peer. It returns
// whether n was a duplicate and how many peers it is addressed to.
func (s *Server) broadcast(ctx context.Context, n *pb.Notice, source string) (bool, int, error) {
	batch, err := s.send(ctx, n, source)
	if err != nil {
		return false, 0, err
	}
	if batch == nil {
		return true, 0, nil
	}
	return false, batch.Queued + batch.Dropped, nil
}

// send is broadcast returning the batch (nil for a duplicate).
func (s *Server) send(ctx context.Context, n *pb.Notice, source string) (*broadcast.Batch, error) {
	key := dedup.KeyOf(n)
	if !s.seen.Add(key) {
		s.m.DedupHit()
		s.log.Info("notice_duplicate", append(logging.NoticeAttrs(n), "source", source)...)
		return nil, nil
	}
	targets, err := s.targets(ctx, n)
	if err != nil {
		s.seen.Forget(key) // so the detector's retry is not a "duplicate"
		return nil, status.Errorf(codes.Unavailable, "no member list from the local detector: %v", err)
	}
	n.Header = s.stamp.Header()
	start := time.Now()
	batch := s.bc.Send(n, targets)
	s.m.Broadcast(strings.ToLower(n.GetKind().String()))
	if s.m != nil {
		// Every delivery ends (acknowledged, given up on, or aborted at shutdown), so this goroutine does too.
		go func() {
			if batch.Wait(context.Background()) == nil {
				s.m.BroadcastDone(time.Since(start))
			}
		}()
	}
	s.log.Info("notice_broadcast", append(logging.NoticeAttrs(n), "source", source,
		"recipients", len(targets), "queued", batch.Queued, "dropped", batch.Dropped)...)
	return batch, nil
}

// targets are the members to notify (recipients), from the local detector's view.
func (s *Server) targets(ctx context.Context, n *pb.Notice) ([]broadcast.Target, error) {
	self, members, err := s.det.Members(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if m.GetDissAddr() == "" && m.GetId() != self && m.GetId() != s.id {
			s.log.Debug("peer_without_diss_addr", "peer", m.GetId())
		}
	}
	return recipients(self, s.id, members, n), nil
}

// check enforces the header rule (wire.CheckHeader) on every request.
func (s *Server) check(ctx context.Context, method string, m wire.Message) error {
	h := m.GetHeader()
	if err := wire.CheckHeader(h, s.cluster); err != nil {
		return s.refuse(ctx, method, h, err)
	}
	return nil
}

// identity refuses a call whose caller may not make it (a peer can act only
// as the member its certificate names): rule returns why not, or "". Without
// mutual TLS (PeerID nil) nothing is checked.
func (s *Server) identity(ctx context.Context, method string, h *pb.Header, rule func(id string) string) error {
	if s.peerID == nil {
		return nil
	}
	id, ok := s.peerID(ctx)
	reason := "certificate names no member"
	if ok {
		reason = rule(id)
	}
	if reason == "" {
		return nil
	}
	err := status.Error(codes.PermissionDenied, reason)
	s.refused.Add(1)
	s.m.Refused(err)
	if allow, more := s.lim.Allow("identity|" + method + "|" + id); allow {
		s.log.Warn("identity_refused", "method", method, "peer", mtls.PeerAddr(ctx), "claimed_sender", h.GetSender(),
			"cert_id", id, "reason", reason, "suppressed", more, "refused_total", s.refused.Load())
	}
	return err
}

// ownDetector: only this node's detector (which holds this node's certificate) reports and leaves through us.
func (s *Server) ownDetector(id string) string {
	if id != s.id {
		return "only this node's own detector may call this"
	}
	return ""
}

func sameSender(h *pb.Header, id string) string {
	if h.GetSender() != id {
		return "header sender is not the certificate's member"
	}
	return ""
}

// refuse counts and logs a refused request and returns err. The warning names
// the transport peer's address, the sender the header claims and the reason;
// it is rate-limited per (peer address, code): the first one is logged, later
// ones are counted into the next line's "suppressed".
func (s *Server) refuse(ctx context.Context, method string, h *pb.Header, err error) error {
	s.refused.Add(1)
	code := status.Code(err)
	s.m.Refused(err)
	addr := ""
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		addr = p.Addr.String()
	}
	if ok, more := s.lim.Allow("refused|" + addr + "|" + code.String()); ok {
		s.log.Warn("request_refused", "method", method, "peer", h.GetSender(), "peer_addr", addr,
			"code", code.String(), "error", status.Convert(err).Message(), "suppressed", more, "refused_total", s.refused.Load())
	}
	return err
}

// checkFact refuses a notice or report that does not name a fact.
func checkFact(method string, kind pb.NoticeKind, u *pb.Update) error {
	switch {
	case !knownKind(kind):
		return status.Errorf(codes.InvalidArgument, "%s: unknown notice kind %d", method, int32(kind))
	case u == nil:
		return status.Errorf(codes.InvalidArgument, "%s: missing update", method)
	case u.GetMember().GetId() == "":
		return status.Errorf(codes.InvalidArgument, "%s: update without member id", method)
	}
	return nil
}

// knownKind: the facts a detector reports (pyserver/swimfd/core/reports.py).
func knownKind(kind pb.NoticeKind) bool {
	switch kind {
	case pb.NoticeKind_FAILED, pb.NoticeKind_JOINED, pb.NoticeKind_LEFT_CLUSTER,
		pb.NoticeKind_REFUTED, pb.NoticeKind_SUSPECTED:
		return true
	}
	return false
}

func (s *Server) noticeAck(applied bool) (*pb.NoticeAck, error) {
	ack := &pb.NoticeAck{Header: s.stamp.Header(), Applied: applied}
	return ack, nil
}

// passOn keeps the detector's gRPC status (e.g. its refusal) and turns any
// other error into Unavailable.
func passOn(err error, msg string) error {
	if st, ok := status.FromError(err); ok && !errors.Is(err, context.DeadlineExceeded) {
		return st.Err()
	}
	return status.Errorf(codes.Unavailable, "%s: %v", msg, err)
}

func cloneMember(m *pb.Member) *pb.Member {
	c, _ := proto.Clone(m).(*pb.Member)
	return c
}
