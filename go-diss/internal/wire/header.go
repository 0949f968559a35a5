// Package wire holds the header rule every swimfd message obeys (swim.proto,
// "Compatibility"; docs/architecture.md, "Wire rules"): it is present, names
// the protocol version this build speaks and this node's cluster. The server
// checks requests with it and the detector client checks replies.
package wire

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/pb"
)

// CheckHeader returns nil when h is acceptable for a node of cluster, else the
// gRPC status a receiver refuses it with: INVALID_ARGUMENT for a missing
// header, FAILED_PRECONDITION for another protocol version or cluster.
func CheckHeader(h *pb.Header, cluster string) error {
	switch {
	case h == nil:
		return status.Error(codes.InvalidArgument, "message without header")
	case h.GetVersion() != config.ProtocolVersion:
		return status.Errorf(codes.FailedPrecondition, "protocol version %d not supported (want %d)",
			h.GetVersion(), config.ProtocolVersion)
	case h.GetCluster() != cluster:
		return status.Errorf(codes.FailedPrecondition, "cluster %q is not this node's cluster %q", h.GetCluster(), cluster)
	}
	return nil
}
