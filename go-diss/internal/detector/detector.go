// Package detector is go-diss's client of the local Python FailureDetector.
// Every call carries a deadline; when the detector is unreachable the client
// logs detector_unreachable (rate-limited) and callers keep serving, using the
// last member list it fetched if there is one.
package detector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"swimfd/go-diss/internal/broadcast"
	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/logging"
	"swimfd/go-diss/internal/pb"
	"swimfd/go-diss/internal/wire"
)

// ErrNoMembers: the detector never answered Members, so there is no list.
var ErrNoMembers = errors.New("no member list from the local detector yet")

// Options configure a Client.
type Options struct {
	Stamp   *wire.Stamp
	Cluster string
	Tuning  config.Tuning
	Log     *slog.Logger
	Now     func() time.Time                 // nil: time.Now
	Creds   credentials.TransportCredentials // mutual TLS with the node's certificate; nil: plaintext
}

// Client calls the local detector. Safe for concurrent use.
type Client struct {
	fd      pb.FailureDetectorClient
	cc      *grpc.ClientConn // nil when built over a caller's connection
	addr    string
	stamp   *wire.Stamp
	cluster string
	timeout time.Duration
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger
	lim     *logging.Limiter

	mu       sync.Mutex
	self     string
	members  []*pb.Member
	fetched  time.Time
	have     bool
	lastErr  error
	inflight chan struct{} // non-nil while one Members call is under way
}

// Dial returns a Client of the detector at addr. It connects lazily, so an
// absent detector is not an error here.
func Dial(addr string, o Options) (*Client, error) {
	cc, err := grpc.NewClient(addr, append(broadcast.DialOptions(o.Creds), broadcast.MessageSize(o.Tuning.MaxMessageBytes))...)
	if err != nil {
		return nil, fmt.Errorf("--detector %s: %w", addr, err)
	}
	c := New(pb.NewFailureDetectorClient(cc), addr, o)
	c.cc = cc
	return c, nil
}

// New returns a Client over an existing FailureDetector client.
func New(fd pb.FailureDetectorClient, addr string, o Options) *Client {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	log := o.Log
	if log == nil {
		log = logging.Discard()
	}
	return &Client{
		fd: fd, addr: addr, stamp: o.Stamp, cluster: o.Cluster,
		timeout: o.Tuning.DetectorCallTimeout, ttl: o.Tuning.MembersTTL,
		now: now, log: log, lim: logging.NewLimiter(o.Tuning.LogEvery, now),
	}
}

// Close closes the connection Dial made.
func (c *Client) Close() error {
	if c.cc == nil {
		return nil
	}
	return c.cc.Close()
}

// Members returns the detector's self id and its members (self included, any
// state). The list is reused for MembersTTL; concurrent callers share one
// fetch. When a fetch fails, the previous list is returned if there is one.
func (c *Client) Members(ctx context.Context) (string, []*pb.Member, error) {
	c.mu.Lock()
	if c.have && c.now().Sub(c.fetched) < c.ttl {
		defer c.mu.Unlock()
		return c.self, c.members, nil
	}
	if wait := c.inflight; wait != nil {
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
		}
		return c.cached()
	}
	done := make(chan struct{})
	c.inflight = done
	c.mu.Unlock()

	self, members, err := c.fetch(ctx)

	c.mu.Lock()
	if err == nil {
		c.self, c.members, c.fetched, c.have, c.lastErr = self, members, c.now(), true, nil
	} else {
		c.lastErr = err
	}
	c.inflight = nil
	close(done)
	c.mu.Unlock()
	if err != nil {
		c.unreachable("Members", err)
	}
	return c.cached()
}

func (c *Client) cached() (string, []*pb.Member, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.have {
		if c.lastErr != nil {
			return "", nil, fmt.Errorf("%w: %v", ErrNoMembers, c.lastErr)
		}
		return "", nil, ErrNoMembers
	}
	return c.self, c.members, nil
}

// Invalidate makes the next Members call fetch (e.g. after a join).
func (c *Client) Invalidate() {
	c.mu.Lock()
	c.fetched = time.Time{} // the old list stays as a fallback
	c.mu.Unlock()
}

func (c *Client) fetch(ctx context.Context) (string, []*pb.Member, error) {
	req := &pb.MembersRequest{Header: c.stamp.Header()}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	reply, err := c.fd.Members(ctx, req)
	if err != nil {
		return "", nil, err
	}
	if err := c.checkReply(reply.GetHeader()); err != nil {
		return "", nil, err
	}
	members := make([]*pb.Member, 0, len(reply.GetMembers()))
	for _, v := range reply.GetMembers() {
		if m := v.GetMember(); m.GetId() != "" {
			members = append(members, m)
		}
	}
	return reply.GetSelfId(), members, nil
}

// checkReply refuses a reply from a detector of another cluster or protocol
// version (a misconfigured --detector), by the header rule every message
// obeys (wire.CheckHeader). A reply without a header is accepted: the
// connection's mutual TLS already says who answered.
func (c *Client) checkReply(h *pb.Header) error {
	if h == nil {
		return nil
	}
	if err := wire.CheckHeader(h, c.cluster); err != nil {
		return fmt.Errorf("detector reply refused: %s", status.Convert(err).Message())
	}
	return nil
}

// Notify hands a notice to the detector, restamped with this node's header
// (the notice's origin keeps who reported it).
func (c *Client) Notify(ctx context.Context, n *pb.Notice) (*pb.NoticeAck, error) {
	out, ok := proto.Clone(n).(*pb.Notice)
	if !ok {
		return nil, errors.New("clone notice")
	}
	out.Header = c.stamp.Header()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ack, err := c.fd.Notify(ctx, out)
	if err != nil {
		c.unreachable("Notify", err)
		return nil, err
	}
	return ack, nil
}

// Join forwards a joiner's request unchanged: its header is the joiner's.
// The server checked the joiner's certificate; the detector accepts joins
// that its own go-diss (this node's certificate) forwards.
func (c *Client) Join(ctx context.Context, req *pb.JoinRequest) (*pb.JoinReply, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	reply, err := c.fd.Join(ctx, req)
	if err != nil {
		c.unreachable("Join", err)
		return nil, err
	}
	c.Invalidate()
	return reply, nil
}

// unreachable logs a failed call: detector_unreachable when the detector did
// not answer in time, detector_refused when it answered with an error.
func (c *Client) unreachable(method string, err error) {
	event := "detector_refused"
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		event = "detector_unreachable"
	}
	if ok, more := c.lim.Allow(event); ok {
		c.log.Warn(event, "detector", c.addr, "method", method, "code", status.Code(err).String(),
			"error", err.Error(), "suppressed", more)
	}
}
