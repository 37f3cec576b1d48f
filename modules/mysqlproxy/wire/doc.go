// Package wire implements the MySQL client/server protocol as the Frontdesk
// MySQL proxy uses it on both of its legs: client to proxy, and proxy to a
// MariaDB or MySQL backend.
//
// The package is deliberately low level and streaming. [Conn] frames packets
// over a caller-owned bufio.Reader and bufio.Writer, validates sequence ids
// and enforces a maximum payload. It can read a whole logical packet when the
// proxy must parse it (commands, handshakes, OK and ERR packets), or relay a
// packet chunk by chunk to another Conn without reassembling it, so that a
// result set of any size flows through a few kilobytes of buffer.
//
// [Walker] is the response-shape state machine used on the relay path: fed the
// length and the first few bytes of each server packet, it says what the packet
// is, when the reply to a command is complete and which status flags the server
// reported last.
//
// The remaining files hold the protocol's constants, the length-encoded
// integer and string codecs, the handshake and authentication packets, the
// OK/ERR/EOF packets with session-state tracking, and the
// mysql_native_password and caching_sha2_password scramble functions.
//
// Parsers never panic on malformed input; they return errors that name the
// packet and the field that was wrong. Parsed values that are byte slices
// alias the input payload unless documented otherwise.
package wire
