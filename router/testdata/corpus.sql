-- Corpus for BenchmarkClassify and the differential test against the TiDB parser.
-- One statement text per line (as a client sends it in one COM_QUERY); lines starting with "-- " and blank lines are skipped.
-- sysbench oltp_read_write / oltp_point_select / oltp_insert / oltp_delete
SELECT c FROM sbtest1 WHERE id=5034
SELECT c FROM sbtest1 WHERE id BETWEEN 4980 AND 5079
SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN 5012 AND 5111
SELECT c FROM sbtest1 WHERE id BETWEEN 4990 AND 5089 ORDER BY c
SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 5001 AND 5100 ORDER BY c
UPDATE sbtest1 SET k=k+1 WHERE id=5019
UPDATE sbtest1 SET c='68487932199-96439406143-93774651418-41631865787-96406072701-20604855487-25459966574-28203206787-41238978918-19503783441' WHERE id=4997
DELETE FROM sbtest1 WHERE id=5002
INSERT INTO sbtest1 (id, k, c, pad) VALUES (5002, 4985, '22195207048-70116052123-74140395089-76317954521-98694025897-20236326727-39627808094-15302622405-37446838424-86224823236', '63188288836-92351140030-06390587585-66802097351-49282961843')
BEGIN
COMMIT
SELECT id, k FROM sbtest1 WHERE id IN (5001, 5002, 5003, 5004, 5005, 5006, 5007, 5008, 5009, 5010) FOR UPDATE
-- Rails (ActiveRecord, mysql2)
SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci,  @@SESSION.sql_mode = CONCAT(CONCAT(@@sql_mode, ',STRICT_ALL_TABLES'), ',NO_AUTO_VALUE_ON_ZERO'),  @@SESSION.sql_auto_is_null = 0, @@SESSION.wait_timeout = 2147483
SELECT `users`.* FROM `users` WHERE `users`.`id` = 1 LIMIT 1
SELECT `users`.* FROM `users` WHERE `users`.`email` = 'alice@example.com' ORDER BY `users`.`id` ASC LIMIT 1
SELECT 1 AS one FROM `users` WHERE `users`.`email` = BINARY 'bob@example.com' LIMIT 1
SELECT COUNT(*) FROM `posts` WHERE `posts`.`user_id` = 7 AND `posts`.`published` = TRUE
SELECT `posts`.* FROM `posts` INNER JOIN `taggings` ON `posts`.`id` = `taggings`.`post_id` WHERE `taggings`.`tag_id` IN (1, 2, 3) ORDER BY `posts`.`created_at` DESC LIMIT 25 OFFSET 50
INSERT INTO `users` (`email`, `name`, `created_at`, `updated_at`) VALUES ('carol@example.com', 'Carol', '2024-05-01 10:00:00.123456', '2024-05-01 10:00:00.123456')
UPDATE `users` SET `users`.`name` = 'Caroline', `users`.`updated_at` = '2024-05-01 10:01:00' WHERE `users`.`id` = 3
DELETE FROM `sessions` WHERE `sessions`.`updated_at` < '2024-04-01 00:00:00'
SELECT `schema_migrations`.`version` FROM `schema_migrations` ORDER BY `schema_migrations`.`version` ASC
SELECT `users`.* FROM `users` WHERE `users`.`id` = 5 LIMIT 1 FOR UPDATE
SELECT GET_LOCK('7340045361627815', 0)
SELECT RELEASE_LOCK('7340045361627815')
SELECT `posts`.* FROM `posts` WHERE `posts`.`id` = 1 LIMIT 1 /*application:Blog,controller:posts,action:show*/
-- Django
SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED
SELECT @@SQL_AUTO_IS_NULL
SET SQL_AUTO_IS_NULL = 0
SELECT VERSION()
SELECT `auth_user`.`id`, `auth_user`.`password`, `auth_user`.`last_login`, `auth_user`.`is_superuser`, `auth_user`.`username` FROM `auth_user` WHERE `auth_user`.`username` = 'admin' LIMIT 21
SELECT `django_session`.`session_key`, `django_session`.`session_data`, `django_session`.`expire_date` FROM `django_session` WHERE (`django_session`.`expire_date` > '2024-05-01 10:00:00.000000' AND `django_session`.`session_key` = 'abc123') LIMIT 21
INSERT INTO `django_admin_log` (`action_time`, `user_id`, `content_type_id`, `object_id`, `object_repr`, `action_flag`, `change_message`) VALUES ('2024-05-01 10:00:00', 1, 4, '12', 'Post object (12)', 2, '[]')
UPDATE `auth_user` SET `last_login` = '2024-05-01 10:00:00.000000' WHERE `auth_user`.`id` = 1
SELECT (1) AS `a` FROM `blog_entry` WHERE `blog_entry`.`id` = 3 LIMIT 1
SELECT `blog_entry`.`id`, `blog_entry`.`headline` FROM `blog_entry` WHERE `blog_entry`.`id` = 3 LIMIT 21 FOR UPDATE
SELECT `blog_entry`.`id` FROM `blog_entry` WHERE `blog_entry`.`pub_date` >= '2024-01-01' FOR UPDATE SKIP LOCKED
SAVEPOINT `s140234_x1`
RELEASE SAVEPOINT `s140234_x1`
ROLLBACK TO SAVEPOINT `s140234_x1`
SET autocommit=0
SET autocommit=1
-- Hibernate / JDBC (Connector/J)
/* mysql-connector-java-8.0.33 (Revision: 7d6b0800528b6b25c68b52dc10d6c1c8429c100c) */SELECT  @@session.auto_increment_increment AS auto_increment_increment, @@character_set_client AS character_set_client, @@character_set_connection AS character_set_connection, @@character_set_results AS character_set_results, @@character_set_server AS character_set_server, @@collation_server AS collation_server, @@init_connect AS init_connect, @@interactive_timeout AS interactive_timeout, @@license AS license, @@lower_case_table_names AS lower_case_table_names, @@max_allowed_packet AS max_allowed_packet, @@net_write_timeout AS net_write_timeout, @@performance_schema AS performance_schema, @@sql_mode AS sql_mode, @@system_time_zone AS system_time_zone, @@time_zone AS time_zone, @@transaction_isolation AS transaction_isolation, @@wait_timeout AS wait_timeout
SET character_set_results = NULL
SELECT @@session.transaction_read_only
SET SESSION TRANSACTION READ ONLY
SET SESSION TRANSACTION READ WRITE
select customer0_.id as id1_0_0_, customer0_.email as email2_0_0_, customer0_.name as name3_0_0_ from customer customer0_ where customer0_.id=42
select orders0_.customer_id as customer4_1_0_, orders0_.id as id1_1_0_, orders0_.id as id1_1_1_, orders0_.total as total2_1_1_ from orders orders0_ where orders0_.customer_id=42
insert into orders (customer_id, created, total, id) values (42, '2024-05-01 10:00:00', 19.99, 1001)
update orders set total=29.99, version=3 where id=1001 and version=2
delete from order_line where order_id=1001
select next_val as id_val from hibernate_sequence for update
update hibernate_sequence set next_val= 1002 where next_val=1001
select product0_.id as id1_2_, product0_.name as name2_2_ from product product0_ where product0_.name like '%widget%' order by product0_.name asc limit 20
select count(product0_.id) as col_0_0_ from product product0_ where product0_.price between 10 and 20
SELECT LAST_INSERT_ID()
-- WordPress
SELECT option_name, option_value FROM wp_options WHERE autoload = 'yes'
SELECT option_value FROM wp_options WHERE option_name = 'siteurl' LIMIT 1
SELECT SQL_CALC_FOUND_ROWS  wp_posts.ID FROM wp_posts  WHERE 1=1  AND wp_posts.post_type = 'post' AND (wp_posts.post_status = 'publish' OR wp_posts.post_status = 'private')  ORDER BY wp_posts.post_date DESC LIMIT 0, 10
SELECT FOUND_ROWS()
SELECT wp_posts.* FROM wp_posts WHERE ID IN (12,15,18,21)
SELECT t.*, tt.* FROM wp_terms AS t  INNER JOIN wp_term_taxonomy AS tt ON t.term_id = tt.term_id WHERE tt.taxonomy IN ('category') AND t.slug = 'news' ORDER BY t.name ASC
SELECT post_id, meta_key, meta_value FROM wp_postmeta WHERE post_id IN (12) ORDER BY meta_id ASC
INSERT INTO `wp_options` (`option_name`, `option_value`, `autoload`) VALUES ('_transient_doing_cron', '1714557600.1234', 'yes') ON DUPLICATE KEY UPDATE `option_name` = VALUES(`option_name`), `option_value` = VALUES(`option_value`), `autoload` = VALUES(`autoload`)
UPDATE `wp_options` SET `option_value` = 'a:1:{s:4:\"time\";i:1714557600;}' WHERE `option_name` = 'cron'
DELETE FROM `wp_options` WHERE `option_name` = '_transient_timeout_feed_123'
SELECT * FROM wp_users WHERE user_login = 'admin' LIMIT 1
SHOW FULL COLUMNS FROM `wp_options`
SELECT comment_approved, COUNT( * ) AS num_comments FROM wp_comments  GROUP BY comment_approved
-- mysqldump output
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;
DROP TABLE IF EXISTS `sbtest1`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `sbtest1` (  `id` int(11) NOT NULL AUTO_INCREMENT,  `k` int(11) NOT NULL DEFAULT 0,  `c` char(120) NOT NULL DEFAULT '',  `pad` char(60) NOT NULL DEFAULT '',  PRIMARY KEY (`id`),  KEY `k_1` (`k`)) ENGINE=InnoDB AUTO_INCREMENT=10001 DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
LOCK TABLES `sbtest1` WRITE;
/*!40000 ALTER TABLE `sbtest1` DISABLE KEYS */;
INSERT INTO `sbtest1` VALUES (1,4993,'83868641912-28773972837-60736120486-75162659906-27563526494-20381887404-41576422241-93426793964-56405065102-33518432330','67847967377-48000963322-62604785301-91415491898-96926520291'),(2,5020,'38014276128-25250245652-62722561801-27818678124-24890218270-18312424692-92565570600-36243745486-21199862476-38576014630','23183251411-36241541236-31706421314-92007079971-60663066966'),(3,5044,'33973744704-80540844748-72700647445-87330233173-87249600839-07301471459-22846777364-58808996678-64607045326-48799346817','38615512647-91458489257-31143322347-76521289919-73659823399');
/*!40000 ALTER TABLE `sbtest1` ENABLE KEYS */;
UNLOCK TABLES;
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;
/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*M!100101 SET NOTE_VERBOSITY=@OLD_NOTE_VERBOSITY */;
-- MariaDB-specific
INSERT INTO t1 (a) VALUES (1), (2) RETURNING id, a
DELETE FROM t1 WHERE a > 10 RETURNING id
REPLACE INTO t1 (id, a) VALUES (1, 2) RETURNING *
CREATE SEQUENCE s1 START WITH 100 INCREMENT BY 10
SELECT NEXTVAL(s1)
SELECT NEXT VALUE FOR s1
SELECT LASTVAL(s1)
SELECT PREVIOUS VALUE FOR s1
SELECT SETVAL(s1, 1000)
SET STATEMENT max_statement_time=10 FOR SELECT * FROM t1
SELECT * FROM t1 FOR SYSTEM_TIME AS OF TIMESTAMP '2024-01-01 00:00:00'
SELECT MASTER_GTID_WAIT('0-1-100', 1)
SELECT @@gtid_current_pos, @@last_gtid
SHOW ALL SLAVES STATUS
SHOW BINLOG STATUS
ANALYZE FORMAT=JSON SELECT * FROM t1 WHERE a = 1
CREATE OR REPLACE TEMPORARY TABLE tmp1 (id INT)
BEGIN NOT ATOMIC DECLARE x INT DEFAULT 0; SELECT x; END
EXECUTE IMMEDIATE 'SELECT 1'
KILL HARD QUERY 42
SELECT JSON_VALUE('{"a": 1}', '$.a')
-- Transactions, session, admin
START TRANSACTION
START TRANSACTION READ ONLY
START TRANSACTION WITH CONSISTENT SNAPSHOT
COMMIT AND CHAIN
ROLLBACK
ROLLBACK WORK
XA START 'xid1'
XA END 'xid1'
XA PREPARE 'xid1'
XA COMMIT 'xid1'
USE `shop`
USE shop
SET GLOBAL max_connections = 500
SET @@global.read_only = ON
SET @v = 10
SELECT @v := MAX(id) FROM t1
SELECT a INTO @x FROM t1 LIMIT 1
SELECT * FROM t1 INTO OUTFILE '/tmp/t1.txt'
PREPARE stmt1 FROM 'SELECT * FROM t1 WHERE id = ?'
EXECUTE stmt1 USING @v
DEALLOCATE PREPARE stmt1
LOCK TABLES t1 READ, t2 WRITE
UNLOCK TABLES
HANDLER t1 OPEN
HANDLER t1 READ FIRST
HANDLER t1 CLOSE
CALL update_stats(1, @out)
DO SLEEP(0.1)
KILL 12345
KILL QUERY 12345
CREATE TEMPORARY TABLE tmp_orders SELECT * FROM orders WHERE created > '2024-01-01'
DROP TEMPORARY TABLE IF EXISTS tmp_orders
TRUNCATE TABLE t1
ALTER TABLE t1 ADD INDEX idx_a (a)
RENAME TABLE t1 TO t1_old
GRANT SELECT, INSERT ON shop.* TO 'app'@'%'
REVOKE INSERT ON shop.* FROM 'app'@'%'
ANALYZE TABLE t1
OPTIMIZE TABLE t1
FLUSH TABLES
FLUSH TABLES WITH READ LOCK
LOAD DATA LOCAL INFILE '/tmp/t1.csv' INTO TABLE t1 FIELDS TERMINATED BY ','
SHOW TABLES
SHOW DATABASES
SHOW CREATE TABLE t1
SHOW VARIABLES LIKE 'max_connections'
SHOW GLOBAL STATUS LIKE 'Threads_connected'
SHOW MASTER STATUS
SHOW SLAVE STATUS
SHOW PROCESSLIST
SHOW WARNINGS
SHOW ENGINE INNODB STATUS
DESCRIBE t1
DESC t1
EXPLAIN SELECT * FROM t1 WHERE a = 1
EXPLAIN UPDATE t1 SET a = 2 WHERE id = 1
EXPLAIN FORMAT=JSON DELETE FROM t1 WHERE id = 1
-- CTEs, unions, subqueries, locking forms
WITH recent AS (SELECT id FROM orders WHERE created > NOW() - INTERVAL 1 DAY) SELECT COUNT(*) FROM recent
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 10) SELECT n FROM seq
WITH old AS (SELECT id FROM orders WHERE created < '2020-01-01') DELETE FROM orders WHERE id IN (SELECT id FROM old)
WITH x AS (SELECT 1 AS a) UPDATE t1, x SET t1.a = x.a
(SELECT a FROM t1 WHERE id < 10) UNION (SELECT a FROM t2 WHERE id < 10) ORDER BY a
((SELECT 1))
SELECT * FROM t1 WHERE id = 1 LOCK IN SHARE MODE
SELECT * FROM t1 WHERE id = 1 FOR SHARE
SELECT * FROM t1 WHERE a IN (SELECT a FROM t2 WHERE b = 'for update')
SELECT 'it''s; DROP TABLE t1' AS s
SELECT `select`, `update` FROM `delete` WHERE `insert` = 1
INSERT INTO t2 SELECT * FROM t1 WHERE a > 5
-- Multi-statements and hints
SELECT 1; SELECT 2
SELECT 1; INSERT INTO t1 (a) VALUES (1)
/* switchyard:master */ SELECT * FROM t1 WHERE id = 1
/* sy:replica */ SELECT LAST_INSERT_ID()
/* sy:replica */ UPDATE t1 SET a = 1
-- Assorted forms for the differential check
SELECT a FROM t1 INTO @x
SELECT * FROM t1 WHERE id = 1 FOR UPDATE NOWAIT
SHOW COUNT(*) WARNINGS
SHOW GRANTS FOR CURRENT_USER()
SET SESSION sql_mode = 'ANSI_QUOTES'
SET TRANSACTION ISOLATION LEVEL SERIALIZABLE
SET PASSWORD = 'secret'
SET ROLE ALL
SET DEFAULT ROLE ALL TO 'app'@'%'
TABLE t1
VALUES ROW(1, 2), ROW(3, 4)
EXPLAIN ANALYZE SELECT * FROM t1
CREATE DATABASE IF NOT EXISTS shop2
DROP DATABASE shop2
CREATE USER 'ro'@'%' IDENTIFIED BY 'x'
ALTER USER 'ro'@'%' ACCOUNT LOCK
DROP USER 'ro'@'%'
RENAME USER 'a'@'%' TO 'b'@'%'
CREATE VIEW v1 AS SELECT * FROM t1
CREATE INDEX idx_b ON t1 (b)
DROP INDEX idx_b ON t1
CHECK TABLE t1
FLUSH PRIVILEGES
ALTER TABLE t1 ENGINE=InnoDB
SELECT * FROM t1 WHERE a = @v
SELECT @@global.max_connections
SELECT ROW_COUNT()
DO 1
SELECT 1 FROM DUAL WHERE 'a' = 'a;b'
INSERT IGNORE INTO t1 (a) VALUES (1)
INSERT INTO t1 SET a = 1, b = 2
UPDATE LOW_PRIORITY t1 SET a = 2 ORDER BY id LIMIT 10
DELETE QUICK FROM t1 WHERE a IS NULL
REPLACE t1 SELECT * FROM t2
SELECT HIGH_PRIORITY SQL_NO_CACHE * FROM t1
SELECT * FROM t1 WHERE a LIKE 'x%' ESCAPE '!'
SELECT CAST('1' AS UNSIGNED), CONVERT('x' USING utf8mb4)
SELECT * FROM t1 NATURAL JOIN t2
SELECT * FROM t1 t WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.id = t.id FOR UPDATE)
