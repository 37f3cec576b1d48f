package mysqlproxy

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// Read-your-writes: with routing.read_your_writes "session", the primary
// connection tracks MariaDB's last_gtid session variable, and a read that
// follows a write of the session runs on a replica only after the replica
// has applied that GTID (MASTER_GTID_WAIT, bounded by
// routing.read_your_writes_wait); otherwise it runs on the primary.

// trackLastGTID is run on every primary connection of a session that reads
// its own writes: OK packets then carry last_gtid when it changes.
var trackLastGTID = append([]byte{wire.ComQuery},
	"SET @@session.session_track_system_variables = CONCAT(@@session.session_track_system_variables, ',last_gtid')"...)

// gtidPattern is a MariaDB GTID list, the only text ever put into the wait.
var gtidPattern = regexp.MustCompile(`^[0-9]+-[0-9]+-[0-9]+(,[0-9]+-[0-9]+-[0-9]+)*$`)

// readsOwnWrites reports whether the session's reads must see its writes.
func (s *session) readsOwnWrites() bool { return s.srv.Routing.ReadYourWrites == "session" }

// relayOK passes an OK packet (or an OK that ends a result set) from b to
// the client, noting the session's last GTID, and rewrites it for a client
// that did not ask for session tracking, whose OK packets are laid out
// without it.
func (s *session) relayOK(b *backendConn) error {
	p, err := b.pc.ReadPacket()
	if err != nil {
		return err
	}
	ok, err := wire.ParseOK(p, b.caps)
	if err != nil {
		return err
	}
	if ok.Status&wire.StatusSessionStateChanged != 0 {
		s.changes, _ = wire.ParseSessionState(s.changes[:0], ok.SessionState)
		for _, c := range s.changes {
			if c.Type == wire.TrackSystemVariables && bytes.Equal(c.Name, []byte("last_gtid")) && len(c.Value) > 0 {
				s.lastGTID = string(c.Value)
			}
		}
	}
	if s.caps&wire.ClientSessionTrack == 0 {
		ok.Status &^= wire.StatusSessionStateChanged
		ok.SessionState = nil
	}
	s.okBuf = ok.Append(s.okBuf[:0], s.caps)
	return s.pc.WritePacket(s.okBuf)
}

// caughtUp reports whether replica b has applied the session's last write,
// waiting for it at most the configured time.
func (s *session) caughtUp(b *backendConn) bool {
	if s.lastGTID == "" || b.seenGTID == s.lastGTID {
		return true
	}
	if !gtidPattern.MatchString(s.lastGTID) {
		return false
	}
	wait := time.Duration(s.srv.Routing.ReadYourWritesWait).Seconds()
	v, err := b.queryValue(fmt.Sprintf("SELECT MASTER_GTID_WAIT('%s', %s)", s.lastGTID, strconv.FormatFloat(wait, 'f', 3, 64)))
	if err != nil || v != "0" {
		return false
	}
	b.seenGTID = s.lastGTID
	return true
}
