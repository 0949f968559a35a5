package server

import (
	"slices"
	"testing"

	"swimfd/go-diss/internal/broadcast"
	"swimfd/go-diss/internal/pb"
)

func TestRecipients(t *testing.T) {
	member := func(id string, st pb.MemberState) *pb.Member {
		return &pb.Member{Id: id, DissAddr: "h:" + id, State: st}
	}
	const (
		alive   = pb.MemberState_ALIVE
		suspect = pb.MemberState_SUSPECT
		dead    = pb.MemberState_DEAD
		left    = pb.MemberState_LEFT
	)
	view := []*pb.Member{
		member("0", alive), // this node
		member("1", alive),
		member("2", suspect),
		member("3", dead),
		member("4", left),
		{Id: "5", State: alive}, // no dissemination address
		member("1", alive),      // listed twice
	}
	cases := []struct {
		name    string
		kind    pb.NoticeKind
		subject string
		view    []*pb.Member
		want    []string
	}{
		{"failed: accused not in the view", pb.NoticeKind_FAILED, "x", view, []string{"1", "2"}},
		{"failed: live accused included", pb.NoticeKind_FAILED, "1", view, []string{"1", "2"}},
		{"failed: suspected accused included", pb.NoticeKind_FAILED, "2", view, []string{"1", "2"}},
		{"failed: accused already DEAD in the view included", pb.NoticeKind_FAILED, "3", view, []string{"1", "2", "3"}},
		{"failed: accused LEFT in the view included", pb.NoticeKind_FAILED, "4", view, []string{"1", "2", "4"}},
		{"failed: accused without address skipped", pb.NoticeKind_FAILED, "5", view, []string{"1", "2"}},
		{"failed: this node never", pb.NoticeKind_FAILED, "0", view, []string{"1", "2"}},
		{"joined: joiner skipped", pb.NoticeKind_JOINED, "1", view, []string{"2"}},
		{"joined: dead members skipped", pb.NoticeKind_JOINED, "x", view, []string{"1", "2"}},
		{"left: leaver skipped", pb.NoticeKind_LEFT_CLUSTER, "2", view, []string{"1"}},
		{"left: this node's own leave", pb.NoticeKind_LEFT_CLUSTER, "0", view, []string{"1", "2"}},
		{"suspected: live accused included", pb.NoticeKind_SUSPECTED, "1", view, []string{"1", "2"}},
		{"suspected: accused DEAD in the view included", pb.NoticeKind_SUSPECTED, "3", view, []string{"1", "2", "3"}},
		{"refuted: the refuter skipped", pb.NoticeKind_REFUTED, "1", view, []string{"2"}},
		{"refuted: this node's own refutation", pb.NoticeKind_REFUTED, "0", view, []string{"1", "2"}},
		{"empty view", pb.NoticeKind_FAILED, "1", nil, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := &pb.Notice{Kind: tc.kind, Update: &pb.Update{Member: &pb.Member{Id: tc.subject}}}
			got := recipients("0", "0", tc.view, n)
			ids := make([]string, 0, len(got))
			for _, r := range got {
				if r.Addr != "h:"+r.ID {
					t.Errorf("recipient %s has address %q", r.ID, r.Addr)
				}
				ids = append(ids, r.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Fatalf("recipients of %v about %q = %v, want %v", tc.kind, tc.subject, ids, tc.want)
			}
		})
	}
}

// The detector's self id and go-diss's --id are both left out, should they differ.
func TestRecipientsSkipBothSelfIDs(t *testing.T) {
	view := []*pb.Member{{Id: "a", DissAddr: "h:a"}, {Id: "b", DissAddr: "h:b"}, {Id: "c", DissAddr: "h:c"}}
	n := &pb.Notice{Kind: pb.NoticeKind_FAILED, Update: &pb.Update{Member: &pb.Member{Id: "x"}}}
	got := recipients("a", "b", view, n)
	if want := []broadcast.Target{{ID: "c", Addr: "h:c"}}; !slices.Equal(got, want) {
		t.Fatalf("recipients = %v, want %v", got, want)
	}
}
