// Package classify decides where a read/write-splitting MySQL proxy sends one
// COM_QUERY string (MariaDB 10.11 dialect). It is a purpose-built tokenizer
// plus a small state machine: one pass, no AST, no allocations on the common
// path.
//
// The default is the primary. A statement goes to a replica only when it is
// positively recognised as a side-effect-free read; anything unknown goes to
// the primary, so a gap in the classifier costs offload, never correctness.
//
// # Tokenizing
//
// Keywords are case-insensitive and count only as code: never inside strings
// ('...', and "..." unless Options.AnsiQuotes), quoted identifiers (`...`, and
// "..." with AnsiQuotes), variables (@v, @@v) or comments. Strings honour
// doubled quotes and, unless Options.NoBackslashEscapes, backslash escapes.
// Comments are /* ... */, # ... and -- ... ("--" must be followed by
// whitespace, a control character or the end). The content of executable
// comments /*!NNNNN ... */ and /*M!NNNNNN ... */ is code whatever its version
// number; inside them a line comment also ends before "*/". Optimizer hints
// /*+ ... */ are comments. Numbers follow the server's rules, so "1.5FOR
// UPDATE" contains FOR UPDATE while "1for" is an identifier. The tokenizer
// assumes an ASCII-compatible connection character set (utf8mb4, latin1, ...);
// with big5, cp932, gbk or sjis a multi-byte character may end in a byte
// that looks like a backslash.
//
// # Statements
//
//   - Reads (Replica): SELECT, (SELECT ...), WITH ... SELECT, VALUES (TVC),
//     TABLE t, EXPLAIN/DESCRIBE of a read or a table, ANALYZE SELECT, SHOW of
//     catalog data (TABLES, COLUMNS, INDEX, CREATE ..., DATABASES, GRANTS, ...),
//     SHOW SLAVE/REPLICA STATUS, START TRANSACTION READ ONLY, and SET STATEMENT
//     ... FOR of any of these. A read becomes a primary statement when it
//     contains a locking clause (FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE),
//     INTO (a file or variables), a write keyword anywhere, a sequence operation
//     (NEXTVAL(s), NEXT VALUE FOR s, s.NEXTVAL, SETVAL), or a call of anything
//     that is not a known built-in function.
//   - Session commands (Session): USE, SET NAMES, SET CHARACTER SET, SET ROLE,
//     SET [SESSION|LOCAL|@@session.]var = value, SET @v = value, SET
//     [SESSION] TRANSACTION, PREPARE, DEALLOCATE/DROP PREPARE. A SET whose
//     value would not give the same result when replayed later on a replica (a
//     subquery, NOW(), RAND(), LAST_INSERT_ID(), a stored function, a per-server
//     variable such as @@gtid_current_pos) runs on the primary and pins the
//     session. SET GLOBAL runs on the primary only, and a SET mixing global and
//     session scope pins. SET TRANSACTION without a scope applies to the next
//     transaction only, which starts on the primary: it is a primary statement.
//   - Per-connection answers (Previous): LAST_INSERT_ID(), FOUND_ROWS(),
//     ROW_COUNT(), SHOW WARNINGS/ERRORS/COUNT(*) WARNINGS/PROFILES, GET
//     DIAGNOSTICS, @@warning_count, @@error_count, @@identity,
//     @@last_insert_id.
//   - Everything else is Primary: DML (including RETURNING), DDL, DO, CALL,
//     EXECUTE, EXECUTE IMMEDIATE, LOAD DATA, HANDLER, KILL, FLUSH, GRANT,
//     replication commands, transaction control, and unknown text.
//
// Transaction control is reported with Flags (BeginTx, BeginReadOnlyTx,
// EndTx, AutocommitOff, AutocommitOn); a proxy sends every statement of an
// open transaction to the transaction's backend whatever its Route, and trusts
// the reply's status flags over these predictions. Pin marks statements that
// bind the session to the primary: CREATE TEMPORARY TABLE/SEQUENCE, GET_LOCK,
// LOCK TABLES, FLUSH TABLES WITH READ LOCK, BACKUP LOCK/STAGE, HANDLER, XA,
// sql_log_bin, user variables assigned outside SET (@v := x, SELECT ... INTO
// @v), unreplayable SETs and anonymous compound statements (BEGIN NOT ATOMIC,
// IF, WHILE, LOOP, REPEAT, CASE, FOR, labels).
//
// # Functions
//
// A call is an unquoted name followed by "(" (comments and spaces between them
// allowed), a quoted name followed by "(", or a qualified name db.f(...). Only
// unqualified names on the built-in allowlist are side-effect-free. A read
// that calls anything else gets StoredFunc and goes to the primary, because a
// stored function may write. Built-ins with effects are decided as follows:
//
//   - GET_LOCK: primary, Pin and NamedLock. RELEASE_ALL_LOCKS: primary and
//     ReleaseNamedLocks. RELEASE_LOCK, IS_FREE_LOCK, IS_USED_LOCK: primary
//     (locks live on the primary connection; RELEASE_LOCK does not unpin since
//     other named locks may still be held).
//   - NEXTVAL, SETVAL, LAST_INSERT_ID(expr): primary (they write or set
//     per-connection state). LASTVAL, seq.CURRVAL, PREVIOUS VALUE FOR,
//     CONNECTION_ID, LOAD_FILE, BINLOG_GTID_POS: primary, as reads.
//   - SLEEP, BENCHMARK, MASTER_GTID_WAIT, MASTER_POS_WAIT, NOW, RAND, UUID,
//     UUID_SHORT: side-effect-free, so a replica may run them (MASTER_GTID_WAIT
//     is how an application asks the replica for a causal read).
//
// A view that hides a side-effecting function cannot be seen without a
// catalog: SELECT from such a view goes to a replica (accepted risk; use a
// primary hint).
//
// # SHOW
//
// Catalog data is the same on every server, up to replication lag: SHOW
// TABLES, TABLE STATUS, COLUMNS, INDEX, CREATE ..., DATABASES, TRIGGERS,
// EVENTS, PROCEDURE/FUNCTION STATUS, CHARACTER SET, COLLATION, ENGINES,
// PLUGINS, PRIVILEGES, GRANTS go to a replica. SHOW SLAVE/REPLICA STATUS, SHOW
// ALL SLAVES STATUS and SHOW RELAYLOG EVENTS are meaningful only on a replica
// and go to the session's replica. Per-server state goes to the primary as a
// Read that a replica hint may move: SHOW VARIABLES (applications probe
// read_only), STATUS, PROCESSLIST, MASTER/BINLOG STATUS, BINARY LOGS, SLAVE
// HOSTS, OPEN TABLES, ENGINE ..., EXPLAIN FOR, and any SHOW not listed. Reads
// of @@global.x, @@read_only, @@gtid_*_pos and @@log_bin are treated the same
// way; @@last_gtid, @@in_transaction and @@pseudo_thread_id always go to the
// primary. Other @@session variables may be read on a replica after the
// session commands have been replayed.
//
// # Multi-statements
//
// A string split by ";" into several statements (a trailing ";" alone does not
// count) sets Multi. It goes to a replica only when every part does, to the
// previous connection when every part is a replica read or a Previous read
// (with at least one of the latter), and is a Session command when every part
// is. A mix of session commands with anything else runs on the primary and
// pins, since it cannot be replayed piecewise; any other mix runs on the
// primary. Stored program definitions (CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT/
// PACKAGE) and anonymous compound statements take the rest of the string as
// their body.
//
// # Hints
//
// A routing hint is a comment anywhere in the string (outside strings and
// executable comments) whose body, trimmed of whitespace and compared without
// regard to case, is exactly one of:
//
//	frontdesk:primary            e.g. /* frontdesk:primary */ SELECT ...
//	frontdesk:replica            e.g. SELECT ... -- frontdesk:replica
//	maxscale route to master     MaxScale compatibility
//	maxscale route to slave      MaxScale compatibility
//
// A primary hint wins over a replica hint. A primary hint sends a Replica or
// Previous statement to the primary. A replica hint only upgrades a read that
// went to the primary for one of two reasons: it calls a function that is not
// a known built-in (StoredFunc: the application vouches that the function does
// not write), or its answer is per server (Read, such as SHOW PROCESSLIST or
// @@gtid_current_pos). It never moves a statement that contains a write, a
// lock, a sequence operation, per-connection state, a Previous read or a
// session command.
package classify
