package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/frontdesk-proxy/frontdesk/integration/harness"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// TestMySQLTLS runs client sessions over TLS with `tls ... require`: the
// Go driver and the mariadb CLI log in over TLS and their statements are
// routed as usual, with the certificate the proxy was given; a big row
// crosses intact; a client that does not ask for TLS is refused, naming why.
func TestMySQLTLS(t *testing.T) {
	cert, key := selfSignedCert(t, "frontdesk-test")
	m := startMySQLProxyWith(t, "tls "+cert+" "+key+" require")

	var sawCert atomic.Bool
	err := mysql.RegisterTLSConfig("frontdesk-test", &tls.Config{
		InsecureSkipVerify: true, // self-signed; the callback checks it is ours
		VerifyConnection: func(cs tls.ConnectionState) error {
			sawCert.Store(len(cs.PeerCertificates) > 0 && cs.PeerCertificates[0].Subject.CommonName == "frontdesk-test")
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	db := m.db(t, "tls=frontdesk-test")
	var one int
	if err := db.QueryRow("SELECT /* tls-read */ 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("read over TLS: %d, %v", one, err)
	}
	if !sawCert.Load() {
		t.Error("the client did not see the configured certificate: no TLS, or another certificate")
	}
	m.wantOneReplica(t, "tls-read")
	var n int
	if err := db.QueryRow("SELECT /* tls-big */ LENGTH(REPEAT('x', 10000000))").Scan(&n); err != nil || n != 10000000 {
		t.Fatalf("LENGTH over TLS: %d, %v", n, err)
	}
	var big string
	if err := db.QueryRow("SELECT /* tls-big */ REPEAT('x', 10000000)").Scan(&big); err != nil || len(big) != 10000000 {
		t.Fatalf("a 10 MB row over TLS: %d bytes, %v", len(big), err)
	}

	stdout, stderr, err := runCLI(t, append(m.cliArgs(t, "frontdesk-test-pw"), "--ssl", "--skip-ssl-verify-server-cert", "-e", `\s`))
	if err != nil || !strings.Contains(stdout, "Cipher in use") {
		t.Errorf("mariadb --ssl: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}

	// Garbage where the TLS hello belongs: the connection ends, no hang.
	c := dialGreeted(t, m.addr)
	c.send(wire.AppendSSLRequest(nil, harness.RawCaps|wire.ClientSSL, 1<<24, 45))
	if _, err := c.conn.Write([]byte("this is no TLS hello\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	c.conn.SetReadDeadline(time.Now().Add(rawTimeout))
	var ne net.Error
	if _, err := io.ReadAll(c.conn); errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("garbage instead of a TLS hello: the connection stays open")
	}

	plain := m.db(t, "")
	if err := plain.Ping(); err == nil || !strings.Contains(err.Error(), "requires TLS") {
		t.Errorf("a plain login under `require`: %v, want a refusal that says TLS is required", err)
	}
}

// selfSignedCert writes a self-signed certificate for 127.0.0.1 and its key
// as PEM files in a temp dir and returns their paths.
func selfSignedCert(t *testing.T, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
