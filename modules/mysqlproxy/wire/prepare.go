package wire

import (
	"encoding/binary"
	"fmt"
)

// StmtPrepareOK is the first packet of a successful COM_STMT_PREPARE reply.
// Params parameter definitions and then Columns column definitions follow it,
// each group ended by an EOF packet unless ClientDeprecateEOF is negotiated.
type StmtPrepareOK struct {
	// StatementID is the server's id for the statement.
	StatementID uint32
	// Columns is the number of result columns.
	Columns uint16
	// Params is the number of '?' parameters.
	Params uint16
	// Warnings is the number of warnings.
	Warnings uint16
}

// ParseStmtPrepareOK parses a COM_STMT_PREPARE_OK packet. The warning count is
// optional, as in the servers.
func ParseStmtPrepareOK(p []byte) (StmtPrepareOK, error) {
	d := decoder{what: "COM_STMT_PREPARE_OK", buf: p}
	if h := d.uint8("header"); d.err == nil && h != HeaderOK {
		return StmtPrepareOK{}, fmt.Errorf("mysql COM_STMT_PREPARE_OK: header %#02x, want 0x00", h)
	}
	var s StmtPrepareOK
	s.StatementID = d.uint32("statement id")
	s.Columns = d.uint16("column count")
	s.Params = d.uint16("parameter count")
	if d.remaining() > 0 {
		d.bytes("reserved", 1)
		s.Warnings = d.uint16("warnings")
	}
	if d.err != nil {
		return StmtPrepareOK{}, d.err
	}
	return s, nil
}

// Append appends the packet's payload to b.
func (s StmtPrepareOK) Append(b []byte) []byte {
	b = append(b, HeaderOK)
	b = binary.LittleEndian.AppendUint32(b, s.StatementID)
	b = binary.LittleEndian.AppendUint16(b, s.Columns)
	b = binary.LittleEndian.AppendUint16(b, s.Params)
	b = append(b, 0)
	return binary.LittleEndian.AppendUint16(b, s.Warnings)
}
