package server

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"swimfd/go-diss/internal/config"
	"swimfd/go-diss/internal/pb"
	"swimfd/go-diss/internal/wire"
)

// A caller can act only as the member its certificate names: Report and Leave
// only from this node's detector (certificate "0"), Notify only with the
// caller's own origin, Join only of the caller itself.
func TestIdentityRules(t *testing.T) {
	as := func(id string) *wire.Stamp {
		return wire.NewStamp(config.ProtocolVersion, cluster, id, "127.0.0.1:9")
	}
	withOrigin := func(n *pb.Notice, origin string) *pb.Notice { n.Origin = origin; return n }
	join := func(sender, member string) *pb.JoinRequest {
		return &pb.JoinRequest{Header: as(sender).Header(), Member: &pb.Member{Id: member, Addr: "127.0.0.1:9", Incarnation: 1}}
	}
	leave := func(sender, member string) *pb.LeaveRequest {
		return &pb.LeaveRequest{Header: as(sender).Header(), Member: &pb.Member{Id: member, Incarnation: 1}}
	}
	cases := []struct {
		name    string
		cert    string
		call    func(context.Context, pb.DisseminationClient) error
		allowed bool
	}{
		{"report from own detector", "0", func(c context.Context, cl pb.DisseminationClient) error {
			_, err := cl.Report(c, report(as("0"), pb.NoticeKind_FAILED, "x", 3))
			return err
		}, true},
		{"report from another member", "3", func(c context.Context, cl pb.DisseminationClient) error {
			_, err := cl.Report(c, report(as("0"), pb.NoticeKind_FAILED, "x", 3))
			return err
		}, false},
		{"notify with own origin", "3", func(c context.Context, cl pb.DisseminationClient) error {
			_, err := cl.Notify(c, notice(as("3"), pb.NoticeKind_FAILED, "x", 4))
			return err
		}, true},
		{"notify claiming another origin", "3", func(c context.Context, cl pb.DisseminationClient) error {
			_, err := cl.Notify(c, withOrigin(notice(as("3"), pb.NoticeKind_FAILED, "2", 5), "2"))
			return err
		}, false},
		{"notify with another sender", "3", func(c context.Context, cl pb.DisseminationClient) error {
			_, err := cl.Notify(c, withOrigin(notice(as("2"), pb.NoticeKind_FAILED, "2", 6), "3"))
			return err
		}, false},
		{"notify from a certificate naming no member", "", func(c context.Context, cl pb.DisseminationClient) error {
			_, err := cl.Notify(c, notice(as("3"), pb.NoticeKind_FAILED, "x", 7))
			return err
		}, false},
		{"join of itself", "3", func(c context.Context, cl pb.DisseminationClient) error {
			_, err := cl.Join(c, join("3", "3"))
			return err
		}, true},
		{"join of another member", "3", func(c context.Context, cl pb.DisseminationClient) error {
			_, err := cl.Join(c, join("3", "2"))
			return err
		}, false},
		{"leave of this node by its detector", "0", func(c context.Context, cl pb.DisseminationClient) error {
			_, err := cl.Leave(c, leave("0", "0"))
			return err
		}, true},
		{"leave from another member", "3", func(c context.Context, cl pb.DisseminationClient) error {
			_, err := cl.Leave(c, leave("3", "3"))
			return err
		}, false},
		{"leave of another member by the detector", "0", func(c context.Context, cl pb.DisseminationClient) error {
			_, err := cl.Leave(c, leave("0", "2"))
			return err
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cert := tc.cert
			h := newHarness(t, setup{peers: 1, identity: &cert})
			err := tc.call(ctx(t), h.client)
			refused := h.log.events(t, "identity_refused")
			if tc.allowed {
				if status.Code(err) == codes.PermissionDenied || len(refused) != 0 {
					t.Fatalf("refused: err=%v events=%v", err, refused)
				}
				return
			}
			if status.Code(err) != codes.PermissionDenied {
				t.Fatalf("err = %v, want PermissionDenied", err)
			}
			if len(refused) != 1 || refused[0]["cert_id"] != cert || refused[0]["reason"] == "" {
				t.Fatalf("identity_refused events = %v", refused)
			}
		})
	}
}
