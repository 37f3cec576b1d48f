package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// Packet builders for hand-written replies.
func okPkt(status uint16) []byte {
	return (&OK{AffectedRows: 1, Status: status}).Append(nil, ClientProtocol41)
}
func okEOFPkt(status uint16) []byte {
	return (&OK{Header: HeaderEOF, Status: status}).Append(nil, ClientProtocol41)
}
func eofPkt(status uint16) []byte { return EOF{Status: status}.Append(nil) }
func errPkt() []byte {
	return NewSQLError(ERQueryInterrupted, "Query execution was interrupted").Append(nil)
}
func colPkt(name string) []byte {
	b := AppendLenEncString(nil, "def")
	for _, s := range []string{"db", "t", "t", name, name} {
		b = AppendLenEncString(b, s)
	}
	return append(b, 0x0c, 0x21, 0, 0, 1, 0, 0, 3, 0, 0, 0, 0, 0)
}
func textRow(vals ...string) []byte {
	var b []byte
	for _, v := range vals {
		b = AppendLenEncString(b, v)
	}
	return b
}
func binRow() []byte { return []byte{0x00, 0x00, 1, 0, 0, 0} }

type step struct {
	payload []byte
	length  int // 0: len(payload)
	kind    PacketKind
}

// walk feeds steps to a Walker and checks each kind and that the reply ends
// exactly at the last step.
func walk(t *testing.T, shape Shape, caps uint64, steps []step) *Walker {
	t.Helper()
	w := NewWalker(shape, caps)
	for i, s := range steps {
		if w.Done() {
			t.Fatalf("step %d: reply already complete", i)
		}
		length := s.length
		if length == 0 {
			length = len(s.payload)
		}
		kind, err := w.Step(length, s.payload[:min(len(s.payload), PrefixSize)])
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if kind != s.kind {
			t.Fatalf("step %d: kind %v, want %v", i, kind, s.kind)
		}
	}
	if !w.Done() {
		t.Fatal("reply not complete after the last packet")
	}
	if _, err := w.Step(1, []byte{0}); !errors.Is(err, ErrWalkerDone) {
		t.Fatalf("step after the end: %v", err)
	}
	return &w
}

const (
	capsEOF   = ClientProtocol41
	capsNoEOF = ClientProtocol41 | ClientDeprecateEOF
)

func TestWalkerQuery(t *testing.T) {
	ac := StatusAutocommit
	bigFE := AppendLenEncInt(nil, 1<<24) // a 0xFE-led row of 16 MiB+
	cases := []struct {
		name   string
		caps   uint64
		steps  []step
		status uint16
	}{
		{"ok", capsEOF, []step{{okPkt(ac | StatusInTrans), 0, PacketOK}}, ac | StatusInTrans},
		{"err", capsEOF, []step{{errPkt(), 0, PacketERR}}, 0},
		{"resultset eof", capsEOF, []step{
			{[]byte{2}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef}, {colPkt("b"), 0, PacketColumnDef},
			{eofPkt(ac), 0, PacketEOF}, {textRow("1", "x"), 0, PacketRow}, {[]byte{0xfb, 0}, 0, PacketRow},
			{eofPkt(ac | StatusNoIndexUsed), 0, PacketEOF},
		}, ac | StatusNoIndexUsed},
		{"resultset deprecate eof", capsNoEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef},
			{textRow("1"), 0, PacketRow}, {textRow("2"), 0, PacketRow}, {okEOFPkt(ac), 0, PacketEOF},
		}, ac},
		{"empty resultset deprecate eof", capsNoEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef}, {okEOFPkt(ac), 0, PacketEOF},
		}, ac},
		{"0xfe-led big row, eof", capsEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("blob"), 0, PacketColumnDef}, {eofPkt(ac), 0, PacketEOF},
			{bigFE, MaxChunk, PacketRow}, {eofPkt(ac), 0, PacketEOF},
		}, ac},
		{"0xfe-led big row, deprecate eof", capsNoEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("blob"), 0, PacketColumnDef},
			{bigFE, MaxChunk, PacketRow}, {okEOFPkt(ac), 0, PacketEOF},
		}, ac},
		{"0xfe-led row of 9+ bytes, eof", capsEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("x"), 0, PacketColumnDef}, {eofPkt(ac), 0, PacketEOF},
			{append(bytes.Clone(bigFE), 'x'), 0, PacketRow}, {eofPkt(ac), 0, PacketEOF},
		}, ac},
		{"err mid-resultset", capsEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef}, {eofPkt(ac), 0, PacketEOF},
			{textRow("1"), 0, PacketRow}, {errPkt(), 0, PacketERR},
		}, ac},
		{"err mid-resultset deprecate eof", capsNoEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef},
			{textRow("1"), 0, PacketRow}, {errPkt(), 0, PacketERR},
		}, 0},
		{"call: resultset then final ok", capsEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef}, {eofPkt(ac), 0, PacketEOF},
			{textRow("1"), 0, PacketRow}, {eofPkt(ac | StatusMoreResultsExists), 0, PacketEOF},
			{okPkt(ac), 0, PacketOK},
		}, ac},
		{"multi-statement: ok, resultset, err", capsNoEOF, []step{
			{okPkt(ac | StatusMoreResultsExists), 0, PacketOK},
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef},
			{okEOFPkt(ac | StatusMoreResultsExists), 0, PacketEOF},
			{errPkt(), 0, PacketERR},
		}, ac | StatusMoreResultsExists},
		{"large column count", capsNoEOF, append(append([]step{{AppendLenEncInt(nil, 300), 0, PacketColumnCount}},
			repeatStep(step{colPkt("c"), 0, PacketColumnDef}, 300)...), step{okEOFPkt(ac), 0, PacketEOF}), ac},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := walk(t, ShapeQuery, c.caps, c.steps)
			if w.Status() != c.status {
				t.Errorf("status %#x, want %#x", w.Status(), c.status)
			}
		})
	}
}

// TestWalkerLeftovers checks what a reply leaves for the next statement to
// ask about, from OK and EOF packets of either framing.
func TestWalkerLeftovers(t *testing.T) {
	ac := StatusAutocommit
	cases := []struct {
		name  string
		caps  uint64
		steps []step
		want  Leftovers
	}{
		{"plain select", capsEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef}, {eofPkt(ac), 0, PacketEOF},
			{textRow("1"), 0, PacketRow}, {eofPkt(ac), 0, PacketEOF},
		}, 0},
		{"select with warnings, eof", capsEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef}, {eofPkt(ac), 0, PacketEOF},
			{textRow("1"), 0, PacketRow}, {EOF{Warnings: 2, Status: ac}.Append(nil), 0, PacketEOF},
		}, LeftWarnings},
		{"select with warnings, deprecate eof", capsNoEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef},
			{(&OK{Header: HeaderEOF, Status: ac, Warnings: 1}).Append(nil, ClientProtocol41), 0, PacketEOF},
		}, LeftWarnings},
		{"insert with an id", capsEOF, []step{
			{(&OK{AffectedRows: 1, LastInsertID: 7, Status: ac}).Append(nil, ClientProtocol41), 0, PacketOK},
		}, LeftInsertID},
		{"update", capsEOF, []step{{okPkt(ac), 0, PacketOK}}, 0},
		{"set", capsEOF, []step{{(&OK{Status: ac}).Append(nil, ClientProtocol41), 0, PacketOK}}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if w := walk(t, ShapeQuery, c.caps, c.steps); w.Leftovers() != c.want {
				t.Errorf("leftovers %b, want %b", w.Leftovers(), c.want)
			}
		})
	}
}

func repeatStep(s step, n int) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestWalkerLocalInfile(t *testing.T) {
	w := NewWalker(ShapeQuery, capsEOF)
	req := append([]byte{HeaderLocalInfile}, "/tmp/data.csv"...)
	if k, err := w.Step(len(req), req); err != nil || k != PacketLocalInfile || !w.AwaitingLocalInfile() || w.Done() {
		t.Fatalf("request: %v, %v, awaiting %v", k, err, w.AwaitingLocalInfile())
	}
	ok := okPkt(StatusAutocommit | StatusMoreResultsExists)
	if k, err := w.Step(len(ok), ok); err != nil || k != PacketOK || w.AwaitingLocalInfile() || w.Done() {
		t.Fatalf("reply: %v, %v", k, err)
	}
	ok = okPkt(StatusAutocommit)
	if k, err := w.Step(len(ok), ok); err != nil || k != PacketOK || !w.Done() {
		t.Fatalf("second result: %v, %v", k, err)
	}

	w.Reset(ShapeQuery, capsEOF)
	w.Step(len(req), req)
	if _, err := w.Step(3, []byte{1, 2, 3}); err == nil {
		t.Error("non-OK after infile data: no error")
	}
	w.Reset(ShapeExecute, capsEOF)
	if _, err := w.Step(len(req), req); err == nil {
		t.Error("LOCAL INFILE in an execute reply: no error")
	}
}

func TestWalkerExecute(t *testing.T) {
	ac := StatusAutocommit
	cursor := ac | StatusCursorExists
	cases := []struct {
		name   string
		caps   uint64
		steps  []step
		status uint16
	}{
		{"ok", capsEOF, []step{{okPkt(ac), 0, PacketOK}}, ac},
		{"binary resultset", capsEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef}, {eofPkt(ac), 0, PacketEOF},
			{binRow(), 0, PacketRow}, {binRow(), 0, PacketRow}, {eofPkt(ac), 0, PacketEOF},
		}, ac},
		{"binary resultset deprecate eof", capsNoEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef},
			{binRow(), 0, PacketRow}, {okEOFPkt(ac), 0, PacketEOF},
		}, ac},
		{"cursor", capsEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef}, {eofPkt(cursor), 0, PacketEOF},
		}, cursor},
		{"cursor deprecate eof, ok form", capsNoEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef}, {okEOFPkt(cursor), 0, PacketEOF},
		}, cursor},
		{"cursor deprecate eof, mysql eof form", capsNoEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef}, {eofPkt(cursor), 0, PacketEOF},
		}, cursor},
		{"call with ps multi-results", capsNoEOF, []step{
			{[]byte{1}, 0, PacketColumnCount}, {colPkt("a"), 0, PacketColumnDef},
			{binRow(), 0, PacketRow}, {okEOFPkt(ac | StatusMoreResultsExists | StatusPSOutParams), 0, PacketEOF},
			{okPkt(ac), 0, PacketOK},
		}, ac},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if w := walk(t, ShapeExecute, c.caps, c.steps); w.Status() != c.status {
				t.Errorf("status %#x, want %#x", w.Status(), c.status)
			}
		})
	}
}

func TestWalkerPrepare(t *testing.T) {
	prep := func(params, cols uint16) []byte {
		return StmtPrepareOK{StatementID: 1, Params: params, Columns: cols}.Append(nil)
	}
	cases := []struct {
		name  string
		caps  uint64
		steps []step
	}{
		{"err", capsEOF, []step{{errPkt(), 0, PacketERR}}},
		{"no params no columns", capsEOF, []step{{prep(0, 0), 0, PacketPrepareOK}}},
		{"params and columns", capsEOF, []step{
			{prep(2, 1), 0, PacketPrepareOK}, {colPkt("?"), 0, PacketParamDef}, {colPkt("?"), 0, PacketParamDef},
			{eofPkt(StatusAutocommit), 0, PacketEOF}, {colPkt("a"), 0, PacketColumnDef}, {eofPkt(StatusAutocommit), 0, PacketEOF},
		}},
		{"columns only", capsEOF, []step{
			{prep(0, 1), 0, PacketPrepareOK}, {colPkt("a"), 0, PacketColumnDef}, {eofPkt(StatusAutocommit), 0, PacketEOF},
		}},
		{"params only deprecate eof", capsNoEOF, []step{
			{prep(1, 0), 0, PacketPrepareOK}, {colPkt("?"), 0, PacketParamDef},
		}},
		{"params and columns deprecate eof", capsNoEOF, []step{
			{prep(1, 2), 0, PacketPrepareOK}, {colPkt("?"), 0, PacketParamDef},
			{colPkt("a"), 0, PacketColumnDef}, {colPkt("b"), 0, PacketColumnDef},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { walk(t, ShapePrepare, c.caps, c.steps) })
	}
}

func TestWalkerOtherShapes(t *testing.T) {
	ac := StatusAutocommit
	walk(t, ShapeFieldList, capsEOF, []step{{colPkt("a"), 0, PacketColumnDef}, {colPkt("b"), 0, PacketColumnDef}, {eofPkt(ac), 0, PacketEOF}})
	walk(t, ShapeFieldList, capsNoEOF, []step{{colPkt("a"), 0, PacketColumnDef}, {okEOFPkt(ac), 0, PacketEOF}})
	walk(t, ShapeFieldList, capsEOF, []step{{errPkt(), 0, PacketERR}})
	w := walk(t, ShapeFetch, capsEOF, []step{{binRow(), 0, PacketRow}, {eofPkt(StatusCursorExists | StatusLastRowSent), 0, PacketEOF}})
	if w.Status() != StatusCursorExists|StatusLastRowSent {
		t.Errorf("fetch status %#x", w.Status())
	}
	walk(t, ShapeFetch, capsNoEOF, []step{{binRow(), 0, PacketRow}, {okEOFPkt(StatusCursorExists), 0, PacketEOF}})
	if w := walk(t, ShapeSingle, capsEOF, []step{{okPkt(ac | StatusInTrans), 0, PacketOK}}); w.Status() != ac|StatusInTrans {
		t.Errorf("single OK status %#x", w.Status())
	}
	walk(t, ShapeSingle, capsEOF, []step{{eofPkt(ac), 0, PacketEOF}})
	walk(t, ShapeSingle, capsEOF, []step{{errPkt(), 0, PacketERR}})
	walk(t, ShapeSingle, capsEOF, []step{{[]byte("Uptime: 5  Threads: 1"), 0, PacketOther}})
}

func TestWalkerErrors(t *testing.T) {
	cases := []struct {
		name   string
		shape  Shape
		caps   uint64
		length int
		prefix []byte
	}{
		{"bad column count", ShapeQuery, capsEOF, 2, []byte{0xfc, 1}},
		{"zero column count", ShapeQuery, capsEOF, 3, []byte{0xfc, 0, 0}},
		{"short OK", ShapeQuery, capsEOF, 3, []byte{0, 0, 0}},
		{"short prepare OK", ShapePrepare, capsEOF, 5, []byte{0, 1, 0, 0, 0}},
		{"prepare non-OK", ShapePrepare, capsEOF, 1, []byte{3}},
		{"empty packet", ShapeQuery, capsEOF, 0, nil},
		{"missing prefix", ShapeQuery, capsEOF, 10, nil},
		{"prefix longer than packet", ShapeQuery, capsEOF, 1, []byte{1, 2}},
		{"length over MaxChunk", ShapeQuery, capsEOF, MaxChunk + 1, []byte{1}},
		{"unknown shape", Shape(99), capsEOF, 1, []byte{1}},
		{"1-byte ERR", ShapeQuery, capsEOF, 1, []byte{HeaderERR}},
		{"2-byte ERR", ShapeExecute, capsEOF, 2, []byte{HeaderERR, 0x10}},
	}
	for _, c := range cases {
		w := NewWalker(c.shape, c.caps)
		if _, err := w.Step(c.length, c.prefix); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	w := NewWalker(ShapeQuery, capsEOF)
	w.Step(1, []byte{1})
	w.Step(3, []byte{3, 'd', 'e'})
	if _, err := w.Step(2, []byte{1, 'x'}); err == nil {
		t.Error("row where EOF expected: no error")
	}
}

func TestShapeFor(t *testing.T) {
	want := map[byte]Shape{
		ComQuery: ShapeQuery, ComStmtExecute: ShapeExecute, ComStmtPrepare: ShapePrepare,
		ComFieldList: ShapeFieldList, ComStmtFetch: ShapeFetch, ComPing: ShapeSingle,
		ComInitDB: ShapeSingle, ComStmtReset: ShapeSingle, ComSetOption: ShapeSingle,
		ComResetConnection: ShapeSingle, ComStatistics: ShapeSingle,
	}
	for cmd, s := range want {
		if got, ok := ShapeFor(cmd); !ok || got != s {
			t.Errorf("ShapeFor(%#x) = %v, %v; want %v", cmd, got, ok, s)
		}
	}
	for _, cmd := range []byte{ComQuit, ComStmtClose, ComStmtSendLongData, ComChangeUser, ComBinlogDump} {
		if _, ok := ShapeFor(cmd); ok {
			t.Errorf("ShapeFor(%#x) has a reply", cmd)
		}
	}
	if PacketRow.String() != "row" || PacketKind(200).String() != "PacketKind(200)" {
		t.Error("PacketKind.String")
	}
}

// TestWalkerOverConn relays a real reply whose only row is a 0xFE-led 16 MiB
// text value, driving the Walker from PeekPacket heads only.
func TestWalkerOverConn(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 16 MiB")
	}
	for _, caps := range []uint64{capsEOF, capsNoEOF} {
		bigRow := AppendLenEncInt(nil, 1<<24)
		bigRow = append(bigRow, pattern(1<<24)...)
		end := eofPkt(StatusAutocommit)
		if caps&ClientDeprecateEOF != 0 {
			end = okEOFPkt(StatusAutocommit)
		}
		payloads := [][]byte{{1}, colPkt("blob")}
		if caps&ClientDeprecateEOF == 0 {
			payloads = append(payloads, eofPkt(StatusAutocommit))
		}
		payloads = append(payloads, bigRow, end)
		var in bytes.Buffer
		writeFrames(&in, payloads)
		// writeFrames numbers from 0; a reply starts at 1.
		if _, err := Renumber(in.Bytes(), 1); err != nil {
			t.Fatal(err)
		}
		want := bytes.Clone(in.Bytes())

		backend := NewConn(bufio.NewReader(&in), nil)
		backend.SetSeq(1)
		var out bytes.Buffer
		client := NewConn(nil, bufio.NewWriter(&out))
		client.SetSeq(1)
		w := NewWalker(ShapeQuery, caps)
		var kinds []PacketKind
		for !w.Done() {
			h, err := backend.PeekPacket()
			if err != nil {
				t.Fatal(err)
			}
			k, err := w.Step(h.Length, h.Prefix)
			if err != nil {
				t.Fatal(err)
			}
			kinds = append(kinds, k)
			if err := backend.RelayPacket(client); err != nil {
				t.Fatal(err)
			}
		}
		client.Flush()
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("caps %#x: relayed bytes differ", caps)
		}
		if kinds[len(kinds)-2] != PacketRow || kinds[len(kinds)-1] != PacketEOF {
			t.Errorf("caps %#x: kinds %v", caps, kinds)
		}
		if _, err := backend.PeekPacket(); err != io.EOF {
			t.Errorf("caps %#x: data left after the reply: %v", caps, err)
		}
	}
}

func FuzzResponseWalker(f *testing.F) {
	add := func(shape Shape, caps uint64, payloads ...[]byte) {
		var b []byte
		seq := uint8(1)
		for _, p := range payloads {
			b, seq = AppendPacket(b, p, seq)
		}
		f.Add(byte(shape), caps&ClientDeprecateEOF != 0, b)
	}
	ac := StatusAutocommit
	add(ShapeQuery, capsEOF, []byte{1}, colPkt("a"), eofPkt(ac), textRow("1"), eofPkt(ac|StatusMoreResultsExists), okPkt(ac))
	add(ShapeQuery, capsNoEOF, []byte{1}, colPkt("a"), textRow("1"), okEOFPkt(ac))
	add(ShapeQuery, capsEOF, []byte{HeaderLocalInfile, 'f'}, okPkt(ac))
	add(ShapeExecute, capsEOF, []byte{1}, colPkt("a"), eofPkt(ac|StatusCursorExists))
	add(ShapePrepare, capsEOF, StmtPrepareOK{Params: 1, Columns: 1}.Append(nil), colPkt("?"), eofPkt(ac), colPkt("a"), eofPkt(ac))
	add(ShapeFieldList, capsNoEOF, colPkt("a"), okEOFPkt(ac))
	add(ShapeFetch, capsEOF, binRow(), errPkt())
	add(ShapeSingle, capsEOF, okPkt(ac))
	f.Fuzz(func(t *testing.T, shape byte, deprecateEOF bool, stream []byte) {
		caps := ClientProtocol41
		if deprecateEOF {
			caps |= ClientDeprecateEOF
		}
		c := NewConn(bufio.NewReader(bytes.NewReader(stream)), nil)
		c.SetSeq(1)
		w := NewWalker(Shape(shape%8), caps)
		for !w.Done() {
			h, err := c.PeekPacket()
			if err != nil {
				return
			}
			if _, err := w.Step(h.Length, h.Prefix); err != nil {
				return
			}
			if err := c.DiscardPacket(); err != nil {
				return
			}
		}
		if _, err := w.Step(1, []byte{0}); !errors.Is(err, ErrWalkerDone) {
			t.Fatalf("step after the end: %v", err)
		}
	})
}
