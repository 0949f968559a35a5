package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"swimfd/go-diss/internal/broadcast"
	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/pb"
	"swimfd/go-diss/internal/wire"
)

// stubDetector is an in-process local detector: it knows only this node, so
// broadcasts have no recipients and fuzzing never touches the network.
type stubDetector struct{}

func (stubDetector) Members(context.Context) (string, []*pb.Member, error) {
	return "0", []*pb.Member{{Id: "0", State: pb.MemberState_ALIVE}}, nil
}

func (stubDetector) Notify(context.Context, *pb.Notice) (*pb.NoticeAck, error) {
	return &pb.NoticeAck{Applied: true}, nil
}

func (stubDetector) Join(_ context.Context, req *pb.JoinRequest) (*pb.JoinReply, error) {
	return &pb.JoinReply{Members: []*pb.Member{req.GetMember()}}, nil
}

// fuzzServer is a Server over stubs without PeerID (as on an --insecure node),
// so fuzzed headers that name the cluster reach the handlers' own checks.
func fuzzServer(tb testing.TB) *Server {
	tu := config.DefaultTuning()
	tu.PeerCallTimeout = 5 * time.Millisecond // Leave waits up to PeerCallTimeout * Attempts for its (empty) broadcast
	tu.Attempts = 1
	pool := broadcast.NewPool(1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bc := broadcast.New(tu, pool, log)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = bc.Close(ctx)
		pool.Close()
	})
	stamp := wire.NewStamp(config.ProtocolVersion, cluster, "0", "127.0.0.1:1")
	return New(Options{ID: "0", Cluster: cluster, Stamp: stamp, Detector: stubDetector{}, Bcast: bc, Tuning: tu, Log: log})
}

// allowed are the codes a handler may answer arbitrary input with: a refusal
// of the input (never Internal or Unknown, which senders retry).
var allowed = map[codes.Code]bool{
	codes.OK: true, codes.InvalidArgument: true, codes.FailedPrecondition: true,
	codes.Unauthenticated: true, codes.PermissionDenied: true, codes.ResourceExhausted: true,
}

// callRaw runs method's registered handler on raw bytes, as grpc-go does for a call.
func callRaw(t *testing.T, s *Server, method string, data []byte) error {
	t.Helper()
	for _, m := range s.serviceDesc().Methods {
		if m.MethodName != method {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := m.Handler(s, ctx, func(v any) error { return requestCodec{}.Unmarshal(data, v) }, nil)
		return err
	}
	t.Fatalf("no method %s", method)
	return nil
}

func seeds(f *testing.F, msgs ...proto.Message) {
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Add([]byte("\x0a\x05hello"))
	for _, m := range msgs {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func header() *pb.Header {
	return &pb.Header{Version: config.ProtocolVersion, Cluster: cluster, Sender: "1", SenderAddr: "127.0.0.1:3"}
}

func fuzzMethod(f *testing.F, method string) {
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		err := callRaw(t, s, method, data)
		if code := status.Code(err); !allowed[code] {
			t.Fatalf("%s(%x): code %s (%v)", method, data, code, err)
		}
	})
}

func FuzzReport(f *testing.F) {
	seeds(f, &pb.FailureReport{Header: header(), Kind: pb.NoticeKind_FAILED,
		Update: &pb.Update{Member: &pb.Member{Id: "2", Incarnation: 1 << 63}}},
		&pb.FailureReport{Header: header(), Kind: pb.NoticeKind(99)})
	fuzzMethod(f, "Report")
}

func FuzzNotify(f *testing.F) {
	seeds(f, &pb.Notice{Header: header(), Kind: pb.NoticeKind_FAILED, Origin: "1",
		Update: &pb.Update{Member: &pb.Member{Id: "2", Incarnation: ^uint64(0), Labels: map[string]string{"k": "v"}}}},
		&pb.Notice{Header: &pb.Header{Version: 9}})
	fuzzMethod(f, "Notify")
}

func FuzzJoin(f *testing.F) {
	seeds(f, &pb.JoinRequest{Header: header(), Member: &pb.Member{Id: "9", Addr: "127.0.0.1:9"}},
		&pb.JoinRequest{Header: header()})
	fuzzMethod(f, "Join")
}

func FuzzLeave(f *testing.F) {
	seeds(f, &pb.LeaveRequest{Header: header(), Member: &pb.Member{Id: "9"}}, &pb.LeaveRequest{})
	fuzzMethod(f, "Leave")
}
