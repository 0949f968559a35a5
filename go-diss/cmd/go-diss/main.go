// Command go-diss is the swimfd dissemination service: it broadcasts
// confirmed failures, joins and leaves reported by the local failure detector
// to every other member's dissemination service.
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"

	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/pb"
)

type placeholder struct {
	pb.UnimplementedDisseminationServer
}

func main() {
	cfg, err := config.Parse(os.Args[1:], os.Stderr)
	if errors.Is(err, config.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-diss: %v\n", err)
		os.Exit(2)
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-diss: listen %s: %v\n", cfg.Listen, err)
		os.Exit(1)
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(config.MaxMessageBytes))
	pb.RegisterDisseminationServer(srv, placeholder{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; srv.GracefulStop() }()
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintf(os.Stderr, "go-diss: %v\n", err)
		os.Exit(1)
	}
}
