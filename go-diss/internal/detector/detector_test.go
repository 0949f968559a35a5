package detector

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/logging"
	"swimfd/go-diss/internal/pb"
	"swimfd/go-diss/internal/wire"
)

// fakeFD is an in-memory FailureDetectorClient whose answers the test sets.
type fakeFD struct {
	pb.FailureDetectorClient
	mu      sync.Mutex
	calls   int
	cluster string
	ids     []string
	err     error
	gate    chan struct{} // when set, Members blocks until it is closed
	lastReq *pb.MembersRequest
	notices []*pb.Notice
}

func (f *fakeFD) Members(ctx context.Context, req *pb.MembersRequest, _ ...grpc.CallOption) (*pb.MembersReply, error) {
	f.mu.Lock()
	f.calls++
	f.lastReq = req
	gate, err, ids, cl := f.gate, f.err, f.ids, f.cluster
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if err != nil {
		return nil, err
	}
	r := &pb.MembersReply{Header: &pb.Header{Version: config.ProtocolVersion, Cluster: cl}, SelfId: "0"}
	for _, id := range ids {
		r.Members = append(r.Members, &pb.MembershipView{Member: &pb.Member{Id: id}})
	}
	return r, nil
}

func (f *fakeFD) Notify(_ context.Context, n *pb.Notice, _ ...grpc.CallOption) (*pb.NoticeAck, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notices = append(f.notices, n)
	return &pb.NoticeAck{Applied: true}, f.err
}

func (f *fakeFD) set(ids []string, err error) {
	f.mu.Lock()
	f.ids, f.err = ids, err
	f.mu.Unlock()
}

func (f *fakeFD) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClient(fd *fakeFD, c *clock, log *bytes.Buffer) *Client {
	t := config.DefaultTuning()
	t.MembersTTL = time.Second
	return New(fd, "127.0.0.1:50051", Options{
		Stamp:   wire.NewStamp(config.ProtocolVersion, "c", "0", "127.0.0.1:50051"),
		Cluster: "c", Tuning: t, Now: c.now, Log: logging.New(log, slog.LevelInfo, "0"),
	})
}

func ids(ms []*pb.Member) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.GetId())
	}
	return strings.Join(out, ",")
}

func TestMembersCacheAndFallback(t *testing.T) {
	fd := &fakeFD{cluster: "c", ids: []string{"0", "1"}}
	c := &clock{t: time.Unix(100, 0)}
	var log bytes.Buffer
	cl := newClient(fd, c, &log)
	down := status.Error(codes.Unavailable, "connection refused")
	steps := []struct {
		name      string
		advance   time.Duration
		ids       []string
		err       error
		wantIDs   string
		wantCalls int
	}{
		{"first call fetches", 0, []string{"0", "1"}, nil, "0,1", 1},
		{"within ttl: cached", 500 * time.Millisecond, []string{"0", "1", "2"}, nil, "0,1", 1},
		{"after ttl: refetched", 600 * time.Millisecond, []string{"0", "1", "2"}, nil, "0,1,2", 2},
		{"detector down: last list", 2 * time.Second, nil, down, "0,1,2", 3},
		{"still down: tries again", 2 * time.Second, nil, down, "0,1,2", 4},
		{"back: new list", 2 * time.Second, []string{"0", "3"}, nil, "0,3", 5},
	}
	for _, s := range steps {
		c.add(s.advance)
		fd.set(s.ids, s.err)
		self, ms, err := cl.Members(context.Background())
		if err != nil || self != "0" || ids(ms) != s.wantIDs || fd.count() != s.wantCalls {
			t.Fatalf("%s: self %q members %q err %v calls %d; want %q after %d calls",
				s.name, self, ids(ms), err, fd.count(), s.wantIDs, s.wantCalls)
		}
	}
	if n := strings.Count(log.String(), `"event":"detector_unreachable"`); n != 1 {
		t.Fatalf("detector_unreachable logged %d times within the rate limit, want 1:\n%s", n, log.String())
	}
	if h := fd.lastReq.GetHeader(); wire.CheckHeader(h, "c") != nil || h.GetSender() != "0" {
		t.Fatalf("MembersRequest header %v, want this node's", h)
	}
}

func TestMembersErrors(t *testing.T) {
	cases := []struct {
		name    string
		cluster string
		err     error
		want    string
	}{
		{"never reachable", "c", status.Error(codes.Unavailable, "refused"), "no member list"},
		{"other cluster", "other", nil, `cluster "other"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fd := &fakeFD{cluster: tc.cluster, ids: []string{"0"}, err: tc.err}
			var log bytes.Buffer
			_, _, err := newClient(fd, &clock{}, &log).Members(context.Background())
			if err == nil || !errors.Is(err, ErrNoMembers) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrNoMembers mentioning %q", err, tc.want)
			}
		})
	}
}

// Concurrent callers during a slow fetch share it rather than each calling.
func TestMembersSingleFetch(t *testing.T) {
	gate := make(chan struct{})
	fd := &fakeFD{cluster: "c", ids: []string{"0", "1"}, gate: gate}
	var log bytes.Buffer
	cl := newClient(fd, &clock{t: time.Unix(1, 0)}, &log)
	const callers = 8
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ms, err := cl.Members(context.Background())
			if err == nil && ids(ms) != "0,1" {
				err = errors.New("wrong list " + ids(ms))
			}
			errs <- err
		}()
	}
	for deadline := time.Now().Add(20 * time.Second); fd.count() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no Members call arrived")
		}
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Callers arriving after the fetch finished read the fresh cache.
	if fd.count() != 1 {
		t.Fatalf("%d Members calls for %d concurrent callers, want 1", fd.count(), callers)
	}
}

func TestNotifyRestamps(t *testing.T) {
	fd := &fakeFD{cluster: "c"}
	var log bytes.Buffer
	cl := newClient(fd, &clock{}, &log)
	in := &pb.Notice{Header: &pb.Header{Version: config.ProtocolVersion, Cluster: "c", Sender: "9", Mac: []byte("peer mac")},
		Kind: pb.NoticeKind_FAILED, Origin: "9", Update: &pb.Update{Member: &pb.Member{Id: "5"}}}
	if _, err := cl.Notify(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	out := fd.notices[0]
	if out.GetHeader().GetSender() != "0" || out.Origin != "9" {
		t.Fatalf("forwarded header sender %q origin %q", out.GetHeader().GetSender(), out.Origin)
	}
	if wire.CheckHeader(out.GetHeader(), "c") != nil || len(out.GetHeader().GetMac()) != 0 {
		t.Fatalf("forwarded notice header %v, want this node's own", out.GetHeader())
	}
	if in.GetHeader().GetSender() != "9" || string(in.GetHeader().GetMac()) != "peer mac" {
		t.Fatal("Notify modified the caller's notice")
	}
}
