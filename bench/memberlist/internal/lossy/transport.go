// Package lossy wraps a memberlist.Transport to drop a fraction of UDP packets
// and to count what goes over the wire, so that the benchmark can inject the
// same message loss into memberlist as into swimfd and compare traffic.
package lossy

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Stats are cumulative counters. Streams (TCP push-pull and fallback pings)
// count as one message each way; their bytes are counted as they flow.
type Stats struct {
	MsgsSent    uint64 `json:"msgs_sent"`
	BytesSent   uint64 `json:"bytes_sent"`
	MsgsRecv    uint64 `json:"msgs_recv"`
	BytesRecv   uint64 `json:"bytes_recv"`
	DroppedSent uint64 `json:"dropped_sent"`
	DroppedRecv uint64 `json:"dropped_recv"`
}

type counters struct {
	msgsSent, bytesSent, msgsRecv, bytesRecv, droppedSent, droppedRecv atomic.Uint64
}

// Dropper decides whether one packet is lost. It is safe for concurrent use.
type Dropper struct {
	mu   sync.Mutex
	rng  *rand.Rand
	loss float64
}

// NewDropper returns a Dropper that loses each packet with probability loss,
// drawn from a generator seeded with seed so runs can be repeated.
func NewDropper(loss float64, seed uint64) *Dropper {
	return &Dropper{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), loss: loss}
}

// Drop reports whether the next packet is lost.
func (d *Dropper) Drop() bool {
	if d.loss <= 0 {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rng.Float64() < d.loss
}

// Transport applies loss to packets in both directions (like swimfd's
// --test-loss). Streams are left alone unless a stream dropper is given: TCP
// retransmits, so a lossy link slows a stream down but does not lose it, and
// memberlist's TCP fallback ping relies on that. A stream dropper fails dials
// and closes accepted streams, for a strict comparison with swimfd, whose
// injected loss hits every message.
type Transport struct {
	inner      memberlist.Transport
	drop       *Dropper
	streamDrop *Dropper
	c          counters
	packetCh   chan *memberlist.Packet
	streamCh   chan net.Conn
	done       chan struct{}
	once       sync.Once
	wg         sync.WaitGroup
}

var _ memberlist.Transport = (*Transport)(nil)

// ErrStreamLost is returned by DialTimeout when the stream dropper loses it.
var ErrStreamLost = errors.New("lossy: stream lost (injected)")

// Wrap starts forwarding the inner transport's packets and streams. A nil
// streamDrop leaves streams alone.
func Wrap(inner memberlist.Transport, drop, streamDrop *Dropper) *Transport {
	if streamDrop == nil {
		streamDrop = NewDropper(0, 0)
	}
	t := &Transport{
		inner:      inner,
		drop:       drop,
		streamDrop: streamDrop,
		packetCh:   make(chan *memberlist.Packet),
		streamCh:   make(chan net.Conn),
		done:       make(chan struct{}),
	}
	t.wg.Add(2)
	go t.forwardPackets()
	go t.forwardStreams()
	return t
}

func (t *Transport) forwardPackets() {
	defer t.wg.Done()
	in := t.inner.PacketCh()
	for {
		select {
		case <-t.done:
			return
		case p, ok := <-in:
			if !ok {
				return
			}
			if t.drop.Drop() {
				t.c.droppedRecv.Add(1)
				continue
			}
			t.c.msgsRecv.Add(1)
			t.c.bytesRecv.Add(uint64(len(p.Buf)))
			select {
			case t.packetCh <- p:
			case <-t.done:
				return
			}
		}
	}
}

func (t *Transport) forwardStreams() {
	defer t.wg.Done()
	in := t.inner.StreamCh()
	for {
		select {
		case <-t.done:
			return
		case conn, ok := <-in:
			if !ok {
				return
			}
			if t.streamDrop.Drop() {
				t.c.droppedRecv.Add(1)
				_ = conn.Close()
				continue
			}
			t.c.msgsRecv.Add(1)
			select {
			case t.streamCh <- &countingConn{Conn: conn, c: &t.c}:
			case <-t.done:
				_ = conn.Close()
				return
			}
		}
	}
}

// FinalAdvertiseAddr delegates to the inner transport.
func (t *Transport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.inner.FinalAdvertiseAddr(ip, port)
}

// WriteTo sends b unless the dropper loses it; a lost packet looks sent to
// memberlist, exactly as a packet lost on the network would.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.drop.Drop() {
		t.c.droppedSent.Add(1)
		return time.Now(), nil
	}
	ts, err := t.inner.WriteTo(b, addr)
	if err == nil {
		t.c.msgsSent.Add(1)
		t.c.bytesSent.Add(uint64(len(b)))
	}
	return ts, err
}

// PacketCh yields the packets that survived the dropper.
func (t *Transport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// DialTimeout opens a counted stream.
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if t.streamDrop.Drop() {
		t.c.droppedSent.Add(1)
		return nil, ErrStreamLost
	}
	conn, err := t.inner.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	t.c.msgsSent.Add(1)
	return &countingConn{Conn: conn, c: &t.c}, nil
}

// StreamCh yields counted incoming streams.
func (t *Transport) StreamCh() <-chan net.Conn { return t.streamCh }

// Shutdown stops the forwarders, then the inner transport.
func (t *Transport) Shutdown() error {
	t.once.Do(func() { close(t.done) })
	err := t.inner.Shutdown()
	t.wg.Wait()
	return err
}

// Stats returns a snapshot of the counters.
func (t *Transport) Stats() Stats {
	return Stats{
		MsgsSent:    t.c.msgsSent.Load(),
		BytesSent:   t.c.bytesSent.Load(),
		MsgsRecv:    t.c.msgsRecv.Load(),
		BytesRecv:   t.c.bytesRecv.Load(),
		DroppedSent: t.c.droppedSent.Load(),
		DroppedRecv: t.c.droppedRecv.Load(),
	}
}

type countingConn struct {
	net.Conn
	c *counters
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.c.bytesRecv.Add(uint64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.c.bytesSent.Add(uint64(n))
	return n, err
}
