package classify

import (
	"strings"
	"testing"
)

// writeKeywords are the words that, outside strings, quoted identifiers,
// variables and comments, mark a statement as not a pure read.
var writeKeywords = map[string]bool{
	"INSERT": true, "UPDATE": true, "DELETE": true, "REPLACE": true, "CREATE": true,
	"DROP": true, "ALTER": true, "TRUNCATE": true, "RENAME": true, "GRANT": true,
	"REVOKE": true, "LOAD": true, "CALL": true, "DO": true, "HANDLER": true,
	"LOCK": true, "UNLOCK": true, "SET": true, "INTO": true, "NEXTVAL": true,
	"SETVAL": true, "EXECUTE": true, "PREPARE": true, "DEALLOCATE": true,
	"KILL": true, "FLUSH": true, "OPTIMIZE": true, "REPAIR": true, "PURGE": true,
}

// sessionVerbs are write keywords that a session command may contain.
var sessionVerbs = map[string]bool{"SET": true, "PREPARE": true, "DEALLOCATE": true}

// oracleTokens is a deliberately simple scanner, written apart from the lexer:
// it returns the code of sql as a list of upper-cased words and single
// punctuation characters, with "lit" for each string, quoted identifier,
// variable or number. Comments are dropped, but the content of executable
// comments is code.
func oracleTokens(sql string, opt Options) []string {
	var out []string
	exec := false
	skipQuoted := func(i int, q byte, backslash bool) int {
		for i++; i < len(sql); i++ {
			if sql[i] == '\\' && backslash {
				i++
			} else if sql[i] == q {
				if i+1 < len(sql) && sql[i+1] == q {
					i++
				} else {
					return i + 1
				}
			}
		}
		return len(sql)
	}
	lineEnd := func(i int) int {
		for ; i < len(sql) && sql[i] != '\n' && sql[i] != 0; i++ {
			if exec && strings.HasPrefix(sql[i:], "*/") {
				break
			}
		}
		return i
	}
	word := func(c byte) bool {
		return c == '_' || c == '$' || c >= 0x80 || c >= '0' && c <= '9' ||
			c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		rest := sql[i:]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			i++
		case c == '#':
			i = lineEnd(i + 1)
		case strings.HasPrefix(rest, "--") && (len(rest) == 2 || rest[2] <= ' ' || rest[2] == 0x7f):
			i = lineEnd(i + 2)
		case strings.HasPrefix(rest, "/*") && !exec:
			body := rest[2:]
			if strings.HasPrefix(body, "M!") || strings.HasPrefix(body, "m!") {
				body = body[1:]
			}
			if strings.HasPrefix(body, "!") {
				exec = true
				i = len(sql) - len(body) + 1
				for i < len(sql) && sql[i] >= '0' && sql[i] <= '9' {
					i++
				}
			} else if j := strings.Index(rest[2:], "*/"); j >= 0 {
				i += 2 + j + 2
			} else {
				i = len(sql)
			}
		case strings.HasPrefix(rest, "*/") && exec:
			exec = false
			i += 2
		case c == '\'' || c == '"' || c == '`':
			i = skipQuoted(i, c, c != '`' && !(c == '"' && opt.AnsiQuotes) && !opt.NoBackslashEscapes)
			out = append(out, "lit")
		case c == '@':
			i++
			if i < len(sql) && sql[i] == '@' {
				i++
			} else if i < len(sql) && (sql[i] == '\'' || sql[i] == '"') {
				i = skipQuoted(i, sql[i], !opt.NoBackslashEscapes)
				out = append(out, "lit")
				continue
			}
			if i == len(sql) || !word(sql[i]) && sql[i] != '.' && sql[i] != '`' {
				out = append(out, "@") // a lone @ is an operator
				continue
			}
			for i < len(sql) {
				if word(sql[i]) || sql[i] == '.' {
					i++
				} else if sql[i] == '`' {
					i = skipQuoted(i, '`', false)
				} else {
					break
				}
			}
			out = append(out, "lit")
		case word(c):
			j := i
			for j < len(sql) && word(sql[j]) {
				j++
			}
			if c < '0' || c > '9' {
				out = append(out, strings.ToUpper(sql[i:j]))
			} else {
				out = append(out, "lit")
			}
			i = j
		default:
			out = append(out, sql[i:i+1])
			i++
		}
	}
	return out
}

// oracleWrite returns the first write keyword in sql's code, or "". The
// exemptions are the constructs that read: INSERT(), REPLACE() and TRUNCATE()
// as functions, CHARACTER SET, SHOW CREATE, SET STATEMENT ... FOR, and, when
// session is set, the verbs of session commands.
func oracleWrite(sql string, opt Options, session bool) string {
	toks := oracleTokens(sql, opt)
	at := func(i int) string {
		if i < 0 || i >= len(toks) {
			return ""
		}
		return toks[i]
	}
	for i, w := range toks {
		next, prev := at(i+1), at(i-1)
		switch {
		case w == "FOR" && next == "SHARE", w == "NEXT" && next == "VALUE":
			return w + " " + next
		case w == "GET_LOCK" && next == "(":
			return w
		case !writeKeywords[w]:
		case (w == "INSERT" || w == "REPLACE" || w == "TRUNCATE") && next == "(":
		case w == "SET" && (prev == "CHARACTER" || next == "STATEMENT"):
		case w == "CREATE" && prev == "SHOW":
		case session && (sessionVerbs[w] || w == "DROP" && next == "PREPARE"):
		default:
			return w
		}
	}
	return ""
}

func FuzzClassify(f *testing.F) {
	for _, tc := range corpus {
		f.Add(tc.sql, tc.opt.NoBackslashEscapes, tc.opt.AnsiQuotes)
	}
	for _, s := range benchStatements {
		f.Add(s, false, false)
	}
	f.Fuzz(func(t *testing.T, sql string, noBackslashEscapes, ansiQuotes bool) {
		opt := Options{NoBackslashEscapes: noBackslashEscapes, AnsiQuotes: ansiQuotes}
		r := Classify(sql, opt)
		if r.Route != Primary && r.Flags&(Pin|LockTables|NamedLock) != 0 {
			t.Fatalf("Classify(%q) = %s: pins but does not route to the primary", sql, describe(r))
		}
		if r.Route == Replica && r.Flags&Read == 0 && r.Hint != HintReplica {
			t.Fatalf("Classify(%q) = %s: replica without Read", sql, describe(r))
		}
		if r.Route == Primary {
			return
		}
		if w := oracleWrite(sql, opt, r.Route == Session); w != "" {
			t.Fatalf("Classify(%q, %+v) = %s, but the code contains %s", sql, opt, describe(r), w)
		}
	})
}

func TestOracleSeesWrites(t *testing.T) {
	// The oracle must agree with the table on the rows that route to the primary
	// because of a write keyword, or it tests nothing.
	for _, sql := range []string{
		"/* x */ UPDATE t SET a = 1", "SELECT 1 /*!50000 FOR UPDATE */", "SELECT * FROM t FOR SHARE",
		"SELECT NEXT VALUE FOR s", "SELECT 'a\\' FOR UPDATE -- '", "SELECT GET_LOCK('a', 1)",
	} {
		opt := Options{NoBackslashEscapes: strings.Contains(sql, "\\")}
		if oracleWrite(sql, opt, false) == "" {
			t.Errorf("oracle finds no write in %q", sql)
		}
	}
	for _, sql := range []string{
		"SELECT 'UPDATE', `delete`, @insert, REPLACE(a, 'b', 'c') -- DROP", "SHOW CHARACTER SET",
	} {
		if w := oracleWrite(sql, Options{}, false); w != "" {
			t.Errorf("oracle finds %s in %q", w, sql)
		}
	}
}

// fragments are the pieces TestClassifyFragments glues together: keywords,
// quotes, comments and operators, so that the search reaches the tricky
// combinations faster than byte-level mutation.
var fragments = []string{
	"SELECT ", "select", " * FROM t", " WHERE a = 1", " FOR", " UPDATE", " SHARE", " LOCK IN SHARE MODE",
	" INTO @a", " INTO OUTFILE 'x'", " f(1)", " NOW()", " GET_LOCK('a', 1)", " NEXT VALUE FOR s", " s.nextval",
	" LAST_INSERT_ID()", " FOUND_ROWS()", " @@warning_count", " @@global.x", " @a := 1", " SET", " CHARACTER SET",
	" INSERT", " INSERT(", " REPLACE", " DELETE", " DO", " CALL p()", " (", ")", ",", ";", " ", "\n", "\t",
	"'", "\"", "`", "\\", "''", "\\'", "/*", "*/", "/*!", "/*!50000", "/*M!100100", "/*+", "#", "-- ", "--", "\x00",
	"@", "@@", ".", "1", "1.5", "1e5", "0x1", "WITH c AS (", ") ", "SHOW ", " CREATE", " TABLES", " STATUS",
	"SET ", " NAMES utf8", " autocommit=0", " GLOBAL", " SESSION", "STATEMENT ", " =", "USE ", "EXPLAIN ",
	"ANALYZE ", "DESCRIBE ", "START TRANSACTION", " READ ONLY", "PREPARE s FROM ", "DEALLOCATE PREPARE s",
	"VALUES (1)", "TABLE t", "/* frontdesk:replica */", "/* frontdesk:primary */", "BEGIN", " NOT ATOMIC",
	" UNION ", " ALL", "DROP ", " PREPARE",
}

// fragmentSeed seeds TestClassifyFragments.
var fragmentSeed uint64 = 1

// TestClassifyFragments checks the fuzz properties on pseudo-random strings
// built from fragments, with a fixed seed so that it is deterministic.
func TestClassifyFragments(t *testing.T) {
	n := 200000
	if testing.Short() {
		n = 20000
	}
	seed := fragmentSeed
	rnd := func(k int) int { // xorshift: deterministic and dependency-free
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		return int(seed % uint64(k))
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.Reset()
		for j, parts := 0, 1+rnd(12); j < parts; j++ {
			b.WriteString(fragments[rnd(len(fragments))])
		}
		sql := b.String()
		opt := Options{NoBackslashEscapes: rnd(4) == 0, AnsiQuotes: rnd(4) == 0}
		r := Classify(sql, opt)
		if r.Route != Primary && r.Flags&(Pin|LockTables|NamedLock) != 0 {
			t.Fatalf("Classify(%q, %+v) = %s: pins but does not route to the primary", sql, opt, describe(r))
		}
		if r.Route == Primary {
			continue
		}
		if w := oracleWrite(sql, opt, r.Route == Session); w != "" {
			t.Fatalf("Classify(%q, %+v) = %s, but the code contains %s", sql, opt, describe(r), w)
		}
	}
}
