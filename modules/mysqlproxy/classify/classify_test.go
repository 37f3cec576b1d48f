package classify

import (
	"fmt"
	"testing"
)

// ansi and nbe are the non-default tokeniser options used by test rows.
var (
	ansi = Options{AnsiQuotes: true}
	nbe  = Options{NoBackslashEscapes: true}
)

// testCase is one statement and its expected classification. Read is implied
// for the Replica and Previous routes, unless a hint moved a StoredFunc read.
type testCase struct {
	sql   string
	route Route
	flags Flags
	opt   Options
	hint  Hint
	db    string
	// charset and kill are Result.Charset and Result.Kill.
	charset string
	kill    KillTarget
}

// corpus holds every row of the tricky-statement corpus (reference/mysql.md
// §3.2), numbered as there, and then our own cases.
var corpus = []testCase{
	// §3.2 corpus.
	{sql: "SELECT * FROM t WHERE id=1", route: Replica},                                                       // 1
	{sql: "select *\nfrom t\nwhere id=1\nFOR UPDATE", route: Primary},                                         // 2
	{sql: "SELECT * FROM t WHERE id=1 LOCK IN SHARE MODE", route: Primary},                                    // 4
	{sql: "SELECT * FROM t WHERE id=1 FOR SHARE", route: Primary},                                             // 5
	{sql: "SET autocommit=0; SELECT * FROM t FOR UPDATE", route: Primary, flags: Multi | Autocommit | Pin},    // 7
	{sql: "SELECT * FROM t INTO OUTFILE '/tmp/x'", route: Primary},                                            // 9
	{sql: "SELECT GET_LOCK('k', 10)", route: Primary, flags: Pin | NamedLock},                                 // 10
	{sql: "SELECT RELEASE_LOCK('k')", route: Primary},                                                         // 10
	{sql: "SELECT RELEASE_ALL_LOCKS()", route: Primary, flags: ReleaseNamedLocks},                             // 10
	{sql: "SELECT LAST_INSERT_ID()", route: Previous, flags: LastInsertID},                                    // 13
	{sql: "INSERT INTO t VALUES (1); SELECT LAST_INSERT_ID()", route: Primary, flags: Multi | LastInsertID},   // 15
	{sql: "SELECT NEXTVAL(s)", route: Primary},                                                                // 16
	{sql: "SELECT NEXT VALUE FOR s", route: Primary},                                                          // 16
	{sql: "SELECT s.nextval", route: Primary},                                                                 // 16
	{sql: "SELECT SETVAL(s, 100)", route: Primary},                                                            // 18
	{sql: "SELECT @@global.read_only", route: Primary, flags: Read},                                           // 20
	{sql: "SHOW VARIABLES LIKE 'read_only'", route: Primary, flags: Read},                                     // 20
	{sql: "SELECT @@hostname, @@server_id", route: Replica},                                                   // 21: E, prefer R
	{sql: "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci", route: Session, flags: Charset, charset: "utf8mb4"}, // 24
	{sql: "SET SESSION sql_mode='ANSI_QUOTES'", route: Session, flags: SQLMode},                               // 25
	{sql: "SET SESSION time_zone='+00:00'", route: Session},                                                   // 26
	{sql: "SET autocommit=0", route: Session, flags: Autocommit},                                              // 28
	{sql: "SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE", route: Session},                             // 30
	{sql: "SET GLOBAL max_connections=500", route: Primary},                                                   // 31
	{sql: "SET sql_log_bin=0", route: Primary, flags: Pin},                                                    // 32
	{sql: "USE db2", route: Session, flags: UseDB, db: "db2"},                                                 // 35
	{sql: "CREATE TEMPORARY TABLE tmp (i int)", route: Primary, flags: Pin},                                   // 36
	// 37: the classifier cannot know tmp is temporary; the pin set by row 36
	// keeps the session on the primary.
	{sql: "SELECT * FROM tmp JOIN t USING (i)", route: Replica},                                                           // 37
	{sql: "LOCK TABLES t READ", route: Primary, flags: Pin | LockTables},                                                  // 39
	{sql: "UNLOCK TABLES", route: Primary, flags: UnlockTables},                                                           // 39
	{sql: "FLUSH TABLES WITH READ LOCK", route: Primary, flags: Pin | LockTables},                                         // 40
	{sql: "CALL p(1)", route: Primary},                                                                                    // 42
	{sql: "SELECT * FROM v_calls_func", route: Replica},                                                                   // 44: accepted risk
	{sql: "PREPARE s FROM 'SELECT 1'", route: Session},                                                                    // 45
	{sql: "EXECUTE s", route: Primary},                                                                                    // 46
	{sql: "EXECUTE s USING @a", route: Primary},                                                                           // 46
	{sql: "DEALLOCATE PREPARE s", route: Session},                                                                         // 47
	{sql: "BEGIN", route: Primary, flags: BeginTx},                                                                        // 50
	{sql: "BEGIN WORK", route: Primary, flags: BeginTx},                                                                   // 50
	{sql: "START TRANSACTION", route: Primary, flags: BeginTx},                                                            // 50
	{sql: "START TRANSACTION READ ONLY", route: Replica, flags: BeginReadOnlyTx},                                          // 51
	{sql: "COMMIT", route: Primary, flags: EndTx},                                                                         // 51
	{sql: "SAVEPOINT a", route: Primary},                                                                                  // 53
	{sql: "ROLLBACK TO SAVEPOINT a", route: Primary},                                                                      // 53
	{sql: "RELEASE SAVEPOINT a", route: Primary},                                                                          // 53
	{sql: "CREATE TABLE t2 (i int)", route: Primary},                                                                      // 56
	{sql: "WITH c AS (SELECT 1) SELECT * FROM c", route: Replica},                                                         // 57
	{sql: "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n+1 FROM r WHERE n < 10) SELECT * FROM r", route: Replica}, // 59
	{sql: "/* leading */ UPDATE t SET a=1", route: Primary},                                                               // 60
	{sql: "-- c\nDELETE FROM t", route: Primary},                                                                          // 61
	{sql: "# c\nINSERT INTO t VALUES (1)", route: Primary},                                                                // 61
	{sql: "/* frontdesk:primary */ SELECT * FROM t", route: Primary, flags: Read, hint: HintPrimary},                      // 65 (our spelling)
	{sql: "-- maxscale route to master\nSELECT * FROM t", route: Primary, flags: Read, hint: HintPrimary},                 // 65
	{sql: "(SELECT 1) UNION (SELECT 2)", route: Replica},                                                                  // 66
	{sql: "  \n\tSeLeCt 1;", route: Replica},                                                                              // 67
	{sql: `SELECT 'UPDATE t SET a=1', "DELETE"`, route: Replica},                                                          // 68
	{sql: "SELECT `update` FROM `delete`", route: Replica},                                                                // 70
	{sql: "INSERT INTO t SELECT * FROM u", route: Primary},                                                                // 71
	{sql: "REPLACE INTO t VALUES (1)", route: Primary},                                                                    // 73
	{sql: "INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a=VALUES(a)", route: Primary},                                 // 73
	{sql: "LOAD DATA LOCAL INFILE 'f' INTO TABLE t", route: Primary},                                                      // 74
	{sql: "EXPLAIN SELECT * FROM t", route: Replica},                                                                      // 75
	{sql: "EXPLAIN FORMAT=JSON SELECT * FROM t", route: Replica},                                                          // 75
	{sql: "ANALYZE SELECT * FROM t", route: Replica},                                                                      // 77
	{sql: "ANALYZE TABLE t", route: Primary},                                                                              // 79
	{sql: "OPTIMIZE TABLE t", route: Primary},                                                                             // 79
	{sql: "REPAIR TABLE t", route: Primary},                                                                               // 79
	{sql: "SHOW TABLES", route: Replica},                                                                                  // 80
	{sql: "SHOW CREATE TABLE t", route: Replica},                                                                          // 80
	{sql: "SHOW MASTER STATUS", route: Primary, flags: Read},                                                              // 82
	{sql: "SHOW BINLOG STATUS", route: Primary, flags: Read},                                                              // 82
	{sql: "SHOW REPLICA STATUS", route: Replica},                                                                          // 83
	{sql: "SHOW ALL SLAVES STATUS", route: Replica},                                                                       // 83
	{sql: "SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 10", route: Replica, flags: CalcFoundRows},                           // 86
	{sql: "SELECT FOUND_ROWS()", route: Previous},                                                                         // 86
	{sql: "SELECT MASTER_GTID_WAIT('0-1-100', 1)", route: Replica},                                                        // 89
	{sql: "SELECT @@gtid_current_pos", route: Primary, flags: Read},                                                       // 90
	{sql: "/* frontdesk:replica */ SELECT @@gtid_current_pos", route: Replica, flags: Read, hint: HintReplica},            // 90 as hinted
	{sql: "TABLE t", route: Replica},                                                                                      // 92
	{sql: "SELECT SLEEP(5)", route: Replica},                                                                              // 93
	{sql: "SELECT BENCHMARK(1000000, MD5('x'))", route: Replica},                                                          // 93
	{sql: "GRANT SELECT ON db.* TO u", route: Primary},                                                                    // 94
	{sql: "CREATE USER u IDENTIFIED BY 'x'", route: Primary},                                                              // 94
	{sql: "SET PASSWORD FOR u = PASSWORD('x')", route: Primary},                                                           // 94
	{sql: "CHANGE MASTER TO MASTER_HOST='h'", route: Primary},                                                             // 96
	{sql: "START SLAVE", route: Primary},                                                                                  // 96
	{sql: "STOP REPLICA", route: Primary},                                                                                 // 96
	{sql: "SELECT * FROM t PARTITION (p0) WHERE a=1", route: Replica},                                                     // 98

	// Comments in odd places.
	{sql: "SELECT /* FOR UPDATE */ 1", route: Replica},
	{sql: "SELECT 1 # FOR UPDATE", route: Replica},
	{sql: "SELECT 1 -- FOR UPDATE", route: Replica},
	{sql: "SELECT 1 --FOR UPDATE", route: Primary}, // "--" without a space is two minus signs
	{sql: "SELECT a --1\nFROM t", route: Replica},
	{sql: "SELECT 1 --\tx\n", route: Replica},
	{sql: "SELECT * FROM t FOR /* c */ UPDATE", route: Primary},
	{sql: "SELECT * FROM t FOR UPDATE /* trailing */", route: Primary},
	{sql: "SELECT * FROM t FOR UPDATE NOWAIT", route: Primary},
	{sql: "SELECT * FROM t FOR UPDATE SKIP LOCKED", route: Primary},
	{sql: "SELECT * FROM t FOR UPDATE WAIT 5", route: Primary},
	{sql: "SELECT * FROM t\n  LOCK\n  IN SHARE MODE", route: Primary},
	{sql: "/* a */ /* b */ -- c\n# d\nSELECT 1", route: Replica},
	{sql: "/* unterminated SELECT 1", route: Primary},
	{sql: "/**/SELECT 1/**/", route: Replica},
	{sql: "SELECT 1 /*!50000 FOR UPDATE */", route: Primary},
	{sql: "SELECT 1 /*!FOR UPDATE*/", route: Primary},
	{sql: "SELECT 1 /*M!100100 FOR UPDATE */", route: Primary},
	{sql: "/*!40101 SET NAMES utf8 */", route: Session, flags: Charset, charset: "utf8"},
	{sql: "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */", route: Session},
	{sql: "/*!50000 SELECT */ 1", route: Replica},
	{sql: "/*!99999 DELETE FROM t */ SELECT 1", route: Primary}, // content counts as code even when the version is too high
	{sql: "SELECT 1 /*! # */ FOR UPDATE", route: Primary},       // a line comment ends at */ inside an executable comment
	{sql: "SELECT /*+ MAX_EXECUTION_TIME(1) */ * FROM t", route: Replica},
	{sql: "SELECT 1.5FOR UPDATE", route: Primary},
	{sql: "SELECT 1e5FOR UPDATE", route: Primary},
	{sql: "SELECT .5FOR UPDATE", route: Primary},
	{sql: "SELECT 1for FROM t", route: Replica}, // "1for" is an identifier
	{sql: "SELECT t.1e5 FROM t", route: Replica},

	// Quoting.
	{sql: `SELECT 'it''s', "say ""hi""" FROM t`, route: Replica},
	{sql: `SELECT 'a\' FOR UPDATE -- '`, route: Replica},
	{sql: `SELECT 'a\' FOR UPDATE -- '`, route: Primary, opt: nbe},
	{sql: `SELECT "a\" FOR UPDATE -- "`, route: Primary, opt: nbe},
	{sql: `SELECT "update" FROM t`, route: Replica, opt: ansi},
	{sql: `SELECT "f"(1)`, route: Primary, flags: StoredFunc, opt: ansi},
	{sql: `SELECT "f"(1)`, route: Replica},
	{sql: "SELECT `f`(1)", route: Primary, flags: StoredFunc},
	{sql: "SELECT `a``b` FROM `t``u` WHERE `for` = 'update'", route: Replica},
	{sql: "SELECT * FROM `select` WHERE `lock` = 1", route: Replica},
	{sql: "SELECT _utf8mb4'x' COLLATE utf8mb4_bin, N'y', X'41', B'1', 0x41", route: Replica},
	{sql: "SELECT @`update`, @'delete', @\"insert\" FROM t", route: Replica},
	{sql: "SELECT 'unterminated FOR UPDATE", route: Replica},
	{sql: "SELECT CAST(a AS CHAR CHARACTER SET utf8mb4) FROM t", route: Replica},

	// Keywords and case.
	{sql: "sElEcT * fRoM t WhErE a = 1 fOr UpDaTe", route: Primary},
	{sql: "select count(*), max(id), group_concat(name order by name separator ',') from t group by g having count(*) > 1", route: Replica},
	{sql: "SELECT a FROM t ORDER BY a DESC LIMIT 10 OFFSET 5", route: Replica},
	{sql: "SELECT * FROM t1 LEFT JOIN t2 ON (t1.a = t2.a) WHERE t2.b IN (SELECT b FROM t3) AND EXISTS (SELECT 1 FROM t4)", route: Replica},
	{sql: "SELECT * FROM t FORCE INDEX (i) WHERE a BETWEEN 1 AND 2", route: Replica},
	{sql: "SELECT * FROM t USE INDEX FOR JOIN (i)", route: Replica},
	{sql: "SELECT ROW_NUMBER() OVER (PARTITION BY a ORDER BY b) FROM t", route: Replica},
	{sql: "SELECT * FROM t FOR SYSTEM_TIME AS OF TIMESTAMP '2020-01-01 00:00:00'", route: Replica},
	{sql: "SELECT CASE WHEN a THEN (1) ELSE (2) END FROM t", route: Replica},
	{sql: "SELECT REPLACE(a, 'x', 'y'), INSERT(a, 1, 2, 'z'), TRUNCATE(1.5, 0) FROM t", route: Replica},
	{sql: "SELECT JSON_SET(j, '$.a', 1), JSON_EXTRACT(j, '$.a') FROM t", route: Replica},
	{sql: "SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (x INT PATH '$', y VARCHAR(10) PATH '$')) AS jt", route: Replica},
	{sql: "SELECT SUBSTRING(a FROM 1 FOR 2), TRIM(LEADING 'x' FROM a), EXTRACT(YEAR FROM d) FROM t", route: Replica},
	{sql: "SELECT NOW(), CURRENT_TIMESTAMP, UUID(), RAND() FROM DUAL", route: Replica},
	{sql: "SELECT 1 FROM DUAL", route: Replica},
	{sql: "SELECT 1", route: Replica},
	{sql: "SELECT CONNECTION_ID()", route: Primary, flags: Read | ConnectionID},
	{sql: "SELECT LAST_INSERT_ID(42)", route: Primary},
	{sql: "SELECT ROW_COUNT()", route: Previous},
	{sql: "SELECT LASTVAL(s)", route: Primary, flags: Read},
	{sql: "SELECT PREVIOUS VALUE FOR s", route: Primary, flags: Read},
	{sql: "SELECT s.currval", route: Primary, flags: Read},
	{sql: "SELECT IS_USED_LOCK('k')", route: Primary, flags: Read},
	{sql: "SELECT LOAD_FILE('/etc/passwd')", route: Primary, flags: Read},
	{sql: "SELECT my_func(a) FROM t", route: Primary, flags: StoredFunc},
	{sql: "SELECT db.concat(a) FROM t", route: Primary, flags: StoredFunc},
	{sql: "SELECT my_func (a) FROM t", route: Primary, flags: StoredFunc},
	{sql: "/* frontdesk:replica */ SELECT my_func(a) FROM t", route: Replica, flags: StoredFunc, hint: HintReplica},
	{sql: "SELECT my_func(a) FROM t /* frontdesk:replica */", route: Replica, flags: StoredFunc, hint: HintReplica},
	{sql: "/* frontdesk:replica */ SELECT * FROM t FOR UPDATE", route: Primary, hint: HintReplica},
	{sql: "/* frontdesk:replica */ UPDATE t SET a = 1", route: Primary, hint: HintReplica},
	{sql: "/* frontdesk:replica */ SELECT GET_LOCK('a', 1)", route: Primary, flags: Pin | NamedLock, hint: HintReplica},
	{sql: "/* frontdesk:replica */ SELECT LAST_INSERT_ID()", route: Previous, flags: LastInsertID, hint: HintReplica},
	{sql: "/* frontdesk:replica */ SELECT CONNECTION_ID()", route: Primary, flags: Read | ConnectionID, hint: HintReplica},
	{sql: "/* FRONTDESK:PRIMARY */ SELECT LAST_INSERT_ID()", route: Primary, flags: Read | LastInsertID, hint: HintPrimary},
	{sql: "/* frontdesk:primary */ /* frontdesk:replica */ SELECT 1", route: Primary, flags: Read, hint: HintPrimary},
	{sql: "/* frontdesk:replica */ SET NAMES utf8", route: Session, flags: Charset, hint: HintReplica, charset: "utf8"},
	{sql: "/* frontdesk: replica */ SELECT f(1)", route: Primary, flags: StoredFunc},
	{sql: "SELECT '/* frontdesk:replica */', f(1)", route: Primary, flags: StoredFunc},
	{sql: "SELECT @@warning_count", route: Previous},
	{sql: "SELECT @@session.error_count", route: Previous},
	{sql: "SELECT @@identity", route: Previous, flags: LastInsertID},
	{sql: "SELECT @@LAST_INSERT_ID", route: Previous, flags: LastInsertID},
	{sql: "SELECT @@session.tx_read_only, @@autocommit, @@sql_mode", route: Replica},
	{sql: "SELECT @@global.max_connections", route: Primary, flags: Read},
	{sql: "SELECT @@last_gtid", route: Primary, flags: Read},
	{sql: "SELECT @@in_transaction", route: Primary, flags: Read},
	{sql: "SELECT @a, @b + 1", route: Replica},
	{sql: "SELECT @rownum := @rownum + 1 FROM t", route: Primary, flags: Pin},
	{sql: "SELECT a INTO @x FROM t LIMIT 1", route: Primary, flags: Pin},
	{sql: "SELECT a FROM t INTO DUMPFILE '/tmp/x'", route: Primary},
	{sql: "SELECT * FROM t WHERE a = (SELECT MAX(a) FROM t)", route: Replica},
	{sql: "VALUES (1), (2)", route: Replica},
	{sql: "VALUES (1), (2) ORDER BY 1 LIMIT 1", route: Replica},
	{sql: "((SELECT 1))", route: Replica},
	{sql: "(SELECT * FROM t FOR UPDATE)", route: Primary},
	{sql: "WITH c AS (SELECT 1) DELETE FROM t WHERE a IN (SELECT * FROM c)", route: Primary},
	{sql: "WITH c AS (SELECT 1) UPDATE t SET a = 1", route: Primary},
	{sql: "WITH c (x, y) AS (SELECT 1, 2) SELECT x FROM c", route: Replica},
	{sql: "WITH `c` AS (SELECT 1), d AS (SELECT 2) SELECT * FROM c, d", route: Replica},
	{sql: "WITH c AS (SELECT f(1)) SELECT * FROM c", route: Primary, flags: StoredFunc},
	{sql: "WITH c AS (SELECT * FROM t FOR UPDATE) SELECT * FROM c", route: Primary},
	{sql: "WITH RECURSIVE c (n) AS (SELECT 1 UNION SELECT n + 1 FROM c WHERE n < 3) CYCLE n RESTRICT SELECT * FROM c", route: Replica},
	{sql: "WITH c AS (SELECT 1) INSERT INTO t SELECT * FROM c", route: Primary},
	{sql: "DELETE FROM t WHERE id = 1 RETURNING id", route: Primary},
	{sql: "INSERT INTO t (a) VALUES (1) RETURNING id", route: Primary},

	{sql: "SELECT a FROM t WINDOW w AS (ORDER BY a)", route: Replica},
	{sql: "SELECT * FROM t WHERE MATCH (a, b) AGAINST ('x' IN BOOLEAN MODE)", route: Replica},
	{sql: "SELECT CONVERT('x' USING utf8mb4), CAST(x AS UNSIGNED), CAST(x AS DECIMAL(10,2)), CAST(x AS TIME(3))", route: Replica},
	{sql: "SELECT * FROM t1 LEFT JOIN (t2 JOIN t3 ON t2.a = t3.a) ON t1.a = t2.a", route: Replica},
	{sql: "SELECT a FROM t UNION ALL (SELECT b FROM u)", route: Replica},
	{sql: "SELECT * FROM t WHERE (a, b) IN ((1, 2)) AND ROW(1, 2) = ROW(a, b)", route: Replica},
	{sql: "SELECT a, SUM(b) FROM t GROUP BY a WITH ROLLUP", route: Replica},
	{sql: "SELECT * FROM t ORDER BY a FETCH FIRST 10 ROWS ONLY", route: Replica},
	{sql: "SELECT * FROM t WHERE d > DATE_SUB(NOW(), INTERVAL 1 HOUR)", route: Replica},
	{sql: "SELECT MAX(a) OVER (PARTITION BY b RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM t", route: Replica},
	{sql: "SELECT * FROM t FOR SYSTEM_TIME BETWEEN (NOW() - INTERVAL 1 YEAR) AND NOW()", route: Replica},
	{sql: "SELECT a FROM t INTERSECT SELECT a FROM u EXCEPT SELECT a FROM v", route: Replica},

	// EXPLAIN, DESCRIBE, ANALYZE.
	{sql: "EXPLAIN EXTENDED SELECT 1", route: Replica},
	{sql: "EXPLAIN UPDATE t SET a = 1", route: Primary, flags: Read},
	{sql: "EXPLAIN SELECT f(1)", route: Primary},
	{sql: "EXPLAIN SELECT * FROM t FOR UPDATE", route: Primary, flags: Read},
	{sql: "EXPLAIN ANALYZE SELECT * FROM t", route: Replica},
	{sql: "EXPLAIN ANALYZE DELETE FROM t", route: Primary},
	{sql: "ANALYZE FORMAT=JSON SELECT * FROM t", route: Replica},
	{sql: "ANALYZE DELETE FROM t", route: Primary},
	{sql: "ANALYZE SELECT GET_LOCK('a', 1)", route: Primary, flags: Pin | NamedLock},
	{sql: "ANALYZE NO_WRITE_TO_BINLOG TABLE t", route: Primary},
	{sql: "ANALYZE; SELECT 1", route: Primary, flags: Multi},
	{sql: "SET STATEMENT a = 1 FOR; SELECT 1", route: Primary, flags: Multi},
	{sql: "DESCRIBE t", route: Replica},
	{sql: "DESC t a", route: Replica},
	{sql: "EXPLAIN t", route: Replica},
	{sql: "EXPLAIN FOR CONNECTION 12", route: Primary, flags: Read},

	// SHOW.
	{sql: "SHOW FULL TABLES FROM db LIKE 'a%'", route: Replica},
	{sql: "SHOW COLUMNS FROM t", route: Replica},
	{sql: "SHOW FULL COLUMNS FROM t", route: Replica},
	{sql: "SHOW INDEX FROM t", route: Replica},
	{sql: "SHOW TABLE STATUS LIKE 't'", route: Replica},
	{sql: "SHOW DATABASES", route: Replica},
	{sql: "SHOW CHARACTER SET", route: Replica},
	{sql: "SHOW COLLATION WHERE Charset = 'utf8mb4'", route: Replica},
	{sql: "SHOW GRANTS FOR CURRENT_USER()", route: Replica},
	{sql: "SHOW CREATE PROCEDURE p", route: Replica},
	{sql: "SHOW SLAVE STATUS", route: Replica},
	{sql: "SHOW SLAVE 'conn1' STATUS", route: Replica},
	{sql: "SHOW SLAVE HOSTS", route: Primary, flags: Read},
	{sql: "SHOW BINARY LOGS", route: Primary, flags: Read},
	{sql: "SHOW PROCESSLIST", route: Primary, flags: Read},
	{sql: "SHOW FULL PROCESSLIST", route: Primary, flags: Read},
	{sql: "SHOW SESSION STATUS", route: Primary, flags: Read},
	{sql: "SHOW GLOBAL STATUS LIKE 'Threads%'", route: Primary, flags: Read},
	{sql: "SHOW VARIABLES", route: Primary, flags: Read},
	{sql: "SHOW ENGINE INNODB STATUS", route: Primary, flags: Read},
	{sql: "SHOW OPEN TABLES", route: Primary, flags: Read},
	{sql: "SHOW WARNINGS", route: Previous},
	{sql: "SHOW ERRORS LIMIT 1", route: Previous},
	{sql: "SHOW COUNT(*) WARNINGS", route: Previous},
	{sql: "SHOW TABLES WHERE f(Tables_in_db)", route: Primary, flags: StoredFunc},
	{sql: "SHOW", route: Primary},
	{sql: "/* frontdesk:replica */ SHOW PROCESSLIST", route: Replica, flags: Read, hint: HintReplica},
	{sql: "/* frontdesk:primary */ SHOW TABLES", route: Primary, flags: Read, hint: HintPrimary},
	{sql: "GET DIAGNOSTICS CONDITION 1 @p = MESSAGE_TEXT", route: Previous},

	// SET.
	{sql: "SET @a = 1", route: Session},
	{sql: "SET @a := 'x', @b = @a", route: Session},
	{sql: "SET @@autocommit := 0", route: Session, flags: Autocommit},
	{sql: "SET @@session.autocommit = ON", route: Session, flags: Autocommit},
	{sql: "SET autocommit = 1", route: Session, flags: Autocommit},
	{sql: "SET AUTOCOMMIT=false", route: Session, flags: Autocommit},
	{sql: "SET autocommit = @x", route: Session, flags: Autocommit},
	{sql: "SET autocommit='OFF'", route: Session, flags: Autocommit},
	{sql: "SET autocommit='off'", route: Session, flags: Autocommit},
	{sql: "SET autocommit=00", route: Session, flags: Autocommit},
	{sql: "SET autocommit=(0)", route: Session, flags: Autocommit},
	{sql: "SET autocommit=@@autocommit*0", route: Session, flags: Autocommit},
	{sql: "SET @@local.autocommit=0", route: Session, flags: Autocommit},
	{sql: "SET SESSION autocommit=0", route: Session, flags: Autocommit},
	{sql: "SET LOCAL autocommit=0", route: Session, flags: Autocommit},
	{sql: "SET /*!autocommit*/=0", route: Session, flags: Autocommit},
	{sql: "SET @x=1, autocommit=0", route: Primary, flags: Autocommit | Pin},
	{sql: "SET autocommit=0, sql_mode=''", route: Primary, flags: Autocommit | SQLMode | Pin},
	{sql: "SET SESSION session_track_system_variables=''", route: Session, flags: SessionTrack},
	{sql: "SET @@session_track_state_change=OFF", route: Session, flags: SessionTrack},
	{sql: "SET GLOBAL session_track_state_change=OFF", route: Primary},
	{sql: "SET NAMES gbk", route: Session, flags: Charset, charset: "gbk"},
	{sql: "SET NAMES 'SJIS' COLLATE 'sjis_bin'", route: Session, flags: Charset, charset: "sjis"},
	{sql: "SET CHARACTER SET big5", route: Session, flags: Charset, charset: "big5"},
	{sql: "SET CHARSET \"cp932\"", route: Session, flags: Charset, charset: "cp932"},
	{sql: "SET character_set_client = gb18030", route: Session, flags: Charset, charset: "gb18030"},
	{sql: "SET @@session.character_set_client = @cs", route: Session, flags: Charset},
	{sql: "SET NAMES CONCAT('g', 'bk')", route: Session, flags: Charset},
	{sql: "SET NAMES utf8mb4, @a = 1", route: Session, flags: Charset, charset: "utf8mb4"},
	{sql: "SET GLOBAL autocommit = 0", route: Primary},
	{sql: "SET SESSION sql_log_bin = 0", route: Primary, flags: Pin},
	{sql: "SET @@sql_log_bin = 1", route: Primary, flags: Pin},
	{sql: "SET names utf8mb4", route: Session, flags: Charset, charset: "utf8mb4"},
	{sql: "SET NAMES 'utf8' COLLATE 'utf8_general_ci', @a = 1", route: Session, flags: Charset, charset: "utf8"},
	{sql: "SET CHARACTER SET utf8", route: Session, flags: Charset, charset: "utf8"},
	{sql: "SET CHARSET DEFAULT", route: Session, flags: Charset, charset: "default"},
	{sql: "SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')", route: Session, flags: SQLMode},
	{sql: "SET @@session.sql_mode = @@global.sql_mode", route: Session, flags: SQLMode},
	{sql: "SET GLOBAL sql_mode = ''", route: Primary},
	{sql: "SET @@global.max_connections = 10", route: Primary},
	{sql: "SET GLOBAL a = 1, b = 2", route: Primary},
	{sql: "SET GLOBAL a = 1, SESSION b = 2", route: Primary, flags: Pin},
	{sql: "SET @@global.a = 1, @x = 2", route: Primary, flags: Pin},
	{sql: "SET TRANSACTION ISOLATION LEVEL READ COMMITTED", route: Primary, flags: NextTransaction},
	{sql: "SET TRANSACTION READ ONLY, ISOLATION LEVEL SERIALIZABLE", route: Primary, flags: NextTransaction},
	{sql: "SET GLOBAL TRANSACTION ISOLATION LEVEL READ COMMITTED", route: Primary},
	{sql: "SET ROLE r", route: Session},
	{sql: "SET DEFAULT ROLE r FOR u", route: Primary},
	{sql: "SET @a = (SELECT MAX(id) FROM t)", route: Primary, flags: Pin},
	{sql: "SET @a = NOW()", route: Primary, flags: Pin},
	{sql: "SET @id = LAST_INSERT_ID()", route: Primary, flags: Pin | LastInsertID},
	{sql: "SET @a = NEXTVAL(s)", route: Primary, flags: Pin},
	{sql: "SET @a = f(1)", route: Primary, flags: Pin},
	{sql: "SET @a = GET_LOCK('x', 1)", route: Primary, flags: Pin | NamedLock},
	{sql: "SET @a = CONCAT('x', UPPER('y'))", route: Session},
	{sql: "SET @p = @@gtid_current_pos", route: Primary, flags: Pin},
	{sql: "SET time_zone = 'UTC', max_statement_time = 10", route: Session},
	{sql: "SET STATEMENT max_statement_time = 10 FOR SELECT * FROM t", route: Replica},
	{sql: "SET STATEMENT max_statement_time = 10 FOR SELECT * FROM t FOR UPDATE", route: Primary},
	{sql: "SET STATEMENT sql_log_bin = 0 FOR DELETE FROM t", route: Primary},
	{sql: "SET STATEMENT a = 1 FOR SET @b = 2", route: Primary},
	{sql: "SET", route: Primary},
	{sql: "SET @a", route: Primary},
	{sql: "SET `sql_log_bin` = 0", route: Primary, flags: Pin},

	// Session commands and transactions.
	{sql: "USE `my db`", route: Session, flags: UseDB, db: "my db"},
	{sql: "USE `a``b`;", route: Session, flags: UseDB, db: "a`b"},
	{sql: `USE "ansi"`, route: Session, flags: UseDB, db: "ansi", opt: ansi},
	{sql: "use /* c */ db1 -- x", route: Session, flags: UseDB, db: "db1"},
	{sql: "USE", route: Primary},
	{sql: "USE a b", route: Primary},
	{sql: "PREPARE s FROM @sql", route: Session},
	{sql: "DROP PREPARE s", route: Session},
	{sql: "EXECUTE IMMEDIATE 'SELECT 1'", route: Primary},
	{sql: "begin;", route: Primary, flags: BeginTx},
	{sql: "START TRANSACTION WITH CONSISTENT SNAPSHOT", route: Primary, flags: BeginTx},
	{sql: "START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT", route: Replica, flags: BeginReadOnlyTx},
	{sql: "START TRANSACTION READ WRITE", route: Primary, flags: BeginTx},
	{sql: "COMMIT WORK", route: Primary, flags: EndTx},
	{sql: "COMMIT AND CHAIN", route: Primary, flags: EndTx | BeginTx},
	{sql: "COMMIT AND NO CHAIN NO RELEASE", route: Primary, flags: EndTx},
	{sql: "ROLLBACK", route: Primary, flags: EndTx},
	{sql: "ROLLBACK WORK TO s1", route: Primary},
	{sql: "XA START 'x'", route: Primary, flags: Pin},
	{sql: "HANDLER t OPEN", route: Primary, flags: Pin},
	{sql: "LOCK TABLE t WRITE", route: Primary, flags: Pin | LockTables},
	{sql: "UNLOCK TABLE", route: Primary, flags: UnlockTables},
	{sql: "FLUSH TABLES t FOR EXPORT", route: Primary, flags: Pin | LockTables},
	{sql: "FLUSH PRIVILEGES", route: Primary},
	{sql: "BACKUP LOCK t", route: Primary, flags: Pin | LockTables},
	{sql: "BACKUP UNLOCK", route: Primary, flags: UnlockTables},
	{sql: "DO GET_LOCK('a', 1)", route: Primary, flags: Pin | NamedLock},
	{sql: "DO RELEASE_ALL_LOCKS()", route: Primary, flags: ReleaseNamedLocks},
	{sql: "DO 1", route: Primary},
	{sql: "KILL QUERY 12", route: Primary, flags: Kill, kill: KillTarget{ID: 12, Query: true}},
	{sql: "CREATE OR REPLACE TEMPORARY TABLE t AS SELECT 1", route: Primary, flags: Pin},
	{sql: "CREATE TEMPORARY SEQUENCE s", route: Primary, flags: Pin},
	{sql: "DROP TEMPORARY TABLE t", route: Primary},
	{sql: "TRUNCATE TABLE t", route: Primary},
	{sql: "RENAME TABLE a TO b", route: Primary},
	{sql: "ALTER TABLE t ADD COLUMN c INT", route: Primary},
	{sql: "REVOKE ALL ON *.* FROM u", route: Primary},

	// Compound statements and multi-statements.
	{sql: "BEGIN NOT ATOMIC SELECT 1; SELECT 2; END", route: Primary, flags: Pin | Multi},
	{sql: "IF 1 THEN SELECT 1; END IF", route: Primary, flags: Pin | Multi},
	{sql: "lbl: LOOP LEAVE lbl; END LOOP", route: Primary, flags: Pin | Multi},
	{sql: "CREATE PROCEDURE p() BEGIN UNLOCK TABLES; COMMIT; END", route: Primary, flags: Multi},
	{sql: "CREATE DEFINER=`u`@`%` FUNCTION f() RETURNS INT RETURN 1", route: Primary},
	{sql: "SELECT 1; SELECT 2", route: Replica, flags: Multi},
	{sql: "SELECT 1;;", route: Replica},
	{sql: "SELECT 1; ", route: Replica},
	{sql: "SELECT 1; -- done", route: Replica},
	{sql: "SELECT 1; SHOW WARNINGS", route: Previous, flags: Multi},
	{sql: "SELECT 1; UPDATE t SET a = 1", route: Primary, flags: Multi},
	{sql: "SET NAMES utf8; SET @a = 1", route: Session, flags: Multi | Charset, charset: "utf8"},
	{sql: "SET NAMES utf8; SELECT 1", route: Primary, flags: Multi | Pin | Charset, charset: "utf8"},
	{sql: "USE a; USE b", route: Session, flags: Multi | UseDB, db: "b"},
	{sql: "BEGIN; SELECT 1; COMMIT", route: Primary, flags: Multi | BeginTx | EndTx},
	{sql: "SELECT f(1); SELECT 2", route: Primary, flags: Multi | StoredFunc},
	{sql: "/* frontdesk:replica */ SELECT f(1); SELECT @@global.x", route: Replica, flags: Multi | StoredFunc, hint: HintReplica},
	{sql: "/* frontdesk:replica */ SELECT f(1); UPDATE t SET a = 1", route: Primary, flags: Multi | StoredFunc, hint: HintReplica},
	{sql: "SELECT ';' ; SELECT \";\"", route: Replica, flags: Multi},
	{sql: "SELECT 1 /*!; DELETE FROM t */", route: Primary, flags: Multi},

	// Found by TestClassifyFragments.
	{sql: "START TRANSACTION READ ONLY LOCK", route: Primary, flags: BeginTx},
	{sql: "SET DO = 1", route: Primary},
	{sql: "SET CREATE.x = 1", route: Primary},
	{sql: "SELECT 1 FROM t WHERE a = UPDATE (1)", route: Primary},
	{sql: "/* frontdesk:replica */ SELECT x.GET_LOCK('a', 1)", route: Primary, flags: Pin | NamedLock, hint: HintReplica},
	{sql: "DEALLOCATE PREPARE s FOR UPDATE", route: Primary},
	{sql: "/*! # frontdesk:replica */ SELECT f(1)", route: Primary, flags: StoredFunc},

	// Issue: the lexer under ANSI_QUOTES and NO_BACKSLASH_ESCAPES.
	{sql: "SELECT 1 AS \"a\\\"; DELETE FROM t WHERE id = 1; -- \"", route: Replica},
	{sql: "SELECT 1 AS \"a\\\"; DELETE FROM t WHERE id = 1; -- \"", route: Primary, flags: Multi, opt: ansi},
	{sql: "SELECT 'a\\'; DELETE FROM t; -- '", route: Replica},
	{sql: "SELECT 'a\\'; DELETE FROM t; -- '", route: Primary, flags: Multi, opt: nbe},

	{sql: "SET STATEMENT sql_mode='ANSI_QUOTES' FOR SELECT 1 AS \"a\\\"; DELETE FROM t; -- \"", route: Primary},
	{sql: "SET STATEMENT @@session.character_set_client=gbk FOR SELECT 1", route: Primary},
	{sql: "SET STATEMENT max_statement_time=1 FOR SELECT 1", route: Replica},

	// KILL, CONNECTION_ID(), LAST_INSERT_ID().
	{sql: "KILL 42", route: Primary, flags: Kill, kill: KillTarget{ID: 42}},
	{sql: "kill connection 7", route: Primary, flags: Kill, kill: KillTarget{ID: 7}},
	{sql: "KILL HARD QUERY 9", route: Primary, flags: Kill, kill: KillTarget{ID: 9, Query: true}},
	{sql: "KILL SOFT 3;", route: Primary, flags: Kill, kill: KillTarget{ID: 3}},
	{sql: "KILL QUERY ID 5", route: Primary, flags: Kill, kill: KillTarget{Query: true}},
	{sql: "KILL USER app", route: Primary, flags: Kill},
	{sql: "KILL 99999999999999999999999", route: Primary, flags: Kill},
	{sql: "KILL 1; SELECT 1", route: Primary, flags: Kill | Multi, kill: KillTarget{ID: 1}},
	{sql: "SELECT CONNECTION_ID()", route: Primary, flags: Read | ConnectionID},
	{sql: "SELECT db.CONNECTION_ID()", route: Primary, flags: Read},
	{sql: "SELECT LAST_INSERT_ID()", route: Previous, flags: LastInsertID},
	{sql: "SELECT @@identity", route: Previous, flags: LastInsertID},
	{sql: "SELECT @@session.last_insert_id, 1", route: Previous, flags: LastInsertID},
	{sql: "SELECT FOUND_ROWS()", route: Previous},

	// Empty and junk.
	{sql: "", route: Primary},
	{sql: "   ", route: Primary},
	{sql: "/* only a comment */", route: Primary},
	{sql: ";", route: Primary},
	{sql: "()", route: Primary},
	{sql: "42", route: Primary},
	{sql: "HELLO WORLD", route: Primary},
	{sql: "SELECT 1 FROM t WHERE a = '\x00' AND b = 2", route: Replica},
	{sql: "SELECT 1 # \x00 FOR UPDATE", route: Primary}, // a line comment ends at NUL
}

func TestClassify(t *testing.T) {
	if len(corpus) < 150 {
		t.Fatalf("corpus has %d rows, want at least 150", len(corpus))
	}
	for _, tc := range corpus {
		got := Classify(tc.sql, tc.opt)
		got.Variable = "" // TestVariable
		want := Result{Route: tc.route, Flags: tc.flags, Hint: tc.hint, DB: tc.db, Charset: tc.charset, Kill: tc.kill}
		if (tc.route == Replica || tc.route == Previous) && tc.flags&StoredFunc == 0 {
			want.Flags |= Read
		}
		if got != want {
			t.Errorf("Classify(%q, %+v)\n got: %s\nwant: %s", tc.sql, tc.opt, describe(got), describe(want))
		}
	}
}

// describe renders a Result for test failure messages.
func describe(r Result) string {
	s := r.Route.String()
	names := [...]string{"Multi", "Read", "StoredFunc", "Pin", "LockTables", "UnlockTables",
		"NamedLock", "ReleaseNamedLocks", "BeginTx", "BeginReadOnlyTx", "EndTx",
		"Autocommit", "UseDB", "SQLMode", "SessionTrack", "Charset", "LastInsertID", "ConnectionID", "Kill", "CalcFoundRows", "NextTransaction"}
	for i, n := range names {
		if r.Flags&(1<<i) != 0 {
			s += " " + n
		}
	}
	if r.Hint != NoHint {
		s += " hint=" + [...]string{"", "primary", "replica"}[r.Hint]
	}
	if r.DB != "" {
		s += " db=" + r.DB
	}
	if r.Charset != "" {
		s += " charset=" + r.Charset
	}
	if r.Kill != (KillTarget{}) {
		s += fmt.Sprintf(" kill=%+v", r.Kill)
	}
	return s
}

func TestFunctionClassesDisjoint(t *testing.T) {
	seen := map[string]fnClass{}
	for _, g := range fnNames {
		for _, n := range g.names {
			if c, ok := seen[n]; ok {
				t.Errorf("function %s listed in classes %d and %d", n, c, g.class)
			}
			seen[n] = g.class
		}
	}
}

func TestRouteString(t *testing.T) {
	for r, want := range map[Route]string{Primary: "primary", Replica: "replica", Session: "session", Previous: "previous", 9: "unknown"} {
		if got := r.String(); got != want {
			t.Errorf("Route(%d).String() = %q, want %q", r, got, want)
		}
	}
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	for _, sql := range benchStatements {
		if n := testing.AllocsPerRun(100, func() { Classify(sql, Options{}) }); n != 0 {
			t.Errorf("Classify(%q) allocates %.0f times", sql, n)
		}
	}
}

func TestReplaceConnectionID(t *testing.T) {
	for _, tc := range []struct {
		sql, want string
		opt       Options
	}{
		{"SELECT CONNECTION_ID()", "SELECT 17", Options{}},
		{"select connection_id ( ) AS id, 'CONNECTION_ID()' , `CONNECTION_ID()`", "select 17 AS id, 'CONNECTION_ID()' , `CONNECTION_ID()`", Options{}},
		{"SELECT /*! CONNECTION_ID() */ -- CONNECTION_ID()\n", "SELECT /*! 17 */ -- CONNECTION_ID()\n", Options{}},
		{"SELECT db.CONNECTION_ID(), CONNECTION_ID(1)", "", Options{}},
		{"SELECT \"CONNECTION_ID()\", CONNECTION_ID()", "SELECT \"CONNECTION_ID()\", 17", Options{AnsiQuotes: true}},
		{"SELECT 'a\\', CONNECTION_ID()", "", Options{}},
		{"SELECT 'a\\', CONNECTION_ID()", "SELECT 'a\\', 17", Options{NoBackslashEscapes: true}},
	} {
		got, ok := ReplaceConnectionID(tc.sql, tc.opt, 17)
		if tc.want == "" {
			if ok || got != tc.sql {
				t.Errorf("ReplaceConnectionID(%q) = %q, %v; want it unchanged", tc.sql, got, ok)
			}
			continue
		}
		if !ok || got != tc.want {
			t.Errorf("ReplaceConnectionID(%q) = %q, %v; want %q", tc.sql, got, ok, tc.want)
		}
	}
}

func TestVariable(t *testing.T) {
	for sql, want := range map[string]string{
		"SET @x = 5":                                 "@x",
		"SET @X := 'a'":                              "@X",
		"SET sql_mode = 'ANSI'":                      "sql_mode",
		"SET SESSION time_zone = '+00:00'":           "time_zone",
		"SET @@session.wait_timeout = 10":            "wait_timeout",
		"SET @@Time_Zone = SYSTEM":                   "Time_Zone",
		"SET @x = @x + 1":                            "",
		"SET @x = 1, @y = 2":                         "",
		"SET @`x` = 1":                               "",
		"SET time_zone = @tz":                        "",
		"SET NAMES utf8":                             "",
		"SET @x = 1; SET @y = 2":                     "",
		"SET sql_mode = CONCAT(@@sql_mode, ',ANSI')": "",
	} {
		if got := Classify(sql, Options{}).Variable; got != want {
			t.Errorf("Classify(%q).Variable = %q, want %q", sql, got, want)
		}
	}
}
