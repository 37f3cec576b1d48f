package mysqlproxy

import (
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// resetConnection runs COM_RESET_CONNECTION: every open backend connection
// is reset (the primary's reply goes to the client), and the session forgets
// its log, statements and pin. The current database stays, as on a server.
func (s *session) resetConnection(p []byte) error {
	// Connections the session parked hold its state too.
	s.takeBackParked()
	for _, b := range []*backendConn{s.primary, s.replica} {
		if b != nil {
			// Back to the server's defaults, but not to the database of
			// the connection's key.
			b.clean = false
		}
	}
	if s.replica != nil {
		if err := s.replica.run(p); err != nil {
			s.dropReplica(err)
		} else {
			s.replica.mode = sqlMode{} // back to the server's global one
		}
	}
	if s.primary != nil {
		r, err := s.relay(s.primary, p)
		if err != nil {
			return s.lost(s.primary, r.touched, err)
		}
		// The reset turned the primary connection's tracking off.
		if s.primary.tracked != nil {
			if err := s.setupTracking(s.primary); err != nil {
				return s.lost(s.primary, true, err)
			}
		}
	} else {
		s.status = wire.StatusAutocommit
		if err := s.sendOK(); err != nil {
			return err
		}
	}
	s.log.reset()
	s.stmts.reset()
	s.pinned, s.noReplica = false, false
	s.forgetHolds()
	s.charsetUnsafe = false // the server is back to the login's character set
	s.setClientWaitTimeout("0")
	if s.db != s.loginDB {
		// Connections opened later start from the login database.
		seq := s.log.add("db", append([]byte{wire.ComInitDB}, s.db...))
		for _, b := range []*backendConn{s.primary, s.replica} {
			if b != nil {
				b.replayed = seq
			}
		}
	}
	return nil
}

// changeUser runs COM_CHANGE_USER: the client logs in again, as another
// user perhaps, and the session starts over with no backend connection.
func (s *session) changeUser(p []byte) error {
	cu, err := wire.ParseChangeUser(p, s.caps)
	if err != nil {
		return s.sendError(wire.NewSQLError(wire.ERMalformedPacket, "Malformed COM_CHANGE_USER: %v", err))
	}
	// As on a server, a native-password reply is computed over the nonce
	// of the connection's handshake; a client that used another plugin is
	// asked to switch, with a fresh nonce.
	nonce, reply := s.nonce, cu.AuthResponse
	if cu.AuthPlugin != "" && cu.AuthPlugin != wire.AuthNativePassword {
		nonce = wire.NewNonce()
		if reply, err = s.switchToNative(nonce); err != nil {
			return err
		}
	}
	u, sha1pw := s.srv.authenticate(cu.Username, nonce, reply)
	if u == nil {
		s.srv.stats.loginFailures.Add(1)
		_ = s.sendError(s.accessDenied(cu.Username, len(reply) > 0))
		s.closeReason = "change user refused"
		return errLoginFailed
	}
	if name, unsafe := unsafeCollations[uint8(cu.Charset)]; unsafe && cu.Charset != 0 {
		return s.sendError(errUnsafeCharset(name))
	}
	s.closeBackends()
	s.user, s.sha1pw = u, sha1pw
	s.loginDB, s.db = cu.Database, cu.Database
	if cu.Charset != 0 {
		s.charset = uint8(cu.Charset)
	}
	s.attrs = append(cu.Attributes, frontdeskAttr)
	s.startFresh()
	s.log.reset()
	s.stmts.reset()
	s.pinned, s.noReplica = false, false
	if err := s.checkLoginDB(); err != nil {
		return s.sendError(toSQLError(err))
	}
	return s.sendOK()
}
