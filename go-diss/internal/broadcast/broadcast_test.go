package broadcast

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/fakes"
	"swimfd/go-diss/internal/logging"
	"swimfd/go-diss/internal/pb"
)

// hang bounds every wait in these tests; it guards against hangs and is far
// above any expected duration, so it asserts nothing about speed.
const hang = 20 * time.Second

func tuning() config.Tuning {
	t := config.DefaultTuning()
	t.PeerCallTimeout = 300 * time.Millisecond
	t.Attempts = 4
	t.BackoffBase = 5 * time.Millisecond
	t.BackoffMax = 40 * time.Millisecond
	t.BroadcastWorkers = 8
	t.BroadcastQueue = 256
	t.MaxPeerConns = 64
	return t
}

func testNotice() *pb.Notice {
	return &pb.Notice{
		Header: &pb.Header{Version: config.ProtocolVersion, Cluster: "c", Sender: "0"},
		Kind:   pb.NoticeKind_FAILED, Origin: "0",
		Update: &pb.Update{Member: &pb.Member{Id: "dead", Incarnation: 2, State: pb.MemberState_DEAD}},
	}
}

func start(t *testing.T, tu config.Tuning, d Dialer) *Broadcaster {
	t.Helper()
	b := New(tu, d, logging.Discard())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		defer cancel()
		_ = b.Close(ctx)
	})
	return b
}

func wait(t *testing.T, batch *Batch) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if err := batch.Wait(ctx); err != nil {
		t.Fatalf("batch did not finish: %v", err)
	}
}

func TestFanOut(t *testing.T) {
	for _, n := range []int{1, 5, 24} {
		t.Run(fmt.Sprintf("%d peers", n), func(t *testing.T) {
			pool := NewPool(64)
			t.Cleanup(pool.Close)
			b := start(t, tuning(), pool)
			peers := make([]*fakes.Peer, n)
			targets := make([]Target, n)
			for i := range peers {
				peers[i] = fakes.NewPeer(t, fmt.Sprint(i+1))
				targets[i] = Target{ID: peers[i].ID, Addr: peers[i].Addr}
			}
			sent := testNotice()
			batch := b.Send(sent, targets)
			if batch.Queued != n || batch.Dropped != 0 {
				t.Fatalf("queued %d dropped %d, want %d and 0", batch.Queued, batch.Dropped, n)
			}
			wait(t, batch)
			for _, p := range peers {
				got := p.Got()
				if len(got) != 1 || !proto.Equal(got[0], sent) {
					t.Fatalf("peer %s got %v, want exactly the sent notice", p.ID, got)
				}
			}
			if batch.Delivered() != n || batch.Failed() != 0 {
				t.Fatalf("delivered %d failed %d", batch.Delivered(), batch.Failed())
			}
			if st := b.Stats(); st.Delivered != uint64(n) || st.Retries != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	cases := []struct {
		name          string
		failFirst     int
		code          codes.Code
		wantDelivered bool
		wantCalls     int
	}{
		{"one unavailable then success", 1, codes.Unavailable, true, 2},
		{"three failures then success on the last attempt", 3, codes.Unavailable, true, 4},
		{"overloaded peer is retried", 2, codes.ResourceExhausted, true, 3},
		{"attempts exhausted", 10, codes.Unavailable, false, 4},
		{"refusal is not retried", 10, codes.FailedPrecondition, false, 1},
		{"bad key is not retried", 10, codes.Unauthenticated, false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pool := NewPool(8)
			t.Cleanup(pool.Close)
			b := start(t, tuning(), pool)
			p := fakes.NewPeer(t, "p", fakes.FailFirst(tc.failFirst, tc.code))
			batch := b.Send(testNotice(), []Target{{ID: p.ID, Addr: p.Addr}})
			wait(t, batch)
			if got := batch.Delivered() == 1; got != tc.wantDelivered {
				t.Fatalf("delivered = %v, want %v", got, tc.wantDelivered)
			}
			if p.Calls() != tc.wantCalls {
				t.Fatalf("peer saw %d calls, want %d", p.Calls(), tc.wantCalls)
			}
			if st := b.Stats(); st.Retries != uint64(tc.wantCalls-1) {
				t.Fatalf("retries = %d, want %d", st.Retries, tc.wantCalls-1)
			}
		})
	}
}

// A peer that never answers costs one worker for its deadlines; every other
// peer is still served, even with fewer workers than peers.
func TestHungPeerDoesNotBlockOthers(t *testing.T) {
	tu := tuning()
	tu.BroadcastWorkers = 2
	tu.Attempts = 2
	tu.PeerCallTimeout = 200 * time.Millisecond
	pool := NewPool(8)
	t.Cleanup(pool.Close)
	b := start(t, tu, pool)

	release := make(chan struct{})
	defer close(release)
	hung := fakes.NewPeer(t, "hung", fakes.Hold(release))
	targets := []Target{{ID: hung.ID, Addr: hung.Addr}}
	var good []*fakes.Peer
	for i := range 6 {
		p := fakes.NewPeer(t, fmt.Sprint("good", i))
		good = append(good, p)
		targets = append(targets, Target{ID: p.ID, Addr: p.Addr})
	}
	batch := b.Send(testNotice(), targets)
	for _, p := range good {
		p.WaitNotices(t, 1, hang)
	}
	// Every good peer was served while the hung one has answered nothing.
	if n := len(hung.Got()); n != 0 {
		t.Fatalf("hung peer answered %d times", n)
	}
	wait(t, batch)
	if batch.Delivered() != len(good) || batch.Failed() != 1 {
		t.Fatalf("delivered %d failed %d, want %d and 1", batch.Delivered(), batch.Failed(), len(good))
	}
	if hung.Calls() != tu.Attempts {
		t.Fatalf("hung peer saw %d attempts, want %d", hung.Calls(), tu.Attempts)
	}
}

// blockingDialer's client blocks every Notify until release is closed.
type blockingDialer struct {
	entered chan struct{}
	release chan struct{}
}

type blockingClient struct {
	pb.DisseminationClient
	d *blockingDialer
}

func (c blockingClient) Notify(ctx context.Context, _ *pb.Notice, _ ...grpc.CallOption) (*pb.NoticeAck, error) {
	c.d.entered <- struct{}{}
	select {
	case <-c.d.release:
		return &pb.NoticeAck{}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (d *blockingDialer) Get(string) (pb.DisseminationClient, func(), error) {
	return blockingClient{d: d}, func() {}, nil
}

func TestFullQueueDropsWithoutBlocking(t *testing.T) {
	tu := tuning()
	tu.BroadcastWorkers = 1
	tu.BroadcastQueue = 2
	tu.PeerCallTimeout = hang
	d := &blockingDialer{entered: make(chan struct{}, 16), release: make(chan struct{})}
	b := start(t, tu, d)

	first := b.Send(testNotice(), []Target{{ID: "a", Addr: "a:1"}})
	<-d.entered // the only worker is now busy
	targets := []Target{{"b", "b:1"}, {"c", "c:1"}, {"d", "d:1"}, {"e", "e:1"}, {"f", "f:1"}}
	second := b.Send(testNotice(), targets) // must return although nothing can drain
	if second.Queued != 2 || second.Dropped != 3 {
		t.Fatalf("queued %d dropped %d, want 2 and 3", second.Queued, second.Dropped)
	}
	if st := b.Stats(); st.Dropped != 3 {
		t.Fatalf("stats dropped = %d, want 3", st.Dropped)
	}
	close(d.release)
	wait(t, first)
	wait(t, second)
	if second.Delivered() != 2 {
		t.Fatalf("delivered %d of the queued, want 2", second.Delivered())
	}
}

func TestCloseDrainsThenAborts(t *testing.T) {
	t.Run("drains queued deliveries", func(t *testing.T) {
		pool := NewPool(8)
		t.Cleanup(pool.Close)
		b := New(tuning(), pool, logging.Discard())
		p := fakes.NewPeer(t, "p")
		batch := b.Send(testNotice(), []Target{{ID: p.ID, Addr: p.Addr}})
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if batch.Delivered() != 1 || len(p.Got()) != 1 {
			t.Fatalf("close did not drain: delivered %d", batch.Delivered())
		}
		late := b.Send(testNotice(), []Target{{ID: p.ID, Addr: p.Addr}})
		if late.Queued != 0 || late.Dropped != 1 {
			t.Fatalf("send after close: queued %d dropped %d", late.Queued, late.Dropped)
		}
	})
	t.Run("aborts when the grace runs out", func(t *testing.T) {
		tu := tuning()
		tu.PeerCallTimeout = hang
		d := &blockingDialer{entered: make(chan struct{}, 16), release: make(chan struct{})}
		defer close(d.release)
		b := New(tu, d, logging.Discard())
		batch := b.Send(testNotice(), []Target{{ID: "a", Addr: "a:1"}})
		<-d.entered
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := b.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close = %v, want DeadlineExceeded", err)
		}
		if batch.Failed() != 1 {
			t.Fatalf("aborted delivery not counted as failed")
		}
	})
}

func TestBackoff(t *testing.T) {
	base, limit := 100*time.Millisecond, time.Second
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		w *= time.Millisecond
		for range 50 {
			d := Backoff(base, limit, i+1)
			if d < w/2 || d > w {
				t.Fatalf("Backoff(retry %d) = %v, want within [%v, %v]", i+1, d, w/2, w)
			}
		}
	}
}

func TestRetryable(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{fakesStatus(codes.Unavailable), true},
		{fakesStatus(codes.DeadlineExceeded), true},
		{fakesStatus(codes.FailedPrecondition), false},
		{fakesStatus(codes.InvalidArgument), false},
		{fakesStatus(codes.Unauthenticated), false},
		{context.Canceled, false},
	}
	for _, tc := range cases {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
