package router

import "testing"

func TestNormalize(t *testing.T) {
	tests := []struct{ sql, want string }{
		{"SELECT 1", "select ?"},
		{"  SELECT   *\n\tFROM t  WHERE id = 42  ", "select * from t where id = ?"},
		{"select * from t where name = 'bob' and x = \"y\"", "select * from t where name = ? and x = ?"},
		{"SELECT * FROM `MyTable` WHERE `Col` = 1.5e3", "select * from `MyTable` where `Col` = ?"},
		{"SELECT 'it''s', 'a\\'b'", "select ?, ?"},
		{"SELECT x'0F', X'ff', b'01', 0x1F, N'abc', _utf8mb4'x'", "select ?, ?, ?, ?, ?, ?"},
		{"SELECT a FROM t WHERE id IN (1, 2, 3)", "select a from t where id in (...)"},
		{"SELECT a FROM t WHERE id IN (1,2,3,4,5,6,7)", "select a from t where id in (...)"},
		{"INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')", "insert into t(a, b) values (...)"},
		{"INSERT INTO t VALUES (1)", "insert into t values (...)"},
		{"SELECT COUNT(*) FROM t", "select count(*) from t"},
		{"SELECT f(1, 2), g()", "select f(...), g()"},
		{"SELECT a FROM t /* comment */ WHERE b = 2 -- tail", "select a from t where b = ?"},
		{"/*!40101 SET NAMES utf8 */", "set names utf8"},
		{"SELECT @x, @@session.sql_mode", "select @x, @@session.sql_mode"},
		{"SELECT * FROM t WHERE a = ? AND b = ?", "select * from t where a = ? and b = ?"},
		{"SELECT t.a FROM db.t", "select t.a from db.t"},
		{"GRANT ALL ON *.* TO 'u'@'%'", "grant all on *.* to ?@?"},
		{"SELECT 1; SELECT 2", "select ?; select ?"},
		{"SELECT -1", "select - ?"},
		{"", ""},
		{"-- nothing", ""},
		{"SELECT (a), (1)", "select (a), (...)"},
	}
	for _, tt := range tests {
		if got := Normalize(tt.sql); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.sql, got, tt.want)
		}
	}
}

func TestDigest(t *testing.T) {
	same := [][2]string{
		{"SELECT * FROM t WHERE id = 1", "select *  from t where id=2"},
		{"SELECT * FROM t WHERE id IN (1,2)", "SELECT * FROM t WHERE id IN (3, 4, 5, 6)"},
		{"INSERT INTO t VALUES (1,'a')", "INSERT INTO t VALUES (2,'b'),(3,'c')"},
		{"SELECT 1 /* a */", "SELECT 2 -- b"},
	}
	for _, p := range same {
		if Digest(p[0]) != Digest(p[1]) {
			t.Errorf("Digest(%q) != Digest(%q): %q vs %q", p[0], p[1], Normalize(p[0]), Normalize(p[1]))
		}
	}
	differ := [][2]string{
		{"SELECT a FROM t", "SELECT b FROM t"},
		{"SELECT * FROM t WHERE id = 1", "DELETE FROM t WHERE id = 1"},
		{"SELECT `A` FROM t", "SELECT `a` FROM t"},
	}
	for _, p := range differ {
		if Digest(p[0]) == Digest(p[1]) {
			t.Errorf("Digest(%q) == Digest(%q)", p[0], p[1])
		}
	}
}
