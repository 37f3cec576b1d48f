package mysqlproxy

import (
	"testing"

	"github.com/frontdesk-proxy/frontdesk/modules/mysqlproxy/wire"
)

func entries(l *sessionLog, since uint64) []string {
	var out []string
	for _, e := range l.since(since) {
		out = append(out, string(e.payload[1:]))
	}
	return out
}

func query(sql string) []byte { return append([]byte{wire.ComQuery}, sql...) }

func TestSessionLog(t *testing.T) {
	l := &sessionLog{limit: 4, limitBytes: 1 << 10}
	l.add("db", query("USE a"))
	afterFirst := l.add("", query("SET @x = 1"))
	l.add("db", query("USE b"))
	// The last USE wins and moves to the end; other entries keep their order.
	if got := entries(l, 0); len(got) != 2 || got[0] != "SET @x = 1" || got[1] != "USE b" {
		t.Fatalf("log = %q", got)
	}
	// A connection that ran up to the SET still needs the newer USE.
	if got := entries(l, afterFirst); len(got) != 1 || got[0] != "USE b" {
		t.Fatalf("since %d = %q", afterFirst, got)
	}
	if got := entries(l, l.seq); len(got) != 0 {
		t.Fatalf("a connection that ran everything still gets %q", got)
	}
	for i := range 3 {
		l.add("", query("SET @y = "+string(rune('0'+i))))
	}
	if !l.overflowed || len(l.entries) != 0 {
		t.Fatalf("a log past its limit must give up: overflowed=%v entries=%d", l.overflowed, len(l.entries))
	}
	l.reset()
	next := l.add("", query("SET @z = 1"))
	if l.overflowed || next <= afterFirst {
		t.Fatalf("after reset: overflowed=%v, seq %d must keep growing past %d", l.overflowed, next, afterFirst)
	}
}

func TestSessionLogMergesAndBoundsBytes(t *testing.T) {
	l := &sessionLog{limit: 100, limitBytes: 64}
	for i := range 50 {
		l.add("set @x", query("SET @x = "+string(rune('0'+i%10))))
	}
	l.add("set sql_mode", query("SET sql_mode = ''"))
	l.add("set @x", query("SET @x = 7"))
	if got := entries(l, 0); len(got) != 2 || got[0] != "SET sql_mode = ''" || got[1] != "SET @x = 7" {
		t.Fatalf("repeated SETs of one variable were not merged: %q", got)
	}
	if l.overflowed || l.bytes != len("SET sql_mode = ''")+len("SET @x = 7")+2 {
		t.Fatalf("bytes = %d, overflowed = %v", l.bytes, l.overflowed)
	}
	l.add("", query("SET @big = '"+string(make([]byte, 64))+"'"))
	if !l.overflowed || len(l.entries) != 0 || l.bytes != 0 {
		t.Fatalf("a log past its byte bound must give up: overflowed=%v entries=%d bytes=%d", l.overflowed, len(l.entries), l.bytes)
	}
}

func TestBindTypes(t *testing.T) {
	st := &preparedStmt{params: 2}
	// id=7, flags=0, iterations=1, null bitmap (1 byte), bound=1, types, values
	first := []byte{wire.ComStmtExecute, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 0, 253, 0, 1, 0, 0, 0, 1, 'a'}
	a := &backendStmt{id: 7}
	out, err := st.bindTypes(first, a)
	if err != nil || string(out) != string(first) || !a.typed || string(st.types) != string([]byte{3, 0, 253, 0}) {
		t.Fatalf("first execute: out=%v err=%v typed=%v types=%v", out, err, a.typed, st.types)
	}
	// A later execute without types reaches a backend that has not seen
	// them: they are put in.
	later := []byte{wire.ComStmtExecute, 9, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 'b'}
	b := &backendStmt{id: 9}
	out, err = st.bindTypes(later, b)
	want := []byte{wire.ComStmtExecute, 9, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 0, 253, 0, 2, 0, 0, 0, 1, 'b'}
	if err != nil || string(out) != string(want) || !b.typed {
		t.Fatalf("typeless execute on a new backend: got %v (%v), want %v", out, err, want)
	}
	// The backend that has them gets the packet as sent.
	if out, _ := st.bindTypes(later, a); string(out) != string(later) {
		t.Fatalf("typeless execute on a typed backend was changed: %v", out)
	}
	if _, err := st.bindTypes(later[:11], a); err == nil {
		t.Fatal("a truncated execute was accepted")
	}
}
