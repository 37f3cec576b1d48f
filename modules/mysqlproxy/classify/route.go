package classify

// Route says which backend connection of a client session should run a statement.
// The zero value is Primary, the safe default.
type Route uint8

// The routes a statement can take.
const (
	// Primary: run on the primary. Writes, anything not positively recognised as a
	// side-effect-free read, and transaction control go here.
	Primary Route = iota

	// Replica: a side-effect-free read that a replica may answer, once the session
	// commands recorded so far have been replayed on the replica connection.
	Replica

	// Session: a session command (USE, SET NAMES, SET SESSION ..., SET @var,
	// PREPARE, DEALLOCATE PREPARE, ...). Run it on the primary, record it, and
	// replay it on the replica connection before that connection is next used.
	Session

	// Previous: a per-connection answer about the previous statement
	// (LAST_INSERT_ID(), FOUND_ROWS(), ROW_COUNT(), SHOW WARNINGS, @@warning_count,
	// ...). Send it to the connection that ran the previous statement.
	Previous
)

// String returns the lower-case name of the route.
func (r Route) String() string {
	switch r {
	case Primary:
		return "primary"
	case Replica:
		return "replica"
	case Session:
		return "session"
	case Previous:
		return "previous"
	}
	return "unknown"
}

// Flags are the facts about a statement that the proxy acts on besides its Route.
// Flags from SQL are a prediction made before the statement runs: the status flags
// of the server's reply (IN_TRANS, AUTOCOMMIT, ...) remain the truth about
// transaction state afterwards.
type Flags uint32

// The flags of a Result.
const (
	// Multi: the string holds more than one statement (a trailing ';' alone does
	// not count). Compound statements (BEGIN NOT ATOMIC ... END, stored program
	// definitions) also count when their body contains ';'.
	Multi Flags = 1 << iota

	// Read: the statement was positively recognised as side-effect-free. It is set
	// for every Replica and Previous route (except a StoredFunc read moved by a
	// replica hint), and also for reads that are routed to the primary because
	// the answer is per server (SHOW VARIABLES, @@global.x, ...) or per
	// connection (CONNECTION_ID(), ...).
	Read

	// StoredFunc: a read that calls a function that is not a known side-effect-free
	// built-in, such as a stored function, which may write. It routes to the
	// primary; a replica hint may send it to a replica.
	StoredFunc

	// Pin: the statement binds the session to its primary connection (temporary
	// tables, GET_LOCK, LOCK TABLES, HANDLER, XA, sql_log_bin, user variables set
	// outside SET, session state that cannot be replayed). A simple proxy keeps the
	// pin until the session ends; LockTables and NamedLock say when it may lift it
	// earlier.
	Pin

	// LockTables: the statement takes table locks owned by the connection (LOCK
	// TABLES, FLUSH TABLES ... WITH READ LOCK / FOR EXPORT, BACKUP LOCK). Pin is set
	// too. UnlockTables releases them.
	LockTables

	// UnlockTables: UNLOCK TABLES or BACKUP UNLOCK.
	UnlockTables

	// NamedLock: the statement calls GET_LOCK(). Pin is set too.
	// ReleaseNamedLocks releases all named locks.
	NamedLock

	// ReleaseNamedLocks: the statement calls RELEASE_ALL_LOCKS(). (RELEASE_LOCK()
	// releases one lock of possibly several, so it does not set this flag.)
	ReleaseNamedLocks

	// BeginTx: BEGIN, BEGIN WORK, START TRANSACTION (not READ ONLY), COMMIT AND
	// CHAIN, ROLLBACK AND CHAIN.
	BeginTx

	// BeginReadOnlyTx: START TRANSACTION READ ONLY. The route is Replica: the whole
	// transaction may run on one replica.
	BeginReadOnlyTx

	// EndTx: COMMIT or ROLLBACK (not ROLLBACK TO SAVEPOINT). Statements that commit
	// implicitly (DDL, LOCK TABLES, ...) do not set it; the reply's status flags
	// show that.
	EndTx

	// Autocommit: a SET assigns the session's autocommit, in any spelling and
	// with any value. What it was set to is learnt from the status flags of the
	// primary's reply, never from the text; the assignment is never replayed on
	// a replica, whose connections stay in autocommit. A SET that assigns
	// autocommit together with anything else pins the session, since its other
	// assignments cannot be replayed without it.
	Autocommit

	// UseDB: a USE statement; Result.DB holds the schema name.
	UseDB

	// SQLMode: the statement assigns the session sql_mode, which may turn
	// ANSI_QUOTES or NO_BACKSLASH_ESCAPES on or off. Learn the new sql_mode
	// from the server (session tracking) before classifying the next statement.
	SQLMode

	// SessionTrack: a SET assigns one of the session_track_* variables, which
	// may switch off tracking the proxy relies on.
	SessionTrack

	// Charset: the statement sets the character set the server decodes the
	// client's statements with (SET NAMES, SET CHARACTER SET, SET CHARSET, SET
	// character_set_client). Result.Charset names it.
	Charset

	// LastInsertID: a per-connection answer about the last generated
	// AUTO_INCREMENT value (LAST_INSERT_ID(), @@identity, @@last_insert_id),
	// which only the connection that ran the last insert, the primary's, knows.
	LastInsertID

	// ConnectionID: the statement calls CONNECTION_ID(), whose answer a proxy
	// that hands out its own connection ids must give itself
	// (ReplaceConnectionID).
	ConnectionID

	// Kill: KILL [HARD|SOFT] [CONNECTION|QUERY] id. Result.Kill holds what it
	// names; a proxy that hands out its own connection ids must carry it out
	// itself.
	Kill

	// CalcFoundRows: a SELECT SQL_CALC_FOUND_ROWS, whose row count the next
	// statement may ask for with FOUND_ROWS() on the same connection.
	CalcFoundRows

	// NextTransaction: SET TRANSACTION without a scope, whose
	// characteristics the connection keeps for its next transaction only
	// (in autocommit mode, its next statement).
	NextTransaction
)

// KillTarget is what a KILL statement names.
type KillTarget struct {
	// ID is the connection id, 0 when it is not a plain number (KILL USER,
	// KILL QUERY ID, an expression).
	ID uint64
	// Query: KILL QUERY, which stops the connection's statement and keeps
	// the connection.
	Query bool
}

// Hint is a routing hint found in a comment. See the package documentation for
// the syntax.
type Hint uint8

// The routing hints.
const (
	// NoHint: the statement carries no hint.
	NoHint Hint = iota
	// HintPrimary: send the statement to the primary.
	HintPrimary
	// HintReplica: send the statement to a replica if it is a read whose only
	// obstacle was an unknown function or a per-server answer.
	HintReplica
)

// Result is the classification of one COM_QUERY string.
type Result struct {
	// Route is where to send the statement, with the hint already applied.
	Route Route
	// Flags are the facts the proxy tracks besides the route.
	Flags Flags
	// Hint is the routing hint found in the string's comments, if any.
	Hint Hint
	// DB is the schema named by USE (set with UseDB), without quotes.
	DB string
	// Charset is the character set named by a statement with the Charset
	// flag, in lower case and without quotes; "" when it is not a plain name
	// (an expression, a variable).
	Charset string
	// Kill is what a statement with the Kill flag names.
	Kill KillTarget
	// Variable names the one variable a session command sets to a constant
	// (a number, string or word), as written: "@x" for a user variable, the
	// bare name ("sql_mode") for a session system variable; compare it
	// without regard to case. A later such SET of the same variable makes
	// this one moot. "" for anything else, including values that are
	// expressions (SET @a = @a + 1 depends on the SET before it).
	Variable string
}

// Has reports whether all of the flags f are set.
func (r Result) Has(f Flags) bool { return r.Flags&f == f }
