package mysqlproxy

// Handing a session's LAST_INSERT_ID() over when another session takes the
// pooled connection that holds it.

import (
	"fmt"
	"strconv"

	"go.uber.org/zap"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// insertHandoff brings a session the LAST_INSERT_ID() of a pooled
// connection that another session took from it: the taker reads it before
// the reset, and the session sets it on the connection it gets next.
type insertHandoff struct {
	done  chan struct{}
	value string
	err   error
}

// takeInsertID starts a handoff when session s takes b (or the pool
// retires it: s nil) while b holds another session's LAST_INSERT_ID(); nil
// otherwise. Called with the
// pool's mu held, so that the other session, which looks for its handoff
// after failing to reclaim b under the same lock, always finds it.
func (b *backendConn) takeInsertID(s *session) *insertHandoff {
	o := b.insertOf
	if o == nil || o == s {
		return nil
	}
	h := &insertHandoff{done: make(chan struct{})}
	o.lostInsertID.Store(h)
	b.insertOf = nil
	return h
}

// lost ends the handoff without a value.
func (h *insertHandoff) lost(err error) {
	if h != nil {
		h.err = err
		close(h.done)
	}
}

// read reads the LAST_INSERT_ID() that b holds for the handoff.
func (h *insertHandoff) read(b *backendConn) {
	if h == nil {
		return
	}
	defer close(h.done)
	h.value, h.err = b.queryValue("SELECT LAST_INSERT_ID()")
	if h.err == nil {
		if _, err := strconv.ParseUint(h.value, 10, 64); err != nil {
			h.err = fmt.Errorf("LAST_INSERT_ID() read %q", h.value)
		}
	}
}

// restoreInsertID gives primary connection b, which the session just got,
// the LAST_INSERT_ID() that another session took away with the session's
// previous connection.
func (s *session) restoreInsertID(b *backendConn) error {
	h := s.lostInsertID.Swap(nil)
	if h == nil {
		return nil
	}
	<-h.done
	if h.err != nil {
		s.logger.Warn("LAST_INSERT_ID() was lost with a pooled connection that another session took", zap.Error(h.err))
		return nil
	}
	if h.value == "0" {
		return nil
	}
	b.clean, b.insertOf = false, s
	return b.run(fmt.Appendf([]byte{wire.ComQuery}, "SET @@session.last_insert_id = %s", h.value))
}
