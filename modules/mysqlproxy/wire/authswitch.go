package wire

import (
	"bytes"
	"fmt"
)

// AuthSwitchRequest asks the client to authenticate again with another plugin
// (header 0xFE during authentication).
type AuthSwitchRequest struct {
	// Plugin is the authentication plugin to switch to.
	Plugin string
	// Data is the plugin's data, as sent. For mysql_native_password and
	// caching_sha2_password it is the 20-byte nonce followed by a NUL; see
	// Nonce.
	Data []byte
}

// ParseAuthSwitchRequest parses an AuthSwitchRequest packet. Data aliases p.
func ParseAuthSwitchRequest(p []byte) (AuthSwitchRequest, error) {
	d := decoder{what: "auth switch request", buf: p}
	if h := d.uint8("header"); d.err == nil && h != HeaderAuthSwitch {
		return AuthSwitchRequest{}, fmt.Errorf("mysql auth switch request: header %#02x, want 0xfe", h)
	}
	plugin := d.nulString("plugin name")
	data := d.rest()
	if d.err != nil {
		return AuthSwitchRequest{}, d.err
	}
	return AuthSwitchRequest{Plugin: string(plugin), Data: data}, nil
}

// Nonce returns Data without its trailing NUL, the nonce that
// mysql_native_password and caching_sha2_password hash.
func (a AuthSwitchRequest) Nonce() []byte {
	return bytes.TrimSuffix(a.Data, []byte{0})
}

// Append appends the packet's payload to b. Data is written as is: include
// the trailing NUL for the nonce-based plugins.
func (a AuthSwitchRequest) Append(b []byte) []byte {
	b = append(b, HeaderAuthSwitch)
	b = AppendNULString(b, a.Plugin)
	return append(b, a.Data...)
}

// ParseAuthMoreData parses an AuthMoreData packet (header 0x01) and returns its
// data, which aliases p. For caching_sha2_password a single byte
// CachingSHA2FastAuthOK or CachingSHA2PerformFullAuth is the usual content.
func ParseAuthMoreData(p []byte) ([]byte, error) {
	if len(p) == 0 || p[0] != HeaderAuthMoreData {
		return nil, fmt.Errorf("mysql auth more data: header %#02x (%d bytes), want 0x01", firstByte(p), len(p))
	}
	return p[1:], nil
}

// AppendAuthMoreData appends an AuthMoreData payload carrying data to b.
func AppendAuthMoreData(b, data []byte) []byte {
	b = append(b, HeaderAuthMoreData)
	return append(b, data...)
}
