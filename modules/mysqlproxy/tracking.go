package mysqlproxy

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/classify"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

// What the proxy knows of a session's state comes from the servers, never
// from guessing at SQL text: every primary connection reports, in the OK
// packets of its replies (MariaDB session tracking), each change of the
// variables below and any change of session state at all. From those the
// session learns
//   - its sql_mode, which decides how the classifier lexes the next
//     statement (ANSI_QUOTES, NO_BACKSLASH_ESCAPES) and which every replica
//     connection is set to before it runs a read;
//   - its character_set_client: with a character set whose multi-byte
//     characters can contain the bytes of '\' and quotes, nothing is lexed
//     with certainty, and every statement runs on the primary;
//   - the GTID of its last write (last_gtid), for read-your-writes;
//   - a wait_timeout the client set, which bounds how long the client
//     session may sit idle, as it would on a direct connection;
//   - that a statement changed session state the proxy did not record
//     (session_track_state_change: user variables set by SELECT ... INTO,
//     CALL, EXECUTE, a prepared SET, ...): the session is then pinned to the
//     primary, where that state lives.

// trackingSetup turns on, for a primary connection, the session tracking
// the proxy relies on, whatever the client set these variables to.
var trackingSetup = append([]byte{wire.ComQuery},
	"SET @@session.session_track_system_variables = CONCAT_WS(',', NULLIF(@@session.session_track_system_variables, ''), "+
		"'last_gtid,sql_mode,character_set_client,wait_timeout'), @@session.session_track_state_change = ON"...)

// sqlModeForm reports whether v has the form of every sql_mode value a
// server reports (upper-case words, digits, '_' and ','); only such text is
// ever put into a SET of sql_mode.
func sqlModeForm(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ',') {
			return false
		}
	}
	return true
}

// ansiQuotesModes are the sql_mode words that turn ANSI_QUOTES on: the mode
// itself and the combination modes that include it.
var ansiQuotesModes = []string{"ANSI_QUOTES", "ANSI", "DB2", "MAXDB", "MSSQL", "ORACLE", "POSTGRESQL"}

// sqlMode is a session's sql_mode as a server reported it.
type sqlMode struct {
	// value is the comma-separated mode list, upper case.
	value string
	// known is false until a server reported it, and again after a change
	// the proxy could not follow.
	known bool
	// lex are the classifier's options under it, worked out once.
	lex classify.Options
}

// lexOptions are the classifier's options under mode m.
func (m sqlMode) lexOptions() classify.Options { return m.lex }

func containsWord(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}

// newSQLMode returns the mode a server reported, unknown if it is not of
// the form servers report.
func newSQLMode(v string) sqlMode {
	v = strings.ToUpper(v)
	m := sqlMode{value: v, known: sqlModeForm(v)}
	for w := range strings.SplitSeq(v, ",") {
		switch {
		case w == "NO_BACKSLASH_ESCAPES":
			m.lex.NoBackslashEscapes = true
		case containsWord(ansiQuotesModes, w):
			m.lex.AnsiQuotes = true
		}
	}
	return m
}

// setStatement returns the COM_QUERY that sets a connection's sql_mode to m.
func (m sqlMode) setStatement() []byte {
	return fmt.Appendf([]byte{wire.ComQuery}, "SET @@session.sql_mode = '%s'", m.value)
}

// unsafeCharsets are the character sets whose multi-byte characters can
// contain a byte 0x5C ('\'), 0x27 or 0x22 (quotes): under them the bytes of
// a statement cannot be lexed without decoding them. The proxy refuses them.
var unsafeCharsets = []string{"big5", "cp932", "gbk", "sjis", "gb18030"}

// unsafeCollations are the collation ids of unsafeCharsets that a client can
// name in its handshake or COM_CHANGE_USER (one byte).
var unsafeCollations = map[uint8]string{
	1: "big5", 84: "big5", 13: "sjis", 88: "sjis", 28: "gbk", 87: "gbk",
	95: "cp932", 96: "cp932", 248: "gb18030", 249: "gb18030", 250: "gb18030",
}

// charsetSafe reports whether statements in the named character set can be
// lexed byte by byte; "" (not a plain name) is not.
func charsetSafe(name string) bool {
	return name != "" && !containsWord(unsafeCharsets, strings.ToLower(name))
}

// errUnsafeCharset is the answer to a client that asks for an unsafe
// character set.
func errUnsafeCharset(name string) *wire.SQLError {
	if name == "" {
		return wire.NewSQLError(wire.ERNotSupportedYet,
			"Frontdesk: name the character set as a plain name (for example SET NAMES utf8mb4), not an expression")
	}
	return wire.NewSQLError(wire.ERNotSupportedYet,
		"Frontdesk: character set '%s' is not supported: its multi-byte characters can contain the bytes of '\\' and quotes, "+
			"so statements could not be routed safely; use utf8mb4", name)
}

// setupTracking turns on session tracking on a new primary connection and
// learns its sql_mode.
func (s *session) setupTracking(b *backendConn) error {
	s.followTracking(b)
	if err := b.run(trackingSetup); err != nil {
		return err
	}
	return s.learnSQLMode(b)
}

// followTracking makes the session take in what primary connection b's
// OK packets report.
func (s *session) followTracking(b *backendConn) {
	b.tracked = func(changes []wire.StateChange) bool { return s.noteTracked(b, changes) }
}

// learnSQLMode asks primary connection b for its sql_mode, after a
// statement that set it: the reply's tracking may not have said.
func (s *session) learnSQLMode(b *backendConn) error {
	v, err := b.queryValue("SELECT @@session.sql_mode")
	if err != nil {
		return err
	}
	s.mode = newSQLMode(v)
	return nil
}

// noteTracked takes in what an OK packet of primary connection b reports,
// and says whether session state changed beyond what the proxy follows.
func (s *session) noteTracked(b *backendConn, changes []wire.StateChange) (untracked bool) {
	for _, c := range changes {
		if c.Type != wire.TrackSystemVariables || !bytes.EqualFold(c.Name, []byte("last_gtid")) {
			// The connection's state is the session's now, not the clean
			// state another session may start from.
			b.clean = false
		}
		switch c.Type {
		case wire.TrackSystemVariables:
			switch {
			case bytes.EqualFold(c.Name, []byte("sql_mode")):
				s.mode = newSQLMode(string(c.Value))
			case bytes.EqualFold(c.Name, []byte("character_set_client")):
				s.charsetUnsafe = !charsetSafe(string(c.Value))
			case bytes.EqualFold(c.Name, []byte("wait_timeout")):
				s.setClientWaitTimeout(string(c.Value))
			case bytes.EqualFold(c.Name, []byte("last_gtid")) && len(c.Value) > 0:
				s.noteWrite(b, string(c.Value))
			}
		case wire.TrackStateChange:
			untracked = true
		}
	}
	return untracked
}

// classify classifies a statement's text under the session's sql_mode.
// When the text cannot be lexed with certainty (the sql_mode is not known,
// or the character set is unsafe), nothing may run on a replica or be
// replayed there: the statement goes to the primary, and a session command
// pins the session.
func (s *session) classify(sql string) classify.Result {
	res := classify.Classify(sql, s.mode.lexOptions())
	if !s.mode.known || s.charsetUnsafe {
		if res.Route == classify.Session {
			res.Flags |= classify.Pin
		}
		res.Route = classify.Primary
	}
	return res
}

// syncSQLMode sets a replica connection's sql_mode to the session's before
// it runs the session's statements.
func (s *session) syncSQLMode(b *backendConn) error {
	if b.mode == s.mode {
		return nil
	}
	if !s.mode.known {
		return errModeUnknown
	}
	b.clean = false
	if err := b.run(s.mode.setStatement()); err != nil {
		return err
	}
	b.mode = s.mode
	return nil
}

// setClientWaitTimeout takes in a wait_timeout (whole seconds) the client
// set: the session then ends after that long idle, or after the server's
// idle_timeout if that is shorter.
func (s *session) setClientWaitTimeout(seconds string) {
	n, err := strconv.ParseUint(seconds, 10, 32)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.clientWait = time.Duration(n) * time.Second
	s.idleDeadline = time.Time{} // set anew at the next wait
	s.mu.Unlock()
}
