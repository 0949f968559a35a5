package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"swimfd/go-diss/internal/pb"
)

func TestLineShape(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo, "3")
	n := &pb.Notice{Kind: pb.NoticeKind_FAILED, Origin: "1",
		Update: &pb.Update{Member: &pb.Member{Id: "5", Incarnation: 9}}}
	before := float64(time.Now().UnixNano()) / 1e9
	log.Info("notice_broadcast", append(NoticeAttrs(n), "peer", "2")...)
	log.Debug("hidden")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
	}
	want := map[string]any{
		"event": "notice_broadcast", "node": "3", "member": "5", "incarnation": float64(9),
		"kind": "FAILED", "origin": "1", "peer": "2", "level": "info",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v", k, line[k], v)
		}
	}
	ts, ok := line["ts"].(float64)
	if !ok || ts < before || ts > before+3600 {
		t.Errorf("ts = %v, want epoch seconds near %v", line["ts"], before)
	}
	for _, k := range []string{"msg", "time"} {
		if _, ok := line[k]; ok {
			t.Errorf("key %q should have been renamed", k)
		}
	}
}

func TestLevelNames(t *testing.T) {
	cases := []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug, "debug"}, {slog.LevelInfo, "info"}, {slog.LevelWarn, "warning"},
		{slog.LevelError, "error"}, {slog.LevelError + 4, "error"},
	}
	for _, tc := range cases {
		var buf bytes.Buffer
		New(&buf, slog.LevelDebug, "1").Log(context.Background(), tc.level, "x")
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line["level"] != tc.want {
			t.Errorf("level %v logged as %v, want %q", tc.level, line["level"], tc.want)
		}
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewLimiter(10*time.Second, func() time.Time { return now })
	type step struct {
		advance    time.Duration
		key        string
		ok         bool
		suppressed int
	}
	steps := []step{
		{0, "a", true, 0},
		{time.Second, "a", false, 0},
		{time.Second, "a", false, 0},
		{0, "b", true, 0}, // keys are independent
		{8 * time.Second, "a", true, 2},
		{0, "a", false, 0},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		ok, n := l.Allow(s.key)
		if ok != s.ok || n != s.suppressed {
			t.Fatalf("step %d Allow(%s) = %v,%d want %v,%d", i, s.key, ok, n, s.ok, s.suppressed)
		}
	}
}
