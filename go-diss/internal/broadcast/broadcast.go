// Package broadcast delivers one notice to many peers in parallel: a bounded
// worker pool drains a bounded queue, each delivery retried with exponential
// backoff and each attempt bounded by a deadline. Enqueueing never blocks: a
// full queue drops (and counts) the delivery, because the caller is an RPC
// handler of the local detector that must not stall.
package broadcast

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/faults"
	"swimfd/go-diss/internal/logging"
	"swimfd/go-diss/internal/pb"
)

// Target is one peer: its member id and dissemination address.
type Target struct {
	ID   string
	Addr string
}

// Stats are cumulative counts since start.
type Stats struct {
	Delivered uint64 // deliveries acknowledged by the peer
	Failed    uint64 // deliveries given up on (attempts exhausted or refused)
	Dropped   uint64 // deliveries not queued because the queue was full or closed
	Retries   uint64 // attempts after the first
}

type job struct {
	notice *pb.Notice
	to     Target
	batch  *Batch
}

// Broadcaster owns the workers. Create with New, stop with Close.
type Broadcaster struct {
	t    config.Tuning
	dial Dialer
	log  *slog.Logger
	lim  *logging.Limiter
	loss *faults.Loss // test only: drops outgoing Notify calls (--test-loss)

	mu     sync.RWMutex // guards closed against Send racing Close
	closed bool
	jobs   chan job

	ctx    context.Context // cancelled when Close runs out of time
	cancel context.CancelFunc
	wg     sync.WaitGroup

	delivered, failed, dropped, retries atomic.Uint64
}

// New starts t.BroadcastWorkers workers.
func New(t config.Tuning, dial Dialer, log *slog.Logger) *Broadcaster {
	workers := max(t.BroadcastWorkers, 1)
	ctx, cancel := context.WithCancel(context.Background())
	b := &Broadcaster{
		t:      t,
		dial:   dial,
		log:    log,
		lim:    logging.NewLimiter(t.LogEvery, nil),
		loss:   faults.NewLoss(t.TestLoss, time.Now().UnixNano()),
		jobs:   make(chan job, max(t.BroadcastQueue, 1)),
		ctx:    ctx,
		cancel: cancel,
	}
	b.wg.Add(workers)
	for range workers {
		go b.work()
	}
	return b
}

// Batch tracks the deliveries of one Send.
type Batch struct {
	Queued  int // deliveries accepted
	Dropped int // deliveries refused because the queue was full or closed
	pending atomic.Int64
	done    chan struct{}

	delivered, failed atomic.Int64
}

func (b *Batch) finish(ok bool) {
	if ok {
		b.delivered.Add(1)
	} else {
		b.failed.Add(1)
	}
	if b.pending.Add(-1) == 0 {
		close(b.done)
	}
}

// Wait blocks until every queued delivery succeeded or was given up on, or
// ctx is done.
func (b *Batch) Wait(ctx context.Context) error {
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Delivered is how many peers acknowledged so far.
func (b *Batch) Delivered() int { return int(b.delivered.Load()) }

// Failed is how many deliveries were given up on so far.
func (b *Batch) Failed() int { return int(b.failed.Load()) }

// Send queues n for every target and returns at once. n must be stamped and is
// shared read-only by the workers.
func (b *Broadcaster) Send(n *pb.Notice, to []Target) *Batch {
	batch := &Batch{done: make(chan struct{})}
	batch.pending.Store(int64(len(to)) + 1) // +1 held until queueing is finished
	b.mu.RLock()
	for _, t := range to {
		if !b.closed {
			select {
			case b.jobs <- job{notice: n, to: t, batch: batch}:
				batch.Queued++
				continue
			default:
			}
		}
		batch.Dropped++
		b.dropped.Add(1)
		batch.pending.Add(-1)
		reason := "queue_full"
		if b.closed {
			reason = "shutting_down"
		}
		if ok, more := b.lim.Allow("notice_dropped"); ok {
			b.log.Warn("notice_dropped", append(logging.NoticeAttrs(n),
				"peer", t.ID, "addr", t.Addr, "reason", reason, "suppressed", more)...)
		}
	}
	b.mu.RUnlock()
	if batch.pending.Add(-1) == 0 {
		close(batch.done)
	}
	return batch
}

// Close stops accepting notices and waits for queued deliveries until ctx is
// done; then it aborts the rest (their attempts fail at once) and returns
// ctx's error.
func (b *Broadcaster) Close(ctx context.Context) error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.jobs)
	}
	b.mu.Unlock()
	finished := make(chan struct{})
	go func() { b.wg.Wait(); close(finished) }()
	select {
	case <-finished:
		b.cancel()
		return nil
	case <-ctx.Done():
		b.cancel()
		<-finished
		return ctx.Err()
	}
}

// Stats returns the cumulative counters.
func (b *Broadcaster) Stats() Stats {
	return Stats{
		Delivered: b.delivered.Load(),
		Failed:    b.failed.Load(),
		Dropped:   b.dropped.Load(),
		Retries:   b.retries.Load(),
	}
}

func (b *Broadcaster) work() {
	defer b.wg.Done()
	for j := range b.jobs {
		j.batch.finish(b.deliver(j))
	}
}

// deliver tries one peer up to t.Attempts times and logs the outcome once.
func (b *Broadcaster) deliver(j job) bool {
	attempts := max(b.t.Attempts, 1)
	var err error
	tried := 0
	for tried < attempts {
		if tried > 0 {
			if !sleep(b.ctx, Backoff(b.t.BackoffBase, b.t.BackoffMax, tried)) {
				break
			}
			b.retries.Add(1)
		}
		tried++
		if err = b.try(j); err == nil {
			b.delivered.Add(1)
			b.log.Debug("notice_delivered", append(logging.NoticeAttrs(j.notice),
				"peer", j.to.ID, "addr", j.to.Addr, "attempts", tried)...)
			return true
		}
		if !Retryable(err) {
			break
		}
	}
	b.failed.Add(1)
	if b.ctx.Err() != nil {
		return false // shutting down: the abort itself is logged by the caller
	}
	event, level := "peer_unreachable", slog.LevelWarn
	if !Retryable(err) {
		event = "peer_refused"
	}
	if ok, more := b.lim.Allow(event + "|" + j.to.Addr); ok {
		b.log.Log(context.Background(), level, event, append(logging.NoticeAttrs(j.notice),
			"peer", j.to.ID, "addr", j.to.Addr, "attempts", tried,
			"code", status.Code(err).String(), "error", err.Error(), "suppressed", more)...)
	}
	return false
}

func (b *Broadcaster) try(j job) error {
	if b.loss.Drop() {
		// Injected loss: the call is lost on the way, and retried like any unavailable peer.
		return status.Error(codes.Unavailable, "test loss: notice dropped")
	}
	client, release, err := b.dial.Get(j.to.Addr)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error()) // a bad address will not improve
	}
	defer release()
	ctx, cancel := context.WithTimeout(b.ctx, b.t.PeerCallTimeout)
	defer cancel()
	_, err = client.Notify(ctx, j.notice)
	return err
}

// Retryable reports whether a failed call may succeed when repeated: the
// peer was unreachable, slow or overloaded. A refusal (wrong cluster, key or
// malformed notice) will be refused again.
func Retryable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	switch status.Code(err) {
	case codes.ResourceExhausted:
		// Overloaded (more calls in flight than the peer takes) passes; too large a message will
		// be too large again.
		return !Oversize(err)
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.Unknown, codes.Internal:
		return true
	}
	return false
}

// Oversize reports whether err is grpc's refusal of a message beyond the size
// bound (ResourceExhausted "... larger than max ..."), on either side.
func Oversize(err error) bool {
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.ResourceExhausted && strings.Contains(st.Message(), "larger than max")
}

// Backoff is the delay before retry number retry (1 for the second attempt):
// base doubled per retry, capped at max, with "equal jitter" (a uniform draw
// from the upper half) so that the many nodes broadcasting one failure do not
// retry a recovering peer in lockstep.
func Backoff(base, max time.Duration, retry int) time.Duration {
	d := base
	for i := 1; i < retry && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
