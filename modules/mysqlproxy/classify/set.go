package classify

import "strings"

// set classifies SET; the SET token has been consumed.
//
// SET STATEMENT assignments FOR stmt is classified as stmt. Otherwise every
// assignment is looked at: session variables, user variables, NAMES, CHARACTER
// SET and ROLE make a session command; GLOBAL scope makes it a primary-only
// statement; both at once, or a value that would evaluate differently when
// replayed on a replica (a subquery, NOW(), a stored function, ...), pin the
// session to the primary. SET TRANSACTION without a scope affects only the next
// transaction, which starts on the primary, so it is not a session command.
// SET PASSWORD and SET DEFAULT ROLE write.
func (c *classifier) set(s *stmt) {
	lx := &c.lx
	if lx.isWord(lx.peek(), "STATEMENT") {
		c.setStatement(s, lx.next())
		return
	}
	var (
		global, session, write, pin bool
		oneShot, replayable         = false, true
		stickyGlobal                bool
		end                         token
		assignments                 int
		merge                       string
	)
	for {
		assignments++
		t := lx.next()
		explicit := false
		switch {
		case lx.isWord(t, "GLOBAL") || lx.isWord(t, "PERSIST") || lx.isWord(t, "PERSIST_ONLY"):
			stickyGlobal, explicit = true, true
			t = lx.next()
		case lx.isWord(t, "SESSION") || lx.isWord(t, "LOCAL"):
			stickyGlobal, explicit = false, true
			t = lx.next()
		}
		var vf facts
		switch {
		case lx.isEnd(t):
			write = true
			end = t
		case lx.isWord(t, "TRANSACTION"):
			switch {
			case stickyGlobal:
				global = true
			case explicit:
				session = true
			default:
				oneShot = true
			}
			end = c.scan(&vf, stopEnd, t)
		case lx.isWord(t, "NAMES") || lx.isWord(t, "CHARSET"):
			session = true
			s.flags, s.charset = s.flags|Charset, c.charsetName()
			end = c.scan(&vf, stopComma, t)
		case lx.isWord(t, "CHARACTER") && lx.isWord(lx.peek(), "SET"):
			session = true
			at := lx.next()
			s.flags, s.charset = s.flags|Charset, c.charsetName()
			end = c.scan(&vf, stopComma, at)
		case lx.isWord(t, "PASSWORD") || lx.isWord(t, "DEFAULT"):
			write = true
			end = c.scan(&vf, stopEnd, t)
		case lx.isWord(t, "ROLE"):
			session = true
			end = c.scan(&vf, stopEnd, t)
		default:
			var a assignment
			end, a = c.assignment(&vf, t, stickyGlobal)
			switch {
			case a.bad:
				write = true
			case a.global:
				global = true
			default:
				session = true
			}
			s.flags |= a.flags
			pin = pin || a.pin
			switch {
			case !a.literal:
			case a.userVar != "":
				merge = a.userVar
			case a.sessionVar != "":
				merge = a.sessionVar
			}
			if a.flags&Charset != 0 {
				s.charset = a.charset
			}
		}
		replayable = replayable && vf.replayable()
		s.facts.flags |= vf.flags
		if lx.isEnd(end) {
			break
		}
	}
	if s.flags&Autocommit != 0 && assignments > 1 {
		pin = true
	}
	if assignments == 1 {
		s.variable = merge
	}
	switch {
	case write:
		s.kind = kindWrite
	case global && session:
		s.kind = kindWrite
		s.flags |= Pin
	case global || oneShot:
		s.kind = kindWrite
		if oneShot && !global {
			s.flags |= NextTransaction
		}
	case !replayable || pin:
		s.kind = kindWrite
		s.flags |= Pin
	default:
		s.kind = kindSession
	}
}

// assignment is what one "[scope] var = value" of a SET changes.
type assignment struct {
	global bool  // a global variable
	bad    bool  // not understood
	pin    bool  // binds the session to the primary (sql_log_bin)
	flags  Flags // Autocommit, SQLMode, SessionTrack, Charset
	// charset is the value assigned to character_set_client, as
	// charsetName gives it.
	charset string
	// sessionVar names the session system variable assigned, userVar the
	// unquoted user variable (with its @).
	sessionVar, userVar string
	// literal: the value is one number, string or word.
	literal bool
}

// assignment reads one variable assignment whose first token t has been
// consumed, up to and including the ',' or statement end that follows it.
// stickyGlobal is the scope given by the last GLOBAL or SESSION keyword.
func (c *classifier) assignment(vf *facts, t token, stickyGlobal bool) (token, assignment) {
	lx := &c.lx
	var a assignment
	name := ""
	a.global = stickyGlobal
	switch t.kind {
	case tokSysVar:
		var sc scope
		sc, name = splitScope(lx.text(t))
		a.global = sc == scopeGlobal
		if name == "" {
			a.pin = true // @@`quoted`: cannot tell which variable
		}
	case tokUserVar:
		a.global = false
		if text := lx.text(t); len(text) > 1 && isIdentChar(text[1]) {
			a.userVar = text // @name unquoted; quoted names are not merged
		}
	case tokWord:
		name = lx.text(t)
		if lx.isPunct(lx.peek(), '.') { // structured variable: keycache.key_buffer_size
			a.bad = lookupWord(name) != wOther
			lx.next()
			t = lx.next()
			name = lx.text(t)
		}
		if t.kind != tokWord || lookupWord(name) != wOther { // SET DO = 1 is not a variable
			a.bad = true
		}
	case tokIdent:
		a.pin = true // `name`: cannot tell which variable
	default:
		a.bad = true
	}
	eq := lx.next()
	if !lx.isPunct(eq, '=') && !(eq.kind == tokPunct && lx.text(eq) == ":=") {
		a.bad = true
		if lx.isEnd(eq) {
			return eq, a
		}
		return c.scan(vf, stopEnd, eq), a
	}

	save := c.lx
	v := lx.next()
	a.literal = (v.kind == tokNumber || v.kind == tokString || v.kind == tokWord && lookupWord(lx.text(v)) == wOther) &&
		(lx.isEnd(lx.peek()) || lx.isPunct(lx.peek(), ','))
	c.lx = save
	if !a.global && name != "" {
		a.sessionVar = name
		switch {
		case equalUpper(name, "AUTOCOMMIT"):
			a.flags |= Autocommit
		case equalUpper(name, "SQL_MODE"):
			a.flags |= SQLMode
		case equalUpper(name, "CHARACTER_SET_CLIENT"):
			a.flags |= Charset
			a.charset = c.charsetName()
		case len(name) > len("SESSION_TRACK_") && equalUpper(name[:len("SESSION_TRACK_")], "SESSION_TRACK_"):
			a.flags |= SessionTrack
		}
	}
	if name != "" && equalUpper(name, "SQL_LOG_BIN") {
		a.pin = true
	}
	return c.scan(vf, stopComma, eq), a
}

// charsetName returns the character set named by the next token, lower
// case and unquoted, if that token is one word or string alone (followed by
// COLLATE, ',' or the end of the statement); "" otherwise. Nothing is
// consumed.
func (c *classifier) charsetName() string {
	save := c.lx
	defer func() { c.lx = save }()
	lx := &c.lx
	v := lx.next()
	if n := lx.next(); !lx.isEnd(n) && !lx.isPunct(n, ',') && !lx.isWord(n, "COLLATE") {
		return ""
	}
	text := lx.text(v)
	switch {
	case v.kind == tokWord:
		return strings.ToLower(text)
	case v.kind == tokString && len(text) >= 2 && !strings.ContainsAny(text[1:len(text)-1], "\\'\""):
		return strings.ToLower(text[1 : len(text)-1])
	}
	return ""
}

// setStatement classifies SET STATEMENT var = value [, ...] FOR stmt by stmt;
// at is the STATEMENT token. The assignments last for stmt only.
//
// An assignment of sql_mode or character_set_client changes how the server
// lexes stmt, which this classifier lexed under the session's settings: such
// a statement goes to the primary.
func (c *classifier) setStatement(s *stmt, at token) {
	var vf facts
	save := c.lx
	lexing := c.changesLexing()
	c.lx = save
	end := c.scan(&vf, stopFor, at)
	if !c.lx.isWord(end, "FOR") {
		return
	}
	c.statement(s)
	s.empty = false
	if s.kind == kindSession || lexing {
		s.kind = kindWrite
	}
	s.merge(&vf)
}

// changesLexing reports whether the assignments ahead, up to FOR or the
// end, name sql_mode or character_set_client. It consumes tokens.
func (c *classifier) changesLexing() bool {
	lx := &c.lx
	for t := lx.next(); !lx.isEnd(t) && !lx.isWord(t, "FOR"); t = lx.next() {
		name := lx.text(t)
		if t.kind == tokSysVar {
			_, name = splitScope(name)
		} else if t.kind != tokWord {
			continue
		}
		if equalUpper(name, "SQL_MODE") || equalUpper(name, "CHARACTER_SET_CLIENT") {
			return true
		}
	}
	return false
}
