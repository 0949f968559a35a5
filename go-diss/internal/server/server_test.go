package server

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/pb"
	"swimfd/go-diss/internal/wire"
)

func TestReportBroadcastsToLivePeers(t *testing.T) {
	h := newHarness(t, setup{peers: 4})
	ack, err := h.client.Report(ctx(t), report(h.local, pb.NoticeKind_FAILED, "x", 3))
	if err != nil {
		t.Fatal(err)
	}
	if ack.Duplicate || ack.Recipients != 4 {
		t.Fatalf("ack = %v, want 4 recipients, not duplicate", ack)
	}
	stamped(t, ack, "0")
	for _, p := range h.livePeers() {
		got := p.WaitNotices(t, 1, hang)[0]
		m := got.GetUpdate().GetMember()
		if got.Kind != pb.NoticeKind_FAILED || m.GetId() != "x" || m.GetIncarnation() != 3 ||
			got.Origin != "0" || got.GetHeader().GetSender() != "0" {
			t.Fatalf("peer %s got %v", p.ID, got)
		}
		stamped(t, got, "0")
	}
	h.drain(t)
	if n := h.gone().Calls(); n != 0 {
		t.Fatalf("dead/left member notified %d times", n)
	}
	if ev := h.log.events(t, "notice_broadcast"); len(ev) != 1 || ev[0]["recipients"] != float64(4) ||
		ev[0]["member"] != "x" || ev[0]["kind"] != "FAILED" || ev[0]["origin"] != "0" {
		t.Fatalf("notice_broadcast events = %v", ev)
	}
}

// The accused of a death notice receives it too, although the local view
// already says DEAD, so that a falsely accused live member can refute.
func TestReportNotifiesTheAccused(t *testing.T) {
	h := newHarness(t, setup{peers: 2})
	ack, err := h.client.Report(ctx(t), report(h.local, pb.NoticeKind_FAILED, "dead", 7))
	if err != nil {
		t.Fatal(err)
	}
	if ack.Duplicate || ack.Recipients != 3 {
		t.Fatalf("ack = %v, want 3 recipients (2 peers and the accused)", ack)
	}
	got := h.gone().WaitNotices(t, 1, hang)[0]
	if m := got.GetUpdate().GetMember(); got.Kind != pb.NoticeKind_FAILED || m.GetId() != "dead" || m.GetIncarnation() != 7 {
		t.Fatalf("accused got %v", got)
	}
	for _, p := range h.livePeers() {
		p.WaitNotices(t, 1, hang)
	}
	h.drain(t)
	if n := h.gone().Calls(); n != 1 {
		t.Fatalf("accused notified %d times, want 1", n)
	}
}

// Many reports of one failure produce one broadcast per peer; a different
// incarnation or kind is a new fact.
func TestReportDeduplicates(t *testing.T) {
	h := newHarness(t, setup{peers: 3})
	const reports = 12
	var wg sync.WaitGroup
	dups := make(chan bool, reports)
	for range reports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ack, err := h.client.Report(ctx(t), report(h.local, pb.NoticeKind_FAILED, "x", 3))
			if err != nil {
				t.Error(err)
				return
			}
			dups <- ack.Duplicate
		}()
	}
	wg.Wait()
	close(dups)
	fresh := 0
	for d := range dups {
		if !d {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d reports were not duplicates, want 1", fresh)
	}
	for _, r := range []*pb.FailureReport{
		report(h.local, pb.NoticeKind_FAILED, "x", 4),
		report(h.local, pb.NoticeKind_LEFT_CLUSTER, "x", 3),
	} {
		ack, err := h.client.Report(ctx(t), r)
		if err != nil || ack.Duplicate {
			t.Fatalf("new fact %v treated as duplicate (err %v)", r.Kind, err)
		}
	}
	h.drain(t)
	for _, p := range h.livePeers() {
		if got := len(p.Got()); got != 3 {
			t.Fatalf("peer %s got %d notices, want 3 (one per distinct fact)", p.ID, got)
		}
	}
	if got := len(h.log.events(t, "notice_duplicate")); got != reports-1 {
		t.Fatalf("notice_duplicate logged %d times, want %d", got, reports-1)
	}
	for _, c := range []struct {
		name, label string
		want        float64
	}{
		{"godiss_dedup_hits_total", "", reports - 1},
		{"godiss_notices_broadcast_total", "kind=failed", 2},
		{"godiss_notices_broadcast_total", "kind=left_cluster", 1},
		{"godiss_broadcast_duration_seconds", "", 3}, // drained: every broadcast finished
	} {
		if got := h.metric(t, c.name, c.label); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.label, got, c.want)
		}
	}
}

// Refutations and suspicions (docs/detection.md) are facts like the others:
// broadcast once per (member, incarnation, kind), and a suspicion reaches the
// suspect too so that it can refute at once.
func TestReportRefutedAndSuspected(t *testing.T) {
	cases := []struct {
		name       string
		kind       pb.NoticeKind
		member     string
		recipients uint32
	}{
		{"refuted: every live peer", pb.NoticeKind_REFUTED, "0", 2},
		{"suspected: live peers and the suspect", pb.NoticeKind_SUSPECTED, "dead", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, setup{peers: 2})
			for i, wantDup := range []bool{false, true} {
				ack, err := h.client.Report(ctx(t), report(h.local, tc.kind, tc.member, 5))
				if err != nil {
					t.Fatal(err)
				}
				if ack.Duplicate != wantDup || (!wantDup && ack.Recipients != tc.recipients) {
					t.Fatalf("report %d: ack = %v, want duplicate=%v and %d recipients", i, ack, wantDup, tc.recipients)
				}
			}
			ack, err := h.client.Report(ctx(t), report(h.local, tc.kind, tc.member, 6))
			if err != nil || ack.Duplicate {
				t.Fatalf("a new incarnation's %v treated as duplicate (err %v)", tc.kind, err)
			}
			for _, p := range h.livePeers() {
				got := p.WaitNotices(t, 2, hang)
				if got[0].Kind != tc.kind || got[0].GetUpdate().GetMember().GetId() != tc.member {
					t.Fatalf("peer %s got %v", p.ID, got[0])
				}
			}
			h.drain(t)
		})
	}
}

func TestNotifyForwardsOnce(t *testing.T) {
	h := newHarness(t, setup{peers: 2})
	in := notice(h.peer, pb.NoticeKind_FAILED, "x", 5)
	for i, wantApplied := range []bool{true, false, false} {
		ack, err := h.client.Notify(ctx(t), in)
		if err != nil {
			t.Fatal(err)
		}
		if ack.Applied != wantApplied {
			t.Fatalf("call %d: applied = %v, want %v", i, ack.Applied, wantApplied)
		}
	}
	got := h.det.Notices()
	if len(got) != 1 {
		t.Fatalf("detector got %d notices, want 1", len(got))
	}
	fwd := got[0]
	if fwd.Origin != "1" || fwd.GetHeader().GetSender() != "0" || !proto.Equal(fwd.Update, in.Update) {
		t.Fatalf("forwarded notice = %v", fwd)
	}
	stamped(t, fwd, "0") // restamped as this node's, the origin kept
	// A received fact is not broadcast again when the local detector reports it too.
	ack, err := h.client.Report(ctx(t), report(h.local, pb.NoticeKind_FAILED, "x", 5))
	if err != nil || !ack.Duplicate {
		t.Fatalf("report of a received fact: ack %v err %v, want duplicate", ack, err)
	}
	h.drain(t)
	for _, p := range h.peers {
		if p.Calls() != 0 {
			t.Fatalf("peer %s was notified of a fact go-diss only received", p.ID)
		}
	}
}

func TestDetectorUnreachable(t *testing.T) {
	h := newHarness(t, setup{peers: 2, detectorOff: true})
	in := notice(h.peer, pb.NoticeKind_FAILED, "x", 5)
	// Twice: a failed forward must not make the peer's retry a "duplicate".
	for range 2 {
		_, err := h.client.Notify(ctx(t), in)
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("Notify with detector down: %v, want Unavailable", err)
		}
	}
	_, err := h.client.Report(ctx(t), report(h.local, pb.NoticeKind_FAILED, "y", 1))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Report with detector down: %v, want Unavailable", err)
	}
	ev := h.log.events(t, "detector_unreachable")
	if len(ev) != 1 { // later ones are rate-limited
		t.Fatalf("detector_unreachable logged %d times, want 1", len(ev))
	}
}

func TestJoin(t *testing.T) {
	h := newHarness(t, setup{peers: 3})
	joiner := wire.NewStamp(config.ProtocolVersion, cluster, "j", "127.0.0.1:9")
	req := &pb.JoinRequest{Header: joiner.Header(),
		Member: &pb.Member{Id: "j", Addr: "127.0.0.1:9", DissAddr: "127.0.0.1:19", Incarnation: 2}}
	reply, err := h.client.Join(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(reply.Members); n == 0 || reply.Members[n-1].GetId() != "j" {
		t.Fatalf("reply does not come from the detector: %v", reply.Members)
	}
	joins := h.det.Joins()
	if len(joins) != 1 || !proto.Equal(joins[0], req) {
		t.Fatalf("detector got joins %v, want the request unchanged", joins)
	}
	for _, p := range h.livePeers() {
		got := p.WaitNotices(t, 1, hang)[0]
		m := got.GetUpdate().GetMember()
		if got.Kind != pb.NoticeKind_JOINED || m.GetId() != "j" || m.GetState() != pb.MemberState_ALIVE ||
			m.GetDissAddr() != "127.0.0.1:19" || m.GetIncarnation() != 2 {
			t.Fatalf("peer %s got %v", p.ID, got)
		}
	}
	if ev := h.log.events(t, "join_forwarded"); len(ev) != 1 || ev[0]["member"] != "j" {
		t.Fatalf("join_forwarded events = %v", ev)
	}
}

func TestJoinRefusedByDetector(t *testing.T) {
	h := newHarness(t, setup{peers: 2})
	h.det.SetJoinError(status.Error(codes.FailedPrecondition, "no"))
	joiner := wire.NewStamp(config.ProtocolVersion, cluster, "j", "")
	_, err := h.client.Join(ctx(t), &pb.JoinRequest{Header: joiner.Header(), Member: &pb.Member{Id: "j"}})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("Join = %v, want the detector's FailedPrecondition", err)
	}
	h.drain(t)
	for _, p := range h.peers {
		if p.Calls() != 0 {
			t.Fatalf("refused join was broadcast to %s", p.ID)
		}
	}
}

func TestLeave(t *testing.T) {
	cases := []struct {
		name          string
		member        string
		wantForwarded int // notices handed to the local detector
	}{
		{"own leave", "0", 0},
		{"another member's leave", "7", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, setup{peers: 3})
			s := wire.NewStamp(config.ProtocolVersion, cluster, tc.member, "")
			req := &pb.LeaveRequest{Header: s.Header(),
				Member: &pb.Member{Id: tc.member, Incarnation: 4, State: pb.MemberState_LEFT}}
			reply, err := h.client.Leave(ctx(t), req)
			if err != nil {
				t.Fatal(err)
			}
			stamped(t, reply, "0")
			// Leave returns once peers were told: no waiting needed here.
			for _, p := range h.livePeers() {
				got := p.Got()
				if len(got) != 1 || got[0].Kind != pb.NoticeKind_LEFT_CLUSTER ||
					got[0].GetUpdate().GetMember().GetId() != tc.member ||
					got[0].GetUpdate().GetMember().GetState() != pb.MemberState_LEFT {
					t.Fatalf("peer %s got %v", p.ID, got)
				}
			}
			if n := len(h.det.Notices()); n != tc.wantForwarded {
				t.Fatalf("detector got %d notices, want %d", n, tc.wantForwarded)
			}
			if ev := h.log.events(t, "leave_broadcast"); len(ev) != 1 || ev[0]["delivered"] != float64(3) {
				t.Fatalf("leave_broadcast events = %v", ev)
			}
		})
	}
}

// Leave answers before the caller's deadline even when a peer hangs: the
// leaving detector gets a reply, and the delivery goes on in the background.
func TestLeaveAnswersWithinCallerDeadline(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, setup{peers: 2, hold: release})
	t.Cleanup(func() { close(release) }) // runs before the harness drains
	s := wire.NewStamp(config.ProtocolVersion, cluster, "0", "")
	c, cancel := context.WithTimeout(ctx(t), time.Second)
	defer cancel()
	if _, err := h.client.Leave(c, &pb.LeaveRequest{Header: s.Header(), Member: &pb.Member{Id: "0"}}); err != nil {
		t.Fatalf("Leave with a hung peer: %v", err)
	}
	ev := h.log.events(t, "leave_broadcast")
	if len(ev) != 1 || ev[0]["complete"] != false {
		t.Fatalf("leave_broadcast events = %v, want one incomplete", ev)
	}
}

// Bad input is refused with the contract's code and never reaches the
// detector or a peer. Messages from someone who may not send them (formerly
// a wrong cluster key) are refused by identity (identity_test.go).
func TestRefused(t *testing.T) {
	v2 := wire.NewStamp(2, cluster, "1", "")
	v0 := wire.NewStamp(0, cluster, "1", "")
	wrongCluster := wire.NewStamp(config.ProtocolVersion, "elsewhere", "1", "")
	good := wire.NewStamp(config.ProtocolVersion, cluster, "1", "")

	type call func(h *harness) error
	reportWith := func(s *wire.Stamp, mut func(*pb.FailureReport)) call {
		return func(h *harness) error {
			r := report(s, pb.NoticeKind_FAILED, "x", 1)
			mut(r)
			_, err := h.client.Report(ctx(t), r)
			return err
		}
	}
	notifyWith := func(s *wire.Stamp, mut func(*pb.Notice)) call {
		return func(h *harness) error {
			n := notice(s, pb.NoticeKind_FAILED, "x", 1)
			mut(n)
			_, err := h.client.Notify(ctx(t), n)
			return err
		}
	}
	joinWith := func(s *wire.Stamp, id string) call {
		return func(h *harness) error {
			r := &pb.JoinRequest{Header: s.Header(), Member: &pb.Member{Id: id}}
			_, err := h.client.Join(ctx(t), r)
			return err
		}
	}
	leaveWith := func(s *wire.Stamp, id string) call {
		return func(h *harness) error {
			r := &pb.LeaveRequest{Header: s.Header(), Member: &pb.Member{Id: id}}
			_, err := h.client.Leave(ctx(t), r)
			return err
		}
	}
	none := func(*pb.Notice) {}
	cases := []struct {
		name string
		call call
		want codes.Code
	}{
		{"notify bad version", notifyWith(v2, none), codes.FailedPrecondition},
		{"notify version 0", notifyWith(v0, none), codes.FailedPrecondition},
		{"notify wrong cluster", notifyWith(wrongCluster, none), codes.FailedPrecondition},
		{"notify no header", notifyWith(good, func(n *pb.Notice) { n.Header = nil }), codes.InvalidArgument},
		{"notify no update", notifyWith(good, func(n *pb.Notice) { n.Update = nil }), codes.InvalidArgument},
		{"notify no member id", notifyWith(good, func(n *pb.Notice) { n.Update.Member.Id = "" }), codes.InvalidArgument},
		{"notify no kind", notifyWith(good, func(n *pb.Notice) { n.Kind = 0 }), codes.InvalidArgument},
		{"notify unknown kind", notifyWith(good, func(n *pb.Notice) { n.Kind = 42 }), codes.InvalidArgument},
		{"report wrong cluster", reportWith(wrongCluster, func(*pb.FailureReport) {}), codes.FailedPrecondition},
		{"report no update", reportWith(good, func(r *pb.FailureReport) { r.Update = nil }), codes.InvalidArgument},
		{"report no member", reportWith(good, func(r *pb.FailureReport) { r.Update.Member = nil }), codes.InvalidArgument},
		{"join bad version", joinWith(v2, "j"), codes.FailedPrecondition},
		{"join no member id", joinWith(good, ""), codes.InvalidArgument},
		{"leave wrong cluster", leaveWith(wrongCluster, "1"), codes.FailedPrecondition},
		{"leave no member id", leaveWith(good, ""), codes.InvalidArgument},
	}
	h := newHarness(t, setup{peers: 2})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := status.Code(tc.call(h)); got != tc.want {
				t.Fatalf("code = %v, want %v", got, tc.want)
			}
		})
	}
	h.drain(t)
	if n, j := len(h.det.Notices()), len(h.det.Joins()); n+j != 0 {
		t.Fatalf("refused input reached the detector: %d notices, %d joins", n, j)
	}
	byCode := map[codes.Code]float64{}
	for _, tc := range cases {
		byCode[tc.want]++
	}
	for code, want := range byCode {
		if got := h.metric(t, "godiss_refusals_total", "reason="+code.String()); got != want {
			t.Errorf("godiss_refusals_total{reason=%q} = %v, want %v", code.String(), got, want)
		}
	}
	for _, p := range h.peers {
		if p.Calls() != 0 {
			t.Fatalf("refused input reached peer %s", p.ID)
		}
	}
	if len(h.log.events(t, "request_refused")) == 0 {
		t.Fatal("no request_refused event logged")
	}
}

func TestMessageSizeBounded(t *testing.T) {
	h := newHarness(t, setup{peers: 1})
	n := notice(h.peer, pb.NoticeKind_FAILED, "x", 1)
	n.Update.Member.Labels = map[string]string{"blob": strings.Repeat("x", config.MaxMessageBytes+1)}
	_, err := h.client.Notify(ctx(t), n)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("oversized notice: %v, want ResourceExhausted", err)
	}
	if len(h.det.Notices()) != 0 {
		t.Fatal("oversized notice reached the detector")
	}
}
