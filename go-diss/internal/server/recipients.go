package server

import (
	"swimfd/go-diss/internal/broadcast"
	"swimfd/go-diss/internal/pb"
)

// recipients are the members a notice is sent to (docs/dissemination.md,
// "Who is notified"): every member of the local view except this node (self
// names it as the detector does, id as go-diss does) that is not DEAD or LEFT
// and has a dissemination address. The notice's subject is left out of a
// JOINED, LEFT_CLUSTER or REFUTED notice (it knows), but the accused of a
// FAILED or SUSPECTED notice is included whatever the view says of it (our
// detector has just marked it DEAD or SUSPECT): a falsely accused member that
// is alive receives the accusation and refutes it (docs/detection.md); a
// really dead one costs one failed delivery. The simulator's
// go-diss model (pyserver/swimfd/sim/engine.py) follows the same rule.
func recipients(self, id string, members []*pb.Member, n *pb.Notice) []broadcast.Target {
	subject := n.GetUpdate().GetMember().GetId()
	accused := ""
	if k := n.GetKind(); k == pb.NoticeKind_FAILED || k == pb.NoticeKind_SUSPECTED {
		accused = subject
	}
	out := make([]broadcast.Target, 0, len(members))
	taken := make(map[string]bool, len(members))
	for _, m := range members {
		mid := m.GetId()
		if mid == self || mid == id || taken[mid] || m.GetDissAddr() == "" {
			continue
		}
		if mid != accused {
			if mid == subject {
				continue
			}
			if st := m.GetState(); st == pb.MemberState_DEAD || st == pb.MemberState_LEFT {
				continue
			}
		}
		taken[mid] = true
		out = append(out, broadcast.Target{ID: mid, Addr: m.GetDissAddr()})
	}
	return out
}
