package wire

import "swimfd/go-diss/internal/pb"

// Message is any swimfd request or reply: they all carry a Header.
type Message interface {
	GetHeader() *pb.Header
}

// Stamp makes this node's Header for outgoing messages. Who sent a message is
// proven by the mutual-TLS certificate of the connection (internal/mtls), not
// by anything in the header; the header names version, cluster and sender so
// that receivers can check them against that certificate.
type Stamp struct {
	base pb.Header
}

// NewStamp returns the Stamp of this node.
func NewStamp(version uint32, cluster, sender, senderAddr string) *Stamp {
	return &Stamp{base: pb.Header{Version: version, Cluster: cluster, Sender: sender, SenderAddr: senderAddr}}
}

// Header returns a fresh copy of this node's header.
func (s *Stamp) Header() *pb.Header {
	return &pb.Header{
		Version:    s.base.Version,
		Cluster:    s.base.Cluster,
		Sender:     s.base.Sender,
		SenderAddr: s.base.SenderAddr,
	}
}
