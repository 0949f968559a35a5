package broadcast

import (
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/pb"
)

// Dialer hands out a client for a peer address. release must be called when
// the call is done, so the connection may be evicted afterwards.
type Dialer interface {
	Get(addr string) (client pb.DisseminationClient, release func(), err error)
}

// ClientOptions are DialOptions in plaintext (--insecure, and tests).
func ClientOptions() []grpc.DialOption {
	return DialOptions(nil)
}

// DialOptions are the dial options every go-diss client uses: creds (mutual
// TLS; nil means plaintext) and the same message size bound as the server.
func DialOptions(creds credentials.TransportCredentials) []grpc.DialOption {
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	return []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(config.MaxMessageBytes),
			grpc.MaxCallSendMsgSize(config.MaxMessageBytes),
		),
	}
}

// MessageSize bounds the messages a client sends and accepts at n bytes
// (config.Tuning.MaxMessageBytes); append it after ClientOptions.
func MessageSize(n int) grpc.DialOption {
	if n <= 0 {
		n = config.MaxMessageBytes
	}
	return grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(n), grpc.MaxCallSendMsgSize(n))
}

type conn struct {
	cc     *grpc.ClientConn
	client pb.DisseminationClient
	refs   int
	used   uint64 // pool tick of the last Get, for least-recently-used eviction
}

// Pool caches one client connection per peer address, at most max of them
// when idle. A connection in use is never closed under its caller, so the
// pool may briefly exceed max by the number of concurrent callers.
type Pool struct {
	mu    sync.Mutex
	max   int
	opts  []grpc.DialOption
	conns map[string]*conn
	tick  uint64
}

// NewPool returns an empty Pool; opts are used for every connection.
func NewPool(max int, opts ...grpc.DialOption) *Pool {
	if max < 1 {
		max = 1
	}
	if len(opts) == 0 {
		opts = ClientOptions()
	}
	return &Pool{max: max, opts: opts, conns: map[string]*conn{}}
}

// Get returns a client for addr, connecting lazily.
func (p *Pool) Get(addr string) (pb.DisseminationClient, func(), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tick++
	c, ok := p.conns[addr]
	if !ok {
		cc, err := grpc.NewClient(addr, p.opts...)
		if err != nil {
			return nil, nil, err
		}
		c = &conn{cc: cc, client: pb.NewDisseminationClient(cc)}
		p.conns[addr] = c
	}
	c.refs++
	c.used = p.tick
	p.evict() // after taking the reference, so the new connection is not the victim
	var once sync.Once
	release := func() {
		once.Do(func() {
			p.mu.Lock()
			c.refs--
			p.mu.Unlock()
		})
	}
	return c.client, release, nil
}

// evict closes least recently used idle connections while over max.
func (p *Pool) evict() {
	for len(p.conns) > p.max {
		var victim string
		var oldest *conn
		for a, c := range p.conns {
			if c.refs == 0 && (oldest == nil || c.used < oldest.used) {
				victim, oldest = a, c
			}
		}
		if oldest == nil {
			return
		}
		_ = oldest.cc.Close()
		delete(p.conns, victim)
	}
}

// Len is the number of cached connections.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close closes every connection.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a, c := range p.conns {
		_ = c.cc.Close()
		delete(p.conns, a)
	}
}
