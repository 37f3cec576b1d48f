package wire

// Capability flags, exchanged in the initial handshake and the handshake
// response. The lower 32 bits are the MySQL capability word. MariaDB puts its
// extended capabilities in the upper 32 bits (see MariaDBClientProgress and the
// following flags); they are only exchanged when ClientMySQL is clear.
const (
	// ClientLongPassword is bit 0, known as CLIENT_LONG_PASSWORD. MariaDB calls
	// it CLIENT_MYSQL; a MariaDB server clears it to signal that extended
	// capabilities follow in the handshake's reserved bytes.
	ClientLongPassword uint64 = 1 << 0
	// ClientMySQL is MariaDB's name for ClientLongPassword.
	ClientMySQL = ClientLongPassword
	// ClientFoundRows reports found rows instead of changed rows as affected rows.
	ClientFoundRows uint64 = 1 << 1
	// ClientLongFlag asks for the long column flags in column definitions.
	ClientLongFlag uint64 = 1 << 2
	// ClientConnectWithDB means the handshake response carries a database name.
	ClientConnectWithDB uint64 = 1 << 3
	// ClientNoSchema disallows database.table.column.
	ClientNoSchema uint64 = 1 << 4
	// ClientCompress enables the compressed protocol (not supported by this package).
	ClientCompress uint64 = 1 << 5
	// ClientODBC is a legacy flag with no effect.
	ClientODBC uint64 = 1 << 6
	// ClientLocalFiles enables LOAD DATA LOCAL INFILE.
	ClientLocalFiles uint64 = 1 << 7
	// ClientIgnoreSpace lets the parser ignore spaces before '('.
	ClientIgnoreSpace uint64 = 1 << 8
	// ClientProtocol41 selects the 4.1 protocol (required by this package).
	ClientProtocol41 uint64 = 1 << 9
	// ClientInteractive makes the server apply interactive_timeout.
	ClientInteractive uint64 = 1 << 10
	// ClientSSL asks to switch to TLS after the SSLRequest packet.
	ClientSSL uint64 = 1 << 11
	// ClientIgnoreSIGPIPE is client-side only and never sent on the wire meaningfully.
	ClientIgnoreSIGPIPE uint64 = 1 << 12
	// ClientTransactions makes the server report transaction status flags.
	ClientTransactions uint64 = 1 << 13
	// ClientReserved is the deprecated 4.1 protocol flag.
	ClientReserved uint64 = 1 << 14
	// ClientSecureConnection selects the 4.1 authentication (length-prefixed auth response).
	ClientSecureConnection uint64 = 1 << 15
	// ClientMultiStatements allows several statements in one COM_QUERY.
	ClientMultiStatements uint64 = 1 << 16
	// ClientMultiResults allows several result sets per COM_QUERY (needed by CALL).
	ClientMultiResults uint64 = 1 << 17
	// ClientPSMultiResults allows several result sets per COM_STMT_EXECUTE.
	ClientPSMultiResults uint64 = 1 << 18
	// ClientPluginAuth enables pluggable authentication and the auth plugin name fields.
	ClientPluginAuth uint64 = 1 << 19
	// ClientConnectAttrs means the handshake response carries connection attributes.
	ClientConnectAttrs uint64 = 1 << 20
	// ClientPluginAuthLenEncClientData lets the auth response be length-encoded (longer than 255 bytes).
	ClientPluginAuthLenEncClientData uint64 = 1 << 21
	// ClientCanHandleExpiredPasswords lets the client log in with an expired password (sandbox mode).
	ClientCanHandleExpiredPasswords uint64 = 1 << 22
	// ClientSessionTrack makes OK packets carry session-state-change information.
	ClientSessionTrack uint64 = 1 << 23
	// ClientDeprecateEOF replaces EOF packets with OK packets (header 0xFE) in result sets.
	ClientDeprecateEOF uint64 = 1 << 24
	// ClientOptionalResultsetMetadata lets the client skip column metadata (MySQL 8, not supported here).
	ClientOptionalResultsetMetadata uint64 = 1 << 25
	// ClientZstdCompression enables zstd compression (MySQL 8, not supported here).
	ClientZstdCompression uint64 = 1 << 26
	// ClientQueryAttributes prefixes COM_QUERY and COM_STMT_EXECUTE with query attributes (MySQL 8.0.23+).
	ClientQueryAttributes uint64 = 1 << 27
	// ClientMultiFactorAuthentication enables multi-factor authentication (MySQL 8.0.27+).
	ClientMultiFactorAuthentication uint64 = 1 << 28
	// ClientSSLVerifyServerCert is client-side only.
	ClientSSLVerifyServerCert uint64 = 1 << 30
	// ClientRememberOptions is client-side only.
	ClientRememberOptions uint64 = 1 << 31

	// MariaDBClientProgress enables progress reports (ERR packets with code 0xFFFF).
	MariaDBClientProgress uint64 = 1 << 32
	// MariaDBClientComMulti enables COM_MULTI (removed in MariaDB 10.6).
	MariaDBClientComMulti uint64 = 1 << 33
	// MariaDBClientStmtBulkOperations enables COM_STMT_BULK_EXECUTE.
	MariaDBClientStmtBulkOperations uint64 = 1 << 34
	// MariaDBClientExtendedMetadata adds extended type information to column definitions.
	MariaDBClientExtendedMetadata uint64 = 1 << 35
	// MariaDBClientCacheMetadata lets COM_STMT_EXECUTE skip unchanged column metadata.
	MariaDBClientCacheMetadata uint64 = 1 << 36
)

// Server status flags, carried by OK and EOF packets and the initial handshake.
const (
	// StatusInTrans means a transaction is open.
	StatusInTrans uint16 = 0x0001
	// StatusAutocommit means autocommit is on.
	StatusAutocommit uint16 = 0x0002
	// StatusMoreResultsExists means another result follows this one.
	StatusMoreResultsExists uint16 = 0x0008
	// StatusNoGoodIndexUsed reports that no good index was used.
	StatusNoGoodIndexUsed uint16 = 0x0010
	// StatusNoIndexUsed reports that no index was used.
	StatusNoIndexUsed uint16 = 0x0020
	// StatusCursorExists means a cursor was opened by COM_STMT_EXECUTE; rows come via COM_STMT_FETCH.
	StatusCursorExists uint16 = 0x0040
	// StatusLastRowSent means the cursor has been exhausted.
	StatusLastRowSent uint16 = 0x0080
	// StatusDBDropped means the current database was dropped.
	StatusDBDropped uint16 = 0x0100
	// StatusNoBackslashEscapes means sql_mode NO_BACKSLASH_ESCAPES is active.
	StatusNoBackslashEscapes uint16 = 0x0200
	// StatusMetadataChanged means a prepared statement was re-prepared and its metadata changed.
	StatusMetadataChanged uint16 = 0x0400
	// StatusQueryWasSlow means the query exceeded long_query_time.
	StatusQueryWasSlow uint16 = 0x0800
	// StatusPSOutParams means the result set holds OUT parameters of a procedure.
	StatusPSOutParams uint16 = 0x1000
	// StatusInTransReadonly means the open transaction is read-only.
	StatusInTransReadonly uint16 = 0x2000
	// StatusSessionStateChanged means the OK packet carries session-state-change information.
	StatusSessionStateChanged uint16 = 0x4000
)

// Command bytes: the first payload byte of a client command packet.
const (
	ComSleep            byte = 0x00 // internal server command
	ComQuit             byte = 0x01 // close the connection; no response
	ComInitDB           byte = 0x02 // change the default database (USE)
	ComQuery            byte = 0x03 // text protocol statement
	ComFieldList        byte = 0x04 // list columns of a table (deprecated)
	ComCreateDB         byte = 0x05 // deprecated
	ComDropDB           byte = 0x06 // deprecated
	ComRefresh          byte = 0x07 // FLUSH (deprecated)
	ComShutdown         byte = 0x08 // deprecated
	ComStatistics       byte = 0x09 // server statistics string
	ComProcessInfo      byte = 0x0a // SHOW PROCESSLIST (deprecated)
	ComConnect          byte = 0x0b // internal server command
	ComProcessKill      byte = 0x0c // KILL (deprecated)
	ComDebug            byte = 0x0d // dump debug info to the server log
	ComPing             byte = 0x0e // liveness check; OK response
	ComTime             byte = 0x0f // internal server command
	ComDelayedInsert    byte = 0x10 // internal server command
	ComChangeUser       byte = 0x11 // re-authenticate and reset the session
	ComBinlogDump       byte = 0x12 // replication
	ComTableDump        byte = 0x13 // replication
	ComConnectOut       byte = 0x14 // replication
	ComRegisterSlave    byte = 0x15 // replication
	ComStmtPrepare      byte = 0x16 // prepare a statement
	ComStmtExecute      byte = 0x17 // execute a prepared statement
	ComStmtSendLongData byte = 0x18 // send parameter data; no response
	ComStmtClose        byte = 0x19 // deallocate a prepared statement; no response
	ComStmtReset        byte = 0x1a // reset long data and cursor of a statement
	ComSetOption        byte = 0x1b // toggle multi-statements
	ComStmtFetch        byte = 0x1c // fetch rows from a cursor
	ComDaemon           byte = 0x1d // internal server command
	ComBinlogDumpGTID   byte = 0x1e // replication
	ComResetConnection  byte = 0x1f // reset the session without re-authenticating
	ComStmtBulkExecute  byte = 0xfa // MariaDB bulk execute
)

// COM_SET_OPTION option values.
const (
	OptionMultiStatementsOn  uint16 = 0
	OptionMultiStatementsOff uint16 = 1
)

// Header bytes: the first payload byte of a server response packet.
const (
	HeaderOK           byte = 0x00 // OK packet (also binary rows and COM_STMT_PREPARE_OK)
	HeaderAuthMoreData byte = 0x01 // AuthMoreData during authentication
	HeaderLocalInfile  byte = 0xfb // LOCAL INFILE request in reply to COM_QUERY
	HeaderEOF          byte = 0xfe // EOF packet, or OK packet when ClientDeprecateEOF is set
	HeaderAuthSwitch   byte = 0xfe // AuthSwitchRequest during authentication
	HeaderERR          byte = 0xff // ERR packet
)

// Session-state-change tracker types found in OK packets when
// StatusSessionStateChanged is set.
const (
	// TrackSystemVariables carries a system variable name and its new value (MariaDB last_gtid among them).
	TrackSystemVariables byte = 0
	// TrackSchema carries the new default database.
	TrackSchema byte = 1
	// TrackStateChange carries "1" when any tracked session state changed.
	TrackStateChange byte = 2
	// TrackGTIDs carries GTIDs (MySQL session_track_gtids).
	TrackGTIDs byte = 3
	// TrackTransactionCharacteristics carries SQL that would restore the transaction characteristics.
	TrackTransactionCharacteristics byte = 4
	// TrackTransactionState carries the eight-character transaction state string.
	TrackTransactionState byte = 5
)

// caching_sha2_password AuthMoreData status bytes.
const (
	// CachingSHA2RequestPublicKey is sent by the client to ask for the server's RSA key.
	CachingSHA2RequestPublicKey byte = 0x02
	// CachingSHA2FastAuthOK is sent by the server when the scramble matched its cache.
	CachingSHA2FastAuthOK byte = 0x03
	// CachingSHA2PerformFullAuth is sent by the server when it needs the password itself.
	CachingSHA2PerformFullAuth byte = 0x04
)

// Authentication plugin names.
const (
	AuthNativePassword = "mysql_native_password"
	AuthCachingSHA2    = "caching_sha2_password"
	AuthSHA256Password = "sha256_password"
	AuthClearPassword  = "mysql_clear_password"
	AuthMariaDBEd25519 = "client_ed25519"
)
