package mtls

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &ca{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// node writes dir/<stem>.pem and .key: a certificate naming member id (none when id is "").
func (c *ca) node(t *testing.T, dir, stem, id string) Files {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: stem},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	if id != "" {
		u, _ := url.Parse(MemberURIPrefix + id)
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	f := Files{Cert: filepath.Join(dir, stem+".pem"), Key: filepath.Join(dir, stem+".key"), CA: filepath.Join(dir, "bundle.pem")}
	write(t, f.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	write(t, f.Key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	return f
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

type server struct {
	addr string
	mu   sync.Mutex
	ids  []string // PeerID of each call
	fail []string // failed handshakes
}

func serve(t *testing.T, store *Store) *server {
	t.Helper()
	s := &server{}
	creds := store.ServerCredentials(func(remote string, err error) {
		s.mu.Lock()
		s.fail = append(s.fail, remote+": "+err.Error())
		s.mu.Unlock()
	})
	g := grpc.NewServer(grpc.Creds(creds), grpc.UnaryInterceptor(
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			id, _ := PeerID(ctx)
			s.mu.Lock()
			s.ids = append(s.ids, id)
			s.mu.Unlock()
			return h(ctx, req)
		}))
	healthpb.RegisterHealthServer(g, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	s.addr = lis.Addr().String()
	return s
}

func (s *server) snapshot() ([]string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...), append([]string(nil), s.fail...)
}

func call(t *testing.T, addr string, creds credentials.TransportCredentials) error {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

func mustLoad(t *testing.T, f Files, id string) *Store {
	t.Helper()
	s, err := Load(f, id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Who may connect, and which member the server learns the caller is.
func TestHandshakes(t *testing.T) {
	dir, rogueDir := t.TempDir(), t.TempDir()
	ca1, rogue := newCA(t, "ca1"), newCA(t, "rogue")
	srv := serve(t, mustLoad(t, withBundle(t, ca1.node(t, dir, "node-1", "1"), ca1.pem), "1"))
	// The rogue trusts the cluster's CA, so it is the server that must refuse its certificate.
	rogueFiles := withBundle(t, rogue.node(t, rogueDir, "node-2", "2"), ca1.pem)
	cases := []struct {
		name   string
		creds  credentials.TransportCredentials
		wantID string // "" : refused
	}{
		{"member of the cluster", mustLoad(t, withBundle(t, ca1.node(t, dir, "node-2", "2"), ca1.pem), "2").ClientCredentials(), "2"},
		{"certificate from another CA", mustLoad(t, rogueFiles, "2").ClientCredentials(), ""},
		{"plaintext", insecure.NewCredentials(), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, failsBefore := srv.snapshot()
			err := call(t, srv.addr, tc.creds)
			ids, fails := srv.snapshot()
			// The server's side of a failed handshake may finish after the client gave up.
			for deadline := time.Now().Add(5 * time.Second); tc.wantID == "" && len(fails) <= len(failsBefore) &&
				time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
				ids, fails = srv.snapshot()
			}
			if tc.wantID != "" {
				if err != nil || len(ids) == 0 || ids[len(ids)-1] != tc.wantID {
					t.Fatalf("err %v, peer ids %v; want a call from %q", err, ids, tc.wantID)
				}
				return
			}
			if status.Code(err) != codes.Unavailable || len(fails) <= len(failsBefore) {
				t.Fatalf("err %v, failed handshakes %v; want refused and reported", err, fails)
			}
		})
	}
}

func withBundle(t *testing.T, f Files, pems ...[]byte) Files {
	t.Helper()
	f.CA = strings.TrimSuffix(f.Cert, ".pem") + ".bundle.pem"
	var all []byte
	for _, p := range pems {
		all = append(all, p...)
	}
	write(t, f.CA, all)
	return f
}

func TestLoadRefusesAnotherMembersCertificate(t *testing.T) {
	dir := t.TempDir()
	c := newCA(t, "ca")
	f := withBundle(t, c.node(t, dir, "node-2", "2"), c.pem)
	if _, err := Load(f, "1"); err == nil || !strings.Contains(err.Error(), `names member "2", but this node is "1"`) {
		t.Fatalf("err = %v", err)
	}
	none := withBundle(t, c.node(t, dir, "client", ""), c.pem)
	if _, err := Load(none, "1"); err == nil || !strings.Contains(err.Error(), "names no member id") {
		t.Fatalf("err = %v", err)
	}
}

// Rotation: a server that trusts only CA1 refuses a CA2 certificate until
// CA2 is added to its bundle and it reloads; a bad reload keeps what it had.
func TestReloadAddsATrustedCA(t *testing.T) {
	dir := t.TempDir()
	ca1, ca2 := newCA(t, "ca1"), newCA(t, "ca2")
	srvFiles := withBundle(t, ca1.node(t, dir, "node-1", "1"), ca1.pem)
	store := mustLoad(t, srvFiles, "1")
	srv := serve(t, store)
	client := mustLoad(t, withBundle(t, ca2.node(t, dir, "node-2", "2"), ca1.pem, ca2.pem), "2").ClientCredentials()
	if err := call(t, srv.addr, client); status.Code(err) != codes.Unavailable {
		t.Fatalf("before the reload: err %v, want refused", err)
	}
	write(t, srvFiles.CA, append(append([]byte(nil), ca1.pem...), ca2.pem...))
	if err := store.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := call(t, srv.addr, client); err != nil {
		t.Fatalf("after the reload: %v", err)
	}
	write(t, srvFiles.CA, []byte("not a certificate"))
	if err := store.Reload(); err == nil {
		t.Fatal("a bundle without certificates was accepted")
	}
	if err := call(t, srv.addr, client); err != nil {
		t.Fatalf("a failed reload dropped the previous material: %v", err)
	}
}
