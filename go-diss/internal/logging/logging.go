// Package logging builds go-diss's structured logger: slog JSON lines whose
// message key is "event" and whose time is "ts" in float epoch seconds, the
// same shape as the Python detector's structlog lines, so one tool reads both.
package logging

import (
	"io"
	"log/slog"
	"os"
	"time"

	"swimfd/go-diss/internal/pb"
)

// New returns a JSON logger writing to w at level, tagging every line with
// node=<id>.
func New(w io.Writer, level slog.Leveler, node string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: rename})
	return slog.New(h).With("node", node)
}

// Discard returns a logger that writes nothing (for tests and tools).
func Discard() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

func rename(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.MessageKey:
		a.Key = "event"
	case slog.TimeKey:
		if t, ok := a.Value.Any().(time.Time); ok {
			return slog.Float64("ts", float64(t.UnixNano())/1e9)
		}
	case slog.LevelKey:
		if l, ok := a.Value.Any().(slog.Level); ok {
			return slog.String(slog.LevelKey, levelName(l))
		}
	}
	return a
}

// levelName spells levels as Python's logging does (structlog's "level").
func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warning"
	}
	return "error"
}

// OpenFile opens path for appending JSON lines, creating it if needed.
func OpenFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

// NoticeAttrs are the stable fields every notice event carries.
func NoticeAttrs(n *pb.Notice) []any {
	m := n.GetUpdate().GetMember()
	return []any{
		"member", m.GetId(),
		"incarnation", m.GetIncarnation(),
		"kind", n.GetKind().String(),
		"origin", n.GetOrigin(),
	}
}
