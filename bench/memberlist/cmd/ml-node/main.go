// Command ml-node runs one hashicorp/memberlist member with DefaultLANConfig on
// loopback and logs membership changes as JSON lines with swimfd's event names,
// so the swimfd benchmark can drive it like a swimfd node (one process per
// member: SIGKILL and SIGSTOP behave the same on both sides).
//
//	ml-node --id 3 --bind 127.0.0.1:7003 --members 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 \
//	        [--loss 0.1] [--seed 1] [--log-file F] [--stats-interval 5s]
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"

	"swimfd/bench/memberlist/internal/eventlog"
	"swimfd/bench/memberlist/internal/lossy"
)

type options struct {
	id            string
	bind          string
	members       []string
	loss          float64
	streamLoss    float64
	seed          uint64
	logFile       string
	statsInterval time.Duration
	joinTimeout   time.Duration
	keyringKey    []byte // memberlist's AES-GCM gossip encryption key; nil: plaintext
}

func parseFlags(args []string) (options, error) {
	var o options
	var members, keyHex string
	fs := flag.NewFlagSet("ml-node", flag.ContinueOnError)
	fs.StringVar(&o.id, "id", "", "member name (required)")
	fs.StringVar(&o.bind, "bind", "", "HOST:PORT for UDP and TCP (required)")
	fs.StringVar(&members, "members", "", "comma-separated HOST:PORT of members to join (own address skipped)")
	fs.Float64Var(&o.loss, "loss", 0, "drop this fraction of incoming and of outgoing UDP packets (0..1)")
	fs.Float64Var(&o.streamLoss, "stream-loss", 0, "also fail this fraction of TCP streams at each end (0..1; default 0: TCP is reliable)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed for the loss generator (mixed with --id)")
	fs.StringVar(&o.logFile, "log-file", "", "JSON log file (default stderr)")
	fs.DurationVar(&o.statsInterval, "stats-interval", 5*time.Second, "how often to log transport_stats")
	fs.DurationVar(&o.joinTimeout, "join-timeout", 30*time.Second, "keep retrying the join this long")
	fs.StringVar(&keyHex, "keyring-key", "", "hex AES key (16, 24 or 32 bytes): encrypt and verify gossip with memberlist's keyring")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.id == "" || o.bind == "" {
		return o, errors.New("--id and --bind are required")
	}
	if _, _, err := net.SplitHostPort(o.bind); err != nil {
		return o, fmt.Errorf("--bind %q: %w", o.bind, err)
	}
	if o.loss < 0 || o.loss > 1 {
		return o, fmt.Errorf("--loss %v: must be in [0, 1]", o.loss)
	}
	if o.streamLoss < 0 || o.streamLoss > 1 {
		return o, fmt.Errorf("--stream-loss %v: must be in [0, 1]", o.streamLoss)
	}
	if keyHex != "" {
		key, err := hex.DecodeString(keyHex)
		if err != nil || (len(key) != 16 && len(key) != 24 && len(key) != 32) {
			return o, fmt.Errorf("--keyring-key: want 32, 48 or 64 hex digits (an AES-128/192/256 key)")
		}
		o.keyringKey = key
	}
	if o.statsInterval <= 0 || o.joinTimeout <= 0 {
		return o, errors.New("--stats-interval and --join-timeout must be positive")
	}
	for _, m := range strings.Split(members, ",") {
		m = strings.TrimSpace(m)
		if m == "" || m == o.bind {
			continue
		}
		if _, _, err := net.SplitHostPort(m); err != nil {
			return o, fmt.Errorf("--members entry %q: %w", m, err)
		}
		o.members = append(o.members, m)
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ml-node:", err)
		os.Exit(2)
	}
	var out io.Writer = os.Stderr
	if o.logFile != "" {
		f, err := os.OpenFile(o.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ml-node:", err)
			os.Exit(1)
		}
		defer f.Close()
		out = f
	}
	logger := eventlog.NewLogger(out, o.id)
	if err := run(o, logger); err != nil {
		logger.Error("fatal", "error", err.Error())
		os.Exit(1)
	}
}

func run(o options, logger *slog.Logger) error {
	host, portStr, _ := net.SplitHostPort(o.bind)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("--bind port %q: %w", portStr, err)
	}
	mlLog := log.New(eventlog.LineFilter{Log: logger}, "", log.LstdFlags)
	inner, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{host}, BindPort: port, Logger: mlLog,
	})
	if err != nil {
		return fmt.Errorf("transport: %w", err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(o.id))
	seed := o.seed ^ h.Sum64()
	transport := lossy.Wrap(inner, lossy.NewDropper(o.loss, seed), lossy.NewDropper(o.streamLoss, seed+1))

	conf := memberlist.DefaultLANConfig()
	conf.Name = o.id
	conf.BindAddr, conf.BindPort = host, port
	conf.AdvertiseAddr, conf.AdvertisePort = host, port
	conf.Transport = transport
	conf.Events = &eventlog.Delegate{Log: logger, Self: o.id}
	conf.Logger = mlLog
	if o.keyringKey != nil {
		// memberlist builds its keyring from SecretKey; GossipVerifyIncoming/Outgoing stay at
		// their default (true), so unencrypted packets are refused.
		conf.SecretKey = o.keyringKey
	}
	ml, err := memberlist.Create(conf)
	if err != nil {
		_ = transport.Shutdown()
		return fmt.Errorf("memberlist: %w", err)
	}
	logger.Info("node_started", "addr", o.bind, "loss", o.loss, "stream_loss", o.streamLoss, "config", "DefaultLANConfig",
		"encrypted", o.keyringKey != nil, "pid", os.Getpid())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go join(ctx, ml, o, logger)

	ticker := time.NewTicker(o.statsInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			logger.Info("node_stopping")
			if err := ml.Leave(time.Second); err != nil {
				logger.Warn("leave_failed", "error", err.Error())
			}
			return ml.Shutdown()
		case <-ticker.C:
			s := transport.Stats()
			logger.Info("transport_stats", "msgs_sent", s.MsgsSent, "bytes_sent", s.BytesSent,
				"msgs_recv", s.MsgsRecv, "bytes_recv", s.BytesRecv,
				"dropped_sent", s.DroppedSent, "dropped_recv", s.DroppedRecv, "members", ml.NumMembers())
		}
	}
}

// join retries until at least one peer answers: the benchmark starts every
// member at once, so early attempts may find nobody listening yet.
func join(ctx context.Context, ml *memberlist.Memberlist, o options, logger *slog.Logger) {
	if len(o.members) == 0 {
		return
	}
	deadline := time.Now().Add(o.joinTimeout)
	for attempt := 1; ; attempt++ {
		n, err := ml.Join(o.members)
		if n > 0 {
			logger.Info("joined", "contacted", n, "attempts", attempt)
			return
		}
		if time.Now().After(deadline) {
			msg := "no member answered"
			if err != nil {
				msg = err.Error()
			}
			logger.Error("join_failed", "attempts", attempt, "error", msg)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}
