package wire

// Server error codes the proxy reports or reacts to. SQLState returns the
// SQLSTATE that MySQL and MariaDB pair with each of them.
const (
	ERConCountError                    uint16 = 1040 // too many connections
	EROutOfResources                   uint16 = 1041
	ERBadHostError                     uint16 = 1042
	ERHandshakeError                   uint16 = 1043 // bad handshake
	ERDBAccessDeniedError              uint16 = 1044 // access denied for user to database
	ERAccessDeniedError                uint16 = 1045 // access denied for user (using password)
	ERNoDBError                        uint16 = 1046 // no database selected
	ERUnknownComError                  uint16 = 1047 // unknown command
	ERBadDBError                       uint16 = 1049 // unknown database
	ERServerShutdown                   uint16 = 1053
	ERParseError                       uint16 = 1064
	ERNoSuchThread                     uint16 = 1094 // KILL of an unknown thread id
	ERKillDenied                       uint16 = 1095 // KILL of another user's thread
	ERUnknownError                     uint16 = 1105
	ERHostIsBlocked                    uint16 = 1129 // too many connection errors from a host
	ERHostNotPrivileged                uint16 = 1130
	ERNotAllowedCommand                uint16 = 1148 // e.g. LOAD DATA LOCAL disabled
	ERAbortingConnection               uint16 = 1152
	ERNetPacketTooLarge                uint16 = 1153 // packet bigger than max_allowed_packet
	ERMalformedPacket                  uint16 = 1835 // a command packet that cannot be parsed
	ERStmtHasNoOpenCursor              uint16 = 1421 // COM_STMT_FETCH without an open cursor
	ERNetPacketsOutOfOrder             uint16 = 1156 // a packet with the wrong sequence id
	ERNetReadError                     uint16 = 1158
	ERNetReadInterrupted               uint16 = 1159
	ERNetErrorOnWrite                  uint16 = 1160
	ERNetWriteInterrupted              uint16 = 1161
	ERCantDoThisDuringAnTransaction    uint16 = 1179
	ERNewAbortingConnection            uint16 = 1184
	ERUnknownSystemVariable            uint16 = 1193
	ERTooManyUserConnections           uint16 = 1203
	ERLockWaitTimeout                  uint16 = 1205
	ERReadOnlyTransaction              uint16 = 1207
	ERWrongArguments                   uint16 = 1210
	ERLockDeadlock                     uint16 = 1213
	ERSpecificAccessDeniedError        uint16 = 1227
	ERNotSupportedYet                  uint16 = 1235
	ERUnknownStmtHandler               uint16 = 1243
	ERNotSupportedAuthMode             uint16 = 1251
	EROptionPreventsStatement          uint16 = 1290 // e.g. --read-only
	ERQueryInterrupted                 uint16 = 1317
	ERMaxPreparedStmtCountReached      uint16 = 1461
	ERCantExecuteInReadOnlyTransaction uint16 = 1792
	ERConnectionKilled                 uint16 = 1927 // MariaDB
)

// SQLSTATE values used with the codes above.
const (
	SSUnknownSQLState     = "HY000"
	SSAccessDenied        = "28000"
	SSNetError            = "08S01"
	SSConnectionRejected  = "08004"
	SSSyntaxOrAccess      = "42000"
	SSNoDB                = "3D000"
	SSInvalidTransaction  = "25000"
	SSReadOnlyTransaction = "25006"
	SSDeadlock            = "40001"
	SSQueryInterrupted    = "70100"
)

// SQLState returns the SQLSTATE the server pairs with code, or "HY000" for a
// code it does not know.
func SQLState(code uint16) string {
	switch code {
	case ERConCountError, ERNotSupportedAuthMode:
		return SSConnectionRejected
	case ERBadHostError, ERHandshakeError, ERUnknownComError, ERServerShutdown,
		ERAbortingConnection, ERNetPacketTooLarge, ERNetPacketsOutOfOrder, ERNetReadError, ERNetReadInterrupted,
		ERNetErrorOnWrite, ERNetWriteInterrupted, ERNewAbortingConnection:
		return SSNetError
	case ERAccessDeniedError:
		return SSAccessDenied
	case ERDBAccessDeniedError, ERBadDBError, ERParseError, ERNotAllowedCommand,
		ERTooManyUserConnections, ERSpecificAccessDeniedError, ERNotSupportedYet,
		ERMaxPreparedStmtCountReached:
		return SSSyntaxOrAccess
	case ERNoDBError:
		return SSNoDB
	case ERCantDoThisDuringAnTransaction, ERReadOnlyTransaction:
		return SSInvalidTransaction
	case ERCantExecuteInReadOnlyTransaction:
		return SSReadOnlyTransaction
	case ERLockDeadlock:
		return SSDeadlock
	case ERQueryInterrupted, ERConnectionKilled:
		return SSQueryInterrupted
	}
	return SSUnknownSQLState
}
