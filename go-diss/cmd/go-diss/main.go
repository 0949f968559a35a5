// Command go-diss is the swimfd dissemination service: it broadcasts the
// failures, joins and leaves that the local failure detector confirms to
// every other member's go-diss, and hands peers' notices to the local
// detector. See docs/dissemination.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"swimfd/go-diss/internal/broadcast"
	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/detector"
	"swimfd/go-diss/internal/health"
	"swimfd/go-diss/internal/logging"
	"swimfd/go-diss/internal/metrics"
	"swimfd/go-diss/internal/mtls"
	"swimfd/go-diss/internal/pb"
	"swimfd/go-diss/internal/server"
	"swimfd/go-diss/internal/wire"
)

// version is what --version prints; keep it equal to pyproject.toml's (a release build may set it with
// -ldflags "-X main.version=...").
var version = "0.1.0"

func main() {
	if wantsVersion(os.Args[1:]) {
		fmt.Printf("go-diss %s\n", version)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stderr, nil)
	stop()
	os.Exit(code)
}

// wantsVersion is true for a lone --version (or -version, as Go's flag package spells flags too).
func wantsVersion(args []string) bool {
	return len(args) == 1 && (args[0] == "--version" || args[0] == "-version")
}

// run is the whole program; it returns the exit code. Startup errors are one
// line on stderr. ready, when set, receives the bound address (tests).
func run(ctx context.Context, args []string, stderr io.Writer, ready func(addr string)) int {
	cfg, err := config.Parse(args, stderr)
	if errors.Is(err, config.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "go-diss: %v\n", err)
		return 2
	}
	return serve(ctx, cfg, stderr, ready)
}

func serve(ctx context.Context, cfg config.Config, stderr io.Writer, ready func(string)) int {
	out := stderr
	if cfg.LogFile != "" {
		f, err := logging.OpenFile(cfg.LogFile)
		if err != nil {
			fmt.Fprintf(stderr, "go-diss: --log-file: %v\n", err)
			return 2
		}
		defer f.Close()
		out = f
	}
	log := logging.New(out, cfg.LogLevel, cfg.ID)
	t := cfg.Tuning

	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "go-diss: --listen %s: %v\n", cfg.Listen, err)
		return 1
	}
	// Mutual TLS with the node's own certificate (it must name --id); the
	// same credentials serve peers and call peers and the local detector.
	var store *mtls.Store
	var serverCreds, clientCreds credentials.TransportCredentials
	var peerID func(context.Context) (string, bool)
	if !cfg.Insecure {
		store, err = mtls.Load(mtls.Files{Cert: cfg.TLSCert, Key: cfg.TLSKey, CA: cfg.TLSCA}, cfg.ID)
		if err != nil {
			_ = lis.Close()
			fmt.Fprintf(stderr, "go-diss: %v\n", err)
			return 2
		}
		lim := logging.NewLimiter(t.LogEvery, nil)
		serverCreds = store.ServerCredentials(func(remote string, herr error) {
			if ok, more := lim.Allow("handshake_refused"); ok {
				log.Warn("handshake_refused", "peer", remote, "error", herr.Error(), "suppressed", more)
			}
		})
		clientCreds = store.ClientCredentials()
		peerID = mtls.PeerID
	}
	// Our header names this node's detector: that is the address peers know.
	stamp := wire.NewStamp(config.ProtocolVersion, cfg.Cluster, cfg.ID, cfg.Detector)
	det, err := detector.Dial(cfg.Detector, detector.Options{
		Stamp: stamp, Cluster: cfg.Cluster, Tuning: t, Log: log, Creds: clientCreds,
	})
	if err != nil {
		_ = lis.Close()
		fmt.Fprintf(stderr, "go-diss: %v\n", err)
		return 2
	}
	defer det.Close()
	pool := broadcast.NewPool(t.MaxPeerConns, append(broadcast.DialOptions(clientCreds), broadcast.MessageSize(t.MaxMessageBytes))...)
	defer pool.Close()
	bc := broadcast.New(t, pool, log)

	var m *metrics.Metrics
	if cfg.MetricsAddr != "" {
		m = metrics.New(func() (uint64, uint64, uint64, uint64) {
			st := bc.Stats()
			return st.Delivered, st.Failed, st.Dropped, st.Retries
		})
		mctx, stopMetrics := context.WithCancel(context.Background())
		defer stopMetrics()
		maddr, err := m.Serve(mctx, cfg.MetricsAddr, log)
		if err != nil {
			_ = lis.Close()
			fmt.Fprintf(stderr, "go-diss: --metrics-addr %s: %v\n", cfg.MetricsAddr, err)
			return 1
		}
		log.Info("metrics_listening", "addr", maddr.String())
	}
	opts := server.ServerOptionsFor(t, m.InFlight())
	if serverCreds != nil {
		opts = append(opts, grpc.Creds(serverCreds))
	}
	g := grpc.NewServer(opts...)
	srv := server.New(server.Options{
		ID: cfg.ID, Cluster: cfg.Cluster, Stamp: stamp, Detector: det, Bcast: bc, Tuning: t, Log: log,
		Metrics: m, PeerID: peerID,
	})
	srv.Register(g)
	limited := server.LimitListener(lis, t.MaxConns)
	refused := func() []any {
		return []any{"requests_refused", srv.Refused(), "connections_refused", limited.Refused()}
	}
	hs := health.Register(g, log, pb.Dissemination_ServiceDesc.ServiceName)

	log.Info("started", "listen", lis.Addr().String(), "detector", cfg.Detector, "cluster", cfg.Cluster,
		"tls", store != nil, "pid", os.Getpid(), "max_message_bytes", t.MaxMessageBytes,
		"max_conns", t.MaxConns)
	if store == nil {
		log.Warn("insecure_plaintext", "detail", "--insecure: no TLS; anyone who reaches this port can act as any member")
	} else {
		stopReload := reloadOnHUP(store, log)
		defer stopReload()
	}
	// The listener is bound, so connections made from now on are served.
	hs.Serving()
	if ready != nil {
		ready(lis.Addr().String())
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(limited) }()

	select {
	case err := <-served:
		// Serve only returns early on a listener failure.
		log.Error("serve_failed", "error", err.Error())
		hs.Shutdown()
		shutdown(g, bc, t.ShutdownGrace, log, refused)
		fmt.Fprintf(stderr, "go-diss: serve: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	// NOT_SERVING first, so the detector and probes see it before the listener goes away.
	hs.Shutdown()
	shutdown(g, bc, t.ShutdownGrace, log, refused)
	<-served
	return 0
}

// reloadOnHUP re-reads the certificate files on every SIGHUP (the detector
// forwards its own); a failed reload keeps the previous material.
func reloadOnHUP(store *mtls.Store, log *slog.Logger) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				if err := store.Reload(); err != nil {
					log.Error("tls_reload_failed", "error", err.Error(), "note", "keeping the previous certificates")
				} else {
					log.Info("tls_reloaded", "id", store.ID())
				}
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(hup); close(done) }
}

// shutdown stops taking requests, lets running ones finish and queued
// notices go out, all within grace; after that it cuts them off.
func shutdown(g *grpc.Server, bc *broadcast.Broadcaster, grace time.Duration, log *slog.Logger, refused func() []any) {
	start := time.Now()
	log.Info("stopping", "grace_s", grace.Seconds())
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		g.Stop()
		<-stopped
	}
	complete := bc.Close(ctx) == nil
	st := bc.Stats()
	log.Info("stopped", append([]any{"complete", complete, "elapsed_s", time.Since(start).Seconds(),
		"delivered", st.Delivered, "failed", st.Failed, "dropped", st.Dropped, "retries", st.Retries}, refused()...)...)
}
