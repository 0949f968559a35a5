package eventlog

import (
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestDelegateEvents(t *testing.T) {
	peer := &memberlist.Node{Name: "2", Addr: net.ParseIP("127.0.0.1"), Port: 7002}
	self := &memberlist.Node{Name: "1", Addr: net.ParseIP("127.0.0.1"), Port: 7001}
	tests := []struct {
		name  string
		call  func(d *Delegate)
		event string // "" means no line
		extra map[string]any
	}{
		{"join", func(d *Delegate) { d.NotifyJoin(peer) }, "member_joined", map[string]any{"source": "memberlist"}},
		{"leave is failed", func(d *Delegate) { d.NotifyLeave(peer) }, "member_failed", map[string]any{"detector": "memberlist"}},
		{"self join is silent", func(d *Delegate) { d.NotifyJoin(self) }, "", nil},
		{"self leave is silent", func(d *Delegate) { d.NotifyLeave(self) }, "", nil},
		{"update is below info", func(d *Delegate) { d.NotifyUpdate(peer) }, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			before := float64(time.Now().UnixNano()) / 1e9
			tc.call(&Delegate{Log: NewLogger(&buf, "1"), Self: "1"})
			got := lines(t, &buf)
			if tc.event == "" {
				if len(got) != 0 {
					t.Fatalf("want no line, got %v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("want one line, got %v", got)
			}
			m := got[0]
			if m["event"] != tc.event || m["node"] != "1" || m["member"] != "2" || m["addr"] != "127.0.0.1:7002" {
				t.Fatalf("unexpected line %v", m)
			}
			ts, ok := m["ts"].(float64)
			if !ok || ts < before || ts > before+60 {
				t.Fatalf("ts %v is not epoch seconds near %v", m["ts"], before)
			}
			for k, v := range tc.extra {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
		})
	}
}

func TestLineFilterKeepsOnlyWarnings(t *testing.T) {
	var buf bytes.Buffer
	f := LineFilter{Log: NewLogger(&buf, "1")}
	in := "2026/01/01 [DEBUG] memberlist: ping\n2026/01/01 [WARN] memberlist: slow\n2026/01/01 [ERR] memberlist: bad\n"
	n, err := f.Write([]byte(in))
	if err != nil || n != len(in) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	got := lines(t, &buf)
	if len(got) != 2 {
		t.Fatalf("want 2 lines, got %v", got)
	}
	for i, want := range []string{"[WARN] memberlist: slow", "[ERR] memberlist: bad"} {
		if got[i]["event"] != "memberlist_log" || !strings.Contains(got[i]["line"].(string), want) {
			t.Errorf("line %d = %v, want %q", i, got[i], want)
		}
	}
}
