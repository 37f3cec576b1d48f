package classify

// fnClass says what a call of a name does. A name missing from the table is
// fnUnknown: a stored function, which may write.
type fnClass uint8

const (
	fnUnknown      fnClass = iota // not a built-in: a stored function
	fnNone                        // a keyword or type name before '(', not a call
	fnPure                        // side-effect-free and deterministic
	fnVolatile                    // side-effect-free, but another evaluation may differ (NOW, RAND, SLEEP)
	fnPrevious                    // answers about the connection's previous statement
	fnConn                        // reads per-connection state that lives on the primary
	fnLastInsertID                // LAST_INSERT_ID(): fnPrevious, LAST_INSERT_ID(expr) sets it
	fnLock                        // GET_LOCK: takes a lock owned by the connection
	fnRelease                     // RELEASE_LOCK, ...: releases locks owned by the connection
	fnReleaseAll                  // RELEASE_ALL_LOCKS
	fnWrite                       // changes data (sequences)
)

// functions classifies the names that may stand before '('. The allowlist is
// deliberately explicit: a missing built-in only costs offload.
var functions = map[string]fnClass{}

// fnNames lists the names of each class.
var fnNames = [...]struct {
	class fnClass
	names []string
}{
	{fnNone, []string{
		// keywords and operators that may precede a parenthesis
		"ALL", "AND", "ANY", "AS", "ASC", "BETWEEN", "BY", "CASE", "COLLATE", "COLUMNS",
		"DESC", "DISTINCT", "DISTINCTROW", "DIV", "DUAL", "ELSE", "END", "ESCAPE", "EXCEPT",
		"EXISTS", "FORCE", "FROM", "GROUP", "HAVING", "IGNORE", "IN", "INDEX", "INNER",
		"INTERSECT", "IS", "JOIN", "KEY", "LIKE", "LIMIT", "MINUS", "NATURAL", "NESTED",
		"NOT", "OF", "OFFSET", "ON", "OR", "ORDER", "ORDINALITY", "OUTER", "OVER",
		"PARTITION", "PATH", "PRECEDING", "FOLLOWING", "RANGE", "RECURSIVE", "REGEXP",
		"RLIKE", "ROWS", "SELECT", "SOME", "SOUNDS", "STRAIGHT_JOIN", "THEN", "UNION",
		"USE", "USING", "VALUES", "WHEN", "WHERE", "WINDOW", "WITH", "XOR", "CROSS",
		"AGAINST", "EXPLAIN", "DESCRIBE", "ROW", "TABLE", "TIES", "ONLY", "FETCH",
		// type names: CAST(x AS DECIMAL(10,2)), JSON_TABLE columns
		"BIGINT", "BIT", "BLOB", "BOOL", "BOOLEAN", "DEC", "DECIMAL", "DOUBLE", "FIXED",
		"FLOAT", "INT", "INTEGER", "MEDIUMINT", "NCHAR", "NUMERIC", "NVARCHAR", "REAL",
		"SIGNED", "SMALLINT", "TEXT", "TINYINT", "UNSIGNED", "VARBINARY", "VARCHAR",
		"VARCHAR2", "NUMBER", "INET4", "INET6", "JSON",
	}},
	{fnPure, []string{
		// control flow and comparison
		"COALESCE", "DECODE_ORACLE", "GREATEST", "IF", "IFNULL", "INTERVAL", "ISNULL",
		"LEAST", "NULLIF", "NVL", "NVL2", "STRCMP",
		// casts and types
		"BINARY", "CAST", "CHAR", "CONVERT", "DATE", "DATETIME", "TIME", "TIMESTAMP", "YEAR",
		// strings
		"ASCII", "BIN", "BIT_COUNT", "BIT_LENGTH", "CHAR_LENGTH", "CHARACTER_LENGTH", "CHR",
		"CONCAT", "CONCAT_WS", "CONCAT_OPERATOR_ORACLE", "ELT", "EXPORT_SET", "EXTRACTVALUE",
		"FIELD", "FIND_IN_SET", "FORMAT", "FROM_BASE64", "HEX", "INSERT", "INSTR", "LCASE",
		"LEFT", "LENGTH", "LENGTHB", "LOCATE", "LOWER", "LPAD", "LTRIM", "MAKE_SET", "MATCH",
		"MID", "NATURAL_SORT_KEY", "OCTET_LENGTH", "ORD", "POSITION", "QUOTE", "REGEXP_INSTR",
		"REGEXP_REPLACE", "REGEXP_SUBSTR", "REPEAT", "REPLACE", "REVERSE", "RIGHT", "RPAD",
		"RTRIM", "SFORMAT", "SOUNDEX", "SPACE", "SUBSTR", "SUBSTRING", "SUBSTRING_INDEX",
		"TO_BASE64", "TO_CHAR", "TRIM", "TRIM_ORACLE", "LTRIM_ORACLE", "RTRIM_ORACLE",
		"UCASE", "UNHEX", "UPDATEXML", "UPPER", "WEIGHT_STRING", "CHARSET", "COERCIBILITY",
		"COLLATION", "DEFAULT", "NAME_CONST", "VALUE",
		// dynamic columns
		"COLUMN_ADD", "COLUMN_CHECK", "COLUMN_CREATE", "COLUMN_DELETE", "COLUMN_EXISTS",
		"COLUMN_GET", "COLUMN_JSON", "COLUMN_LIST",
		// numbers
		"ABS", "ACOS", "ASIN", "ATAN", "ATAN2", "CEIL", "CEILING", "CONV", "COS", "COT",
		"CRC32", "CRC32C", "DEGREES", "EXP", "FLOOR", "LN", "LOG", "LOG10", "LOG2", "MOD",
		"OCT", "PI", "POW", "POWER", "RADIANS", "ROUND", "SIGN", "SIN", "SQRT", "TAN",
		"TRUNCATE", "FORMAT_BYTES", "FORMAT_PICO_TIME",
		// dates and times (given their arguments)
		"ADDDATE", "ADDTIME", "ADD_MONTHS", "CONVERT_TZ", "DATE_ADD", "DATE_FORMAT",
		"DATE_SUB", "DATEDIFF", "DAY", "DAYNAME", "DAYOFMONTH", "DAYOFWEEK", "DAYOFYEAR",
		"EXTRACT", "FROM_DAYS", "FROM_UNIXTIME", "GET_FORMAT", "HOUR", "LAST_DAY",
		"MAKEDATE", "MAKETIME", "MICROSECOND", "MINUTE", "MONTH", "MONTHNAME",
		"PERIOD_ADD", "PERIOD_DIFF", "QUARTER", "SEC_TO_TIME", "SECOND", "STR_TO_DATE",
		"SUBDATE", "SUBTIME", "TIME_FORMAT", "TIME_TO_SEC", "TIMEDIFF", "TIMESTAMPADD",
		"TIMESTAMPDIFF", "TO_DAYS", "TO_SECONDS", "WEEK", "WEEKDAY", "WEEKOFYEAR",
		"YEARWEEK",
		// aggregates and window functions
		"AVG", "BIT_AND", "BIT_OR", "BIT_XOR", "COUNT", "CUME_DIST", "DENSE_RANK",
		"FIRST_VALUE", "GROUP_CONCAT", "JSON_ARRAYAGG", "JSON_OBJECTAGG", "LAG",
		"LAST_VALUE", "LEAD", "MAX", "MEDIAN", "MIN", "NTH_VALUE", "NTILE", "PERCENT_RANK",
		"PERCENTILE_CONT", "PERCENTILE_DISC", "RANK", "ROW_NUMBER", "STD", "STDDEV",
		"STDDEV_POP", "STDDEV_SAMP", "SUM", "VAR_POP", "VAR_SAMP", "VARIANCE",
		// JSON
		"JSON_ARRAY", "JSON_ARRAY_APPEND", "JSON_ARRAY_INSERT", "JSON_ARRAY_INTERSECT",
		"JSON_COMPACT", "JSON_CONTAINS", "JSON_CONTAINS_PATH", "JSON_DEPTH",
		"JSON_DETAILED", "JSON_EQUALS", "JSON_EXISTS", "JSON_EXTRACT", "JSON_INSERT",
		"JSON_KEY_VALUE", "JSON_KEYS", "JSON_LENGTH", "JSON_LOOSE", "JSON_MERGE",
		"JSON_MERGE_PATCH", "JSON_MERGE_PRESERVE", "JSON_NORMALIZE", "JSON_OBJECT",
		"JSON_OBJECT_FILTER_KEYS", "JSON_OBJECT_TO_ARRAY", "JSON_OVERLAPS", "JSON_PRETTY",
		"JSON_QUERY", "JSON_QUOTE", "JSON_REMOVE", "JSON_REPLACE", "JSON_SCHEMA_VALID",
		"JSON_SEARCH", "JSON_SET", "JSON_TABLE", "JSON_TYPE", "JSON_UNQUOTE", "JSON_VALID",
		"JSON_VALUE",
		// hashing, encryption, compression
		"AES_DECRYPT", "AES_ENCRYPT", "COMPRESS", "DECODE", "DES_DECRYPT", "DES_ENCRYPT",
		"ENCODE", "ENCRYPT", "KDF", "MD5", "OLD_PASSWORD", "PASSWORD", "SHA", "SHA1", "SHA2",
		"UNCOMPRESS", "UNCOMPRESSED_LENGTH",
		// network addresses
		"INET_ATON", "INET_NTOA", "INET6_ATON", "INET6_NTOA", "IS_IPV4", "IS_IPV4_COMPAT",
		"IS_IPV4_MAPPED", "IS_IPV6",
		// session information that the session-command replay keeps equal
		"CURRENT_ROLE", "CURRENT_USER", "DATABASE", "SCHEMA", "SESSION_USER", "SYSTEM_USER",
		"USER", "VERSION", "DECODE_HISTOGRAM",
		// geometry
		"BOUNDARY", "BUFFER", "CENTROID", "CONTAINS", "CONVEXHULL", "CROSSES", "DIMENSION",
		"DISJOINT", "ENDPOINT", "ENVELOPE", "EQUALS", "EXTERIORRING", "GEOMCOLLFROMTEXT",
		"GEOMCOLLFROMWKB", "GEOMETRYCOLLECTION", "GEOMETRYCOLLECTIONFROMTEXT",
		"GEOMETRYFROMTEXT", "GEOMETRYFROMWKB", "GEOMETRYN", "GEOMETRYTYPE", "GEOMFROMTEXT",
		"GEOMFROMWKB", "GLENGTH", "INTERIORRINGN", "INTERSECTS", "ISCLOSED", "ISEMPTY",
		"ISRING", "ISSIMPLE", "LINEFROMTEXT", "LINEFROMWKB", "LINESTRING", "MBRCONTAINS",
		"MBRCOVEREDBY", "MBRDISJOINT", "MBREQUAL", "MBREQUALS", "MBRINTERSECTS",
		"MBROVERLAPS", "MBRTOUCHES", "MBRWITHIN", "MULTILINESTRING", "MULTIPOINT",
		"MULTIPOLYGON", "NUMGEOMETRIES", "NUMINTERIORRINGS", "NUMPOINTS", "OVERLAPS",
		"POINT", "POINTFROMTEXT", "POINTFROMWKB", "POINTN", "POLYFROMTEXT", "POLYFROMWKB",
		"POLYGON", "POLYGONFROMTEXT", "SRID", "STARTPOINT", "TOUCHES", "WITHIN", "X", "Y",
		"ASBINARY", "ASTEXT", "ASWKB", "ASWKT", "AREA",
		"ST_AREA", "ST_ASBINARY", "ST_ASGEOJSON", "ST_ASTEXT", "ST_ASWKB", "ST_ASWKT",
		"ST_BOUNDARY", "ST_BUFFER", "ST_CENTROID", "ST_COLLECT", "ST_CONTAINS",
		"ST_CONVEXHULL", "ST_CROSSES", "ST_DIFFERENCE", "ST_DIMENSION", "ST_DISJOINT",
		"ST_DISTANCE", "ST_DISTANCE_SPHERE", "ST_ENDPOINT", "ST_ENVELOPE", "ST_EQUALS",
		"ST_EXTERIORRING", "ST_GEOHASH", "ST_GEOMCOLLFROMTEXT", "ST_GEOMCOLLFROMWKB",
		"ST_GEOMETRYCOLLECTIONFROMTEXT", "ST_GEOMETRYCOLLECTIONFROMWKB",
		"ST_GEOMETRYFROMTEXT", "ST_GEOMETRYFROMWKB", "ST_GEOMETRYN", "ST_GEOMETRYTYPE",
		"ST_GEOMFROMGEOJSON", "ST_GEOMFROMTEXT", "ST_GEOMFROMWKB", "ST_INTERIORRINGN",
		"ST_INTERSECTION", "ST_INTERSECTS", "ST_ISCLOSED", "ST_ISEMPTY", "ST_ISRING",
		"ST_ISSIMPLE", "ST_ISVALID", "ST_LATFROMGEOHASH", "ST_LENGTH", "ST_LINEFROMTEXT",
		"ST_LINEFROMWKB", "ST_LINESTRINGFROMTEXT", "ST_LINESTRINGFROMWKB",
		"ST_LONGFROMGEOHASH", "ST_MLINEFROMTEXT", "ST_MLINEFROMWKB", "ST_MPOINTFROMTEXT",
		"ST_MPOINTFROMWKB", "ST_MPOLYFROMTEXT", "ST_MPOLYFROMWKB", "ST_NUMGEOMETRIES",
		"ST_NUMINTERIORRINGS", "ST_NUMPOINTS", "ST_OVERLAPS", "ST_POINTFROMGEOHASH",
		"ST_POINTFROMTEXT", "ST_POINTFROMWKB", "ST_POINTN", "ST_POINTONSURFACE",
		"ST_POLYFROMTEXT", "ST_POLYFROMWKB", "ST_POLYGONFROMTEXT", "ST_POLYGONFROMWKB",
		"ST_RELATE", "ST_SIMPLIFY", "ST_SRID", "ST_STARTPOINT", "ST_SYMDIFFERENCE",
		"ST_TOUCHES", "ST_UNION", "ST_VALIDATE", "ST_WITHIN", "ST_X", "ST_Y",
	}},
	{fnVolatile, []string{
		// clocks and randomness: fine on a replica, but not replayable in SET
		"CURDATE", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURTIME",
		"LOCALTIME", "LOCALTIMESTAMP", "NOW", "SYSDATE", "UNIX_TIMESTAMP", "UTC_DATE",
		"UTC_TIME", "UTC_TIMESTAMP", "RAND", "RANDOM_BYTES", "UUID", "UUID_SHORT",
		"SYS_GUID",
		// waits: long, but read nothing and write nothing
		"SLEEP", "BENCHMARK", "MASTER_GTID_WAIT", "MASTER_POS_WAIT",
	}},
	{fnPrevious, []string{"FOUND_ROWS", "ROW_COUNT"}},
	{fnLastInsertID, []string{"LAST_INSERT_ID"}},
	{fnConn, []string{
		// per-connection or per-server answers that belong to the primary
		"CONNECTION_ID", "LASTVAL", "IS_FREE_LOCK", "IS_USED_LOCK", "LOAD_FILE",
		"BINLOG_GTID_POS",
	}},
	{fnLock, []string{"GET_LOCK"}},
	{fnRelease, []string{"RELEASE_LOCK"}},
	{fnReleaseAll, []string{"RELEASE_ALL_LOCKS"}},
	{fnWrite, []string{"NEXTVAL", "SETVAL"}},
}

// wordKind says what an unquoted word means when it is not followed by '('.
type wordKind uint8

const (
	wOther         wordKind = iota
	wWrite                  // a statement verb or clause that only writes or locks
	wSet                    // SET: a write unless in CHARACTER SET
	wInto                   // INTO: SELECT ... INTO writes a file or variables
	wFor                    // FOR: FOR SHARE locks
	wNext                   // NEXT VALUE FOR seq writes
	wPrevious               // PREVIOUS VALUE FOR seq reads per-connection state
	wSelect                 // SELECT: a subquery
	wSeqCurr                // seq.CURRVAL, seq.LASTVAL
	wCalcFoundRows          // SQL_CALC_FOUND_ROWS: FOUND_ROWS() will ask for the count
)

// words classifies words that matter to the scan when they are not calls.
var words = map[string]wordKind{
	"SET": wSet, "INTO": wInto, "FOR": wFor, "NEXT": wNext, "PREVIOUS": wPrevious,
	"SELECT": wSelect, "CURRVAL": wSeqCurr, "LASTVAL": wSeqCurr,
	"SQL_CALC_FOUND_ROWS": wCalcFoundRows,
}

// writeWords are the words that mark a statement as not a pure read wherever
// they appear as code.
var writeWords = [...]string{
	"ALTER", "ANALYZE", "CALL", "CREATE", "DEALLOCATE", "DELETE", "DO", "DROP",
	"EXECUTE", "FLUSH", "GRANT", "HANDLER", "INSERT", "KILL", "LOAD", "LOCK", "NEXTVAL",
	"OPTIMIZE", "PREPARE", "PURGE", "RENAME", "REPAIR", "REPLACE", "REVOKE", "SETVAL",
	"TRUNCATE", "UNLOCK", "UPDATE",
}

// varClass says where a read of a system variable must run.
type varClass uint8

const (
	varAny      varClass = iota // session or configuration value: any replayed connection
	varPrevious                 // about the connection's previous statement
	varServer                   // per-server state; the primary's answer is wanted
	varConn                     // per-connection state that lives on the primary
)

// sysVars classifies the system variables whose reads are not varAny.
// Reads of @@global.x are varServer whatever x is.
var sysVars = map[string]varClass{
	"WARNING_COUNT": varPrevious, "ERROR_COUNT": varPrevious,
	"IDENTITY": varPrevious, "LAST_INSERT_ID": varPrevious,

	"READ_ONLY": varServer, "INNODB_READ_ONLY": varServer,
	"GTID_CURRENT_POS": varServer, "GTID_BINLOG_POS": varServer,
	"GTID_BINLOG_STATE": varServer, "GTID_SLAVE_POS": varServer, "LOG_BIN": varServer,

	"LAST_GTID": varConn, "IN_TRANSACTION": varConn, "PSEUDO_THREAD_ID": varConn,
}

func init() {
	for _, g := range fnNames {
		for _, n := range g.names {
			functions[n] = g.class
		}
	}
	for _, w := range writeWords {
		words[w] = wWrite
	}
}

// lookupFn returns the class of a call of name.
func lookupFn(name string) fnClass {
	var buf [32]byte
	u := upper(buf[:], name)
	if u == nil {
		return fnUnknown
	}
	return functions[string(u)]
}

// lookupWord returns the kind of the bare word w.
func lookupWord(w string) wordKind {
	if len(w) < 2 || len(w) > len("SQL_CALC_FOUND_ROWS") { // the shortest and longest words
		return wOther
	}
	var buf [len("SQL_CALC_FOUND_ROWS")]byte
	u := upper(buf[:], w)
	return words[string(u)]
}

// lookupVar returns the class of a system variable name (without scope).
func lookupVar(name string) varClass {
	var buf [32]byte
	u := upper(buf[:], name)
	if u == nil {
		return varAny
	}
	return sysVars[string(u)]
}
