package mysqlproxy

import (
	"testing"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/classify"
	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

func TestSQLModeLexOptions(t *testing.T) {
	for value, want := range map[string]classify.Options{
		"":                    {},
		"STRICT_TRANS_TABLES": {},
		"ansi_quotes":         {AnsiQuotes: true},
		"REAL_AS_FLOAT,PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ANSI": {AnsiQuotes: true},
		"ORACLE":                          {AnsiQuotes: true},
		"POSTGRESQL,NO_BACKSLASH_ESCAPES": {AnsiQuotes: true, NoBackslashEscapes: true},
		"NO_BACKSLASH_ESCAPES":            {NoBackslashEscapes: true},
		"ANSI_QUOTES_NOT":                 {},
	} {
		m := newSQLMode(value)
		if !m.known || m.lexOptions() != want {
			t.Errorf("sql_mode %q: known %v, options %+v; want %+v", value, m.known, m.lexOptions(), want)
		}
	}
	for _, bad := range []string{"ANSI'; DROP TABLE t; --", "A B"} {
		if newSQLMode(bad).known {
			t.Errorf("sql_mode %q taken as known: it could not be put into a SET safely", bad)
		}
	}
	if got := string(newSQLMode("ansi").setStatement()[1:]); got != "SET @@session.sql_mode = 'ANSI'" {
		t.Errorf("setStatement = %q", got)
	}
}

func TestCharsetSafe(t *testing.T) {
	for name, want := range map[string]bool{"utf8mb4": true, "latin1": true, "GBK": false, "sjis": false,
		"big5": false, "cp932": false, "gb18030": false, "": false} {
		if got := charsetSafe(name); got != want {
			t.Errorf("charsetSafe(%q) = %v, want %v", name, got, want)
		}
	}
	for id, name := range unsafeCollations {
		if charsetSafe(name) {
			t.Errorf("collation %d names %s, which charsetSafe lets through", id, name)
		}
	}
}

// What a primary connection reports updates the session; a state change
// the proxy does not follow is said so.
func TestNoteTracked(t *testing.T) {
	s := &session{srv: &Server{}}
	b := &backendConn{node: &node{}}
	untracked := s.noteTracked(b, []wire.StateChange{
		{Type: wire.TrackSystemVariables, Name: []byte("sql_mode"), Value: []byte("ANSI_QUOTES")},
		{Type: wire.TrackSystemVariables, Name: []byte("character_set_client"), Value: []byte("gbk")},
		{Type: wire.TrackSystemVariables, Name: []byte("last_gtid"), Value: []byte("0-1-42")},
		{Type: wire.TrackSystemVariables, Name: []byte("wait_timeout"), Value: []byte("5")},
	})
	if untracked || !s.mode.known || !s.mode.lexOptions().AnsiQuotes || !s.charsetUnsafe ||
		s.lastWrite[0] != 42 || b.node.writes.snapshot()[0] != 42 || s.clientWait.Seconds() != 5 {
		t.Fatalf("untracked %v, mode %+v, charsetUnsafe %v, lastWrite %v, clientWait %v", untracked, s.mode, s.charsetUnsafe, s.lastWrite, s.clientWait)
	}
	if !s.noteTracked(b, []wire.StateChange{{Type: wire.TrackStateChange, Value: []byte("1")}}) {
		t.Error("a state change was not reported as untracked")
	}
	// Lexing is uncertain under an unsafe character set: nothing goes to
	// a replica, and a session command pins.
	if r := s.classify("SELECT 1"); r.Route != classify.Primary {
		t.Errorf("under gbk a read routes %s", r.Route)
	}
	if r := s.classify("SET @a = 1"); r.Route != classify.Primary || !r.Has(classify.Pin) {
		t.Errorf("under gbk a SET routes %s, pin %v", r.Route, r.Has(classify.Pin))
	}
	s.charsetUnsafe, s.mode = false, sqlMode{}
	if r := s.classify("SELECT 1"); r.Route != classify.Primary {
		t.Errorf("with sql_mode unknown a read routes %s", r.Route)
	}
}

func TestGTIDPositions(t *testing.T) {
	p := parseGTIDList("0-1-42,1-2-7")
	if p == nil || p[0] != 42 || p[1] != 7 {
		t.Fatalf("parse: %v", p)
	}
	for _, bad := range []string{"", "0-1", "x-1-2", "0-1-2,", "0-1-2; DROP"} {
		if parseGTIDList(bad) != nil {
			t.Errorf("parseGTIDList(%q) accepted", bad)
		}
	}
	if !p.covers(gtidPos{0: 40}) || p.covers(gtidPos{0: 43}) || p.covers(gtidPos{2: 1}) || !p.covers(nil) {
		t.Error("covers is wrong")
	}
	var w writePositions
	if w.snapshot() != nil {
		t.Error("an empty position is not nil")
	}
	w.note(gtidPos{0: 5})
	w.note(gtidPos{0: 3, 1: 9})
	snap := w.snapshot()
	if snap[0] != 5 || snap[1] != 9 || snap.waitList() != "0-0-5,1-0-9" {
		t.Errorf("merged position %v, wait list %q", snap, snap.waitList())
	}
	snap[0] = 100
	if w.snapshot()[0] != 5 {
		t.Error("snapshot shares the position")
	}
}

func TestAllowedInReplicaTx(t *testing.T) {
	for sql, want := range map[string]bool{
		"SELECT * FROM t": true, "COMMIT": true, "ROLLBACK": true, "SHOW TABLES": true,
		"SELECT GET_LOCK('a', 1)": false, "SELECT * FROM t FOR UPDATE": false, "CREATE TEMPORARY TABLE x (i INT)": false,
		"SELECT @v := 1": false, "INSERT INTO t VALUES (1)": false, "SELECT f(1)": false,
	} {
		if got := allowedInReplicaTx(classify.Classify(sql, classify.Options{})); got != want {
			t.Errorf("allowedInReplicaTx(%q) = %v, want %v", sql, got, want)
		}
	}
}
