package mysqlproxy

// sessionLog is the ordered record of the session commands a client ran on
// the primary (USE, SET NAMES, SET SESSION, user variables, text PREPARE,
// COM_INIT_DB, COM_SET_OPTION), replayed on any other backend connection
// before that connection runs the session's next statement. Each entry has a
// sequence number; a connection remembers the last one it ran.
type sessionLog struct {
	entries []logEntry
	seq     uint64
	// limit and limitBytes bound the entries and their bytes; bytes is
	// their size now.
	limit, limitBytes, bytes int
	// overflowed is set once the log outgrew a bound: from then on the
	// session cannot be reproduced elsewhere, and stays on the primary.
	overflowed bool
}

// logEntry is one recorded command: its packet payload, command byte first.
type logEntry struct {
	seq     uint64
	key     string
	payload []byte
}

// add records a command that succeeded on the primary and returns its
// sequence number. An entry with the same non-empty key replaces the older
// one (the last USE, or the last SET of the same variable, wins).
func (l *sessionLog) add(key string, payload []byte) uint64 {
	l.seq++
	if key != "" {
		for i, e := range l.entries {
			if e.key == key {
				l.bytes -= len(e.payload)
				l.entries = append(l.entries[:i], l.entries[i+1:]...)
				break
			}
		}
	}
	l.entries = append(l.entries, logEntry{seq: l.seq, key: key, payload: append([]byte(nil), payload...)})
	l.bytes += len(payload)
	if len(l.entries) > l.limit || l.bytes > l.limitBytes {
		l.overflowed = true
		l.entries, l.bytes = nil, 0
	}
	return l.seq
}

// since returns the entries after sequence number seq, in order.
func (l *sessionLog) since(seq uint64) []logEntry {
	if seq >= l.seq {
		return nil // the common case, on every statement: nothing new
	}
	for i, e := range l.entries {
		if e.seq > seq {
			return l.entries[i:]
		}
	}
	return nil
}

// reset forgets every entry; sequence numbers keep growing.
func (l *sessionLog) reset() {
	l.entries, l.bytes = nil, 0
	l.overflowed = false
}
