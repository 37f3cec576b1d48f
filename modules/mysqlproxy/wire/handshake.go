package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// ProtocolVersion is the protocol version of the Handshake v10 packet.
const ProtocolVersion = 10

// sslRequestSize is the payload size of an SSLRequest packet.
const sslRequestSize = 32

// Handshake is the initial handshake (protocol version 10) a server sends when
// a client connects.
type Handshake struct {
	// ServerVersion is the human-readable version, e.g. "10.11.6-MariaDB".
	ServerVersion string
	// ConnectionID is the server's thread id for this connection.
	ConnectionID uint32
	// Scramble is the authentication nonce: both parts of auth-plugin-data
	// joined, without the trailing NUL (20 bytes for the usual plugins).
	Scramble []byte
	// Capabilities are the server's capability flags. When ClientMySQL is
	// clear, MariaDB's extended capabilities occupy the upper 32 bits.
	Capabilities uint64
	// Charset is the server's default collation id.
	Charset uint8
	// Status holds the server status flags.
	Status uint16
	// AuthPlugin is the default authentication plugin name.
	AuthPlugin string
}

// ParseHandshake parses an initial handshake packet. If the server sent an
// ERR packet instead (too many connections, host blocked), the error returned
// is the *SQLError it carried.
func ParseHandshake(p []byte) (*Handshake, error) {
	if len(p) > 0 && p[0] == HeaderERR {
		e, err := ParseERR(p)
		if err != nil {
			return nil, err
		}
		return nil, e
	}
	d := decoder{what: "handshake", buf: p}
	if v := d.uint8("protocol version"); d.err == nil && v != ProtocolVersion {
		return nil, fmt.Errorf("mysql handshake: protocol version %d, want %d", v, ProtocolVersion)
	}
	h := &Handshake{}
	h.ServerVersion = string(d.nulString("server version"))
	h.ConnectionID = d.uint32("connection id")
	part1 := d.bytes("auth-plugin-data part 1", 8)
	d.bytes("filler", 1)
	h.Capabilities = uint64(d.uint16("capability flags"))
	if d.err != nil {
		return nil, d.err
	}
	h.Scramble = append([]byte(nil), part1...)
	if d.remaining() == 0 {
		return h, nil
	}
	h.Charset = d.uint8("character set")
	h.Status = d.uint16("status flags")
	h.Capabilities |= uint64(d.uint16("upper capability flags")) << 16
	authLen := int(d.uint8("auth-plugin-data length"))
	d.bytes("reserved", 6)
	ext := d.uint32("MariaDB capability flags")
	if h.Capabilities&ClientMySQL == 0 {
		h.Capabilities |= uint64(ext) << 32
	}
	if h.Capabilities&ClientPluginAuth == 0 {
		authLen = 0 // the field is only meaningful with plugin auth
	}
	if h.Capabilities&ClientSecureConnection != 0 {
		part2 := d.bytes("auth-plugin-data part 2", max(13, authLen-8))
		// The part is NUL-terminated and padded; nonces never contain NUL.
		if i := bytes.IndexByte(part2, 0); i >= 0 {
			part2 = part2[:i]
		}
		h.Scramble = append(h.Scramble, part2...)
	}
	if h.Capabilities&ClientPluginAuth != 0 && d.err == nil {
		// Some servers omit the terminating NUL: the name runs to the end.
		rest := d.rest()
		if i := bytes.IndexByte(rest, 0); i >= 0 {
			rest = rest[:i]
		}
		h.AuthPlugin = string(rest)
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Append appends the handshake packet's payload to b. The MariaDB extended
// capabilities are written only when ClientMySQL is clear.
func (h *Handshake) Append(b []byte) []byte {
	var part1 [8]byte
	copy(part1[:], h.Scramble)
	var part2 []byte
	if len(h.Scramble) > 8 {
		part2 = h.Scramble[8:]
	}
	b = append(b, ProtocolVersion)
	b = AppendNULString(b, h.ServerVersion)
	b = binary.LittleEndian.AppendUint32(b, h.ConnectionID)
	b = append(b, part1[:]...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(h.Capabilities))
	b = append(b, h.Charset)
	b = binary.LittleEndian.AppendUint16(b, h.Status)
	b = binary.LittleEndian.AppendUint16(b, uint16(h.Capabilities>>16))
	authLen := 0
	if h.Capabilities&ClientPluginAuth != 0 {
		authLen = min(8+len(part2)+1, 255)
	}
	b = append(b, byte(authLen))
	b = append(b, 0, 0, 0, 0, 0, 0)
	if h.Capabilities&ClientMySQL == 0 {
		b = binary.LittleEndian.AppendUint32(b, uint32(h.Capabilities>>32))
	} else {
		b = append(b, 0, 0, 0, 0)
	}
	if h.Capabilities&ClientSecureConnection != 0 {
		// Part 2 is NUL-terminated and fills max(13, authLen-8) bytes; a
		// scramble too long for the 1-byte length is cut.
		field := max(13, authLen-8)
		start := len(b)
		b = append(b, part2...)
		b = append(b, 0)
		for len(b)-start < field {
			b = append(b, 0)
		}
		b = b[:start+field]
	}
	if h.Capabilities&ClientPluginAuth != 0 {
		b = AppendNULString(b, h.AuthPlugin)
	}
	return b
}

// IsSSLRequest reports whether p, the first packet a client sends after the
// handshake, is an SSLRequest: the fixed 32-byte prefix of a handshake
// response with ClientSSL set. The client starts TLS right after it and sends
// the full HandshakeResponse over TLS.
func IsSSLRequest(p []byte) bool {
	return len(p) == sslRequestSize && binary.LittleEndian.Uint32(p)&uint32(ClientSSL) != 0
}

// AppendSSLRequest appends an SSLRequest payload to b; caps must include
// ClientSSL.
func AppendSSLRequest(b []byte, caps uint64, maxPacket uint32, charset uint8) []byte {
	return appendResponsePrefix(b, caps, maxPacket, charset)
}

// appendResponsePrefix appends the 32-byte fixed part shared by SSLRequest and
// HandshakeResponse41.
func appendResponsePrefix(b []byte, caps uint64, maxPacket uint32, charset uint8) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(caps))
	b = binary.LittleEndian.AppendUint32(b, maxPacket)
	b = append(b, charset)
	b = append(b, make([]byte, 19)...)
	if caps&ClientMySQL == 0 {
		return binary.LittleEndian.AppendUint32(b, uint32(caps>>32))
	}
	return append(b, 0, 0, 0, 0)
}

// Attribute is one connection attribute (CLIENT_CONNECT_ATTRS) key/value pair.
type Attribute struct {
	Key, Value string
}

// HandshakeResponse is the HandshakeResponse41 packet a client sends in reply
// to the initial handshake.
type HandshakeResponse struct {
	// Capabilities are the flags the client asks for. They are not
	// intersected with the server's: use Capabilities & advertised. When
	// ClientMySQL is clear, MariaDB's extended capabilities occupy the upper
	// 32 bits.
	Capabilities uint64
	// MaxPacketSize is the largest packet the client wants to receive.
	MaxPacketSize uint32
	// Charset is the client's collation id.
	Charset uint8
	// Username is the login name.
	Username string
	// AuthResponse is the plugin-specific authentication data (the scramble
	// reply). It aliases the parsed payload.
	AuthResponse []byte
	// Database is the initial default database (ClientConnectWithDB).
	Database string
	// AuthPlugin is the plugin the client used to compute AuthResponse.
	AuthPlugin string
	// Attributes are the connection attributes, in wire order.
	Attributes []Attribute
}

// ParseHandshakeResponse parses a HandshakeResponse41 packet. Optional fields
// that a client left off the end of the packet are returned empty.
func ParseHandshakeResponse(p []byte) (*HandshakeResponse, error) {
	d := decoder{what: "handshake response", buf: p}
	r := &HandshakeResponse{}
	r.Capabilities = uint64(d.uint32("capability flags"))
	if d.err == nil && r.Capabilities&ClientProtocol41 == 0 {
		return nil, errors.New("mysql handshake response: client lacks the 4.1 protocol (CLIENT_PROTOCOL_41)")
	}
	r.MaxPacketSize = d.uint32("max packet size")
	r.Charset = d.uint8("character set")
	d.bytes("filler", 19)
	ext := d.uint32("MariaDB capability flags")
	if r.Capabilities&ClientMySQL == 0 {
		r.Capabilities |= uint64(ext) << 32
	}
	r.Username = string(d.nulString("username"))
	switch {
	case r.Capabilities&ClientPluginAuthLenEncClientData != 0:
		r.AuthResponse = d.lenEncString("auth response")
	case r.Capabilities&ClientSecureConnection != 0:
		r.AuthResponse = d.bytes("auth response", int(d.uint8("auth response length")))
	default:
		r.AuthResponse = d.nulString("auth response")
	}
	if r.Capabilities&ClientConnectWithDB != 0 && d.remaining() > 0 {
		r.Database = string(d.nulString("database"))
	}
	if r.Capabilities&ClientPluginAuth != 0 && d.remaining() > 0 {
		r.AuthPlugin = string(d.nulString("auth plugin name"))
	}
	if r.Capabilities&ClientConnectAttrs != 0 && d.remaining() > 0 {
		r.Attributes = parseAttributes(&d)
	}
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

// Append appends the packet's payload to b. It fails if AuthResponse cannot
// be encoded under the response's capabilities.
func (r *HandshakeResponse) Append(b []byte) ([]byte, error) {
	b = appendResponsePrefix(b, r.Capabilities, r.MaxPacketSize, r.Charset)
	b = AppendNULString(b, r.Username)
	b, err := appendAuthResponse(b, r.Capabilities, r.AuthResponse, true)
	if err != nil {
		return nil, fmt.Errorf("mysql handshake response: %w", err)
	}
	if r.Capabilities&ClientConnectWithDB != 0 {
		b = AppendNULString(b, r.Database)
	}
	if r.Capabilities&ClientPluginAuth != 0 {
		b = AppendNULString(b, r.AuthPlugin)
	}
	if r.Capabilities&ClientConnectAttrs != 0 {
		b = appendAttributes(b, r.Attributes)
	}
	return b, nil
}

// appendAuthResponse encodes auth data the way the capabilities require.
// lenenc reports whether ClientPluginAuthLenEncClientData applies (it does not
// in COM_CHANGE_USER).
func appendAuthResponse(b []byte, caps uint64, auth []byte, lenenc bool) ([]byte, error) {
	switch {
	case lenenc && caps&ClientPluginAuthLenEncClientData != 0:
		return AppendLenEncString(b, auth), nil
	case caps&ClientSecureConnection != 0:
		if len(auth) > 255 {
			return nil, fmt.Errorf("auth response of %d bytes does not fit a 1-byte length", len(auth))
		}
		b = append(b, byte(len(auth)))
		return append(b, auth...), nil
	default:
		if bytes.IndexByte(auth, 0) >= 0 {
			return nil, errors.New("auth response contains NUL and CLIENT_SECURE_CONNECTION is not set")
		}
		return AppendNULString(b, auth), nil
	}
}

// parseAttributes reads a length-encoded block of key/value pairs.
func parseAttributes(d *decoder) []Attribute {
	n := d.lenEncInt("connection attributes length")
	if d.err != nil {
		return nil
	}
	if n > uint64(d.remaining()) {
		d.fail("connection attributes", fmt.Errorf("block of %d bytes, have %d", n, d.remaining()))
		return nil
	}
	ad := decoder{what: d.what, buf: d.bytes("connection attributes", int(n))}
	var attrs []Attribute
	for ad.remaining() > 0 && ad.err == nil {
		k := ad.lenEncString("connection attribute key")
		v := ad.lenEncString("connection attribute value")
		attrs = append(attrs, Attribute{Key: string(k), Value: string(v)})
	}
	if ad.err != nil {
		d.err = ad.err
		return nil
	}
	return attrs
}

// appendAttributes writes attrs as a length-encoded block of key/value pairs.
func appendAttributes(b []byte, attrs []Attribute) []byte {
	size := 0
	for _, a := range attrs {
		size += LenEncIntSize(uint64(len(a.Key))) + len(a.Key)
		size += LenEncIntSize(uint64(len(a.Value))) + len(a.Value)
	}
	b = AppendLenEncInt(b, uint64(size))
	for _, a := range attrs {
		b = AppendLenEncString(b, a.Key)
		b = AppendLenEncString(b, a.Value)
	}
	return b
}
