package dedup

import (
	"testing"
	"time"

	"swimfd/go-diss/internal/pb"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func key(m string, inc uint64, k pb.NoticeKind) Key {
	return Key{Member: m, Incarnation: inc, Kind: k}
}

func TestSet(t *testing.T) {
	a := key("a", 1, pb.NoticeKind_FAILED)
	type step struct {
		advance time.Duration
		op      string // add, forget, contains
		key     Key
		want    bool // result of add/contains
	}
	cases := []struct {
		name     string
		capacity int
		ttl      time.Duration
		steps    []step
		wantLen  int
	}{
		{"repeat is a duplicate", 10, time.Minute, []step{
			{0, "add", a, true}, {0, "add", a, false}, {time.Second, "add", a, false},
		}, 1},
		{"incarnation and kind make distinct keys", 10, time.Minute, []step{
			{0, "add", a, true}, {0, "add", key("a", 2, pb.NoticeKind_FAILED), true},
			{0, "add", key("a", 1, pb.NoticeKind_JOINED), true}, {0, "add", key("b", 1, pb.NoticeKind_FAILED), true},
		}, 4},
		{"expires after ttl", 10, time.Minute, []step{
			{0, "add", a, true}, {59 * time.Second, "contains", a, true},
			{time.Second, "contains", a, false}, {0, "add", a, true},
		}, 1},
		{"capacity evicts oldest", 2, time.Minute, []step{
			{0, "add", a, true}, {0, "add", key("b", 1, pb.NoticeKind_FAILED), true},
			{0, "add", key("c", 1, pb.NoticeKind_FAILED), true},
			{0, "contains", a, false}, {0, "contains", key("b", 1, pb.NoticeKind_FAILED), true},
		}, 2},
		{"forget lets the key in again", 10, time.Minute, []step{
			{0, "add", a, true}, {0, "forget", a, false}, {0, "contains", a, false}, {0, "add", a, true},
		}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1000, 0)}
			s := New(tc.capacity, tc.ttl, c.now)
			for i, st := range tc.steps {
				c.t = c.t.Add(st.advance)
				var got bool
				switch st.op {
				case "add":
					got = s.Add(st.key)
				case "contains":
					got = s.Contains(st.key)
				case "forget":
					s.Forget(st.key)
					continue
				}
				if got != st.want {
					t.Fatalf("step %d %s(%v) = %v, want %v", i, st.op, st.key, got, st.want)
				}
			}
			if got := s.Len(); got != tc.wantLen {
				t.Fatalf("Len = %d, want %d", got, tc.wantLen)
			}
		})
	}
}

func TestKeyOf(t *testing.T) {
	n := &pb.Notice{Kind: pb.NoticeKind_LEFT_CLUSTER, Update: &pb.Update{Member: &pb.Member{Id: "7", Incarnation: 3}}}
	if got, want := KeyOf(n), key("7", 3, pb.NoticeKind_LEFT_CLUSTER); got != want {
		t.Fatalf("KeyOf = %v, want %v", got, want)
	}
}
