package classify

// showClass says where a SHOW statement's answer comes from.
type showClass uint8

const (
	showCatalog  showClass = iota // schema objects and static lists: any server
	showServer                    // per-server state: the primary's answer
	showPrevious                  // about the connection's previous statement
	showReplica                   // replication state of a replica
)

// shows classifies SHOW statements by their first word (after FULL, GLOBAL,
// SESSION, ...). Words not listed are showServer.
var shows = map[string]showClass{
	"DATABASES": showCatalog, "SCHEMAS": showCatalog, "TABLES": showCatalog,
	"TABLE": showCatalog, "COLUMNS": showCatalog, "FIELDS": showCatalog,
	"INDEX": showCatalog, "INDEXES": showCatalog, "KEYS": showCatalog,
	"TRIGGERS": showCatalog, "EVENTS": showCatalog,
	"PROCEDURE": showCatalog, "FUNCTION": showCatalog, "PACKAGE": showCatalog,
	"CHARACTER": showCatalog, "CHARSET": showCatalog, "COLLATION": showCatalog,
	"ENGINES": showCatalog, "PLUGINS": showCatalog, "PRIVILEGES": showCatalog,
	"GRANTS": showCatalog, "AUTHORS": showCatalog, "CONTRIBUTORS": showCatalog,
	"LOCALES": showCatalog,

	"WARNINGS": showPrevious, "ERRORS": showPrevious, "COUNT": showPrevious,
	"PROFILE": showPrevious, "PROFILES": showPrevious,

	"SLAVE": showReplica, "REPLICA": showReplica, "SLAVES": showReplica,
	"REPLICAS": showReplica, "RELAYLOG": showReplica,
}

// show classifies SHOW. Catalog reads (SHOW TABLES, SHOW CREATE TABLE, ...) and
// replication status (SHOW SLAVE STATUS) may run on a replica; per-server state
// (SHOW VARIABLES, STATUS, PROCESSLIST, MASTER STATUS, ...) runs on the primary
// as a read that a replica hint may move; SHOW WARNINGS and friends go to the
// previous connection.
func (c *classifier) show(s *stmt) {
	lx := &c.lx
	s.kind = kindRead
	t := lx.next()
	if lx.isWord(t, "CREATE") { // SHOW CREATE TABLE t, ...
		c.scan(&s.facts, stopEnd, t)
		return
	}
	prev := t
	for lx.isWord(t, "FULL") || lx.isWord(t, "GLOBAL") || lx.isWord(t, "SESSION") ||
		lx.isWord(t, "LOCAL") || lx.isWord(t, "EXTENDED") || lx.isWord(t, "ALL") ||
		lx.isWord(t, "STORAGE") {
		prev, t = t, lx.next()
	}
	if lx.isEnd(t) {
		s.kind = kindWrite
		return
	}
	cl := showServer
	if t.kind == tokWord {
		var buf [16]byte
		if u := upper(buf[:], lx.text(t)); u != nil {
			if k, ok := shows[string(u)]; ok {
				cl = k
			}
		}
	}
	switch cl {
	case showServer:
		s.server = true
	case showPrevious:
		s.previous = true
	case showReplica:
		if lx.isWord(lx.peek(), "HOSTS") { // SHOW SLAVE HOSTS: the primary's replicas
			s.server = true
		}
	}
	if t.kind == tokWord {
		c.word(&s.facts, t, prev)
	}
	c.scan(&s.facts, stopEnd, t)
}
