package wire

import "fmt"

// StateChange is one entry of the session-state-change information in an OK
// packet.
type StateChange struct {
	// Type is the tracker type, e.g. TrackSystemVariables or TrackSchema.
	Type byte
	// Name is the system variable name (TrackSystemVariables only).
	Name []byte
	// Value is the variable value (TrackSystemVariables), the new schema
	// (TrackSchema), "1" (TrackStateChange), the GTID set (TrackGTIDs), the
	// characteristics SQL (TrackTransactionCharacteristics) or the state string
	// (TrackTransactionState). For an unknown Type it is the raw block data.
	Value []byte
}

// ParseSessionState appends the entries of state, the OK.SessionState of an
// OK packet, to dst and returns the extended slice. Entries alias state, so
// passing a reused dst[:0] makes the parse allocation-free. A system-variable
// block holding several name/value pairs yields one entry per pair.
func ParseSessionState(dst []StateChange, state []byte) ([]StateChange, error) {
	d := decoder{what: "session state", buf: state}
	for d.remaining() > 0 {
		typ := d.uint8("tracker type")
		data := d.lenEncString("tracker data")
		if d.err != nil {
			return dst, d.err
		}
		bd := decoder{what: "session state", buf: data}
		whole := false // data taken as the value, as it is
		switch typ {
		case TrackSystemVariables:
			for bd.remaining() > 0 && bd.err == nil {
				name := bd.lenEncString("system variable name")
				value := bd.lenEncString("system variable value")
				dst = append(dst, StateChange{Type: typ, Name: name, Value: value})
			}
		case TrackGTIDs:
			bd.uint8("GTID encoding specification")
			dst = append(dst, StateChange{Type: typ, Value: bd.lenEncString("GTIDs")})
		case TrackStateChange:
			if len(data) == 1 && data[0] != 0 {
				// MariaDB sends the flag bare ('1'), without MySQL's inner
				// length (a lone 0 is that length, of an empty value).
				dst = append(dst, StateChange{Type: typ, Value: data})
				whole = true
				break
			}
			dst = append(dst, StateChange{Type: typ, Value: bd.lenEncString("tracker value")})
		case TrackSchema, TrackTransactionCharacteristics, TrackTransactionState:
			dst = append(dst, StateChange{Type: typ, Value: bd.lenEncString("tracker value")})
		default:
			dst = append(dst, StateChange{Type: typ, Value: data})
			whole = true
		}
		if bd.err == nil && !whole && bd.remaining() > 0 {
			bd.err = fmt.Errorf("session state: %d bytes after tracker %d's value", bd.remaining(), typ)
		}
		if bd.err != nil {
			return dst, bd.err
		}
	}
	return dst, nil
}

// AppendStateChange appends c as one session-state-change block, in the layout
// ParseSessionState reads, to b.
func AppendStateChange(b []byte, c StateChange) []byte {
	lenenc := func(s []byte) int { return LenEncIntSize(uint64(len(s))) + len(s) }
	b = append(b, c.Type)
	switch c.Type {
	case TrackSystemVariables:
		b = AppendLenEncInt(b, uint64(lenenc(c.Name)+lenenc(c.Value)))
		b = AppendLenEncString(b, c.Name)
		return AppendLenEncString(b, c.Value)
	case TrackGTIDs:
		b = AppendLenEncInt(b, uint64(1+lenenc(c.Value)))
		b = append(b, 0)
		return AppendLenEncString(b, c.Value)
	case TrackSchema, TrackStateChange, TrackTransactionCharacteristics, TrackTransactionState:
		b = AppendLenEncInt(b, uint64(lenenc(c.Value)))
		return AppendLenEncString(b, c.Value)
	default:
		return AppendLenEncString(b, c.Value)
	}
}
