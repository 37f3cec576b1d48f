package classify

// parseHint returns the routing hint spelled by a comment body, or NoHint.
// See the package documentation for the accepted forms.
func parseHint(body string) Hint {
	body = trimSpace(body)
	if len(body) < len("frontdesk:primary") {
		return NoHint
	}
	switch {
	case equalFoldASCII(body, "frontdesk:primary"),
		equalFoldASCII(body, "maxscale route to master"):
		return HintPrimary
	case equalFoldASCII(body, "frontdesk:replica"),
		equalFoldASCII(body, "maxscale route to slave"):
		return HintReplica
	}
	return NoHint
}

// trimSpace trims ASCII whitespace from both ends of s.
func trimSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// equalFoldASCII reports whether s equals the lower-case ASCII text want,
// ignoring the case of s.
func equalFoldASCII(s, want string) bool {
	if len(s) != len(want) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}
