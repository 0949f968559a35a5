// Package auth signs and verifies swimfd messages with the cluster key.
//
// Scheme (the Python detector implements the same one; see
// docs/dissemination.md): mac = HMAC-SHA256(key, bytes), where bytes is the
// deterministic protobuf serialization of the whole message with header.mac
// empty. Without a key, messages carry no mac.
package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"

	"google.golang.org/protobuf/proto"

	"swimfd/go-diss/internal/pb"
)

// Message is any swimfd request or reply: they all carry a Header.
type Message interface {
	proto.Message
	GetHeader() *pb.Header
}

var (
	// ErrNoHeader: the message has no Header to carry a mac.
	ErrNoHeader = errors.New("message has no header")
	// ErrWrongKey: the mac does not match this node's key (or its absence).
	ErrWrongKey = errors.New("wrong cluster key")
)

// MAC computes the mac of m as if header.mac were empty. m is not modified.
func MAC(key []byte, m Message) ([]byte, error) {
	if m.GetHeader() == nil {
		return nil, ErrNoHeader
	}
	// Clone so that concurrent readers of m never see a cleared mac.
	c, ok := proto.Clone(m).(Message)
	if !ok {
		return nil, ErrNoHeader
	}
	c.GetHeader().Mac = nil
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return nil, err
	}
	h := hmac.New(sha256.New, key)
	h.Write(b)
	return h.Sum(nil), nil
}

// Signer stamps outgoing messages with this node's header and mac, and checks
// the mac of incoming ones.
type Signer struct {
	key  []byte
	base pb.Header
}

// NewSigner returns a Signer for this node. key may be nil (no mac).
func NewSigner(key []byte, version uint32, cluster, sender, senderAddr string) *Signer {
	return &Signer{
		key:  key,
		base: pb.Header{Version: version, Cluster: cluster, Sender: sender, SenderAddr: senderAddr},
	}
}

// Header returns a fresh, unsigned copy of this node's header.
func (s *Signer) Header() *pb.Header {
	return &pb.Header{
		Version:    s.base.Version,
		Cluster:    s.base.Cluster,
		Sender:     s.base.Sender,
		SenderAddr: s.base.SenderAddr,
	}
}

// Sign sets m's header mac. m must already carry its final content.
func (s *Signer) Sign(m Message) error {
	h := m.GetHeader()
	if h == nil {
		return ErrNoHeader
	}
	if s.key == nil {
		h.Mac = nil
		return nil
	}
	mac, err := MAC(s.key, m)
	if err != nil {
		return err
	}
	h.Mac = mac
	return nil
}

// Verify checks m's mac. A node without a key refuses signed messages, and a
// node with one refuses unsigned messages: both are a key mismatch.
func (s *Signer) Verify(m Message) error {
	h := m.GetHeader()
	if h == nil {
		return ErrNoHeader
	}
	if s.key == nil {
		if len(h.Mac) != 0 {
			return ErrWrongKey
		}
		return nil
	}
	if len(h.Mac) == 0 {
		return ErrWrongKey
	}
	want, err := MAC(s.key, m)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, h.Mac) {
		return ErrWrongKey
	}
	return nil
}
