package wire

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/pb"
)

func TestCheckHeader(t *testing.T) {
	const cluster = "c"
	cases := []struct {
		name   string
		header *pb.Header
		code   codes.Code // codes.OK: accepted
		want   string     // substring of the refusal
	}{
		{"accepted", &pb.Header{Version: config.ProtocolVersion, Cluster: cluster, Sender: "1"}, codes.OK, ""},
		{"accepted without sender", &pb.Header{Version: config.ProtocolVersion, Cluster: cluster}, codes.OK, ""},
		{"missing", nil, codes.InvalidArgument, "without header"},
		{"version zero", &pb.Header{Cluster: cluster}, codes.FailedPrecondition, "protocol version 0 not supported (want 1)"},
		{"newer version", &pb.Header{Version: config.ProtocolVersion + 1, Cluster: cluster}, codes.FailedPrecondition, "protocol version 2"},
		{"other cluster", &pb.Header{Version: config.ProtocolVersion, Cluster: "other"}, codes.FailedPrecondition, `cluster "other"`},
		{"empty cluster", &pb.Header{Version: config.ProtocolVersion}, codes.FailedPrecondition, `cluster ""`},
		{"cluster differs in case", &pb.Header{Version: config.ProtocolVersion, Cluster: "C"}, codes.FailedPrecondition, `cluster "C"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckHeader(tc.header, cluster)
			if got := status.Code(err); got != tc.code {
				t.Fatalf("CheckHeader(%v) code = %v (%v), want %v", tc.header, got, err, tc.code)
			}
			if tc.code != codes.OK && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckHeader(%v) = %v, want it to mention %q", tc.header, err, tc.want)
			}
		})
	}
}
