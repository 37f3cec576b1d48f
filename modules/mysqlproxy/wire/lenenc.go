package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrLenEncNull is returned when a length-encoded value starts with 0xFB, the
// marker for SQL NULL in text-protocol rows.
var ErrLenEncNull = errors.New("mysql lenenc: NULL marker 0xfb")

// LenEncIntSize returns the number of bytes AppendLenEncInt uses for v.
func LenEncIntSize(v uint64) int {
	switch {
	case v < 251:
		return 1
	case v < 1<<16:
		return 3
	case v < 1<<24:
		return 4
	default:
		return 9
	}
}

// AppendLenEncInt appends v as a length-encoded integer.
func AppendLenEncInt(b []byte, v uint64) []byte {
	switch {
	case v < 251:
		return append(b, byte(v))
	case v < 1<<16:
		return append(b, 0xfc, byte(v), byte(v>>8))
	case v < 1<<24:
		return append(b, 0xfd, byte(v), byte(v>>8), byte(v>>16))
	default:
		b = append(b, 0xfe)
		return binary.LittleEndian.AppendUint64(b, v)
	}
}

// ReadLenEncInt decodes the length-encoded integer at the start of b and
// returns it with the number of bytes it occupies. It returns ErrLenEncNull for
// the 0xFB marker and an error for the invalid prefix 0xFF or short input.
func ReadLenEncInt(b []byte) (v uint64, n int, err error) {
	if len(b) == 0 {
		return 0, 0, errors.New("mysql lenenc: empty input")
	}
	switch b[0] {
	case 0xfb:
		return 0, 1, ErrLenEncNull
	case 0xfc:
		n = 3
	case 0xfd:
		n = 4
	case 0xfe:
		n = 9
	case 0xff:
		return 0, 0, errors.New("mysql lenenc: invalid prefix 0xff")
	default:
		return uint64(b[0]), 1, nil
	}
	if len(b) < n {
		return 0, 0, fmt.Errorf("mysql lenenc: prefix %#x needs %d bytes, have %d", b[0], n, len(b))
	}
	for i := n - 1; i >= 1; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, n, nil
}

// AppendLenEncString appends s preceded by its length as a length-encoded integer.
func AppendLenEncString[S ~string | ~[]byte](b []byte, s S) []byte {
	b = AppendLenEncInt(b, uint64(len(s)))
	return append(b, s...)
}

// ReadLenEncString decodes the length-encoded string at the start of b. The
// returned slice aliases b; n is the number of bytes consumed. It returns
// ErrLenEncNull (with n == 1) for a NULL value.
func ReadLenEncString(b []byte) (s []byte, n int, err error) {
	l, n, err := ReadLenEncInt(b)
	if err != nil {
		return nil, n, err
	}
	if l > uint64(len(b)-n) {
		return nil, 0, fmt.Errorf("mysql lenenc: string of %d bytes, have %d", l, len(b)-n)
	}
	end := n + int(l)
	return b[n:end:end], end, nil
}

// AppendNULString appends s followed by a NUL byte. s must not contain NUL.
func AppendNULString[S ~string | ~[]byte](b []byte, s S) []byte {
	b = append(b, s...)
	return append(b, 0)
}

// ReadNULString decodes the NUL-terminated string at the start of b. The
// returned slice aliases b and excludes the NUL; n includes it.
func ReadNULString(b []byte) (s []byte, n int, err error) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return nil, 0, errors.New("mysql: missing NUL terminator")
	}
	return b[:i:i], i + 1, nil
}

// AppendUint24 appends the low 24 bits of v as a 3-byte little-endian integer.
func AppendUint24(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16))
}

// decoder reads protocol fields from a payload. The first failure is sticky:
// later reads return zero values and err names the field that failed.
type decoder struct {
	what string // packet name used in errors
	buf  []byte
	off  int
	err  error
}

func (d *decoder) fail(field string, err error) {
	if d.err == nil {
		d.err = fmt.Errorf("mysql %s: %s: %w", d.what, field, err)
	}
}

func (d *decoder) failShort(field string, need int) {
	if d.err == nil {
		d.err = fmt.Errorf("mysql %s: %s: need %d bytes, have %d", d.what, field, need, d.remaining())
	}
}

func (d *decoder) remaining() int { return len(d.buf) - d.off }

func (d *decoder) bytes(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.remaining() {
		d.failShort(field, n)
		return nil
	}
	b := d.buf[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}

func (d *decoder) uint8(field string) uint8 {
	b := d.bytes(field, 1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) uint16(field string) uint16 {
	b := d.bytes(field, 2)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

func (d *decoder) uint32(field string) uint32 {
	b := d.bytes(field, 4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (d *decoder) lenEncInt(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n, err := ReadLenEncInt(d.buf[d.off:])
	if err != nil {
		d.fail(field, err)
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) lenEncString(field string) []byte {
	if d.err != nil {
		return nil
	}
	s, n, err := ReadLenEncString(d.buf[d.off:])
	if err != nil {
		d.fail(field, err)
		return nil
	}
	d.off += n
	return s
}

func (d *decoder) nulString(field string) []byte {
	if d.err != nil {
		return nil
	}
	s, n, err := ReadNULString(d.buf[d.off:])
	if err != nil {
		d.fail(field, err)
		return nil
	}
	d.off += n
	return s
}

// rest returns all unread bytes.
func (d *decoder) rest() []byte {
	if d.err != nil {
		return nil
	}
	b := d.buf[d.off:]
	d.off = len(d.buf)
	return b
}
