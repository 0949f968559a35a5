package config

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func base(extra ...string) []string {
	return append([]string{"--id", "1", "--listen", "127.0.0.1:50061", "--detector", "127.0.0.1:50051",
		"--cluster", "c", "--insecure"}, extra...)
}

// secure is base without --insecure.
func secure(extra ...string) []string {
	return append(base()[:8:8], extra...)
}

func without(flag string) []string {
	a := base()
	for i := 0; i < len(a); i += 2 {
		if a[i] == flag {
			return append(append([]string{}, a[:i]...), a[i+2:]...)
		}
	}
	panic(flag)
}

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n\t"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string // substring of the one-line error
	}{
		{"no id", without("--id"), "--id is required"},
		{"no listen", without("--listen"), "--listen is required"},
		{"no detector", without("--detector"), "--detector is required"},
		{"no cluster", without("--cluster"), "--cluster is required"},
		{"listen not host:port", base("--listen", "50061"), `--listen: "50061" is not host:port`},
		{"listen without host", base("--listen", ":50061"), "has no host"},
		{"metrics-addr not host:port", base("--metrics-addr", "9102"), `--metrics-addr: "9102" is not host:port`},
		{"detector bad port", base("--detector", "127.0.0.1:70000"), "port must be a number"},
		{"unknown flag", base("--bogus"), "flag provided but not defined: -bogus"},
		{"stray argument", base("extra"), `unexpected argument "extra"`},
		{"bad level", base("--log-level", "loud"), `--log-level: "loud"`},
		{"numeric level", base("--log-level", "info+2"), "--log-level"},
		{"long id", base("--id", strings.Repeat("x", MaxIDLen+1)), "--id: longer than 256 characters"},
		{"long cluster", base("--cluster", strings.Repeat("x", MaxClusterLen+1)), "--cluster: longer than"},
		{"cluster key file", base("--cluster-key-file", empty), "--cluster-key-file was removed: mutual TLS"},
		{"neither tls nor insecure", secure(), "pass --insecure for plaintext"},
		{"tls and insecure", base("--tls-cert", "c", "--tls-key", "k", "--tls-ca", "a"), "contradicts"},
		{"tls files partly", secure("--tls-cert", "c", "--tls-key", "k"), "go together"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.args, &bytes.Buffer{})
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want error containing %q", tc.args, tc.want)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line containing %q", msg, tc.want)
			}
		})
	}
}

func TestParseOK(t *testing.T) {
	cfg, err := Parse(base("--log-level", "debug", "--log-file", "/tmp/x.log"),
		&bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ID != "1" || cfg.Listen != "127.0.0.1:50061" || cfg.Detector != "127.0.0.1:50051" || cfg.Cluster != "c" {
		t.Errorf("addresses/ids parsed wrong: %+v", cfg)
	}
	if cfg.LogLevel != slog.LevelDebug || cfg.LogFile != "/tmp/x.log" {
		t.Errorf("log settings = %v %q", cfg.LogLevel, cfg.LogFile)
	}
	if cfg.Tuning != DefaultTuning() {
		t.Errorf("tuning = %+v, want defaults", cfg.Tuning)
	}
	plain, err := Parse(base(), &bytes.Buffer{})
	if err != nil || plain.LogLevel != slog.LevelInfo || !plain.Insecure {
		t.Fatalf("defaults: level=%v insecure=%v err=%v", plain.LogLevel, plain.Insecure, err)
	}
	tls, err := Parse(secure("--tls-cert", "n.pem", "--tls-key", "n.key", "--tls-ca", "b.pem"), &bytes.Buffer{})
	if err != nil || tls.Insecure || tls.TLSCert != "n.pem" || tls.TLSKey != "n.key" || tls.TLSCA != "b.pem" {
		t.Fatalf("tls flags: %+v err=%v", tls, err)
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	_, err := Parse([]string{"--help"}, &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("err = %v, want ErrHelp", err)
	}
	if !strings.Contains(out.String(), "-tls-cert") {
		t.Fatalf("usage does not list flags: %q", out.String())
	}
}

func TestMaxMessageBytes(t *testing.T) {
	cases := []struct {
		name  string
		extra []string
		want  int
		err   string
	}{
		{"default is the shared limit", nil, MaxMessageBytes, ""},
		{"the detector's value", []string{"--max-message-bytes", "65536"}, 65536, ""},
		{"too small", []string{"--max-message-bytes", "100"}, 0, "--max-message-bytes: 100 is outside"},
		{"too large", []string{"--max-message-bytes", "2147483647"}, 0, "is outside"},
		{"not a number", []string{"--max-message-bytes", "big"}, 0, "invalid value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(base(tc.extra...), nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || cfg.Tuning.MaxMessageBytes != tc.want {
				t.Fatalf("MaxMessageBytes = %d (%v), want %d", cfg.Tuning.MaxMessageBytes, err, tc.want)
			}
		})
	}
}

func TestParseTestLoss(t *testing.T) {
	base := []string{"--id", "1", "--listen", "127.0.0.1:0", "--detector", "127.0.0.1:1", "--cluster", "c", "--insecure"}
	tests := []struct {
		name    string
		env     string
		loss    string
		want    float64
		wantErr string
	}{
		{"off by default", "", "", 0, ""},
		{"allowed with the variable", "1", "0.3", 0.3, ""},
		{"refused without the variable", "", "0.3", 0, "SWIMFD_ENABLE_FAULT_INJECTION=1"},
		{"out of range", "1", "1", 0, "[0, 1)"},
		{"not a number", "1", "x", 0, "test-loss"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SWIMFD_ENABLE_FAULT_INJECTION", tc.env)
			args := base
			if tc.loss != "" {
				args = append(append([]string{}, base...), "--test-loss", tc.loss)
			}
			cfg, err := Parse(args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || cfg.Tuning.TestLoss != tc.want {
				t.Fatalf("Parse = %v, %v; want TestLoss %v", cfg.Tuning.TestLoss, err, tc.want)
			}
		})
	}
}
