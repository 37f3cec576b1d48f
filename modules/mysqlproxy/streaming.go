package mysqlproxy

import (
	"time"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// reply is what the proxy learnt from a reply it relayed.
type reply struct {
	// touched: a byte of the reply reached the client. Until then a
	// failed read may be tried elsewhere.
	touched bool
	// failed: the reply was an ERR.
	failed bool
	// untracked: the server reported a change of session state that the
	// proxy does not follow (see tracking.go).
	untracked bool
}

// relay sends a command to b, after bringing b up to date with the session,
// and streams the reply to the client, packet by packet: results are never
// held whole, and the client's backpressure reaches the backend.
func (s *session) relay(b *backendConn, payload []byte) (reply, error) {
	var r reply
	if err := s.catchUp(b); err != nil {
		return r, err
	}
	if err := b.send(payload); err != nil {
		return r, err
	}
	n := b.node
	n.routed.Add(1)
	shape, ok := wire.ShapeFor(payload[0])
	if !ok {
		return r, nil // a command without a reply
	}
	s.running.Store(b.ident)
	defer s.endRunning(b.ident)
	n.inFlight.Add(1)
	defer n.inFlight.Add(-1)
	w := wire.NewWalker(shape, b.caps)
	statusSeen := false
	for !w.Done() {
		head, kind, err := b.nextReplyPacket(&w)
		if err != nil {
			return r, err
		}
		switch kind {
		case wire.PacketERR:
			r.failed = true
			s.srv.stats.errors.Add(1)
		case wire.PacketOK, wire.PacketEOF:
			statusSeen = true
		}
		switch {
		case kind == wire.PacketERR:
			err = s.relayERR(b)
		case b.isTrackedOK(kind, head.Length):
			err = s.relayOK(b, &r)
		default:
			// A packet that breaks off mid-relay has reached the client
			// in part: the reply can no longer be replaced by an error.
			r.touched = true
			err = b.pc.RelayPacket(s.pc)
		}
		if err != nil {
			return r, err
		}
		r.touched = true
		if w.AwaitingLocalInfile() {
			if err := s.relayLocalInfile(b); err != nil {
				return r, err
			}
		}
	}
	if statusSeen {
		// Replies without a status (COM_STATISTICS, ERR) leave it as it was.
		b.status = w.Status()
	}
	b.resultsOf = s
	if left := w.Leftovers(); left != 0 {
		// The next statement may ask about this one's results: other
		// sessions take the connection last.
		b.clean = false
		if left&wire.LeftInsertID != 0 && !b.replica {
			// LAST_INSERT_ID() answers it until the next insert.
			s.inserted, b.insertOf = true, s
		}
	}
	b.idleSince = time.Now()
	s.status = b.status
	return r, s.pc.Flush()
}

// relayOK passes an OK packet (or an OK that ends a result set) of a
// connection that tracks session state to the client, taking in what it
// reports, and rewrites it for a client that did not ask for session
// tracking, whose OK packets are laid out without it.
func (s *session) relayOK(b *backendConn, r *reply) error {
	ok, untracked, err := b.readOK()
	if err != nil {
		return err
	}
	r.untracked = r.untracked || untracked
	if s.caps&wire.ClientSessionTrack == 0 {
		ok.Status &^= wire.StatusSessionStateChanged
		ok.SessionState = nil
	}
	s.okBuf = ok.Append(s.okBuf[:0], s.caps)
	return s.pc.WritePacket(s.okBuf)
}

// relayERR passes an ERR packet to the client once it parses: one that
// does not (a 1-2 byte ERR) says the backend connection is broken, and the
// client's driver could not read it either.
func (s *session) relayERR(b *backendConn) error {
	p, err := b.pc.ReadPacket()
	if err != nil {
		return err
	}
	if _, err := wire.ParseERR(p); err != nil {
		return err
	}
	return s.pc.WritePacket(p)
}

// relayLocalInfile passes the file the client sends for LOAD DATA LOCAL
// INFILE to the backend: data packets up to an empty one.
func (s *session) relayLocalInfile(b *backendConn) error {
	if err := s.pc.Flush(); err != nil {
		return err
	}
	for {
		head, err := s.pc.PeekPacket()
		if err != nil {
			return err
		}
		if err := s.pc.RelayPacket(b.pc); err != nil {
			return err
		}
		if head.Length == 0 {
			return b.pc.Flush()
		}
	}
}
