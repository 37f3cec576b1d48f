package mysqlproxy

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// TLS turns on TLS for client connections: the proxy offers it in its
// greeting, and a client that asks for it (an SSLRequest) logs in and runs
// its session over TLS. The connections to the backends stay as they are.
type TLS struct {
	// CertificateFile is the PEM file of the certificate, with its chain,
	// that the proxy shows clients. It may be a placeholder such as
	// {env.X}. Read when the config loads: a reload picks up a renewed file.
	CertificateFile string `json:"certificate_file"`

	// KeyFile is the PEM file of the certificate's private key.
	KeyFile string `json:"key_file"`

	// Require refuses clients that do not switch to TLS.
	Require bool `json:"require,omitempty"`

	config *tls.Config
}

// provision loads the certificate and key.
func (t *TLS) provision() error {
	repl := caddy.NewReplacer()
	certFile, keyFile := repl.ReplaceAll(t.CertificateFile, ""), repl.ReplaceAll(t.KeyFile, "")
	switch {
	case certFile == "":
		return fmt.Errorf("tls.certificate_file is required")
	case keyFile == "":
		return fmt.Errorf("tls.key_file is required")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("tls: loading certificate_file %q and key_file %q: %v", certFile, keyFile, err)
	}
	t.config = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return nil
}

// startTLS switches the client connection to TLS after its SSLRequest; the
// login goes on over TLS, with the sequence ids going on too.
func (s *session) startTLS() error {
	tc := tls.Server(&handoffConn{Conn: s.client, r: s.pc.Reader(), w: s.sock}, s.srv.TLS.config)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	seq := s.pc.Seq()
	s.client = tc
	s.out = &clientWriter{w: tc}
	s.pc = wire.NewConn(bufio.NewReaderSize(tc, ioBufferSize), bufio.NewWriterSize(s.out, ioBufferSize))
	s.pc.SetSeq(seq)
	return nil
}

// handoffConn is the client connection as TLS sees it: reads first drain
// what the plain reader already buffered (a client sends its TLS hello
// right behind the SSLRequest), and both directions keep the session's
// socket I/O and its write stall limit.
type handoffConn struct {
	net.Conn
	r io.Reader
	w io.Writer
}

func (c *handoffConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *handoffConn) Write(p []byte) (int, error) { return c.w.Write(p) }

var _ net.Conn = (*handoffConn)(nil)
