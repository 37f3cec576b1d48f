package classify

// Classify classifies one COM_QUERY string. It never fails: text it does not
// understand routes to the primary. It is safe for concurrent use.
func Classify(sql string, opt Options) Result {
	c := classifier{lx: lexer{src: sql, opt: opt}}
	var (
		res                     Result
		parts                   int
		multi                   bool
		anyPrimary, anySession  bool
		anyPrevious, anyReplica bool
		allRead, allUpgradable  = true, true
	)
	for c.lx.peek().kind != tokEOF {
		var s stmt
		c.statement(&s)
		if s.empty {
			continue
		}
		parts++
		multi = multi || s.multi
		route, flags, upgradable := s.finish()
		res.Flags |= flags &^ (Read | StoredFunc)
		res.Flags |= flags & StoredFunc
		allRead = allRead && flags&Read != 0
		switch route {
		case Primary:
			anyPrimary = true
			allUpgradable = allUpgradable && upgradable
		case Replica:
			anyReplica = true
		case Session:
			anySession = true
			allUpgradable = false
		case Previous:
			anyPrevious = true
			allUpgradable = false
		}
		if s.flags&UseDB != 0 {
			res.DB = s.db
		}
		if s.flags&Charset != 0 {
			res.Charset = s.charset
		}
		if s.flags&Kill != 0 {
			res.Kill = s.kill
		}
		res.Variable = s.variable
	}
	if parts == 0 {
		return Result{Hint: c.lx.hint}
	}
	if allRead {
		res.Flags |= Read
	}
	switch {
	case anySession && (anyPrimary || anyReplica || anyPrevious):
		// A session command inside a multi-statement string cannot be replayed
		// on its own: keep the session where its state is.
		res.Route = Primary
		res.Flags |= Pin
	case anyPrimary:
		res.Route = Primary
	case anySession:
		res.Route = Session
	case anyPrevious:
		res.Route = Previous
	default:
		res.Route = Replica
	}
	if parts > 1 || multi {
		res.Flags |= Multi
		res.Variable = ""
	}
	res.Hint = c.lx.hint
	switch {
	case res.Hint == HintPrimary && (res.Route == Replica || res.Route == Previous):
		res.Route = Primary
	case res.Hint == HintReplica && res.Route == Primary && anyPrimary && allUpgradable:
		res.Route = Replica
	}
	return res
}

// classifier walks the tokens of a query string, one statement at a time.
type classifier struct {
	lx lexer
}

// kind is the base route of a statement, before its facts are weighed.
type kind uint8

const (
	kindWrite   kind = iota // the primary
	kindRead                // decided by the facts: replica, previous or primary
	kindSession             // a session command
)

// facts are what a scan of a statement's tokens found.
type facts struct {
	write    bool // changes data, locks, or sets per-connection state
	storedFn bool // calls a function that is not a known built-in
	conn     bool // reads per-connection state of the primary connection
	server   bool // reads per-server state; the primary's answer is wanted
	previous bool // asks about the connection's previous statement
	volatile bool // evaluates differently later or elsewhere
	query    bool // contains a subquery
	flags    Flags
}

// replayable reports whether a SET value with these facts gives the same result
// when the assignment is replayed on a replica later.
func (f *facts) replayable() bool {
	return !(f.write || f.storedFn || f.conn || f.previous || f.volatile || f.query)
}

// merge adds the facts of g to f.
func (f *facts) merge(g *facts) {
	f.write = f.write || g.write
	f.storedFn = f.storedFn || g.storedFn
	f.conn = f.conn || g.conn
	f.server = f.server || g.server
	f.previous = f.previous || g.previous
	f.volatile = f.volatile || g.volatile
	f.query = f.query || g.query
	f.flags |= g.flags
}

// stmt is the classification of one statement.
type stmt struct {
	facts
	kind  kind
	flags Flags
	db    string
	// charset is the character set a Charset statement names.
	charset string
	// kill is what a Kill statement names.
	kill KillTarget
	// variable is what Result.Variable says of a SET.
	variable string
	empty    bool // no tokens at all
	multi    bool // a compound statement that swallowed several ';'-separated parts
}

// finish returns the statement's route and flags, and whether a replica hint
// may send it to a replica.
func (s *stmt) finish() (route Route, flags Flags, upgradable bool) {
	f := s.flags | s.facts.flags
	switch s.kind {
	case kindSession:
		return Session, f, false
	case kindRead:
		switch {
		case s.write:
			return Primary, f, false
		case s.conn:
			return Primary, f | Read, false
		case s.storedFn:
			return Primary, f | StoredFunc, !s.previous
		case s.server:
			return Primary, f | Read, !s.previous
		case s.previous:
			return Previous, f | Read, false
		}
		return Replica, f | Read, false
	}
	return Primary, f, false
}

// statement classifies the next statement and consumes it, including the ';'
// that ends it.
func (c *classifier) statement(s *stmt) {
	lx := &c.lx
	t := lx.next()
	parens := false
	for lx.isPunct(t, '(') {
		parens = true
		t = lx.next()
	}
	if lx.isEnd(t) {
		s.empty = !parens
		return
	}
	if t.kind != tokWord {
		c.scan(&s.facts, stopEnd, t)
		return
	}
	if lx.isPunct(lx.peek(), ':') { // a label: "l1: LOOP ..."
		c.compound(s, Pin)
		return
	}
	var buf [16]byte
	switch string(upper(buf[:], lx.text(t))) {
	case "SELECT", "VALUES", "TABLE":
		s.kind = kindRead
		c.scan(&s.facts, stopEnd, t)
	case "WITH":
		c.with(s)
	case "SHOW":
		c.show(s)
	case "SET":
		c.set(s)
	case "USE":
		c.use(s)
	case "EXPLAIN", "DESCRIBE", "DESC":
		c.explain(s)
	case "ANALYZE":
		c.analyze(s, t)
	case "BEGIN":
		switch n := lx.peek(); {
		case lx.isEnd(n) || lx.isWord(n, "WORK"):
			s.flags |= BeginTx
			c.scan(&s.facts, stopEnd, t)
		default: // BEGIN NOT ATOMIC ... END
			c.compound(s, Pin)
		}
	case "IF", "WHILE", "LOOP", "REPEAT", "CASE", "FOR":
		c.compound(s, Pin)
	case "START":
		c.start(s, t)
	case "COMMIT", "ROLLBACK":
		c.endTx(s)
	case "XA", "HANDLER":
		s.flags |= Pin
		c.scan(&s.facts, stopEnd, t)
	case "LOCK":
		if n := lx.peek(); lx.isWord(n, "TABLE") || lx.isWord(n, "TABLES") {
			s.flags |= Pin | LockTables
		}
		c.scan(&s.facts, stopEnd, t)
	case "UNLOCK":
		if n := lx.peek(); lx.isWord(n, "TABLE") || lx.isWord(n, "TABLES") {
			s.flags |= UnlockTables
		}
		c.scan(&s.facts, stopEnd, t)
	case "FLUSH":
		c.flush(s)
	case "BACKUP":
		switch n := lx.peek(); {
		case lx.isWord(n, "LOCK"):
			s.flags |= Pin | LockTables
		case lx.isWord(n, "UNLOCK"):
			s.flags |= UnlockTables
		default: // BACKUP STAGE
			s.flags |= Pin
		}
		c.scan(&s.facts, stopEnd, t)
	case "CREATE":
		c.create(s, t)
	case "PREPARE":
		c.prepare(s, t)
	case "DEALLOCATE", "DROP":
		if lx.isWord(lx.peek(), "PREPARE") {
			c.prepare(s, lx.next())
			return
		}
		c.scan(&s.facts, stopEnd, t)
	case "GET":
		if n := lx.peek(); lx.isWord(n, "DIAGNOSTICS") || lx.isWord(n, "CURRENT") || lx.isWord(n, "STACKED") {
			s.kind = kindRead
			s.previous = true
		}
		c.scan(&s.facts, stopEnd, t)
	case "KILL":
		c.kill(s, t)
	default: // DML, DDL, DO, CALL, EXECUTE, ...: the primary
		c.scan(&s.facts, stopEnd, t)
	}
}

// kill classifies KILL [HARD | SOFT] [CONNECTION | QUERY] id; at is the KILL
// token. Other forms (KILL QUERY ID, KILL USER, an expression) leave the
// target's ID 0.
func (c *classifier) kill(s *stmt, at token) {
	lx := &c.lx
	s.flags |= Kill
	if lx.isWord(lx.peek(), "HARD") || lx.isWord(lx.peek(), "SOFT") {
		at = lx.next()
	}
	switch n := lx.peek(); {
	case lx.isWord(n, "CONNECTION"):
		at = lx.next()
	case lx.isWord(n, "QUERY"):
		s.kill.Query = true
		at = lx.next()
	}
	id := lx.peek()
	if id.kind == tokNumber {
		lx.next()
		if lx.isEnd(lx.peek()) {
			s.kill.ID = parseUint(lx.text(id))
		}
	}
	c.scan(&s.facts, stopEnd, at)
}

// parseUint parses a decimal number, 0 when it is not one or overflows.
func parseUint(text string) uint64 {
	var n uint64
	for i := 0; i < len(text); i++ {
		d := text[i] - '0'
		if d > 9 || n > (1<<64-1-uint64(d))/10 {
			return 0
		}
		n = n*10 + uint64(d)
	}
	return n
}

// stop selects the tokens at parenthesis depth 0 that end a scan early.
type stop uint8

const (
	stopEnd   stop = 0         // only ';' or the end of the input
	stopComma stop = 1 << iota // ','
	stopFor                    // the word FOR
	stopClose                  // an unmatched ')'
)

// scan consumes tokens up to and including the end of the statement or a stop
// token, collecting facts into f, and returns the token it stopped at. prev is
// the token before the first one scanned.
func (c *classifier) scan(f *facts, st stop, prev token) token {
	lx := &c.lx
	depth := 0
	for {
		t := lx.next()
		switch t.kind {
		case tokEOF:
			return t
		case tokPunct:
			switch lx.src[t.pos] {
			case ';':
				return t
			case '(':
				depth++
			case ')':
				if depth == 0 && st&stopClose != 0 {
					return t
				}
				if depth > 0 {
					depth--
				}
			case ',':
				if depth == 0 && st&stopComma != 0 {
					return t
				}
			case ':':
				if t.end-t.pos == 2 && prev.kind == tokUserVar {
					// @v := expr outside SET: the variable changes on this
					// connection only.
					f.write = true
					f.flags |= Pin
				}
			}
		case tokWord:
			if depth == 0 && st&stopFor != 0 && lx.isWord(t, "FOR") {
				return t
			}
			c.word(f, t, prev)
		case tokIdent:
			if lx.isPunct(lx.peek(), '(') { // `f`(...): a stored function
				f.storedFn = true
			}
		case tokSysVar:
			c.sysVar(f, t)
		}
		prev = t
	}
}

// word collects the facts of the unquoted word t; prev is the token before it.
func (c *classifier) word(f *facts, t, prev token) {
	lx := &c.lx
	name := lx.text(t)
	next := lx.peek()
	kind := lookupWord(name)
	if lx.isPunct(next, '(') {
		// A keyword that is not also a function ("UPDATE (") keeps its meaning.
		if cl := lookupFn(name); cl != fnUnknown || kind == wOther {
			if lx.isPunct(prev, '.') {
				// db.f(...) is a stored function; db.GET_LOCK(...) is treated
				// like GET_LOCK as well, to be safe.
				f.storedFn = true
				if cl <= fnPure {
					return
				}
			}
			if equalUpper(name, "CONNECTION_ID") && !lx.isPunct(prev, '.') {
				f.flags |= ConnectionID
			}
			c.call(f, cl)
			return
		}
	}
	switch kind {
	case wWrite:
		f.write = true
	case wSet:
		if !lx.isWord(prev, "CHARACTER") {
			f.write = true
		}
	case wInto:
		f.write = true
		if next.kind == tokUserVar { // SELECT ... INTO @v
			f.flags |= Pin
		}
	case wFor:
		if lx.isWord(next, "SHARE") {
			f.write = true
		}
	case wNext:
		if lx.isWord(next, "VALUE") { // NEXT VALUE FOR seq
			f.write = true
		}
	case wPrevious:
		if lx.isWord(next, "VALUE") { // PREVIOUS VALUE FOR seq
			f.conn = true
		}
	case wSelect:
		f.query = true
	case wSeqCurr:
		if lx.isPunct(prev, '.') { // seq.CURRVAL, seq.LASTVAL
			f.conn = true
		}
	case wCalcFoundRows:
		f.flags |= CalcFoundRows
	}
}

// call collects the facts of a call of a function of class cl; the next token
// is its '('.
func (c *classifier) call(f *facts, cl fnClass) {
	switch cl {
	case fnUnknown:
		f.storedFn = true
	case fnVolatile:
		f.volatile = true
	case fnPrevious:
		f.previous = true
	case fnConn:
		f.conn = true
	case fnLastInsertID:
		save := c.lx
		c.lx.next()
		noArgs := c.lx.isPunct(c.lx.next(), ')')
		c.lx = save
		if noArgs {
			f.previous = true
			f.flags |= LastInsertID
		} else { // LAST_INSERT_ID(expr) sets the connection's value
			f.write = true
		}
	case fnLock:
		f.write = true
		f.flags |= Pin | NamedLock
	case fnRelease:
		f.write = true
	case fnReleaseAll:
		f.write = true
		f.flags |= ReleaseNamedLocks
	case fnWrite:
		f.write = true
	}
}

// sysVar collects the facts of a read of the system variable t.
func (c *classifier) sysVar(f *facts, t token) {
	scope, name := splitScope(c.lx.text(t))
	switch {
	case name == "":
		f.conn = true // @@`quoted`: not worth a guess
	case scope == scopeGlobal:
		f.server = true
	default:
		switch lookupVar(name) {
		case varPrevious:
			f.previous = true
			if equalUpper(name, "IDENTITY") || equalUpper(name, "LAST_INSERT_ID") {
				f.flags |= LastInsertID
			}
		case varServer:
			f.server = true
			f.volatile = true
		case varConn:
			f.conn = true
		}
	}
}

// scope is the scope of a system variable.
type scope uint8

const (
	scopeNone scope = iota
	scopeSession
	scopeGlobal
)

// splitScope splits a system variable token "@@[scope.]name" into its scope
// and name. The name is empty when it is quoted.
func splitScope(v string) (scope, string) {
	v = v[2:]
	sc := scopeNone
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '`':
			return sc, ""
		case '.':
			switch p := v[:i]; {
			case equalFoldASCII(p, "global"):
				sc = scopeGlobal
			case equalFoldASCII(p, "session"), equalFoldASCII(p, "local"):
				sc = scopeSession
			default:
				return scopeNone, ""
			}
			v = v[i+1:]
			i = -1
		}
	}
	return sc, v
}
