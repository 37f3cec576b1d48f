package mysqlproxy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Read-your-writes. Every primary connection reports MariaDB's last_gtid
// (see tracking.go): the GTID of the write it committed last.
//   - "session" (the default): a read that follows a write of the session
//     runs on a replica only once the replica has applied that write.
//   - "global": a read runs on a replica only once the replica has applied
//     every write that any session of the proxy saw committed on the
//     primary before the read began (MaxScale's causal_reads=global), for
//     applications that write on one connection and read on another.
//   - "off": reads see replicas as they are.
//
// A replica that is behind is waited for (MASTER_GTID_WAIT) at most
// routing.read_your_writes_wait; then the read runs on the primary.

// gtidPos is a replication position: the highest sequence number applied
// per replication domain.
type gtidPos map[uint32]uint64

// parseGTIDList reads a MariaDB GTID list ("0-1-42,1-2-7"), nil if it is
// not one.
func parseGTIDList(list string) gtidPos {
	pos := gtidPos{}
	for _, g := range strings.Split(list, ",") {
		parts := strings.Split(strings.TrimSpace(g), "-")
		if len(parts) != 3 {
			return nil
		}
		domain, err1 := strconv.ParseUint(parts[0], 10, 32)
		_, err2 := strconv.ParseUint(parts[1], 10, 32)
		seq, err3 := strconv.ParseUint(parts[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil
		}
		pos[uint32(domain)] = max(pos[uint32(domain)], seq)
	}
	return pos
}

// covers reports whether p has applied everything of q.
func (p gtidPos) covers(q gtidPos) bool {
	for d, seq := range q {
		if p[d] < seq {
			return false
		}
	}
	return true
}

// merge raises p to q where q is ahead.
func (p gtidPos) merge(q gtidPos) {
	for d, seq := range q {
		p[d] = max(p[d], seq)
	}
}

// waitList renders p for MASTER_GTID_WAIT. The server id part is not
// compared by the wait, so 0 stands in for it.
func (p gtidPos) waitList() string {
	domains := make([]uint32, 0, len(p))
	for d := range p {
		domains = append(domains, d)
	}
	slices.Sort(domains)
	var b strings.Builder
	for i, d := range domains {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d-0-%d", d, p[d])
	}
	return b.String()
}

// writePositions is the highest position a primary was seen to commit by
// any session: the target of global read-your-writes. It belongs to the
// primary's node, so it outlives config reloads.
type writePositions struct {
	mu  sync.Mutex
	pos gtidPos
}

func (w *writePositions) note(p gtidPos) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pos == nil {
		w.pos = gtidPos{}
	}
	w.pos.merge(p)
}

// snapshot returns a copy of the position, nil when nothing was written.
func (w *writePositions) snapshot() gtidPos {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pos) == 0 {
		return nil
	}
	return maps.Clone(w.pos)
}

// noteWrite takes in the GTID of a write that primary connection b
// committed.
func (s *session) noteWrite(b *backendConn, gtid string) {
	pos := parseGTIDList(gtid)
	if pos == nil {
		return
	}
	if s.lastWrite == nil {
		s.lastWrite = gtidPos{}
	}
	s.lastWrite.merge(pos)
	if b.node != nil {
		b.node.writes.note(pos)
	}
}

// readTarget is the position a read must see, nil for none.
func (s *session) readTarget() gtidPos {
	switch s.srv.Routing.ReadYourWrites {
	case "off":
		return nil
	case "global":
		if p := s.srv.primary(); p != nil {
			return p.writes.snapshot()
		}
		return nil
	}
	return s.lastWrite
}

// caughtUp reports whether replica b has applied what the session's reads
// must see, waiting for it at most the configured time.
func (s *session) caughtUp(b *backendConn) bool {
	target := s.readTarget()
	if target == nil || b.applied.covers(target) {
		return true
	}
	wait := time.Duration(s.srv.Routing.ReadYourWritesWait).Seconds()
	v, err := b.queryValue(fmt.Sprintf("SELECT MASTER_GTID_WAIT('%s', %s)", target.waitList(), strconv.FormatFloat(wait, 'f', 3, 64)))
	if err != nil || v != "0" {
		return false
	}
	if b.applied == nil {
		b.applied = gtidPos{}
	}
	b.applied.merge(target)
	return true
}
