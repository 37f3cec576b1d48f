package classify

// Options are the session settings that change how SQL text is tokenised.
type Options struct {
	// NoBackslashEscapes: '\' is an ordinary character inside strings. The server
	// reports it in every reply's status flags (SERVER_STATUS_NO_BACKSLASH_ESCAPES,
	// 0x0200).
	NoBackslashEscapes bool
	// AnsiQuotes: "..." quotes an identifier, not a string (sql_mode ANSI_QUOTES).
	AnsiQuotes bool
}

// tokKind is the kind of a token.
type tokKind uint8

const (
	tokEOF     tokKind = iota
	tokWord            // unquoted identifier or keyword
	tokIdent           // quoted identifier: `x`, or "x" with ANSI_QUOTES
	tokString          // '...', or "..." without ANSI_QUOTES
	tokNumber          // numeric literal
	tokUserVar         // @name, @'name', @"name", @`name`
	tokSysVar          // @@name, @@scope.name
	tokPunct           // one operator character, or ":="
)

// token is a span of the source text.
type token struct {
	kind     tokKind
	pos, end int
}

// lexer splits MariaDB SQL text into tokens. Whitespace and comments are
// skipped; the content of executable comments (/*! ... */, /*M! ... */) is
// tokenised as code. It never allocates.
type lexer struct {
	src  string
	opt  Options
	pos  int
	exec bool // inside an executable comment
	hint Hint // strongest routing hint seen in a comment so far

	last token // the token returned last, for the "ident.5col" rule

	peeked bool
	pk     token
}

// next returns the next token and consumes it.
func (l *lexer) next() token {
	if l.peeked {
		l.peeked = false
		l.last = l.pk
		return l.pk
	}
	t := l.scan()
	l.last = t
	return t
}

// peek returns the next token without consuming it.
func (l *lexer) peek() token {
	if !l.peeked {
		l.pk = l.scan()
		l.peeked = true
	}
	return l.pk
}

// text returns the source text of t.
func (l *lexer) text(t token) string { return l.src[t.pos:t.end] }

// isWord reports whether t is the unquoted word kw (given in upper case).
func (l *lexer) isWord(t token, kw string) bool {
	return t.kind == tokWord && equalUpper(l.src[t.pos:t.end], kw)
}

// isPunct reports whether t is the operator character c.
func (l *lexer) isPunct(t token, c byte) bool {
	return t.kind == tokPunct && t.end-t.pos == 1 && l.src[t.pos] == c
}

// isEnd reports whether t ends a statement: ';' or the end of the input.
func (l *lexer) isEnd(t token) bool {
	return t.kind == tokEOF || l.isPunct(t, ';')
}

// scan reads one token from the source.
func (l *lexer) scan() token {
	src := l.src
	for l.pos < len(src) {
		start := l.pos
		c := src[start]
		switch {
		case isSpace(c):
			l.pos++
			continue
		case c == '#':
			l.skipLine(start + 1)
			continue
		case c == '-' && start+1 < len(src) && src[start+1] == '-' &&
			(start+2 == len(src) || src[start+2] <= ' ' || src[start+2] == 0x7f):
			l.skipLine(start + 2)
			continue
		case c == '/' && start+1 < len(src) && src[start+1] == '*' && !l.exec:
			l.blockComment(start)
			continue
		case c == '*' && l.exec && start+1 < len(src) && src[start+1] == '/':
			l.exec = false
			l.pos += 2
			continue
		case c == '\'':
			return l.quoted(tokString, c, !l.opt.NoBackslashEscapes)
		case c == '"':
			if l.opt.AnsiQuotes {
				return l.quoted(tokIdent, c, false)
			}
			return l.quoted(tokString, c, !l.opt.NoBackslashEscapes)
		case c == '`':
			return l.quoted(tokIdent, c, false)
		case c == '@':
			return l.variable()
		case isDigit(c):
			return l.number()
		case c == '.' && start+1 < len(src) && isDigit(src[start+1]) &&
			!((l.last.kind == tokWord || l.last.kind == tokIdent) && l.last.end == start):
			l.pos++
			return l.fraction(start)
		case isIdentChar(c):
			l.pos = identEnd(src, start)
			return token{tokWord, start, l.pos}
		case c == ':' && start+1 < len(src) && src[start+1] == '=':
			l.pos += 2
			return token{tokPunct, start, l.pos}
		}
		l.pos++
		return token{tokPunct, start, l.pos}
	}
	return token{tokEOF, len(src), len(src)}
}

// skipLine skips a '#' or '-- ' comment whose body starts at from. The comment
// ends at a newline or NUL; inside an executable comment it also ends before
// "*/", so that more text counts as code rather than less.
func (l *lexer) skipLine(from int) {
	src := l.src
	i := from
	for i < len(src) && src[i] != '\n' && src[i] != 0 {
		if l.exec && src[i] == '*' && i+1 < len(src) && src[i+1] == '/' {
			break
		}
		i++
	}
	if !l.exec {
		l.noteHint(src[from:i])
	}
	l.pos = i
}

// blockComment skips a /* ... */ comment starting at start, or enters an
// executable comment (/*!NNNNN or /*M!NNNNNN), whose content is code whatever the
// version number says: treating it as code can only make routing safer.
func (l *lexer) blockComment(start int) {
	src := l.src
	i := start + 2
	if i < len(src) && (src[i] == 'M' || src[i] == 'm') && i+1 < len(src) && src[i+1] == '!' {
		i++
	}
	if i < len(src) && src[i] == '!' {
		i++
		for i < len(src) && isDigit(src[i]) {
			i++
		}
		l.exec = true
		l.pos = i
		return
	}
	for i < len(src) {
		if src[i] == '*' && i+1 < len(src) && src[i+1] == '/' {
			l.noteHint(src[start+2 : i])
			l.pos = i + 2
			return
		}
		i++
	}
	l.pos = len(src) // unterminated: the server rejects the statement
}

// noteHint records the routing hint in a comment body, if any. A primary hint
// wins over a replica hint.
func (l *lexer) noteHint(body string) {
	if h := parseHint(body); h == HintPrimary || l.hint == NoHint {
		l.hint = h
	}
}

// quoted reads a string or quoted identifier opened by q at l.pos. A doubled q
// stands for itself; '\' escapes the next byte when backslash is set. An
// unterminated quote runs to the end of the input.
func (l *lexer) quoted(kind tokKind, q byte, backslash bool) token {
	src := l.src
	start := l.pos
	i := start + 1
	for i < len(src) {
		switch c := src[i]; {
		case c == '\\' && backslash:
			i += 2
			continue
		case c == q:
			if i+1 < len(src) && src[i+1] == q {
				i += 2
				continue
			}
			l.pos = i + 1
			return token{kind, start, l.pos}
		}
		i++
	}
	l.pos = len(src)
	return token{kind, start, l.pos}
}

// variable reads a user variable (@name, @'name', ...) or a system variable
// (@@name, @@global.name, @@`name`) at l.pos.
func (l *lexer) variable() token {
	src := l.src
	start := l.pos
	i := start + 1
	if i < len(src) && src[i] == '@' {
		i++
	name:
		for i < len(src) {
			switch c := src[i]; {
			case isIdentChar(c) || c == '.':
				i++
			case c == '`':
				l.pos = i
				i = l.quoted(tokIdent, c, false).end
			default:
				break name
			}
		}
		if i == start+2 {
			l.pos = i
			return token{tokPunct, start, i}
		}
		l.pos = i
		return token{tokSysVar, start, i}
	}
	if i < len(src) && (src[i] == '\'' || src[i] == '"' || src[i] == '`') {
		l.pos = i
		end := l.quoted(tokUserVar, src[i], src[i] != '`' && !l.opt.NoBackslashEscapes).end
		return token{tokUserVar, start, end}
	}
	for i < len(src) && (isIdentChar(src[i]) || src[i] == '.') {
		i++
	}
	l.pos = i
	if i == start+1 {
		return token{tokPunct, start, i}
	}
	return token{tokUserVar, start, i}
}

// number reads a token starting with a digit the way the server does: digits
// followed by '.' or an exponent make a number that ends there (so "1.5FOR" is
// "1.5" "FOR"); digits followed by other identifier characters make an
// identifier ("1abc", "0x1FOR").
func (l *lexer) number() token {
	src := l.src
	start := l.pos
	i := start
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	switch {
	case i < len(src) && src[i] == '.':
		l.pos = i + 1
		return l.fraction(start)
	case i == len(src) || !isIdentChar(src[i]):
		l.pos = i
		return token{tokNumber, start, i}
	case src[i] == 'e' || src[i] == 'E':
		if j := exponentEnd(src, i); j > i {
			l.pos = j
			return token{tokNumber, start, j}
		}
	}
	l.pos = identEnd(src, i)
	return token{tokWord, start, l.pos}
}

// fraction finishes a number whose '.' has been consumed: digits and an
// optional exponent.
func (l *lexer) fraction(start int) token {
	src := l.src
	i := l.pos
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		if j := exponentEnd(src, i); j > i {
			i = j
		}
	}
	l.pos = i
	return token{tokNumber, start, i}
}

// exponentEnd returns the end of an exponent "e[+-]digits" starting at i, or i
// if there is none.
func exponentEnd(src string, i int) int {
	j := i + 1
	if j < len(src) && (src[j] == '+' || src[j] == '-') {
		j++
	}
	if j >= len(src) || !isDigit(src[j]) {
		return i
	}
	for j < len(src) && isDigit(src[j]) {
		j++
	}
	return j
}

// identEnd returns the end of the run of identifier characters starting at i.
func identEnd(src string, i int) int {
	for i < len(src) && isIdentChar(src[i]) {
		i++
	}
	return i
}

// isSpace reports whether c is whitespace to the server.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isIdentChar reports whether c may appear in an unquoted identifier. Bytes of
// multi-byte UTF-8 characters do.
func isIdentChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '$' || c >= 0x80
}

// equalUpper reports whether s equals the upper-case ASCII word kw, ignoring
// the case of s.
func equalUpper(s, kw string) bool {
	if len(s) != len(kw) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != kw[i] {
			return false
		}
	}
	return true
}

// upper copies the upper-case form of s into buf and returns it, or returns
// nil when s does not fit; no keyword or built-in function name is that long.
func upper(buf []byte, s string) []byte {
	if len(s) > len(buf) {
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i] = c
	}
	return buf[:len(s)]
}
