// Package dedup remembers which notices this node has already handled, so a
// failure reported many times (by the local detector, or by several peers)
// is broadcast and applied once.
package dedup

import (
	"container/list"
	"sync"
	"time"

	"swimfd/go-diss/internal/pb"
)

// Key identifies one membership fact. A restarted member has a higher
// incarnation, so its new join or failure is a new key.
type Key struct {
	Member      string
	Incarnation uint64
	Kind        pb.NoticeKind
}

// KeyOf returns the key of a notice.
func KeyOf(n *pb.Notice) Key {
	m := n.GetUpdate().GetMember()
	return Key{Member: m.GetId(), Incarnation: m.GetIncarnation(), Kind: n.GetKind()}
}

type entry struct {
	key   Key
	added time.Time
}

// Set is a bounded set of keys: each key is remembered for ttl, and at most
// capacity keys are kept (oldest first out). Keys expire in insertion order,
// so one list serves both bounds. Safe for concurrent use.
type Set struct {
	mu       sync.Mutex
	capacity int
	ttl      time.Duration
	now      func() time.Time
	byKey    map[Key]*list.Element
	order    *list.List // front = oldest
}

// New returns an empty Set; now is the clock (time.Now outside tests).
func New(capacity int, ttl time.Duration, now func() time.Time) *Set {
	if capacity < 1 {
		capacity = 1
	}
	if now == nil {
		now = time.Now
	}
	return &Set{capacity: capacity, ttl: ttl, now: now, byKey: map[Key]*list.Element{}, order: list.New()}
}

// Add records k and reports whether it was new (not seen within ttl).
func (s *Set) Add(k Key) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.expire(now)
	if _, ok := s.byKey[k]; ok {
		return false
	}
	s.byKey[k] = s.order.PushBack(entry{key: k, added: now})
	for s.order.Len() > s.capacity {
		s.remove(s.order.Front())
	}
	return true
}

// Contains reports whether k was seen within ttl.
func (s *Set) Contains(k Key) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(s.now())
	_, ok := s.byKey[k]
	return ok
}

// Forget removes k, so the next Add of it is new again: used when handling
// a notice failed and a retry must not be mistaken for a duplicate.
func (s *Set) Forget(k Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byKey[k]; ok {
		s.remove(e)
	}
}

// Len is the number of keys remembered.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(s.now())
	return s.order.Len()
}

func (s *Set) expire(now time.Time) {
	for e := s.order.Front(); e != nil; e = s.order.Front() {
		if now.Sub(e.Value.(entry).added) < s.ttl {
			return
		}
		s.remove(e)
	}
}

func (s *Set) remove(e *list.Element) {
	delete(s.byKey, e.Value.(entry).key)
	s.order.Remove(e)
}
