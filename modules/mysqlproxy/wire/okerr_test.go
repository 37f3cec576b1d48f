package wire

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
)

func TestOKRoundTrip(t *testing.T) {
	var state []byte
	for _, c := range []StateChange{
		{Type: TrackSystemVariables, Name: []byte("last_gtid"), Value: []byte("0-1-100")},
		{Type: TrackSchema, Value: []byte("shop")},
		{Type: TrackStateChange, Value: []byte("1")},
		{Type: TrackTransactionCharacteristics, Value: []byte("START TRANSACTION READ ONLY;")},
		{Type: TrackTransactionState, Value: []byte("T_______")},
		{Type: TrackGTIDs, Value: []byte("3E11FA47-71CA-11E1-9E33-C80AA9429562:23")},
	} {
		state = AppendStateChange(state, c)
	}
	cases := []struct {
		name string
		caps uint64
		ok   OK
	}{
		{"plain", ClientProtocol41, OK{AffectedRows: 3, LastInsertID: 1 << 40, Status: StatusAutocommit, Warnings: 2, Info: []byte("Rows matched: 3")}},
		{"eof form", ClientProtocol41 | ClientDeprecateEOF, OK{Header: HeaderEOF, Status: StatusAutocommit | StatusMoreResultsExists}},
		{"track empty", ClientProtocol41 | ClientSessionTrack, OK{AffectedRows: 1, Status: StatusInTrans}},
		{"track info", ClientProtocol41 | ClientSessionTrack, OK{Status: StatusInTrans, Info: []byte("hi")}},
		{"track state", ClientProtocol41 | ClientSessionTrack, OK{AffectedRows: 1, LastInsertID: 5, Status: StatusAutocommit | StatusSessionStateChanged, SessionState: state}},
		{"no 4.1", ClientTransactions, OK{AffectedRows: 300, Status: StatusInTrans}},
	}
	for _, c := range cases {
		p := c.ok.Append(nil, c.caps)
		got, err := ParseOK(p, c.caps)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.Header != c.ok.Header || got.AffectedRows != c.ok.AffectedRows || got.LastInsertID != c.ok.LastInsertID ||
			got.Status != c.ok.Status || got.Warnings != c.ok.Warnings ||
			!bytes.Equal(got.Info, c.ok.Info) || !bytes.Equal(got.SessionState, c.ok.SessionState) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.ok)
		}
	}

	// The session state parses back into the entries, last_gtid included.
	ok, err := ParseOK(cases[4].ok.Append(nil, cases[4].caps), cases[4].caps)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := ParseSessionState(nil, ok.SessionState)
	if err != nil || len(changes) != 6 {
		t.Fatalf("%d changes, %v", len(changes), err)
	}
	if c := changes[0]; c.Type != TrackSystemVariables || string(c.Name) != "last_gtid" || string(c.Value) != "0-1-100" {
		t.Errorf("last_gtid entry %+v", c)
	}
	if c := changes[5]; c.Type != TrackGTIDs || !bytes.HasPrefix(c.Value, []byte("3E11")) {
		t.Errorf("GTID entry %+v", c)
	}
}

func TestParseOKAllocationFree(t *testing.T) {
	caps := ClientProtocol41 | ClientSessionTrack
	state := AppendStateChange(nil, StateChange{Type: TrackSystemVariables, Name: []byte("last_gtid"), Value: []byte("0-1-9")})
	p := (&OK{Status: StatusSessionStateChanged, SessionState: state}).Append(nil, caps)
	buf := make([]StateChange, 0, 4)
	allocs := testing.AllocsPerRun(100, func() {
		ok, err := ParseOK(p, caps)
		if err != nil {
			t.Fatal(err)
		}
		if buf, err = ParseSessionState(buf[:0], ok.SessionState); err != nil || len(buf) != 1 {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per parse, want 0", allocs)
	}
}

func TestSessionStateMultiplePairsAndUnknown(t *testing.T) {
	// One system-variable block with two pairs, then an unknown tracker type.
	var data []byte
	data = AppendLenEncString(data, "autocommit")
	data = AppendLenEncString(data, "OFF")
	data = AppendLenEncString(data, "last_gtid")
	data = AppendLenEncString(data, "0-1-2")
	state := append([]byte{TrackSystemVariables}, AppendLenEncString(nil, data)...)
	state = append(state, 42)
	state = AppendLenEncString(state, "raw")
	changes, err := ParseSessionState(nil, state)
	want := []StateChange{
		{Type: TrackSystemVariables, Name: []byte("autocommit"), Value: []byte("OFF")},
		{Type: TrackSystemVariables, Name: []byte("last_gtid"), Value: []byte("0-1-2")},
		{Type: 42, Value: []byte("raw")},
	}
	if err != nil || !reflect.DeepEqual(changes, want) {
		t.Errorf("got %q, %v", changes, err)
	}
	if _, err := ParseSessionState(nil, state[:len(state)-1]); err == nil {
		t.Error("truncated state: no error")
	}
	bad := append([]byte{TrackSchema}, AppendLenEncString(nil, []byte{9, 'x'})...)
	if _, err := ParseSessionState(nil, bad); err == nil {
		t.Error("schema overrunning its block: no error")
	}
}

func TestParseOKErrors(t *testing.T) {
	for _, p := range [][]byte{nil, {0x00}, {0x00, 0, 0, 2}, {0x01, 0, 0, 2, 0, 0, 0}, {0x00, 0xfc, 1}} {
		if _, err := ParseOK(p, ClientProtocol41); err == nil {
			t.Errorf("%x: no error", p)
		}
	}
}

func TestEOF(t *testing.T) {
	e := EOF{Warnings: 1, Status: StatusAutocommit | StatusMoreResultsExists}
	p := e.Append(nil)
	if got, err := ParseEOF(p); err != nil || got != e {
		t.Fatalf("got %+v, %v", got, err)
	}
	if !IsEOF(p, ClientProtocol41) || !IsEOF(p, ClientDeprecateEOF) {
		t.Error("EOF packet not recognised")
	}
	// A text row whose first column is a string of 2^24 bytes or more starts
	// with 0xFE too; its length tells it apart.
	row := AppendLenEncInt(nil, 1<<24)
	if len(row) != 9 || row[0] != 0xfe || IsEOF(row, ClientProtocol41) {
		t.Errorf("row prefix %x taken for EOF", row)
	}
	okEOF := (&OK{Header: HeaderEOF, Status: StatusAutocommit}).Append(nil, ClientProtocol41|ClientDeprecateEOF)
	if !IsEOF(okEOF, ClientDeprecateEOF) {
		t.Error("OK-as-EOF not recognised with DEPRECATE_EOF")
	}
	if IsEOF(make([]byte, MaxChunk), ClientDeprecateEOF) {
		t.Error("0x00-led chunk taken for EOF")
	}
	for _, p := range [][]byte{nil, {0xfe, 1}, {0xff, 0, 0, 0, 0}, row} {
		if _, err := ParseEOF(p); err == nil {
			t.Errorf("%x: no error", p)
		}
	}
	if got, err := ParseEOF([]byte{0xfe}); err != nil || got != (EOF{}) {
		t.Errorf("pre-4.1 EOF: %+v, %v", got, err)
	}
}

func TestERR(t *testing.T) {
	e := NewSQLError(ERAccessDeniedError, "Access denied for user '%s'@'%s' (using password: YES)", "bob", "10.0.0.1")
	if e.State != "28000" {
		t.Errorf("state %q", e.State)
	}
	p := e.Append(nil)
	if !bytes.HasPrefix(p, []byte{0xff, 0x15, 0x04, '#', '2', '8', '0', '0', '0'}) {
		t.Errorf("encoded %x", p[:9])
	}
	got, err := ParseERR(p)
	if err != nil || *got != *e {
		t.Fatalf("got %+v, %v", got, err)
	}
	if got.Error() != "ERROR 1045 (28000): Access denied for user 'bob'@'10.0.0.1' (using password: YES)" {
		t.Errorf("Error() = %q", got.Error())
	}
	// Without the SQLSTATE marker (errors sent before the handshake).
	pre := append([]byte{0xff, 0x10, 0x04}, "Too many connections"...)
	got, err = ParseERR(pre)
	if err != nil || got.Code != ERConCountError || got.State != "" || got.Message != "Too many connections" {
		t.Fatalf("no marker: %+v, %v", got, err)
	}
	if !bytes.Equal(got.Append(nil), pre) {
		t.Error("no-marker ERR does not round-trip")
	}
	if got.Error() != "ERROR 1040: Too many connections" {
		t.Errorf("Error() = %q", got.Error())
	}
	bad := (&SQLError{Code: 1, State: "bad", Message: "m"}).Append(nil)
	if got, _ := ParseERR(bad); got.State != SSUnknownSQLState {
		t.Errorf("malformed state sent as %q", got.State)
	}
	for _, p := range [][]byte{nil, {0xff, 1}, {0x00, 1, 2}, {0xff, 1, 2, '#', '4', '2'}} {
		if _, err := ParseERR(p); err == nil {
			t.Errorf("%x: no error", p)
		}
	}
}

func TestSQLStateTable(t *testing.T) {
	for code, want := range map[uint16]string{
		ERAccessDeniedError: "28000", ERUnknownComError: "08S01", ERNetPacketTooLarge: "08S01",
		ERNotSupportedYet: "42000", ERUnknownError: "HY000", ERDBAccessDeniedError: "42000",
		ERHandshakeError: "08S01", ERConCountError: "08004", ERLockDeadlock: "40001", 65000: "HY000",
	} {
		if got := SQLState(code); got != want {
			t.Errorf("SQLState(%d) = %s, want %s", code, got, want)
		}
	}
}

func FuzzParseOK(f *testing.F) {
	state := AppendStateChange(nil, StateChange{Type: TrackSystemVariables, Name: []byte("last_gtid"), Value: []byte("0-1-1")})
	state = AppendStateChange(state, StateChange{Type: TrackSchema, Value: []byte("db")})
	track := ClientProtocol41 | ClientSessionTrack
	f.Add((&OK{Status: StatusSessionStateChanged, SessionState: state}).Append(nil, track), uint32(track))
	f.Add((&OK{AffectedRows: 1 << 30, Info: []byte("info")}).Append(nil, ClientProtocol41), uint32(ClientProtocol41))
	f.Add([]byte{0xfe, 0, 0, 2, 0, 0, 0}, uint32(ClientProtocol41|ClientDeprecateEOF))
	f.Fuzz(func(t *testing.T, p []byte, caps32 uint32) {
		caps := uint64(caps32)
		ok, err := ParseOK(p, caps)
		if err != nil {
			return
		}
		if len(ok.SessionState) > 0 && ok.Status&StatusSessionStateChanged == 0 {
			t.Fatal("session state without StatusSessionStateChanged")
		}
		_, _ = ParseSessionState(nil, ok.SessionState)
		again, err := ParseOK(ok.Append(nil, caps), caps)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if again.Header != ok.Header || again.AffectedRows != ok.AffectedRows || again.LastInsertID != ok.LastInsertID ||
			again.Status != ok.Status || again.Warnings != ok.Warnings ||
			!bytes.Equal(again.Info, ok.Info) || !bytes.Equal(again.SessionState, ok.SessionState) {
			t.Fatalf("round trip: got %+v, want %+v", again, ok)
		}
		// The Walker reads the same status and leftovers from the packet's
		// prefix.
		if caps&ClientProtocol41 != 0 && len(p) <= PrefixSize {
			var w Walker
			err := w.setOKStatus(p)
			var want Leftovers
			if ok.Warnings != 0 {
				want |= LeftWarnings
			}
			if ok.LastInsertID != 0 {
				want |= LeftInsertID
			}
			if err != nil || w.Status() != ok.Status || w.Leftovers() != want {
				t.Fatalf("setOKStatus: status %#x leftovers %b, %v; ParseOK %+v", w.Status(), w.Leftovers(), err, ok)
			}
		}
	})
}

func FuzzParseSessionState(f *testing.F) {
	f.Add(AppendStateChange(nil, StateChange{Type: TrackSystemVariables, Name: []byte("last_gtid"), Value: []byte("0-1-1")}))
	f.Add(AppendStateChange(nil, StateChange{Type: TrackGTIDs, Value: []byte("x:1")}))
	f.Add(AppendStateChange(nil, StateChange{Type: TrackTransactionState, Value: []byte("T_______")}))
	f.Fuzz(func(t *testing.T, state []byte) {
		changes, err := ParseSessionState(nil, state)
		if err != nil {
			return
		}
		var b []byte
		for _, c := range changes {
			b = AppendStateChange(b, c)
		}
		again, err := ParseSessionState(nil, b)
		if err != nil || len(again) != len(changes) {
			t.Fatalf("re-parse: %d entries, %v", len(again), err)
		}
		for i := range again {
			if again[i].Type != changes[i].Type || !bytes.Equal(again[i].Name, changes[i].Name) || !bytes.Equal(again[i].Value, changes[i].Value) {
				t.Fatalf("entry %d: got %+v, want %+v", i, again[i], changes[i])
			}
		}
	})
}

func FuzzParseERR(f *testing.F) {
	f.Add(NewSQLError(ERUnknownComError, "Unknown command").Append(nil))
	f.Add([]byte{0xff, 0x10, 0x04, 'x'})
	f.Add([]byte{0xff, 0xff, 0xff, 1, 0, 0})
	f.Fuzz(func(t *testing.T, p []byte) {
		e, err := ParseERR(p)
		if err != nil {
			return
		}
		if e.State != "" && len(e.State) != 5 {
			t.Fatalf("state %q", e.State)
		}
		if !bytes.Equal(e.Append(nil), p) {
			t.Fatal("ERR does not round-trip")
		}
		_ = e.Error()
		if len(p) >= 3 && binary.LittleEndian.Uint16(p[1:]) != e.Code {
			t.Fatal("code mismatch")
		}
	})
}

// MariaDB sends the state-change flag bare ("1" with only the block's
// length), MySQL as a length-encoded string inside the block.
func TestParseSessionStateChangeBothForms(t *testing.T) {
	for _, state := range [][]byte{{TrackStateChange, 1, '1'}, {TrackStateChange, 2, 1, '1'}} {
		got, err := ParseSessionState(nil, state)
		if err != nil || len(got) != 1 || got[0].Type != TrackStateChange || string(got[0].Value) != "1" {
			t.Errorf("ParseSessionState(%v) = %+v, %v; want one state change \"1\"", state, got, err)
		}
	}
}
