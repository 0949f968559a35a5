// Package config parses and validates go-diss's command line.
//
// The flags are a contract with the Python detector, which starts go-diss as
// a child process; timing knobs are not flags but fields with defaults, so
// tests can shrink them without widening that contract.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"swimfd/go-diss/internal/faults"
	"swimfd/go-diss/internal/pb"
)

// The protocol version and the shared limits are named once, in swim.proto
// (enums ProtocolVersion and Limits); the Python detector reads the same
// values from its generated code (swimfd.core.config), and
// tests/runtime/test_shared_limits.py checks that both sides agree.
const (
	// ProtocolVersion is the Header.version this build speaks.
	ProtocolVersion = uint32(pb.ProtocolVersion_PROTOCOL_VERSION_1)
	// MaxClusterLen bounds the characters in a cluster name.
	MaxClusterLen = int(pb.Limits_MAX_CLUSTER_LEN)
	// MaxIDLen bounds the characters in a member id.
	MaxIDLen = int(pb.Limits_MAX_ID_LEN)
	// MaxMessageBytes bounds every gRPC message, sent or received.
	MaxMessageBytes = int(pb.Limits_MAX_MESSAGE_BYTES)
	// MaxConcurrentRPCs bounds the calls the service handles at once.
	MaxConcurrentRPCs = int(pb.Limits_MAX_CONCURRENT_RPCS)
)

// MinMessageBytes and MaxMessageBytesCap bound --max-message-bytes (the detector's
// max_message_bytes has the same lower bound).
const (
	MinMessageBytes    = 1024
	MaxMessageBytesCap = 1 << 30
)

// ErrClusterKeyRemoved answers --cluster-key-file: the shared-key HMAC was
// removed because mutual TLS authenticates (and encrypts) every hop and binds
// each caller to its member id, which a key every member shares cannot do.
var ErrClusterKeyRemoved = errors.New("--cluster-key-file was removed: mutual TLS (--tls-cert, --tls-key, --tls-ca) " +
	"authenticates every hop and binds each peer to its member id; see docs/security.md")

// ErrHelp is returned when -h/--help was asked for; usage has been printed.
var ErrHelp = flag.ErrHelp

// Config is everything go-diss needs to run.
type Config struct {
	ID       string
	Listen   string // host:port this service listens on
	Detector string // host:port of the local FailureDetector service
	Cluster  string
	TLSCert  string // PEM files of this node's certificate, key and trusted CA bundle;
	TLSKey   string // all three, or none with Insecure
	TLSCA    string
	Insecure bool   // plaintext, asked for explicitly
	LogFile  string // empty: stderr
	LogLevel slog.Level
	// MetricsAddr is where /metrics is served (Prometheus); empty: no metrics
	// endpoint. The detector passes its own metrics port + 1 by default.
	MetricsAddr string

	Tuning Tuning
}

// Tuning holds the service's timing and capacity bounds.
type Tuning struct {
	PeerCallTimeout     time.Duration // one Notify attempt to a peer
	DetectorCallTimeout time.Duration // one call attempt to the local detector
	Attempts            int           // attempts per call, first included
	BackoffBase         time.Duration // delay before the second attempt
	BackoffMax          time.Duration // cap on the delay between attempts
	MembersTTL          time.Duration // how long a fetched member list is reused
	DedupCapacity       int           // (member, incarnation, kind) keys remembered
	DedupTTL            time.Duration // how long a key is remembered
	BroadcastWorkers    int           // concurrent peer calls
	BroadcastQueue      int           // pending peer calls before new ones are dropped
	MaxPeerConns        int           // cached client connections to peers
	LogEvery            time.Duration // rate limit for repeated unreachable warnings
	ShutdownGrace       time.Duration // graceful stop budget on SIGTERM

	// Resource bounds (docs/security.md, "Resource bounds"); the Python detector's server uses the
	// same numbers (swimfd.runtime.server).
	MaxMessageBytes  int           // every gRPC message, sent or received (--max-message-bytes)
	MaxConns         int           // open server connections; more are closed at accept
	HandshakeTimeout time.Duration // a connection must complete its handshake within this
	KeepaliveTime    time.Duration // ping a connection idle this long ...
	KeepaliveTimeout time.Duration // ... and close it when the ping is not answered
	MaxConnIdle      time.Duration // close a connection without calls for this long
	MaxConnAge       time.Duration // close every connection this old, gracefully
	MaxConnAgeGrace  time.Duration
	TestLoss         float64 // test only (--test-loss): drop this fraction of Notify calls each way
}

// DefaultTuning suits a LAN cluster of up to a few thousand members.
func DefaultTuning() Tuning {
	return Tuning{
		PeerCallTimeout:     2 * time.Second,
		DetectorCallTimeout: time.Second,
		Attempts:            4,
		BackoffBase:         100 * time.Millisecond,
		BackoffMax:          2 * time.Second,
		MembersTTL:          time.Second,
		DedupCapacity:       8192,
		DedupTTL:            10 * time.Minute,
		BroadcastWorkers:    32,
		BroadcastQueue:      4096,
		MaxPeerConns:        1024,
		LogEvery:            10 * time.Second,
		ShutdownGrace:       2 * time.Second, // the Python detector SIGKILLs go-diss 3 s after SIGTERM
		MaxMessageBytes:     MaxMessageBytes,
		MaxConns:            1024,
		HandshakeTimeout:    5 * time.Second,
		KeepaliveTime:       5 * time.Second,
		KeepaliveTimeout:    2 * time.Second,
		MaxConnIdle:         time.Minute,
		MaxConnAge:          10 * time.Minute,
		MaxConnAgeGrace:     5 * time.Second,
	}
}

// Parse reads the command line (without the program name). Errors are one
// line, suitable for printing as they are.
func Parse(args []string, usage io.Writer) (Config, error) {
	cfg := Config{Tuning: DefaultTuning()}
	var keyFile, level string
	fs := flag.NewFlagSet("go-diss", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // we print one line ourselves
	fs.StringVar(&cfg.ID, "id", "", "this node's member id (required)")
	fs.StringVar(&cfg.Listen, "listen", "", "host:port to serve Dissemination on (required)")
	fs.StringVar(&cfg.Detector, "detector", "", "host:port of the local FailureDetector (required)")
	fs.StringVar(&cfg.Cluster, "cluster", "", "cluster name (required)")
	fs.StringVar(&keyFile, "cluster-key-file", "", "removed: mutual TLS (--tls-*) authenticates every hop")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "this node's certificate (PEM, names urn:swimfd:member:<id>)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "this node's private key (PEM)")
	fs.StringVar(&cfg.TLSCA, "tls-ca", "", "CA bundle (PEM) peers' certificates must chain to")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "plaintext without TLS (logs a warning)")
	fs.StringVar(&cfg.LogFile, "log-file", "", "append JSON logs to this file instead of stderr")
	fs.StringVar(&level, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "host:port to serve Prometheus /metrics on (default: none)")
	fs.IntVar(&cfg.Tuning.MaxMessageBytes, "max-message-bytes", MaxMessageBytes,
		"bound on every gRPC message; the detector passes its own max_message_bytes")
	fs.Float64Var(&cfg.Tuning.TestLoss, "test-loss", 0,
		"TEST ONLY: drop this fraction of Notify calls each way (needs "+faults.EnvName+"=1)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(usage)
			fs.Usage()
			return cfg, ErrHelp
		}
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(level)); err != nil || !knownLevel(level) {
		return cfg, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", level)
	}
	if err := faults.CheckLoss(cfg.Tuning.TestLoss, os.Getenv(faults.EnvName)); err != nil {
		return cfg, err
	}
	if err := validate(&cfg); err != nil {
		return cfg, err
	}
	if keyFile != "" {
		return cfg, ErrClusterKeyRemoved
	}
	return cfg, nil
}

func knownLevel(s string) bool {
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
		return true
	}
	return false
}

func validate(c *Config) error {
	if c.ID == "" {
		return errors.New("--id is required")
	}
	if len(c.ID) > MaxIDLen {
		return fmt.Errorf("--id: longer than %d characters", MaxIDLen)
	}
	if c.Cluster == "" {
		return errors.New("--cluster is required")
	}
	if n := c.Tuning.MaxMessageBytes; n < MinMessageBytes || n > MaxMessageBytesCap {
		return fmt.Errorf("--max-message-bytes: %d is outside %d-%d", n, MinMessageBytes, MaxMessageBytesCap)
	}
	if len(c.Cluster) > MaxClusterLen {
		return fmt.Errorf("--cluster: longer than %d characters", MaxClusterLen)
	}
	for _, f := range []struct{ name, value string }{{"--listen", c.Listen}, {"--detector", c.Detector}} {
		if f.value == "" {
			return fmt.Errorf("%s is required", f.name)
		}
		if err := checkHostPort(f.value); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if c.MetricsAddr != "" {
		if err := checkHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
	}
	return checkTLS(c)
}

// checkTLS: mutual TLS (all three files) or an explicit --insecure, never both, never a guess.
func checkTLS(c *Config) error {
	n := 0
	for _, v := range []string{c.TLSCert, c.TLSKey, c.TLSCA} {
		if v != "" {
			n++
		}
	}
	switch {
	case n > 0 && c.Insecure:
		return errors.New("--insecure contradicts --tls-cert/--tls-key/--tls-ca; pick one")
	case n == 0 && !c.Insecure:
		return errors.New("--tls-cert, --tls-key and --tls-ca are required (mutual TLS); pass --insecure for plaintext")
	case n > 0 && n < 3:
		return errors.New("--tls-cert, --tls-key and --tls-ca go together")
	}
	return nil
}

func checkHostPort(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%q is not host:port", v)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", v)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port must be a number in 0-65535", v)
	}
	return nil
}
