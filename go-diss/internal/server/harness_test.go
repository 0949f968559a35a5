package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"swimfd/go-diss/internal/broadcast"
	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/detector"
	"swimfd/go-diss/internal/fakes"
	"swimfd/go-diss/internal/logging"
	"swimfd/go-diss/internal/metrics"
	"swimfd/go-diss/internal/pb"
	"swimfd/go-diss/internal/wire"
)

// hang bounds waits against hangs; it asserts nothing about speed.
const hang = 20 * time.Second

const cluster = "test"

// lockedBuffer collects log lines written by many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// events returns the logged lines with the given event name.
func (b *lockedBuffer) events(t *testing.T, name string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	data := append([]byte(nil), b.buf.Bytes()...)
	b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if line["event"] == name {
			out = append(out, line)
		}
	}
	return out
}

// harness is one go-diss (id "0") with a fake local detector and fake peers.
type harness struct {
	det    *fakes.Detector
	peers  []*fakes.Peer
	bc     *broadcast.Broadcaster
	client pb.DisseminationClient
	cc     *grpc.ClientConn
	log    *lockedBuffer
	m      *metrics.Metrics
	// local stamps headers as this node's detector; peer as member "1".
	local, peer *wire.Stamp
}

func testTuning() config.Tuning {
	t := config.DefaultTuning()
	t.PeerCallTimeout = 2 * time.Second
	t.DetectorCallTimeout = time.Second
	t.Attempts = 3
	t.BackoffBase = 5 * time.Millisecond
	t.BackoffMax = 20 * time.Millisecond
	t.BroadcastWorkers = 8
	return t
}

type setup struct {
	peers       int
	detectorOff bool          // point go-diss at a closed port
	hold        chan struct{} // when set, one more live peer "hung" answers only when it is closed
	// identity, when set, stands in for mtls.PeerID: every call comes from
	// a certificate naming *identity ("" for a certificate naming no member).
	identity *string
}

func newHarness(t *testing.T, s setup) *harness {
	t.Helper()
	h := &harness{log: &lockedBuffer{}}
	members := []*pb.Member{{Id: "0", Addr: "127.0.0.1:1", DissAddr: "127.0.0.1:2", State: pb.MemberState_ALIVE}}
	for i := range s.peers {
		p := fakes.NewPeer(t, fmt.Sprint(i+1))
		h.peers = append(h.peers, p)
		members = append(members, &pb.Member{Id: p.ID, DissAddr: p.Addr, State: pb.MemberState_ALIVE})
	}
	if s.hold != nil {
		p := fakes.NewPeer(t, "hung", fakes.Hold(s.hold))
		members = append(members, &pb.Member{Id: p.ID, DissAddr: p.Addr, State: pb.MemberState_ALIVE})
	}
	// Members that must never be notified: dead, left, and one without an address.
	gone := fakes.NewPeer(t, "gone")
	h.peers = append(h.peers, gone)
	members = append(members,
		&pb.Member{Id: "dead", DissAddr: gone.Addr, State: pb.MemberState_DEAD},
		&pb.Member{Id: "left", DissAddr: gone.Addr, State: pb.MemberState_LEFT},
		&pb.Member{Id: "noaddr", State: pb.MemberState_ALIVE})
	h.det = fakes.NewDetector(t, "0", cluster, members)
	detAddr := h.det.Addr
	if s.detectorOff {
		detAddr = closedPort(t)
	}

	tu := testTuning()
	log := logging.New(h.log, slog.LevelDebug, "0")
	stamp := wire.NewStamp(config.ProtocolVersion, cluster, "0", detAddr)
	det, err := detector.Dial(detAddr, detector.Options{Stamp: stamp, Cluster: cluster, Tuning: tu, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = det.Close() })
	pool := broadcast.NewPool(tu.MaxPeerConns)
	t.Cleanup(pool.Close)
	h.bc = broadcast.New(tu, pool, log)
	t.Cleanup(func() { h.drain(t) })
	h.m = metrics.New(nil)
	o := Options{ID: "0", Cluster: cluster, Stamp: stamp, Detector: det, Bcast: h.bc, Tuning: tu, Log: log, Metrics: h.m}
	if s.identity != nil {
		o.PeerID = func(context.Context) (string, bool) { return *s.identity, *s.identity != "" }
	}
	srv := New(o)
	addr := fakes.Serve(t, func(g *grpc.Server) { srv.Register(g) }, ServerOptionsFor(tu)...)
	cc, err := grpc.NewClient(addr, broadcast.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	h.cc = cc
	h.client = pb.NewDisseminationClient(cc)
	h.local = wire.NewStamp(config.ProtocolVersion, cluster, "0", "127.0.0.1:1")
	h.peer = wire.NewStamp(config.ProtocolVersion, cluster, "1", "127.0.0.1:3")
	return h
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}

// drain waits until every queued delivery is done, so "nothing more
// arrived" can be asserted without sleeping.
func (h *harness) drain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if err := h.bc.Close(ctx); err != nil {
		t.Errorf("broadcaster did not drain: %v", err)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), hang)
	t.Cleanup(cancel)
	return c
}

// stamped fails unless m carries the header of sender in this cluster (who
// really sent it is the connection's certificate, tested in identity_test.go).
func stamped(t *testing.T, m wire.Message, sender string) {
	t.Helper()
	if err := wire.CheckHeader(m.GetHeader(), cluster); err != nil || m.GetHeader().GetSender() != sender {
		t.Fatalf("header %v: want sender %q of cluster %q (%v)", m.GetHeader(), sender, cluster, err)
	}
}

func report(s *wire.Stamp, kind pb.NoticeKind, member string, inc uint64) *pb.FailureReport {
	state := map[pb.NoticeKind]pb.MemberState{
		pb.NoticeKind_FAILED: pb.MemberState_DEAD, pb.NoticeKind_JOINED: pb.MemberState_ALIVE,
		pb.NoticeKind_LEFT_CLUSTER: pb.MemberState_LEFT, pb.NoticeKind_REFUTED: pb.MemberState_ALIVE,
		pb.NoticeKind_SUSPECTED: pb.MemberState_SUSPECT,
	}[kind]
	return &pb.FailureReport{Header: s.Header(), Kind: kind, Update: &pb.Update{
		Member: &pb.Member{Id: member, Incarnation: inc, State: state}, From: "0", Detector: "swim",
	}}
}

func notice(s *wire.Stamp, kind pb.NoticeKind, member string, inc uint64) *pb.Notice {
	r := report(s, kind, member, inc)
	return &pb.Notice{Header: s.Header(), Kind: r.Kind, Update: r.Update, Origin: s.Header().Sender}
}

// livePeers are the peers that should be notified (not the "gone" one).
func (h *harness) livePeers() []*fakes.Peer { return h.peers[:len(h.peers)-1] }

func (h *harness) gone() *fakes.Peer { return h.peers[len(h.peers)-1] }

// metric is the value of one counter or gauge series in h's registry (0 when absent); for a
// histogram, its sample count. label is "name=value" or "" for a series without labels.
func (h *harness) metric(t *testing.T, name, label string) float64 {
	t.Helper()
	families, err := h.m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName()+"="+lp.GetValue() == label {
					match = true
				}
			}
			if !match {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}
