// Package mtls is go-diss's mutual TLS: the node's certificate and the CA
// bundle it trusts, loaded from the PEM files `swimfd certs` writes, gRPC
// credentials built on crypto/tls, and the member id a peer's verified
// certificate names (a URI SAN urn:swimfd:member:<id>).
//
// A Store can be reloaded while the service runs (SIGHUP): servers pick the
// current material for every new handshake (tls.Config.GetConfigForClient),
// clients present the current certificate and verify servers against the
// current bundle, so adding a CA to the bundle and then re-issuing node
// certificates needs no restart. All cryptography is crypto/tls and
// crypto/x509.
package mtls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// MemberURIPrefix starts the URI SAN that names a member (runtime/tls.py uses the same).
const MemberURIPrefix = "urn:swimfd:member:"

// maxIDLen bounds an id taken from a certificate (swim.proto's MAX_ID_LEN is smaller still).
const maxIDLen = 256

// Files are the PEM files of one node.
type Files struct {
	Cert, Key, CA string
}

type material struct {
	cert tls.Certificate
	pool *x509.CertPool
	id   string
}

// Store holds the current material; safe for concurrent use.
type Store struct {
	files  Files
	expect string
	cur    atomic.Pointer[material]
}

// Load reads files and checks that the certificate names member expectID.
func Load(files Files, expectID string) (*Store, error) {
	s := &Store{files: files, expect: expectID}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload re-reads the files; on error the previous material stays in use.
func (s *Store) Reload() error {
	m, err := load(s.files)
	if err != nil {
		return err
	}
	if m.id != s.expect {
		return fmt.Errorf("%s names member %q, but this node is %q", s.files.Cert, m.id, s.expect)
	}
	s.cur.Store(m)
	return nil
}

// ID is the member id our certificate names.
func (s *Store) ID() string { return s.cur.Load().id }

func load(f Files) (*material, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s: %w", f.Cert, err)
	}
	cert.Leaf = leaf
	id, ok := MemberID(leaf)
	if !ok {
		return nil, fmt.Errorf("--tls-cert %s names no member id (expected one %s<id> URI)", f.Cert, MemberURIPrefix)
	}
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--tls-ca %s holds no PEM certificate", f.CA)
	}
	return &material{cert: cert, pool: pool, id: id}, nil
}

// MemberID is the member id cert names, if it names exactly one.
func MemberID(cert *x509.Certificate) (string, bool) {
	var ids []string
	for _, u := range cert.URIs {
		s := u.String()
		if id, ok := strings.CutPrefix(s, MemberURIPrefix); ok && id != "" && len(id) <= maxIDLen &&
			!strings.Contains(id, ":") {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		return "", false
	}
	return ids[0], true
}

// PeerID is the member id of the verified client certificate of the call in
// ctx; ok is false on plaintext or when the certificate names no member.
func PeerID(ctx context.Context) (string, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", false
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return "", false
	}
	return MemberID(ti.State.VerifiedChains[0][0])
}

// PeerAddr is the transport address of the caller in ctx ("" when unknown).
func PeerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// ServerCredentials require a client certificate from the bundle.
// onFail, when set, learns of every failed handshake (who and why).
func (s *Store) ServerCredentials(onFail func(remote string, err error)) credentials.TransportCredentials {
	base := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := s.cur.Load()
			return &tls.Config{
				MinVersion:   tls.VersionTLS12,
				Certificates: []tls.Certificate{m.cert},
				ClientCAs:    m.pool,
				ClientAuth:   tls.RequireAndVerifyClientCert,
				NextProtos:   []string{"h2"},
			}, nil
		},
	}
	return &reporting{TransportCredentials: credentials.NewTLS(base), onFail: onFail}
}

// ClientCredentials present our certificate and verify the server's chain
// and address against the current bundle.
func (s *Store) ClientCredentials() credentials.TransportCredentials {
	return credentials.NewTLS(&tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			m := s.cur.Load()
			return &m.cert, nil
		},
		// The bundle can change while we run, so the standard verification is
		// done in VerifyConnection against the current pool (the pattern
		// crypto/tls documents for custom roots), not skipped.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			return s.verifyServer(cs)
		},
	})
}

func (s *Store) verifyServer(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	host := cs.ServerName
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		DNSName:       host,
		Roots:         s.cur.Load().pool,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

// reporting tells onFail about failed server handshakes (a caller without a
// certificate from the bundle), which grpc-go itself logs only at debug level.
type reporting struct {
	credentials.TransportCredentials
	onFail func(remote string, err error)
}

func (r *reporting) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := r.TransportCredentials.ServerHandshake(c)
	if err != nil && r.onFail != nil {
		r.onFail(c.RemoteAddr().String(), err)
	}
	return conn, info, err
}

func (r *reporting) Clone() credentials.TransportCredentials {
	return &reporting{TransportCredentials: r.TransportCredentials.Clone(), onFail: r.onFail}
}
