// Package eventlog writes memberlist membership changes as the same JSON
// lines swimfd's runtime writes, so one parser reads both sides of the
// benchmark: {"event": ..., "node": ..., "member": ..., "ts": epoch seconds}.
package eventlog

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"

	"github.com/hashicorp/memberlist"
)

// NewLogger returns a slog JSON logger whose message key is "event" and whose
// time is "ts" in epoch seconds, tagged with this node's id.
func NewLogger(w io.Writer, nodeID string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.MessageKey:
				a.Key = "event"
			case slog.TimeKey:
				t := a.Value.Time()
				a = slog.Float64("ts", float64(t.UnixNano())/1e9)
			}
			return a
		},
	})
	return slog.New(h).With("node", nodeID)
}

// Delegate is a memberlist.EventDelegate that logs one line per change.
//
// memberlist v0.7.0 calls NotifyLeave for both "dead" and "left" and does not
// update Node.State on the value it passes, so the two cannot be told apart
// here. The benchmark never makes a member leave gracefully (it uses SIGKILL
// and SIGSTOP), so NotifyLeave is logged as member_failed.
type Delegate struct {
	Log  *slog.Logger
	Self string
}

var _ memberlist.EventDelegate = (*Delegate)(nil)

func addr(n *memberlist.Node) string {
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// NotifyJoin logs member_joined; a member that was dead and is alive again
// comes through here too, as in swimfd.
func (d *Delegate) NotifyJoin(n *memberlist.Node) {
	if n.Name == d.Self {
		return
	}
	d.Log.Info("member_joined", "member", n.Name, "addr", addr(n), "source", "memberlist")
}

// NotifyLeave logs member_failed (see the type comment).
func (d *Delegate) NotifyLeave(n *memberlist.Node) {
	if n.Name == d.Self {
		return
	}
	d.Log.Info("member_failed", "member", n.Name, "addr", addr(n), "source", "memberlist", "detector", "memberlist")
}

// NotifyUpdate logs metadata changes, which the benchmark does not use.
func (d *Delegate) NotifyUpdate(n *memberlist.Node) {
	d.Log.Debug("member_updated", "member", n.Name)
}

// LineFilter adapts memberlist's own text logger: it forwards lines at WARN
// or ERR as "memberlist_log" events and discards the chatty DEBUG/INFO ones.
type LineFilter struct {
	Log *slog.Logger
}

func (f LineFilter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		if bytes.Contains(line, []byte("[WARN]")) || bytes.Contains(line, []byte("[ERR]")) {
			f.Log.LogAttrs(context.Background(), slog.LevelWarn, "memberlist_log", slog.String("line", string(line)))
		}
	}
	return len(p), nil
}
