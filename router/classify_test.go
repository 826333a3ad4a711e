package router

import (
	"testing"
)

// Shorthands for the common verdicts.
var (
	cRead   = Class{Kind: KindRead}
	cReadM  = Class{Kind: KindRead, Master: true}
	cShow   = Class{Kind: KindShow}
	cShowM  = Class{Kind: KindShow, Master: true}
	cWrite  = Class{Kind: KindWrite, Master: true}
	cDDL    = Class{Kind: KindDDL, Master: true}
	cOther  = Class{Kind: KindOther, Master: true}
	cBegin  = Class{Kind: KindTxBegin, Master: true}
	cCommit = Class{Kind: KindTxCommit}
	cRollbk = Class{Kind: KindTxRollback}
)

func with(c Class, f func(*Class)) Class {
	f(&c)
	return c
}

func TestClassify(t *testing.T) {
	tests := []struct {
		sql  string
		want Class
	}{
		// Plain reads, whitespace, comments, case, parentheses.
		{"SELECT 1", cRead},
		{"select * from t where id = 1", cRead},
		{"  \n\tSELECT 1  \n", cRead},
		{"SELECT 1;", cRead},
		{"SELECT 1 ;  -- done", cRead},
		{"((SELECT 1))", cRead},
		{"(SELECT a FROM t) UNION (SELECT a FROM u)", cRead},
		{"/* leading */ SELECT 1", cRead},
		{"-- comment\nSELECT 1", cRead},
		{"# comment\nSELECT 1", cRead},
		{"SELECT 1 -- trailing", cRead},
		{"SELECT 1 # trailing", cRead},
		{"SELECT 1--1", cRead},
		{"SeLeCt `update` FROM `delete`", cRead},
		{"SELECT 'DELETE FROM t; UPDATE' FROM t", cRead},
		{"SELECT 'it''s; DROP TABLE t' FROM t", cRead},
		{`SELECT "x; INSERT INTO t VALUES (1)"`, cRead},
		{"SELECT `a``b; insert` FROM t", cRead},
		{"SELECT /* FOR UPDATE */ a FROM t", cRead},
		{"SELECT a FROM t -- FOR UPDATE", cRead},
		{"SELECT sleep(1)", cRead},
		{"SELECT COUNT(*) FROM wp_posts WHERE post_status = 'publish'", cRead},
		{"SELECT c FROM sbtest1 WHERE id BETWEEN 1 AND 100 ORDER BY c", cRead},
		{"SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN ? AND ?", cRead},
		{"TABLE t", cRead},
		{"VALUES ROW(1, 2)", cRead},
		{"SELECT * FROM t FOR SYSTEM_TIME AS OF TIMESTAMP '2020-01-01'", cRead},
		{"SELECT x'0F', 0x1F, 1.5e-3, .5, N'abc', _utf8mb4'x' COLLATE utf8mb4_bin", cRead},
		{"SELECT * FROM t WHERE a IN (SELECT b FROM u WHERE c = 'for update')", cRead},
		{"SELECT a.update FROM t a", cRead},
		{"SELECT @@session.sql_mode, @@max_allowed_packet", cRead},
		{"SELECT @@tx_isolation", cRead},
		{"SELECT CONNECTION_ID()", cRead},

		// CTEs.
		{"WITH c AS (SELECT 1) SELECT * FROM c", cRead},
		{"WITH RECURSIVE c (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5) SELECT * FROM c", cRead},
		{"WITH a AS (SELECT 1), b AS (SELECT 2) SELECT * FROM a, b", cRead},
		{"WITH c AS (SELECT 1) (SELECT * FROM c)", cRead},
		{"WITH c AS (SELECT id FROM t) UPDATE t SET x = 1 WHERE id IN (SELECT id FROM c)", cWrite},
		{"WITH c AS (SELECT id FROM t) DELETE FROM t WHERE id IN (SELECT id FROM c)", cWrite},
		{"WITH c AS (SELECT 1) SELECT * FROM c FOR UPDATE", with(cReadM, func(c *Class) { c.Locking = true })},
		{"WITH c AS (SELECT GET_LOCK('x', 1)) SELECT * FROM c", with(cReadM, func(c *Class) { c.Pin = PinGetLock })},
		{"WITH", cOther},

		// Locking reads.
		{"SELECT * FROM t WHERE id = 1 FOR UPDATE", with(cReadM, func(c *Class) { c.Locking = true })},
		{"select * from t for update nowait", with(cReadM, func(c *Class) { c.Locking = true })},
		{"SELECT * FROM t FOR UPDATE SKIP LOCKED", with(cReadM, func(c *Class) { c.Locking = true })},
		{"SELECT * FROM t FOR SHARE", with(cReadM, func(c *Class) { c.Locking = true })},
		{"SELECT * FROM t LOCK IN SHARE MODE", with(cReadM, func(c *Class) { c.Locking = true })},
		{"SELECT * FROM t WHERE id = 1 FOR UPDATE WAIT 5", with(cReadM, func(c *Class) { c.Locking = true })},
		{"(SELECT * FROM t FOR UPDATE)", with(cReadM, func(c *Class) { c.Locking = true })},
		{"SELECT * FROM t /*!50000 FOR UPDATE */", with(cReadM, func(c *Class) { c.Locking = true })},

		// INTO.
		{"SELECT a INTO @x FROM t", with(cReadM, func(c *Class) { c.Pin = PinUserVar })},
		{"SELECT a, b INTO @x, @y FROM t", with(cReadM, func(c *Class) { c.Pin = PinUserVar })},
		{"SELECT a FROM t INTO @x", with(cReadM, func(c *Class) { c.Pin = PinUserVar })},
		{"SELECT * FROM t INTO OUTFILE '/tmp/x'", cReadM},
		{"SELECT * FROM t INTO DUMPFILE '/tmp/x'", cReadM},
		{"SELECT a INTO v FROM t", cReadM},

		// User variables.
		{"SELECT @x", with(cRead, func(c *Class) { c.ReadsUserVar = true })},
		{"SELECT * FROM t WHERE id = @id", with(cRead, func(c *Class) { c.ReadsUserVar = true })},
		{"SELECT @x := 1", with(cReadM, func(c *Class) { c.Pin = PinUserVar })},
		{"SELECT @rownum := @rownum + 1 AS r FROM t", with(cReadM, func(c *Class) { c.Pin = PinUserVar; c.ReadsUserVar = true })},
		{"SELECT @`my var`, @'x', @\"y\"", with(cRead, func(c *Class) { c.ReadsUserVar = true })},
		{"UPDATE t SET a = @x := a + 1", with(cWrite, func(c *Class) { c.Pin = PinUserVar })},

		// Functions with side effects or session meaning.
		{"SELECT GET_LOCK('lock1', 10)", with(cReadM, func(c *Class) { c.Pin = PinGetLock })},
		{"select get_lock ('x', 0)", with(cReadM, func(c *Class) { c.Pin = PinGetLock })},
		{"SELECT RELEASE_LOCK('lock1')", cReadM},
		{"SELECT RELEASE_ALL_LOCKS()", with(cReadM, func(c *Class) { c.Unpin = PinGetLock })},
		{"SELECT IS_FREE_LOCK('x')", cReadM},
		{"SELECT IS_USED_LOCK('x')", cReadM},
		{"DO GET_LOCK('x', 1)", Class{Kind: KindDo, Master: true, Pin: PinGetLock}},
		{"DO RELEASE_LOCK('x')", Class{Kind: KindDo, Master: true}},
		{"SELECT LAST_INSERT_ID()", cReadM},
		{"SELECT last_insert_id() /* sy:replica */", with(cRead, func(c *Class) { c.Hint = HintReplica })},
		{"SELECT @@last_insert_id", cReadM},
		{"SELECT @@identity", cReadM},
		{"SELECT @@global.read_only", cReadM},
		{"SELECT @@read_only", cReadM},
		{"SELECT @@last_gtid", cReadM},
		{"SELECT @@gtid_current_pos", cReadM},
		{"SELECT NEXTVAL(s)", cReadM},
		{"SELECT NEXT VALUE FOR s", cReadM},
		{"SELECT SETVAL(s, 100)", cReadM},
		{"SELECT LASTVAL(s)", cReadM},
		{"SELECT PREVIOUS VALUE FOR s", cReadM},
		{"SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 10", with(cReadM, func(c *Class) { c.Pin = PinFoundRows })},
		{"SELECT FOUND_ROWS()", with(cRead, func(c *Class) { c.Sticky = true })},
		{"SELECT ROW_COUNT()", with(cRead, func(c *Class) { c.Sticky = true })},
		{"SELECT @@warning_count", with(cRead, func(c *Class) { c.Sticky = true })},
		{"SELECT MASTER_POS_WAIT('log.000001', 4)", cReadM},
		{"SELECT MASTER_GTID_WAIT('0-1-100', 1)", cReadM},
		{"SELECT WAIT_FOR_EXECUTED_GTID_SET('uuid:1-5')", cReadM},
		{"SELECT MASTER_GTID_WAIT('0-1-100') -- sy:replica", with(cRead, func(c *Class) { c.Hint = HintReplica })},

		// Writes.
		{"INSERT INTO t VALUES (1)", cWrite},
		{"insert into t (a, b) values (1, 'x'), (2, 'y')", cWrite},
		{"INSERT INTO t SELECT * FROM u", cWrite},
		{"INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a)", cWrite},
		{"INSERT INTO t VALUES (1) RETURNING id", cWrite},
		{"DELETE FROM t WHERE id = 1 RETURNING *", cWrite},
		{"REPLACE INTO t VALUES (1)", cWrite},
		{"UPDATE t SET a = 1 WHERE id = 2", cWrite},
		{"DELETE FROM t WHERE id = 2", cWrite},
		{"DELETE t1, t2 FROM t1 JOIN t2 ON t1.id = t2.id", cWrite},
		{"LOAD DATA LOCAL INFILE '/tmp/x' INTO TABLE t", cWrite},
		{"LOAD XML INFILE 'x.xml' INTO TABLE t", cWrite},
		{"LOAD INDEX INTO CACHE t", cDDL},
		{"INSERT INTO t VALUES (LAST_INSERT_ID())", cWrite},
		{"/*!40000 ALTER TABLE `t` DISABLE KEYS */", cDDL},
		{"INSERT /*+ SET_VAR(x=1) */ INTO t VALUES (1)", cWrite},

		// DDL and admin.
		{"CREATE TABLE t (id INT PRIMARY KEY)", cDDL},
		{"CREATE TEMPORARY TABLE tmp (id INT)", with(cDDL, func(c *Class) { c.Pin = PinTempTable })},
		{"create or replace temporary table tmp (id int)", with(cDDL, func(c *Class) { c.Pin = PinTempTable })},
		{"CREATE TEMPORARY TABLE tmp SELECT * FROM t", with(cDDL, func(c *Class) { c.Pin = PinTempTable })},
		{"DROP TEMPORARY TABLE tmp", cDDL},
		{"DROP TABLE IF EXISTS t", cDDL},
		{"ALTER TABLE t ADD COLUMN c INT", cDDL},
		{"RENAME TABLE a TO b", cDDL},
		{"TRUNCATE TABLE t", cDDL},
		{"TRUNCATE t", cDDL},
		{"GRANT SELECT ON db.* TO 'u'@'%'", cDDL},
		{"REVOKE ALL ON *.* FROM u", cDDL},
		{"ANALYZE TABLE t", cDDL},
		{"OPTIMIZE TABLE t", cDDL},
		{"REPAIR TABLE t", cDDL},
		{"CHECK TABLE t", cDDL},
		{"FLUSH PRIVILEGES", cDDL},
		{"FLUSH TABLES WITH READ LOCK", with(cDDL, func(c *Class) { c.Pin = PinLockTables })},
		{"CREATE PROCEDURE p() BEGIN SELECT 1; INSERT INTO t VALUES (1); END", cDDL},
		{"CREATE DEFINER=`root`@`localhost` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1", cDDL},
		{"CREATE SEQUENCE s START WITH 1", cDDL},
		{"PURGE BINARY LOGS TO 'x'", cOther},
		{"RESET MASTER", cOther},
		{"STOP SLAVE", cOther},
		{"START SLAVE", cOther},
		{"CHANGE MASTER TO MASTER_HOST='x'", cOther},
		{"SHUTDOWN", cOther},
		{"BINLOG 'abc'", cOther},
		{"INSTALL PLUGIN x SONAME 'y'", cOther},

		// Explain, show, describe.
		{"EXPLAIN SELECT * FROM t", cShow},
		{"EXPLAIN UPDATE t SET a = 1", cShow},
		{"EXPLAIN DELETE FROM t", cShow},
		{"EXPLAIN FORMAT=JSON SELECT * FROM t FOR UPDATE", cShow},
		{"EXPLAIN SELECT GET_LOCK('x', 1)", cShow},
		{"EXPLAIN ANALYZE SELECT * FROM t", cRead},
		{"EXPLAIN ANALYZE SELECT * FROM t FOR UPDATE", with(cReadM, func(c *Class) { c.Locking = true })},
		{"ANALYZE SELECT * FROM t", cRead},
		{"ANALYZE FORMAT=JSON UPDATE t SET a = 1", cWrite},
		{"ANALYZE DELETE FROM t", cWrite},
		{"DESCRIBE t", cShow},
		{"DESC t", cShow},
		{"SHOW TABLES", cShow},
		{"SHOW FULL TABLES FROM db LIKE 'x%'", cShow},
		{"SHOW CREATE TABLE t", cShow},
		{"SHOW VARIABLES LIKE 'sql_mode'", cShow},
		{"SHOW SESSION STATUS", cShow},
		{"SHOW GLOBAL VARIABLES", cShow},
		{"SHOW MASTER STATUS", cShowM},
		{"SHOW SLAVE STATUS", cShowM},
		{"SHOW REPLICA STATUS", cShowM},
		{"SHOW ALL SLAVES STATUS", cShowM},
		{"SHOW BINARY LOGS", cShowM},
		{"SHOW BINLOG EVENTS", cShowM},
		{"SHOW FULL PROCESSLIST", cShowM},
		{"SHOW SLAVE HOSTS", cShowM},
		{"SHOW MASTER STATUS /* sy:replica */", with(cShow, func(c *Class) { c.Hint = HintReplica })},
		{"SHOW WARNINGS", with(cShow, func(c *Class) { c.Sticky = true })},
		{"SHOW ERRORS LIMIT 1", with(cShow, func(c *Class) { c.Sticky = true })},
		{"SHOW COUNT(*) WARNINGS", with(cShow, func(c *Class) { c.Sticky = true })},
		{"GET DIAGNOSTICS @n = NUMBER", with(cShow, func(c *Class) { c.Sticky = true; c.Pin = PinUserVar; c.Master = true })},
		{"HELP 'select'", cShow},

		// Transactions.
		{"BEGIN", cBegin},
		{"begin work", cBegin},
		{"BEGIN;", cBegin},
		{"START TRANSACTION", cBegin},
		{"START TRANSACTION READ WRITE", cBegin},
		{"START TRANSACTION WITH CONSISTENT SNAPSHOT", cBegin},
		{"START TRANSACTION READ ONLY", Class{Kind: KindTxBeginReadOnly}},
		{"START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", Class{Kind: KindTxBeginReadOnly}},
		{"COMMIT", cCommit},
		{"commit work", cCommit},
		{"COMMIT AND CHAIN", with(cCommit, func(c *Class) { c.Chain = true })},
		{"COMMIT AND NO CHAIN", cCommit},
		{"COMMIT RELEASE", cOther},
		{"COMMIT NO RELEASE", cCommit},
		{"ROLLBACK", cRollbk},
		{"ROLLBACK WORK AND CHAIN", with(cRollbk, func(c *Class) { c.Chain = true })},
		{"ROLLBACK TO SAVEPOINT sp1", Class{Kind: KindTxSavepoint, Name: "sp1"}},
		{"ROLLBACK TO sp1", Class{Kind: KindTxSavepoint, Name: "sp1"}},
		{"SAVEPOINT `my sp`", Class{Kind: KindTxSavepoint, Name: "my sp"}},
		{"RELEASE SAVEPOINT sp1", Class{Kind: KindTxSavepoint, Name: "sp1"}},
		{"BEGIN NOT ATOMIC SELECT 1; SELECT 2; END", cOther},
		{"XA START 'x'", Class{Kind: KindXA, Master: true, Pin: PinXA}},
		{"XA END 'x'", Class{Kind: KindXA, Master: true}},
		{"XA COMMIT 'x'", Class{Kind: KindXA, Master: true, Unpin: PinXA}},

		// SET.
		{"SET autocommit=0", Class{Kind: KindSet, Autocommit: ToggleOff, Replay: "SET autocommit=0"}},
		{"SET autocommit = 1", Class{Kind: KindSet, Autocommit: ToggleOn, Replay: "SET autocommit = 1"}},
		{"set AUTOCOMMIT=off", Class{Kind: KindSet, Autocommit: ToggleOff, Replay: "set AUTOCOMMIT=off"}},
		{"SET @@autocommit = ON;", Class{Kind: KindSet, Autocommit: ToggleOn, Replay: "SET @@autocommit = ON"}},
		{"SET @@session.autocommit=TRUE", Class{Kind: KindSet, Autocommit: ToggleOn, Replay: "SET @@session.autocommit=TRUE"}},
		{"SET SESSION autocommit = FALSE", Class{Kind: KindSet, Autocommit: ToggleOff, Replay: "SET SESSION autocommit = FALSE"}},
		{"SET LOCAL autocommit='OFF'", Class{Kind: KindSet, Autocommit: ToggleOff, Replay: "SET LOCAL autocommit='OFF'"}},
		{"/* x */ SET autocommit=1 /* y */", Class{Kind: KindSet, Autocommit: ToggleOn, Replay: "SET autocommit=1"}},
		{"SET autocommit = @x", Class{Kind: KindSet, Master: true, Pin: PinState, ReadsUserVar: true}},
		{"SET autocommit = 1 + 0", Class{Kind: KindSet, Master: true, Pin: PinState}},
		{"SET GLOBAL autocommit = 0", Class{Kind: KindSet, Master: true}},
		{"SET NAMES utf8mb4", Class{Kind: KindSet, Replay: "SET NAMES utf8mb4"}},
		{"SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'", Class{Kind: KindSet, Replay: "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'"}},
		{"SET CHARACTER SET utf8", Class{Kind: KindSet, Replay: "SET CHARACTER SET utf8"}},
		{"SET CHARSET latin1", Class{Kind: KindSet, Replay: "SET CHARSET latin1"}},
		{"SET sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_DATE'", Class{Kind: KindSet, Replay: "SET sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_DATE'"}},
		{"SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_ENGINE_SUBSTITUTION'), time_zone = '+00:00'", Class{Kind: KindSet, Replay: "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_ENGINE_SUBSTITUTION'), time_zone = '+00:00'"}},
		{"SET NAMES utf8mb4, autocommit = 0", Class{Kind: KindSet, Autocommit: ToggleOff, Replay: "SET NAMES utf8mb4, autocommit = 0"}},
		{"SET @@SESSION.sql_mode = 'ANSI'", Class{Kind: KindSet, Replay: "SET @@SESSION.sql_mode = 'ANSI'"}},
		{"SET @@local.wait_timeout = 100", Class{Kind: KindSet, Replay: "SET @@local.wait_timeout = 100"}},
		{"SET GLOBAL max_connections = 1000", Class{Kind: KindSet, Master: true}},
		{"SET @@global.read_only = 1", Class{Kind: KindSet, Master: true}},
		{"SET PERSIST max_connections = 10", Class{Kind: KindSet, Master: true}},
		{"SET GLOBAL a = 1, SESSION b = 2", Class{Kind: KindSet, Master: true, Pin: PinState}},
		{"SET GLOBAL a = 1, b = 2", Class{Kind: KindSet, Master: true}},
		{"SET @x = 1", Class{Kind: KindSet, Master: true, Pin: PinUserVar}},
		{"SET @x := 1, @y = 2", Class{Kind: KindSet, Master: true, Pin: PinUserVar}},
		{"SET @x = 1, sql_mode = ''", Class{Kind: KindSet, Master: true, Pin: PinUserVar | PinState}},
		{"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;", Class{Kind: KindSet, Master: true, Pin: PinUserVar}},
		{"/*!40101 SET NAMES utf8mb4 */;", Class{Kind: KindSet, Replay: "SET NAMES utf8mb4"}},
		{"/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;", Class{Kind: KindSet, Master: true, Pin: PinState, ReadsUserVar: true}},
		{"SET TRANSACTION ISOLATION LEVEL READ COMMITTED", Class{Kind: KindSet, Master: true, NextTx: true}},
		{"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", Class{Kind: KindSet, Replay: "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"}},
		{"SET GLOBAL TRANSACTION ISOLATION LEVEL SERIALIZABLE", Class{Kind: KindSet, Master: true}},
		{"SET SESSION TRANSACTION READ ONLY, ISOLATION LEVEL REPEATABLE READ", Class{Kind: KindSet, Replay: "SET SESSION TRANSACTION READ ONLY, ISOLATION LEVEL REPEATABLE READ"}},
		{"SET PASSWORD FOR u = PASSWORD('x')", cDDL},
		{"SET DEFAULT ROLE r FOR u", cDDL},
		{"SET ROLE r", Class{Kind: KindSet, Replay: "SET ROLE r"}},
		{"SET STATEMENT max_statement_time=1 FOR SELECT * FROM t", cRead},
		{"SET STATEMENT max_statement_time=1 FOR UPDATE t SET a = 1", cWrite},
		{"SET x", Class{Kind: KindSet, Master: true, Pin: PinState}},
		{"SET", Class{Kind: KindSet}},
		{"SET @x = GET_LOCK('a', 1)", Class{Kind: KindSet, Master: true, Pin: PinUserVar | PinGetLock}},

		// USE, PREPARE, EXECUTE, DEALLOCATE.
		{"USE db1", Class{Kind: KindUse, Name: "db1"}},
		{"use `my-db`", Class{Kind: KindUse, Name: "my-db"}},
		{"USE `a``b`;", Class{Kind: KindUse, Name: "a`b"}},
		{"USE", cOther},
		{"PREPARE s1 FROM 'SELECT ?'", Class{Kind: KindPrepare, Master: true, Pin: PinPrepare, Name: "s1"}},
		{"PREPARE s1 FROM @sql", Class{Kind: KindPrepare, Master: true, Pin: PinPrepare, Name: "s1", ReadsUserVar: true}},
		{"EXECUTE s1 USING @a, @b", Class{Kind: KindExecute, Master: true, Name: "s1", ReadsUserVar: true}},
		{"EXECUTE IMMEDIATE 'SELECT 1'", Class{Kind: KindExecute, Master: true}},
		{"DEALLOCATE PREPARE s1", Class{Kind: KindDeallocate, Master: true, Unpin: PinPrepare, Name: "s1"}},
		{"DROP PREPARE s1", Class{Kind: KindDeallocate, Master: true, Unpin: PinPrepare, Name: "s1"}},

		// LOCK, HANDLER, CALL, DO, KILL.
		{"LOCK TABLES t READ, u WRITE", Class{Kind: KindLockTables, Master: true, Pin: PinLockTables}},
		{"LOCK TABLE t WRITE", Class{Kind: KindLockTables, Master: true, Pin: PinLockTables}},
		{"UNLOCK TABLES", Class{Kind: KindUnlockTables, Master: true, Unpin: PinLockTables}},
		{"LOCK INSTANCE FOR BACKUP", cOther},
		{"HANDLER t OPEN", Class{Kind: KindHandler, Master: true, Pin: PinHandler}},
		{"HANDLER t READ FIRST", Class{Kind: KindHandler, Master: true}},
		{"HANDLER t CLOSE", Class{Kind: KindHandler, Master: true, Unpin: PinHandler}},
		{"CALL p(1, @out)", Class{Kind: KindCall, Master: true, ReadsUserVar: true}},
		{"DO SLEEP(1)", Class{Kind: KindDo, Master: true}},
		{"KILL 42", Class{Kind: KindKill, Master: true, KillID: 42}},
		{"KILL CONNECTION 42", Class{Kind: KindKill, Master: true, KillID: 42}},
		{"kill query 7;", Class{Kind: KindKill, Master: true, KillID: 7, KillQuery: true}},
		{"KILL HARD QUERY 7", Class{Kind: KindKill, Master: true, KillID: 7, KillQuery: true}},
		{"KILL QUERY ID 7", Class{Kind: KindKill, Master: true, KillQuery: true}},
		{"KILL USER bob", Class{Kind: KindKill, Master: true}},
		{"KILL 42 43", Class{Kind: KindKill, Master: true}},

		// Hints.
		{"/* switchyard:master */ SELECT 1", Class{Kind: KindRead, Master: true, Hint: HintMaster}},
		{"/*sy:master*/SELECT 1", Class{Kind: KindRead, Master: true, Hint: HintMaster}},
		{"/* SY:Primary */ SELECT 1", Class{Kind: KindRead, Master: true, Hint: HintMaster}},
		{"-- switchyard:replica\nSELECT 1", Class{Kind: KindRead, Hint: HintReplica}},
		{"/* sy:replica */ INSERT INTO t VALUES (1)", Class{Kind: KindWrite, Master: true, Hint: HintReplica}},
		{"/* sy:replica */ SELECT * FROM t FOR UPDATE", Class{Kind: KindRead, Master: true, Locking: true, Hint: HintReplica}},
		{"/* sy:replica */ SELECT GET_LOCK('a', 1)", Class{Kind: KindRead, Master: true, Pin: PinGetLock, Hint: HintReplica}},
		{"/* sy:replica */ /* sy:master */ SELECT 1", Class{Kind: KindRead, Master: true, Hint: HintMaster}},
		{"/* sy:master */ /* sy:replica */ SELECT 1", Class{Kind: KindRead, Master: true, Hint: HintMaster}},
		{"/* easy:master */ SELECT 1", cRead},
		{"/* sy:elsewhere */ SELECT 1", cRead},
		{"SELECT '/* sy:master */'", cRead},
		{"/*!sy:master */ SELECT 1", cOther},

		// Multi-statements.
		{"SELECT 1; SELECT 2", Class{Kind: KindRead, Multi: true}},
		{"SELECT 1; INSERT INTO t VALUES (1)", Class{Kind: KindWrite, Master: true, Multi: true}},
		{"SELECT 'a;b'; SELECT \"c;d\"", Class{Kind: KindRead, Multi: true}},
		{"SET NAMES utf8; SELECT 1", Class{Kind: KindSet, Master: true, Multi: true, Pin: PinState}},
		{"BEGIN; UPDATE t SET a = 1; COMMIT", Class{Kind: KindWrite, Master: true, Multi: true}},
		{"SELECT 1;;", cRead},
		{"SELECT 1; SELECT * FROM t FOR UPDATE", Class{Kind: KindRead, Master: true, Multi: true, Locking: true}},
		{"SET autocommit=0; SET autocommit=1", Class{Kind: KindSet, Multi: true, Master: true, Pin: PinState, Autocommit: ToggleOn}},
		{`SELECT 'a\'; DELETE FROM t; -- '`, cReadM},
		{`SELECT 'a\'b'`, cRead},

		// Account names are not user variables.
		{"CREATE USER 'app'@'%' IDENTIFIED BY 'x'", cDDL},
		{"CREATE USER app@localhost", cDDL},
		{"SELECT 'a' @x", with(cRead, func(c *Class) { c.ReadsUserVar = true })},
		{"SET autocommit = DEFAULT", Class{Kind: KindSet, Master: true, Pin: PinState}},

		// Odd input.
		{"", cOther},
		{"   ", cOther},
		{";", cOther},
		{"/* only a comment */", cOther},
		{"-- only a comment", cOther},
		{"/* unterminated", cOther},
		{"SELECT 'unterminated", cRead},
		{"FOO BAR", cOther},
		{"123", cOther},
		{"'SELECT'", cOther},
		{"SIGNAL SQLSTATE '45000'", cOther},
	}
	for _, tt := range tests {
		got := Classify(tt.sql)
		if got != tt.want {
			t.Errorf("Classify(%q)\n got %+v\nwant %+v", tt.sql, got, tt.want)
		}
	}
	t.Logf("%d cases", len(tests))
}

func TestParseKill(t *testing.T) {
	tests := []struct {
		sql   string
		id    uint64
		query bool
		ok    bool
	}{
		{"KILL 5", 5, false, true},
		{"kill connection 18446744073709551615", 18446744073709551615, false, true},
		{"KILL QUERY 9", 9, true, true},
		{"KILL SOFT CONNECTION 3", 3, false, true},
		{"/* x */ KILL 5 ; ", 5, false, true},
		{"KILL 18446744073709551616", 0, false, false},
		{"KILL 0", 0, false, false},
		{"KILL 'x'", 0, false, false},
		{"KILL QUERY ID 5", 0, false, false},
		{"KILL 5; KILL 6", 0, false, false},
		{"SELECT 5", 0, false, false},
		{"KILL -5", 0, false, false},
	}
	for _, tt := range tests {
		id, q, ok := ParseKill(tt.sql)
		if id != tt.id || q != tt.query || ok != tt.ok {
			t.Errorf("ParseKill(%q) = %d, %v, %v; want %d, %v, %v", tt.sql, id, q, ok, tt.id, tt.query, tt.ok)
		}
	}
}

func TestKindString(t *testing.T) {
	if KindRead.String() != "Read" || KindKill.String() != "Kill" || Kind(200).String() != "Kind(200)" {
		t.Errorf("Kind.String: %v %v %v", KindRead, KindKill, Kind(200))
	}
	if !KindTxSavepoint.IsTx() || KindSet.IsTx() {
		t.Error("IsTx")
	}
}
