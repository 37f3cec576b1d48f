package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Shape is the form of a server's reply to a command, which decides how a
// Walker finds its end.
type Shape uint8

// Response shapes.
const (
	// ShapeSingle is a reply of exactly one packet: OK, ERR, EOF or, for
	// COM_STATISTICS, a plain string.
	ShapeSingle Shape = iota
	// ShapeQuery is the reply to COM_QUERY: OK, ERR, a LOCAL INFILE request
	// or a text result set, repeated while StatusMoreResultsExists is set.
	ShapeQuery
	// ShapeExecute is the reply to COM_STMT_EXECUTE: OK, ERR or a binary
	// result set (just its column definitions when a cursor is opened),
	// repeated while StatusMoreResultsExists is set.
	ShapeExecute
	// ShapePrepare is the reply to COM_STMT_PREPARE: ERR, or
	// COM_STMT_PREPARE_OK followed by parameter and column definitions.
	ShapePrepare
	// ShapeFieldList is the reply to COM_FIELD_LIST: column definitions up to
	// an EOF, or ERR.
	ShapeFieldList
	// ShapeFetch is the reply to COM_STMT_FETCH: binary rows up to an EOF, or
	// ERR.
	ShapeFetch
)

// ShapeFor returns the reply shape of the command whose first payload byte is
// cmd. ok is false for commands with no reply (COM_QUIT, COM_STMT_CLOSE,
// COM_STMT_SEND_LONG_DATA), for COM_CHANGE_USER, whose reply is an
// authentication exchange, and for commands the proxy does not relay.
func ShapeFor(cmd byte) (s Shape, ok bool) {
	switch cmd {
	case ComQuery, ComProcessInfo:
		return ShapeQuery, true
	case ComStmtExecute:
		return ShapeExecute, true
	case ComStmtPrepare:
		return ShapePrepare, true
	case ComFieldList:
		return ShapeFieldList, true
	case ComStmtFetch:
		return ShapeFetch, true
	case ComPing, ComInitDB, ComStmtReset, ComSetOption, ComResetConnection, ComStatistics,
		ComRefresh, ComDebug, ComProcessKill, ComShutdown, ComCreateDB, ComDropDB:
		return ShapeSingle, true
	}
	return 0, false
}

// PacketKind is what a Walker found a reply packet to be.
type PacketKind uint8

// Packet kinds reported by Walker.Step.
const (
	// PacketOK is an OK packet (header 0x00) ending a result or the reply.
	PacketOK PacketKind = iota
	// PacketERR is an ERR packet; it always ends the reply.
	PacketERR
	// PacketEOF ends column definitions, parameter definitions or rows: an
	// EOF packet, or with ClientDeprecateEOF an OK packet with header 0xFE.
	PacketEOF
	// PacketLocalInfile is a LOCAL INFILE request (header 0xFB).
	PacketLocalInfile
	// PacketColumnCount starts a result set.
	PacketColumnCount
	// PacketColumnDef is a column definition.
	PacketColumnDef
	// PacketParamDef is a parameter definition of a prepared statement.
	PacketParamDef
	// PacketRow is a text or binary result row.
	PacketRow
	// PacketPrepareOK is COM_STMT_PREPARE_OK.
	PacketPrepareOK
	// PacketOther is the single packet of a ShapeSingle reply that is none of
	// OK, ERR or EOF (the COM_STATISTICS string).
	PacketOther
)

var packetKindNames = [...]string{
	PacketOK:          "OK",
	PacketERR:         "ERR",
	PacketEOF:         "EOF",
	PacketLocalInfile: "LOCAL INFILE request",
	PacketColumnCount: "column count",
	PacketColumnDef:   "column definition",
	PacketParamDef:    "parameter definition",
	PacketRow:         "row",
	PacketPrepareOK:   "COM_STMT_PREPARE_OK",
	PacketOther:       "other",
}

// String returns the kind's name.
func (k PacketKind) String() string {
	if int(k) < len(packetKindNames) {
		return packetKindNames[k]
	}
	return fmt.Sprintf("PacketKind(%d)", k)
}

// walkState is where a Walker is within a reply.
type walkState uint8

const (
	wsFirst          walkState = iota // first packet of a result
	wsInfile                          // server's reply after LOCAL INFILE data
	wsColumns                         // column definitions of a result set
	wsColumnsEOF                      // EOF after a result set's column definitions
	wsRows                            // rows up to the terminator
	wsFieldList                       // COM_FIELD_LIST column definitions up to EOF
	wsParams                          // prepare: parameter definitions
	wsParamsEOF                       // prepare: EOF after parameter definitions
	wsPrepColumns                     // prepare: column definitions
	wsPrepColumnsEOF                  // prepare: EOF after column definitions
	wsDone
)

// ErrWalkerDone is returned by Walker.Step after the reply has ended.
var ErrWalkerDone = errors.New("mysql response: packet after the end of the response")

// Walker follows the shape of one reply, one packet at a time, from the
// length and the first bytes of each logical packet alone, so the relay can
// stream packets of any size while knowing where the reply ends. The zero
// Walker is not ready: use NewWalker or Reset.
//
// Typical relay loop:
//
//	w := wire.NewWalker(shape, caps)
//	for !w.Done() {
//		h, err := backend.PeekPacket()
//		// handle err
//		if _, err := w.Step(h.Length, h.Prefix); err != nil { ... }
//		if err := backend.RelayPacket(client); err != nil { ... }
//		if w.AwaitingLocalInfile() { /* relay client file packets until an empty one */ }
//	}
type Walker struct {
	shape     Shape
	caps      uint64
	state     walkState
	left      uint64 // definitions left in the current group
	cols      uint64 // prepare: column definitions after the parameters
	status    uint16
	leftovers Leftovers
}

// Leftovers are what a reply leaves on its connection that a following
// statement may ask about: SHOW WARNINGS and @@warning_count,
// LAST_INSERT_ID(). A proxy that shares connections between clients keeps
// a connection with leftovers for the client that may ask.
type Leftovers uint8

// The leftovers of a reply.
const (
	// LeftWarnings: an OK or EOF packet reported warnings.
	LeftWarnings Leftovers = 1 << iota
	// LeftInsertID: an OK packet reported a generated (or given)
	// AUTO_INCREMENT value.
	LeftInsertID
)

// NewWalker returns a Walker for a reply of the given shape on a connection
// with negotiated capabilities caps (ClientDeprecateEOF changes the framing).
func NewWalker(shape Shape, caps uint64) Walker {
	var w Walker
	w.Reset(shape, caps)
	return w
}

// Reset prepares w for a new reply.
func (w *Walker) Reset(shape Shape, caps uint64) {
	*w = Walker{shape: shape, caps: caps}
	switch shape {
	case ShapeFieldList:
		w.state = wsFieldList
	case ShapeFetch:
		w.state = wsRows
	}
}

// Done reports whether the reply is complete.
func (w *Walker) Done() bool { return w.state == wsDone }

// AwaitingLocalInfile reports whether the server has asked for a LOCAL INFILE
// file: the client's data packets, ended by an empty packet, must go to the
// server before the reply continues with OK or ERR.
func (w *Walker) AwaitingLocalInfile() bool { return w.state == wsInfile }

// Status returns the server status flags of the last OK or EOF packet seen,
// which after a reply that did not end in ERR are the session's current
// flags. An ERR packet carries no status and leaves it unchanged.
func (w *Walker) Status() uint16 { return w.status }

// Leftovers returns what the reply's OK and EOF packets so far reported
// that a following statement may ask about.
func (w *Walker) Leftovers() Leftovers { return w.leftovers }

// Step consumes the next packet of the reply, given the payload length of its
// first chunk (PacketHead.Length) and a prefix of its payload of at least
// min(length, PrefixSize) bytes, and reports what the packet is.
func (w *Walker) Step(length int, prefix []byte) (PacketKind, error) {
	if w.state == wsDone {
		return 0, ErrWalkerDone
	}
	if length < 0 || length > MaxChunk || len(prefix) > length {
		return 0, fmt.Errorf("mysql response: bad packet length %d with %d-byte prefix", length, len(prefix))
	}
	if length == 0 {
		if w.shape == ShapeSingle {
			w.state = wsDone
			return PacketOther, nil
		}
		return 0, errors.New("mysql response: unexpected empty packet")
	}
	if len(prefix) == 0 {
		return 0, errors.New("mysql response: packet prefix missing")
	}
	first := prefix[0]
	if first == HeaderERR {
		// An ERR can end any reply at any point, e.g. a KILL mid-result set.
		// Text and binary rows never start with 0xFF, nor do definitions.
		if length < 3 {
			return 0, fmt.Errorf("mysql response: ERR packet of %d bytes, too short for an error code", length)
		}
		w.state = wsDone
		return PacketERR, nil
	}
	switch w.state {
	case wsFirst:
		return w.stepFirst(first, length, prefix)
	case wsInfile:
		if first != HeaderOK {
			return 0, fmt.Errorf("mysql response: %#02x after LOCAL INFILE data, want OK or ERR", first)
		}
		return w.endResult(PacketOK, length, prefix)
	case wsColumns, wsParams, wsPrepColumns:
		return w.stepDefinition()
	case wsColumnsEOF, wsParamsEOF, wsPrepColumnsEOF:
		if !isTerminator(first, length, w.caps) {
			return 0, fmt.Errorf("mysql response: %#02x packet of %d bytes after definitions, want EOF", first, length)
		}
		if err := w.setTerminatorStatus(length, prefix); err != nil {
			return 0, err
		}
		switch {
		case w.state == wsParamsEOF:
			w.beginPrepColumns()
		case w.state == wsColumnsEOF && (w.shape != ShapeExecute || w.status&StatusCursorExists == 0):
			w.state = wsRows
		default:
			// Prepare is complete, or COM_STMT_EXECUTE opened a cursor and
			// the rows will come through COM_STMT_FETCH.
			w.state = wsDone
		}
		return PacketEOF, nil
	case wsRows:
		if isTerminator(first, length, w.caps) {
			return w.endResult(PacketEOF, length, prefix)
		}
		return PacketRow, nil
	case wsFieldList:
		if isTerminator(first, length, w.caps) {
			w.state = wsDone
			return PacketEOF, w.setTerminatorStatus(length, prefix)
		}
		return PacketColumnDef, nil
	}
	return 0, fmt.Errorf("mysql response: walker in unknown state %d", w.state)
}

// stepFirst handles the first packet of a result.
func (w *Walker) stepFirst(first byte, length int, prefix []byte) (PacketKind, error) {
	switch w.shape {
	case ShapeSingle:
		w.state = wsDone
		switch {
		case first == HeaderOK:
			return PacketOK, w.setOKStatus(prefix)
		case isTerminator(first, length, w.caps):
			return PacketEOF, w.setTerminatorStatus(length, prefix)
		}
		return PacketOther, nil
	case ShapePrepare:
		if first != HeaderOK {
			return 0, fmt.Errorf("mysql response: %#02x starting a COM_STMT_PREPARE reply, want 0x00 or 0xff", first)
		}
		if len(prefix) < 9 {
			return 0, fmt.Errorf("mysql response: COM_STMT_PREPARE_OK of %d bytes, want at least 9", len(prefix))
		}
		w.cols = uint64(binary.LittleEndian.Uint16(prefix[5:]))
		w.left = uint64(binary.LittleEndian.Uint16(prefix[7:]))
		if w.left > 0 {
			w.state = wsParams
		} else {
			w.beginPrepColumns()
		}
		return PacketPrepareOK, nil
	case ShapeQuery, ShapeExecute:
		switch first {
		case HeaderOK:
			return w.endResult(PacketOK, length, prefix)
		case HeaderLocalInfile:
			if w.shape != ShapeQuery {
				return 0, errors.New("mysql response: LOCAL INFILE request in reply to COM_STMT_EXECUTE")
			}
			w.state = wsInfile
			return PacketLocalInfile, nil
		}
		n, _, err := ReadLenEncInt(prefix)
		if err != nil {
			return 0, fmt.Errorf("mysql response: column count: %w", err)
		}
		if n == 0 {
			return 0, errors.New("mysql response: column count 0")
		}
		w.state, w.left = wsColumns, n
		return PacketColumnCount, nil
	}
	return 0, fmt.Errorf("mysql response: unknown shape %d", w.shape)
}

// stepDefinition counts a column or parameter definition.
func (w *Walker) stepDefinition() (PacketKind, error) {
	kind := PacketColumnDef
	if w.state == wsParams {
		kind = PacketParamDef
	}
	w.left--
	if w.left > 0 {
		return kind, nil
	}
	deprecateEOF := w.caps&ClientDeprecateEOF != 0
	switch w.state {
	case wsParams:
		if deprecateEOF {
			w.beginPrepColumns()
		} else {
			w.state = wsParamsEOF
		}
	case wsPrepColumns:
		if deprecateEOF {
			w.state = wsDone
		} else {
			w.state = wsPrepColumnsEOF
		}
	default:
		if deprecateEOF {
			// The next packet is a row or the terminator, which with
			// COM_STMT_EXECUTE may report an opened cursor.
			w.state = wsRows
		} else {
			w.state = wsColumnsEOF
		}
	}
	return kind, nil
}

// beginPrepColumns moves a prepare reply to its column definitions.
func (w *Walker) beginPrepColumns() {
	w.left = w.cols
	if w.left > 0 {
		w.state = wsPrepColumns
	} else {
		w.state = wsDone
	}
}

// endResult records the status of a packet ending one result and decides
// whether another result follows.
func (w *Walker) endResult(kind PacketKind, length int, prefix []byte) (PacketKind, error) {
	var err error
	if kind == PacketOK {
		err = w.setOKStatus(prefix)
	} else {
		err = w.setTerminatorStatus(length, prefix)
	}
	if err != nil {
		return 0, err
	}
	if w.status&StatusMoreResultsExists != 0 && (w.shape == ShapeQuery || w.shape == ShapeExecute) {
		w.state = wsFirst
	} else {
		w.state = wsDone
	}
	return kind, nil
}

// setTerminatorStatus records the status flags of an EOF packet or of an
// OK packet with header 0xFE. A 4.1 EOF packet is 5 bytes long; an OK packet
// is at least 7, so the length tells the layouts apart (MySQL sends a real
// EOF after a cursor's column definitions even with ClientDeprecateEOF).
func (w *Walker) setTerminatorStatus(length int, prefix []byte) error {
	switch {
	case length == 1:
		w.status = 0 // pre-4.1 EOF
	case length <= 5:
		if len(prefix) < 5 {
			return fmt.Errorf("mysql response: EOF packet of %d bytes, want 5", length)
		}
		w.status = binary.LittleEndian.Uint16(prefix[3:])
		if binary.LittleEndian.Uint16(prefix[1:]) != 0 {
			w.leftovers |= LeftWarnings
		}
	default:
		return w.setOKStatus(prefix)
	}
	return nil
}

// setOKStatus records the status flags and leftovers of an OK packet from
// the start of its payload.
func (w *Walker) setOKStatus(prefix []byte) error {
	off := 1
	var counts [2]uint64 // affected rows, last insert id
	for i := range counts {
		if off >= len(prefix) {
			return fmt.Errorf("mysql response: OK packet prefix of %d bytes too short", len(prefix))
		}
		v, n, err := ReadLenEncInt(prefix[off:])
		if err != nil {
			return fmt.Errorf("mysql response: OK packet: %w", err)
		}
		counts[i] = v
		off += n
	}
	if len(prefix)-off < 2 {
		return fmt.Errorf("mysql response: OK packet prefix of %d bytes lacks the status flags", len(prefix))
	}
	w.status = binary.LittleEndian.Uint16(prefix[off:])
	if counts[1] != 0 {
		w.leftovers |= LeftInsertID
	}
	if len(prefix)-off >= 4 && binary.LittleEndian.Uint16(prefix[off+2:]) != 0 {
		w.leftovers |= LeftWarnings
	}
	return nil
}
