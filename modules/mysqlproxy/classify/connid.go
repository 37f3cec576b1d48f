package classify

import "strconv"

// ReplaceConnectionID returns sql with every call of CONNECTION_ID() in its
// code (not in strings, quoted names or comments; executable comments are
// code) replaced by the number id, for a proxy whose clients know it by an
// id of its own. The second result reports whether anything was replaced.
func ReplaceConnectionID(sql string, opt Options, id uint32) (string, bool) {
	lx := lexer{src: sql, opt: opt}
	var out []byte
	copied := 0
	var prev token
	for t := lx.next(); t.kind != tokEOF; prev, t = t, lx.next() {
		if !lx.isWord(t, "CONNECTION_ID") || lx.isPunct(prev, '.') || !lx.isPunct(lx.peek(), '(') {
			continue // not a call, or db.CONNECTION_ID(), a stored function
		}
		save := lx
		lx.next()
		closing := lx.next()
		if !lx.isPunct(closing, ')') {
			lx = save
			continue
		}
		out = append(out, sql[copied:t.pos]...)
		out = strconv.AppendUint(out, uint64(id), 10)
		copied = closing.end
	}
	if out == nil {
		return sql, false
	}
	return string(append(out, sql[copied:]...)), true
}
