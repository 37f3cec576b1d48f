package wire

import (
	"encoding/binary"
	"fmt"
)

// ChangeUser is a COM_CHANGE_USER command: re-authenticate as another user
// and reset the session.
type ChangeUser struct {
	// Username is the new login name.
	Username string
	// AuthResponse is the scramble reply for the current connection's nonce,
	// computed with AuthPlugin. It aliases the parsed payload.
	AuthResponse []byte
	// Database is the new default database, possibly empty.
	Database string
	// Charset is the client's collation id, or 0 when the client sent none.
	Charset uint16
	// AuthPlugin is the plugin used for AuthResponse (ClientPluginAuth).
	AuthPlugin string
	// Attributes are the connection attributes (ClientConnectAttrs).
	Attributes []Attribute
}

// ParseChangeUser parses a COM_CHANGE_USER packet, command byte included,
// under the connection's negotiated capabilities caps. Fields the client left
// off the end of the packet are returned empty.
func ParseChangeUser(p []byte, caps uint64) (*ChangeUser, error) {
	d := decoder{what: "COM_CHANGE_USER", buf: p}
	if c := d.uint8("command"); d.err == nil && c != ComChangeUser {
		return nil, fmt.Errorf("mysql COM_CHANGE_USER: command %#02x, want %#02x", c, ComChangeUser)
	}
	cu := &ChangeUser{}
	cu.Username = string(d.nulString("username"))
	if caps&ClientSecureConnection != 0 {
		cu.AuthResponse = d.bytes("auth response", int(d.uint8("auth response length")))
	} else {
		cu.AuthResponse = d.nulString("auth response")
	}
	cu.Database = string(d.nulString("database"))
	if d.remaining() > 0 {
		cu.Charset = d.uint16("character set")
	}
	if caps&ClientPluginAuth != 0 && d.remaining() > 0 {
		cu.AuthPlugin = string(d.nulString("auth plugin name"))
	}
	if caps&ClientConnectAttrs != 0 && d.remaining() > 0 {
		cu.Attributes = parseAttributes(&d)
	}
	if d.err != nil {
		return nil, d.err
	}
	return cu, nil
}

// Append appends the command's payload, command byte included, to b, laid out
// for the capabilities caps.
func (cu *ChangeUser) Append(b []byte, caps uint64) ([]byte, error) {
	b = append(b, ComChangeUser)
	b = AppendNULString(b, cu.Username)
	b, err := appendAuthResponse(b, caps, cu.AuthResponse, false)
	if err != nil {
		return nil, fmt.Errorf("mysql COM_CHANGE_USER: %w", err)
	}
	b = AppendNULString(b, cu.Database)
	b = binary.LittleEndian.AppendUint16(b, cu.Charset)
	if caps&ClientPluginAuth != 0 {
		b = AppendNULString(b, cu.AuthPlugin)
	}
	if caps&ClientConnectAttrs != 0 {
		b = appendAttributes(b, cu.Attributes)
	}
	return b, nil
}
