package lossy

import (
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// send pushes n packets of size bytes from a to b and returns how many b's
// consumer saw, once b's forwarder has accounted for every one that left a.
func send(t *testing.T, a, b *Transport, n, size int) int {
	t.Helper()
	var got atomic.Int64
	stop := make(chan struct{})
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for {
			select {
			case <-b.PacketCh():
				got.Add(1)
			case <-stop:
				return
			}
		}
	}()
	buf := make([]byte, size)
	for i := 0; i < n; i++ {
		if _, err := a.WriteTo(buf, "127.0.0.1:2"); err != nil {
			t.Fatalf("WriteTo: %v", err)
		}
	}
	sent := a.Stats().MsgsSent
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := b.Stats()
		if s.MsgsRecv+s.DroppedRecv == sent && uint64(got.Load()) == s.MsgsRecv {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("forwarder did not account for %d packets: %+v", sent, s)
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	<-consumed
	return int(got.Load())
}

func TestPacketLossAndCounting(t *testing.T) {
	const n, size = 2000, 100
	tests := []struct {
		name              string
		sendLoss, rcvLoss float64
		minGot, maxGot    int
	}{
		{"no loss delivers everything", 0, 0, n, n},
		{"all outgoing lost", 1, 0, 0, 0},
		{"all incoming lost", 0, 1, 0, 0},
		// 30% on one side: 1400 expected, binomial sd about 20, so +-120 is 6 sd.
		{"30% outgoing", 0.3, 0, 1280, 1520},
		{"30% incoming", 0, 0.3, 1280, 1520},
		// both sides lose 10%: 0.9 * 0.9 = 81% survive.
		{"10% each way compounds", 0.1, 0.1, 1500, 1740},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mn := &memberlist.MockNetwork{}
			a := Wrap(mn.NewTransport("a"), NewDropper(tc.sendLoss, 1), nil)
			b := Wrap(mn.NewTransport("b"), NewDropper(tc.rcvLoss, 2), nil)
			defer a.Shutdown()
			defer b.Shutdown()
			got := send(t, a, b, n, size)
			if got < tc.minGot || got > tc.maxGot {
				t.Fatalf("delivered %d, want in [%d, %d]", got, tc.minGot, tc.maxGot)
			}
			sa, sb := a.Stats(), b.Stats()
			if sa.MsgsSent+sa.DroppedSent != n {
				t.Errorf("sender accounted %d+%d packets, want %d", sa.MsgsSent, sa.DroppedSent, n)
			}
			if sa.BytesSent != sa.MsgsSent*size {
				t.Errorf("bytes sent %d, want %d", sa.BytesSent, sa.MsgsSent*size)
			}
			if sb.MsgsRecv != uint64(got) || sb.BytesRecv != uint64(got*size) {
				t.Errorf("receiver counted %d msgs %d bytes, consumer saw %d", sb.MsgsRecv, sb.BytesRecv, got)
			}
		})
	}
}

func TestDropperIsRepeatable(t *testing.T) {
	a, b := NewDropper(0.5, 7), NewDropper(0.5, 7)
	for i := 0; i < 100; i++ {
		if a.Drop() != b.Drop() {
			t.Fatalf("same seed diverged at draw %d", i)
		}
	}
}

func TestStreamsAreCountedNotDropped(t *testing.T) {
	mn := &memberlist.MockNetwork{}
	a := Wrap(mn.NewTransport("a"), NewDropper(1, 1), nil)
	b := Wrap(mn.NewTransport("b"), NewDropper(1, 2), nil)
	defer a.Shutdown()
	defer b.Shutdown()

	accepted := make(chan []byte, 1)
	go func() {
		conn := <-b.StreamCh()
		defer conn.Close()
		buf := make([]byte, 5)
		_, _ = io.ReadFull(conn, buf)
		accepted <- buf
	}()
	conn, err := a.DialTimeout("127.0.0.1:2", time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if _, err := conn.Write([]byte("hello")); err != nil {
		t.Fatalf("write: %v", err)
	}
	select {
	case got := <-accepted:
		if string(got) != "hello" {
			t.Fatalf("stream carried %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream never accepted")
	}
	_ = conn.Close()
	if s := a.Stats(); s.MsgsSent != 1 || s.BytesSent != 5 {
		t.Errorf("dialer stats %+v, want 1 msg 5 bytes sent", s)
	}
	if s := b.Stats(); s.MsgsRecv != 1 || s.BytesRecv != 5 {
		t.Errorf("acceptor stats %+v, want 1 msg 5 bytes received", s)
	}
}

func TestStreamDropperFailsDialsAndAcceptedStreams(t *testing.T) {
	tests := []struct {
		name           string
		dialer, accept float64
	}{
		{"dial side", 1, 0},
		{"accept side", 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mn := &memberlist.MockNetwork{}
			a := Wrap(mn.NewTransport("a"), NewDropper(0, 1), NewDropper(tc.dialer, 1))
			b := Wrap(mn.NewTransport("b"), NewDropper(0, 2), NewDropper(tc.accept, 2))
			defer a.Shutdown()
			defer b.Shutdown()
			conn, err := a.DialTimeout("127.0.0.1:2", time.Second)
			if tc.dialer == 1 {
				if !errors.Is(err, ErrStreamLost) {
					t.Fatalf("dial err = %v, want ErrStreamLost", err)
				}
				if s := a.Stats(); s.DroppedSent != 1 || s.MsgsSent != 0 {
					t.Fatalf("dialer stats %+v", s)
				}
				return
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer conn.Close()
			// The acceptor closes the stream instead of handing it to memberlist.
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Read(make([]byte, 1)); err == nil {
				t.Fatal("read from a dropped stream succeeded")
			}
			select {
			case <-b.StreamCh():
				t.Fatal("dropped stream reached memberlist")
			default:
			}
			if s := b.Stats(); s.DroppedRecv != 1 || s.MsgsRecv != 0 {
				t.Fatalf("acceptor stats %+v", s)
			}
		})
	}
}
