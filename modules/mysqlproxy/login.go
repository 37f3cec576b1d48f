package mysqlproxy

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// proxyCaps are the capabilities the proxy can honour on every backend leg.
// It presents itself as a MySQL-flavoured server (ClientMySQL set), so no
// client negotiates MariaDB's extensions; it offers no compression, and TLS
// only when configured (see TLS).
// What a client finally gets is this, intersected with the primary's
// capabilities and the client's request.
const proxyCaps = wire.ClientLongPassword | wire.ClientFoundRows | wire.ClientLongFlag |
	wire.ClientConnectWithDB | wire.ClientNoSchema | wire.ClientODBC | wire.ClientLocalFiles |
	wire.ClientIgnoreSpace | wire.ClientProtocol41 | wire.ClientInteractive | wire.ClientTransactions |
	wire.ClientSecureConnection | wire.ClientMultiStatements | wire.ClientMultiResults |
	wire.ClientPSMultiResults | wire.ClientPluginAuth | wire.ClientConnectAttrs |
	wire.ClientPluginAuthLenEncClientData | wire.ClientSessionTrack | wire.ClientDeprecateEOF

// layoutCaps are the capabilities that change what packets look like or
// mean; a backend leg must have every one of them that the client has, so
// that packets relayed untouched read the same on both legs.
const layoutCaps = wire.ClientFoundRows | wire.ClientLocalFiles | wire.ClientProtocol41 |
	wire.ClientTransactions | wire.ClientSecureConnection | wire.ClientMultiStatements |
	wire.ClientMultiResults | wire.ClientPSMultiResults | wire.ClientSessionTrack | wire.ClientDeprecateEOF

// greeting is what the proxy tells clients about the server behind it.
type greeting struct {
	version string
	caps    uint64
	charset uint8
}

// fallbackGreeting is used until a backend has been reached once.
var fallbackGreeting = greeting{
	version: "10.11.0-MariaDB-frontdesk",
	caps:    proxyCaps,
	charset: 45, // utf8mb4_general_ci
}

// frontdeskAttr is the connection attribute that tells a backend's
// administrator that the connection came through Frontdesk.
var frontdeskAttr = wire.Attribute{Key: "_proxy", Value: "frontdesk"}

// connectionIDs numbers client sessions across all servers.
var connectionIDs atomic.Uint32

// errLoginFailed is a login the proxy refused; the client was told why.
var errLoginFailed = errors.New("login refused")

// login runs the client's handshake and authentication. It returns the
// logged-in session, or an error after telling the client why.
func (s *session) login() error {
	srv := s.srv
	g := srv.greeting()
	nonce := wire.NewNonce()
	advertised := g.caps & proxyCaps
	if !srv.Routing.AllowLocalInfile {
		advertised &^= wire.ClientLocalFiles
	}
	if srv.TLS != nil {
		advertised |= wire.ClientSSL
	}
	hs := wire.Handshake{
		ServerVersion: g.version,
		ConnectionID:  s.id,
		Scramble:      nonce,
		Capabilities:  advertised | wire.ClientMySQL,
		Charset:       g.charset,
		Status:        wire.StatusAutocommit,
		AuthPlugin:    wire.AuthNativePassword,
	}
	s.client.SetDeadline(time.Now().Add(time.Duration(srv.HandshakeTimeout)))
	defer s.client.SetDeadline(time.Time{})
	if err := s.writeAndFlush(hs.Append(nil)); err != nil {
		return err
	}
	p, err := s.readLoginPacket("handshake response")
	if err != nil {
		return err
	}
	switch {
	case wire.IsSSLRequest(p) && srv.TLS == nil:
		return s.refuseLogin(wire.NewSQLError(wire.ERNotSupportedAuthMode, "TLS is not configured on this Frontdesk server"))
	case wire.IsSSLRequest(p):
		if err := s.startTLS(); err != nil {
			return err
		}
		if p, err = s.readLoginPacket("handshake response"); err != nil {
			return err
		}
	case srv.TLS != nil && srv.TLS.Require:
		return s.refuseLogin(wire.NewSQLError(wire.ERAccessDeniedError, "Frontdesk requires TLS: connect with SSL/TLS on"))
	}
	resp, err := wire.ParseHandshakeResponse(p)
	if err != nil {
		s.clientFault = true
		return s.refuseLogin(wire.NewSQLError(wire.ERHandshakeError, "Bad handshake: %v", err))
	}
	// TLS is the client leg's business: the backend legs never ask for it.
	s.caps = resp.Capabilities & advertised &^ wire.ClientSSL
	if s.caps&wire.ClientProtocol41 == 0 {
		return s.refuseLogin(wire.NewSQLError(wire.ERHandshakeError, "Bad handshake: the 4.1 protocol is required"))
	}
	reply := resp.AuthResponse
	if resp.AuthPlugin != "" && resp.AuthPlugin != wire.AuthNativePassword {
		if reply, err = s.switchToNative(nonce); err != nil {
			return err
		}
	}
	u, sha1pw := srv.authenticate(resp.Username, nonce, reply)
	if u == nil {
		s.srv.stats.loginFailures.Add(1)
		s.clientFault = true
		return s.refuseLogin(s.accessDenied(resp.Username, len(reply) > 0))
	}
	if name, unsafe := unsafeCollations[resp.Charset]; unsafe {
		return s.refuseLogin(errUnsafeCharset(name))
	}
	s.user, s.sha1pw, s.nonce = u, sha1pw, nonce
	s.charset = resp.Charset
	s.attrs = append(resp.Attributes, frontdeskAttr)
	s.loginDB, s.db = resp.Database, resp.Database
	s.startFresh()
	if err := s.checkLoginDB(); err != nil {
		return s.refuseLogin(toSQLError(err))
	}
	ok := wire.OK{Status: s.status}
	return s.writeAndFlush(ok.Append(nil, s.caps))
}

// startFresh sets what a session knows when its user logs in, before any
// backend connection spoke: autocommit, the owner KILL checks, and the
// global sql_mode as the monitor last saw it, the primary's or, while the
// primary is down, a replica's (unknown if it has seen none), which the
// server would report in its own login reply.
func (s *session) startFresh() {
	s.owner.Store(&s.user.name)
	s.status = wire.StatusAutocommit
	s.mode, s.charsetUnsafe, s.lastWrite = sqlMode{}, false, nil
	for _, n := range append([]*node{s.srv.primary()}, s.srv.nodes...) {
		if h := n.healthState(); h != nil && h.SQLMode != nil {
			s.mode = newSQLMode(*h.SQLMode)
			break
		}
	}
	if s.mode.lexOptions().NoBackslashEscapes {
		s.status |= wire.StatusNoBackslashEscapes
	}
}

// switchToNative asks a client that answered with another plugin to answer
// with mysql_native_password, and returns its new reply.
func (s *session) switchToNative(nonce []byte) ([]byte, error) {
	sw := wire.AuthSwitchRequest{Plugin: wire.AuthNativePassword, Data: append(append([]byte{}, nonce...), 0)}
	if err := s.writeAndFlush(sw.Append(nil)); err != nil {
		return nil, err
	}
	p, err := s.readLoginPacket("auth switch reply")
	if err != nil {
		return nil, err
	}
	return append([]byte{}, p...), nil
}

// authenticate checks a native-password reply against the user's stored
// hash, in constant time, and recovers SHA1(password) for backend logins.
func (srv *Server) authenticate(name string, nonce, reply []byte) (*user, []byte) {
	u := srv.users[name]
	if u == nil {
		// Spend the same work on unknown users as on known ones.
		wire.VerifyNative(unknownUserHash, nonce, reply)
		return nil, nil
	}
	sha1pw, ok := wire.VerifyNative(u.doubleSHA1, nonce, reply)
	if !ok {
		return nil, nil
	}
	return u, sha1pw
}

// unknownUserHash is checked against when the user does not exist.
var unknownUserHash = make([]byte, 20)

func (s *session) accessDenied(name string, usingPassword bool) *wire.SQLError {
	using := "NO"
	if usingPassword {
		using = "YES"
	}
	host, _, _ := net.SplitHostPort(s.client.RemoteAddr().String())
	return wire.NewSQLError(wire.ERAccessDeniedError, "Access denied for user '%s'@'%s' (using password: %s)", name, host, using)
}

// refuseLogin sends err to the client and ends the login.
func (s *session) refuseLogin(err *wire.SQLError) error {
	_ = s.writeAndFlush(err.Append(nil))
	s.closeReason = err.Message
	return errLoginFailed
}

// errReloading answers a connection that no server takes (between configs).
var errReloading = &wire.SQLError{Code: wire.ERServerShutdown, Message: "Frontdesk is reloading; connect again"}

// refuse answers a connection with an error instead of a greeting, and
// closes it.
func refuse(conn net.Conn, refusal *wire.SQLError) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	// Before the handshake there is no SQLSTATE marker.
	msg := &wire.SQLError{Code: refusal.Code, Message: refusal.Message}
	pkt, _ := wire.AppendPacket(nil, msg.Append(nil), 0)
	conn.Write(pkt)
}

// checkLoginDB opens a backend connection at once when the client names a
// database, so that a bad database fails the login as it would on the
// server itself: the primary's, or a replica's while the primary is down.
func (s *session) checkLoginDB() error {
	if s.db == "" {
		return nil
	}
	if p := s.srv.primary(); (p == nil || p.down()) && s.replicaUsable() {
		if _, err := s.replicaConn(); err == nil {
			return nil
		}
	}
	_, err := s.primaryConn()
	return err
}
