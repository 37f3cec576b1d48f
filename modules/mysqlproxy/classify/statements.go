package classify

import "strings"

// with classifies WITH [RECURSIVE] name [(cols)] AS (body) [, ...] main: the
// bodies are scanned, and the main statement decides the kind (a SELECT reads,
// WITH ... DELETE/UPDATE writes).
func (c *classifier) with(s *stmt) {
	lx := &c.lx
	if lx.isWord(lx.peek(), "RECURSIVE") {
		lx.next()
	}
	for {
		name := lx.next()
		if name.kind != tokWord && name.kind != tokIdent {
			c.scan(&s.facts, stopEnd, name)
			return
		}
		t := lx.next()
		if lx.isPunct(t, '(') { // column list
			if end := c.scan(&s.facts, stopClose, t); !lx.isPunct(end, ')') {
				return
			}
			t = lx.next()
		}
		if !lx.isWord(t, "AS") || !lx.isPunct(lx.peek(), '(') {
			c.scan(&s.facts, stopEnd, t)
			return
		}
		open := lx.next()
		if end := c.scan(&s.facts, stopClose, open); !lx.isPunct(end, ')') {
			return
		}
		if lx.isWord(lx.peek(), "CYCLE") { // CYCLE cols RESTRICT
			for t := lx.next(); !lx.isWord(t, "RESTRICT"); t = lx.next() {
				if lx.isEnd(t) {
					return
				}
			}
		}
		if !lx.isPunct(lx.peek(), ',') {
			break
		}
		lx.next()
	}
	var main stmt
	c.statement(&main)
	s.kind = main.kind
	s.flags |= main.flags
	s.merge(&main.facts)
	if main.kind == kindSession {
		s.kind = kindWrite
	}
}

// explain classifies EXPLAIN, DESCRIBE and DESC: a table description, a plan
// (the statement does not run), or EXPLAIN ANALYZE (it runs).
func (c *classifier) explain(s *stmt) {
	lx := &c.lx
	t := lx.peek()
	switch {
	case lx.isWord(t, "ANALYZE"):
		c.analyze(s, lx.next())
		return
	case lx.isWord(t, "FOR"): // EXPLAIN FOR CONNECTION n
		s.kind = kindRead
		s.conn = true
		c.scan(&s.facts, stopEnd, t)
		return
	}
	explainable := false
	for {
		t = lx.peek()
		switch {
		case lx.isWord(t, "EXTENDED") || lx.isWord(t, "PARTITIONS"):
			lx.next()
			continue
		case lx.isWord(t, "FORMAT"):
			lx.next()
			if lx.isPunct(lx.peek(), '=') {
				lx.next()
			}
			lx.next()
			explainable = true
			continue
		case lx.isPunct(t, '('), lx.isWord(t, "SELECT"), lx.isWord(t, "WITH"),
			lx.isWord(t, "VALUES"), lx.isWord(t, "TABLE"), lx.isWord(t, "INSERT"),
			lx.isWord(t, "UPDATE"), lx.isWord(t, "DELETE"), lx.isWord(t, "REPLACE"):
			explainable = true
		}
		break
	}
	if !explainable { // DESCRIBE table [column]
		s.kind = kindRead
		c.scan(&s.facts, stopEnd, t)
		return
	}
	var plan stmt
	c.statement(&plan)
	route, flags, _ := plan.finish()
	if route == Replica {
		s.kind = kindRead
		return
	}
	// The plain plan of a write or a locking read runs nothing, but the optimizer
	// may evaluate a stored function, and a write keyword never goes to a replica.
	s.kind = kindWrite
	if flags&StoredFunc == 0 && !plan.storedFn {
		s.flags |= Read
	}
}

// analyze classifies ANALYZE TABLE (a write to the binary log) and MariaDB's
// ANALYZE [FORMAT=JSON] stmt (runs stmt); at is the ANALYZE token.
func (c *classifier) analyze(s *stmt, at token) {
	lx := &c.lx
	t := lx.peek()
	if lx.isWord(t, "TABLE") || lx.isWord(t, "TABLES") ||
		lx.isWord(t, "NO_WRITE_TO_BINLOG") || lx.isWord(t, "LOCAL") {
		c.scan(&s.facts, stopEnd, at)
		return
	}
	if lx.isWord(t, "FORMAT") {
		lx.next()
		if lx.isPunct(lx.peek(), '=') {
			lx.next()
		}
		lx.next()
	}
	c.statement(s)
	s.empty = false
	if s.kind == kindSession {
		s.kind = kindWrite
	}
}

// start classifies START TRANSACTION [READ ONLY | READ WRITE | WITH
// CONSISTENT SNAPSHOT], ... and START SLAVE/REPLICA (administration).
func (c *classifier) start(s *stmt, at token) {
	lx := &c.lx
	if !lx.isWord(lx.peek(), "TRANSACTION") {
		c.scan(&s.facts, stopEnd, at)
		return
	}
	lx.next()
	readOnly, other := false, false
	for t := lx.next(); !lx.isEnd(t); t = lx.next() {
		switch {
		case lx.isWord(t, "READ") && lx.isWord(lx.peek(), "ONLY"):
			readOnly = true
			lx.next()
		case lx.isPunct(t, ','), lx.isWord(t, "WITH"), lx.isWord(t, "CONSISTENT"),
			lx.isWord(t, "SNAPSHOT"):
		default: // READ WRITE, or text that is not a characteristic
			other = true
		}
	}
	if readOnly && !other {
		s.kind = kindRead
		s.flags |= BeginReadOnlyTx
		return
	}
	s.flags |= BeginTx
}

// endTx classifies COMMIT and ROLLBACK [WORK] [AND [NO] CHAIN] [[NO] RELEASE]
// and ROLLBACK [WORK] TO [SAVEPOINT] name.
func (c *classifier) endTx(s *stmt) {
	lx := &c.lx
	end, chain, no := true, false, false
	for t := lx.next(); !lx.isEnd(t); t = lx.next() {
		switch {
		case lx.isWord(t, "TO"):
			end = false
		case lx.isWord(t, "CHAIN"):
			chain = !no
		}
		no = lx.isWord(t, "NO")
	}
	if end {
		s.flags |= EndTx
		if chain {
			s.flags |= BeginTx
		}
	}
}

// flush classifies FLUSH: FLUSH TABLES ... WITH READ LOCK and FLUSH TABLES ...
// FOR EXPORT take table locks.
func (c *classifier) flush(s *stmt) {
	lx := &c.lx
	for t := lx.next(); !lx.isEnd(t); t = lx.next() {
		if lx.isWord(t, "LOCK") || lx.isWord(t, "EXPORT") {
			s.flags |= Pin | LockTables
		}
	}
}

// create classifies CREATE: TEMPORARY tables and sequences pin the session;
// stored program definitions swallow the rest of the string, since their bodies
// contain ';' and do not run now.
func (c *classifier) create(s *stmt, at token) {
	lx := &c.lx
	prev := at
	for {
		t := lx.peek()
		if t.kind != tokWord {
			if lx.isEnd(t) {
				break
			}
			prev = lx.next()
			continue
		}
		var buf [16]byte
		switch string(upper(buf[:], lx.text(t))) {
		case "TEMPORARY":
			s.flags |= Pin
		case "PROCEDURE", "FUNCTION", "TRIGGER", "EVENT", "PACKAGE":
			c.compound(s, 0)
			return
		case "TABLE", "VIEW", "INDEX", "DATABASE", "SCHEMA", "SEQUENCE", "USER",
			"ROLE", "SERVER", "TABLESPACE", "LOGFILE":
			c.scan(&s.facts, stopEnd, prev)
			return
		}
		prev = lx.next()
	}
	c.scan(&s.facts, stopEnd, prev)
}

// compound consumes the rest of the string as one statement: a stored program
// definition or an anonymous compound statement (BEGIN NOT ATOMIC, IF, WHILE,
// ...), whose ';'-separated body belongs to it. It runs on the primary with the
// given flags; facts of the body are not collected.
func (c *classifier) compound(s *stmt, flags Flags) {
	lx := &c.lx
	s.flags |= flags
	for t := lx.next(); t.kind != tokEOF; t = lx.next() {
		if lx.isPunct(t, ';') && lx.peek().kind != tokEOF {
			s.multi = true
		}
	}
}

// prepare classifies PREPARE name FROM text and DEALLOCATE|DROP PREPARE name,
// session commands; at is the PREPARE token. The prepared text is a string or a
// user variable: anything else makes it a primary statement.
func (c *classifier) prepare(s *stmt, at token) {
	c.scan(&s.facts, stopEnd, at)
	if s.facts == (facts{}) {
		s.kind = kindSession
	}
}

// use classifies USE db.
func (c *classifier) use(s *stmt) {
	lx := &c.lx
	t := lx.next()
	if lx.isEnd(t) {
		return
	}
	if !lx.isEnd(lx.peek()) || (t.kind != tokWord && t.kind != tokIdent) ||
		(t.kind == tokWord && lookupWord(lx.text(t)) != wOther) {
		c.scan(&s.facts, stopEnd, t)
		return
	}
	lx.next()
	name := lx.text(t)
	if t.kind == tokIdent {
		q := name[0]
		if len(name) < 2 || name[len(name)-1] != q {
			return // unterminated
		}
		name = name[1 : len(name)-1]
		if strings.IndexByte(name, q) >= 0 {
			name = strings.ReplaceAll(name, string([]byte{q, q}), string(q))
		}
	}
	s.kind = kindSession
	s.flags |= UseDB
	s.db = name
}
