package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"swimfd/go-diss/internal/broadcast"
	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/fakes"
	"swimfd/go-diss/internal/pb"
	"swimfd/go-diss/internal/wire"
)

const hang = 20 * time.Second

func TestStartupErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	good := []string{"--id", "1", "--detector", "127.0.0.1:1", "--cluster", "c", "--insecure"}
	cases := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"bad flag", append(good, "--listen", "127.0.0.1:0", "--nope"), 2, "flag provided but not defined"},
		{"missing listen", good, 2, "--listen is required"},
		{"port in use", append(good, "--listen", busy.Addr().String()), 1, "address already in use"},
		{"unwritable log file", append(good, "--listen", "127.0.0.1:0", "--log-file", t.TempDir()), 2, "--log-file"},
		{"tls files missing", []string{"--id", "1", "--detector", "127.0.0.1:1", "--cluster", "c", "--listen", "127.0.0.1:0",
			"--tls-cert", "/nonexistent/n.pem", "--tls-key", "/nonexistent/n.key", "--tls-ca", "/nonexistent/b.pem"}, 2,
			"--tls-cert/--tls-key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stderr, func(string) { t.Error("started") })
			out := stderr.String()
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.wantCode, out)
			}
			if !strings.HasPrefix(out, "go-diss: ") || !strings.Contains(out, tc.want) || strings.Count(out, "\n") != 1 {
				t.Fatalf("stderr %q: want one line containing %q", out, tc.want)
			}
		})
	}
}

// The binary's wiring end to end: a Report becomes a Notice at a peer, the
// log goes to --log-file as JSON, and cancellation (SIGTERM) stops it cleanly.
func TestServeReportAndStop(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "diss.log")
	peer := fakes.NewPeer(t, "2")
	det := fakes.NewDetector(t, "1", "c", []*pb.Member{
		{Id: "1", DissAddr: "127.0.0.1:1", State: pb.MemberState_ALIVE},
		{Id: "2", DissAddr: peer.Addr, State: pb.MemberState_ALIVE},
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan string, 1)
	exited := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		exited <- run(ctx, []string{"--id", "1", "--listen", "127.0.0.1:0", "--detector", det.Addr, "--cluster", "c",
			"--log-file", logFile, "--insecure"}, &stderr, func(a string) { addrs <- a })
	}()
	var addr string
	select {
	case addr = <-addrs:
	case code := <-exited:
		t.Fatalf("exited %d: %s", code, stderr.String())
	}
	cc, err := grpc.NewClient(addr, broadcast.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	s := wire.NewStamp(config.ProtocolVersion, "c", "1", det.Addr)
	r := &pb.FailureReport{Header: s.Header(), Kind: pb.NoticeKind_FAILED,
		Update: &pb.Update{Member: &pb.Member{Id: "3", Incarnation: 1, State: pb.MemberState_DEAD}}}
	rctx, rcancel := context.WithTimeout(context.Background(), hang)
	defer rcancel()
	ack, err := pb.NewDisseminationClient(cc).Report(rctx, r)
	if err != nil || ack.Recipients != 1 {
		t.Fatalf("Report: ack %v err %v", ack, err)
	}
	got := peer.WaitNotices(t, 1, hang)
	if h := got[0].GetHeader(); h.GetSender() != "1" || h.GetCluster() != "c" || h.GetSenderAddr() != det.Addr {
		t.Fatalf("notice header %v, want this node's", h)
	}
	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("exit %d after stop, want 0", code)
		}
	case <-time.After(hang):
		t.Fatal("did not stop")
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line not JSON: %q", line)
		}
		if m["node"] != "1" {
			t.Fatalf("log line without node=1: %q", line)
		}
		events = append(events, m["event"].(string))
	}
	want := []string{"started", "insecure_plaintext", "health_changed", "notice_broadcast", "health_changed", "stopping", "stopped"}
	if strings.Join(events, ",") != strings.Join(want, ",") {
		t.Fatalf("events %v, want %v", events, want)
	}
}

func TestWantsVersion(t *testing.T) {
	cases := []struct {
		args []string
		want bool
	}{
		{[]string{"--version"}, true},
		{[]string{"-version"}, true},
		{nil, false},
		{[]string{"--id", "1"}, false},
		{[]string{"--version", "--id", "1"}, false},
	}
	for _, tc := range cases {
		if got := wantsVersion(tc.args); got != tc.want {
			t.Errorf("wantsVersion(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
