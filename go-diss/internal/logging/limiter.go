package logging

import (
	"sync"
	"time"
)

// maxKeys bounds the limiter's memory when keys are per peer.
const maxKeys = 4096

// Limiter lets one event per key through every interval, so a dead detector
// or peer produces a steady trickle of warnings instead of a flood.
type Limiter struct {
	mu         sync.Mutex
	every      time.Duration
	now        func() time.Time
	last       map[string]time.Time
	suppressed map[string]int
}

// NewLimiter returns a Limiter; now is the clock (time.Now outside tests).
func NewLimiter(every time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{every: every, now: now, last: map[string]time.Time{}, suppressed: map[string]int{}}
}

// Allow reports whether an event for key may be logged now, and how many
// were suppressed since the last one that was.
func (l *Limiter) Allow(key string) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if t, ok := l.last[key]; ok && now.Sub(t) < l.every {
		l.suppressed[key]++
		return false, 0
	}
	if len(l.last) >= maxKeys {
		l.prune(now)
	}
	n := l.suppressed[key]
	delete(l.suppressed, key)
	l.last[key] = now
	return true, n
}

// prune forgets keys whose interval has passed; if none has, it forgets all,
// which at worst lets one extra line per key through.
func (l *Limiter) prune(now time.Time) {
	for k, t := range l.last {
		if now.Sub(t) >= l.every {
			delete(l.last, k)
			delete(l.suppressed, k)
		}
	}
	if len(l.last) >= maxKeys {
		clear(l.last)
		clear(l.suppressed)
	}
}
