package firewall

import (
	"errors"
	"net/url"
	"strings"
)

// Reasons a request path is refused as ambiguous: each names what a
// backend could read differently from the rules.
var (
	errEncodedSlash = errors.New("encoded slash (%2F) in the path")
	errBackslash    = errors.New("backslash or encoded backslash (%5C) in the path")
	errNUL          = errors.New("NUL or control character in the path")
	errBadEscape    = errors.New("malformed percent-encoding in the path")
	errDotParam     = errors.New("dot segment with a parameter (..;) in the path")
)

// canonicalPath turns the escaped path of a request into the one form that
// the rules see and the upstream receives: percent-encodings of unreserved
// characters decoded (so %2e is a dot and %41 an A), every other encoding
// kept with upper-case hex, runs of slashes collapsed, and "." and ".."
// segments resolved (".." never climbs above the root). It returns the new
// escaped path and its decoded form.
//
// What a backend could interpret differently is refused rather than
// guessed: an encoded slash or backslash (one server splits segments on it,
// another does not), a literal backslash (a separator on Windows), NUL and
// control characters, malformed escapes, and a "." or ".." segment with a
// ";" parameter ("/public/..;/admin" is "/admin" to Tomcat).
func canonicalPath(escaped string) (raw, decoded string, err error) {
	if escaped == "" || escaped[0] != '/' {
		return "", "", errors.New("path does not start with a slash")
	}
	trailing := false
	segments := make([]string, 0, 8)
	for seg := range strings.SplitSeq(escaped[1:], "/") {
		trailing = false
		if seg == "" {
			trailing = true
			continue
		}
		seg, err := normalizeSegment(seg)
		if err != nil {
			return "", "", err
		}
		name, _, hasParam := strings.Cut(seg, ";")
		switch {
		case hasParam && (name == "." || name == ".."):
			return "", "", errDotParam
		case seg == ".":
			trailing = true
		case seg == "..":
			if len(segments) > 0 {
				segments = segments[:len(segments)-1]
			}
			trailing = true
		default:
			segments = append(segments, seg)
		}
	}
	raw = "/" + strings.Join(segments, "/")
	if trailing && len(segments) > 0 {
		raw += "/"
	}
	decoded, err = url.PathUnescape(raw)
	if err != nil {
		return "", "", errBadEscape
	}
	return raw, decoded, nil
}

// normalizeSegment rewrites the escapes of one path segment and refuses
// the characters that make a path ambiguous.
func normalizeSegment(seg string) (string, error) {
	if isPlain(seg) {
		return seg, nil
	}
	var b strings.Builder
	b.Grow(len(seg))
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c == '\\':
			return "", errBackslash
		case c < 0x20 || c == 0x7f:
			return "", errNUL
		case c != '%' && isPathChar(c):
			b.WriteByte(c)
			continue
		case c != '%':
			writeEscaped(&b, c)
			continue
		}
		if i+2 >= len(seg) || !isHex(seg[i+1]) || !isHex(seg[i+2]) {
			return "", errBadEscape
		}
		d := unhex(seg[i+1])<<4 | unhex(seg[i+2])
		i += 2
		switch {
		case d == '/':
			return "", errEncodedSlash
		case d == '\\':
			return "", errBackslash
		case d < 0x20 || d == 0x7f:
			return "", errNUL
		case isUnreserved(d):
			b.WriteByte(d)
		default:
			writeEscaped(&b, d)
		}
	}
	return b.String(), nil
}

func writeEscaped(b *strings.Builder, c byte) {
	const hexDigits = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(hexDigits[c>>4])
	b.WriteByte(hexDigits[c&15])
}

// isPlain reports whether a segment holds only characters that stand for
// themselves in a path, so it needs no rewriting.
func isPlain(seg string) bool {
	for i := 0; i < len(seg); i++ {
		if !isPathChar(seg[i]) {
			return false
		}
	}
	return true
}

// isPathChar reports whether c may appear literally in a path segment
// (RFC 3986 pchar, without the percent sign); every other byte is sent
// percent-encoded, so Go's URL keeps the escaped form as is.
func isPathChar(c byte) bool {
	return isUnreserved(c) || strings.IndexByte("!$&'()*+,;=:@", c) >= 0
}

// isUnreserved reports whether c is an unreserved character of RFC 3986,
// whose percent-encoding means the same as the character itself.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
