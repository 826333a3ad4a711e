package integration

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestProxyBasics(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	db := openDB(t, e.dsn(""))
	var sid int
	if err := db.QueryRow("SELECT @@server_id").Scan(&sid); err != nil {
		t.Fatal(err)
	}
	if sid != e.c.Master().ServerID {
		t.Fatalf("server_id = %d, want master's %d", sid, e.c.Master().ServerID)
	}
	mustExec(t, db, "CREATE TABLE IF NOT EXISTS basics (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(100), d DOUBLE, b BLOB, dt DATETIME(6), n DECIMAL(20,6))")
	r := mustExec(t, db, "INSERT INTO basics (v, d, b, dt, n) VALUES (?, ?, ?, NOW(6), ?)", "héllo", 9e15, []byte{0, 1, 2, 255}, "12345.678901")
	id, _ := r.LastInsertId()
	if id != 1 {
		t.Fatalf("LastInsertId = %d", id)
	}
	// Errors come back unchanged.
	_, err := db.Exec("INSERT INTO basics (id) VALUES (1)")
	if mysqlErrNo(err) != 1062 {
		t.Fatalf("duplicate key: got %v, want 1062", err)
	}
	_, err = db.Exec("SELEC 1")
	if mysqlErrNo(err) != 1064 {
		t.Fatalf("syntax error: got %v", err)
	}
}

// rowsOf runs q and returns column types and every row as strings.
func rowsOf(t *testing.T, db *sql.DB, q string, args ...any) ([]string, [][]any) {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cts, _ := rows.ColumnTypes()
	var types []string
	for _, c := range cts {
		p, s, _ := c.DecimalSize()
		l, _ := c.Length()
		n, _ := c.Nullable()
		types = append(types, fmt.Sprintf("%s:%s:%d:%d:%d:%v", c.Name(), c.DatabaseTypeName(), p, s, l, n))
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cts))
		ptrs := make([]any, len(cts))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return types, out
}

// TestSameAsDirect runs the same statements through the proxy and directly,
// over text and binary protocol, and demands identical answers.
func TestSameAsDirect(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	setup := openDB(t, e.directDSN("multiStatements=true"))
	mustExec(t, setup, `DROP TABLE IF EXISTS same; CREATE TABLE same (id INT PRIMARY KEY, s VARCHAR(50), f FLOAT, d DOUBLE, n DECIMAL(30,10), t TIME(3), dt DATETIME, j JSON, e ENUM('a','b'), bits BIT(12), u BIGINT UNSIGNED, nul INT NULL);
		INSERT INTO same VALUES (1,'a',1.5,9e15,'1.0000000001','-838:59:59.999','2024-02-29 23:59:59','{"k":[1,2]}','b',b'101010101010',18446744073709551615,NULL),
		(2,'ü€',-0.0,1e-300,'-99999999999999999999.9999999999','00:00:00','1000-01-01 00:00:00','null','a',0,0,42)`)
	queries := []struct {
		q    string
		args []any
	}{
		{"SELECT * FROM same ORDER BY id", nil},
		{"SELECT * FROM same WHERE id = ?", []any{1}},
		{"SELECT id, s, d FROM same WHERE s = ? OR d > ?", []any{"ü€", 1.0}},
		{"SELECT 1, 'x', NULL, 3.14, 9e15, CAST(1 AS UNSIGNED), NOW() IS NOT NULL", nil},
		{"SELECT seq, REPEAT('z', seq % 300) FROM seq_1_to_2000", nil},
		{"SHOW VARIABLES LIKE 'character_set_%'", nil},
		{"SELECT COUNT(*), SUM(u) FROM same", nil},
	}
	for _, params := range []string{"", "interpolateParams=true"} {
		direct := openDB(t, e.directDSN(params))
		proxied := openDB(t, e.dsn(params))
		for _, q := range queries {
			dt, dr := rowsOf(t, direct, q.q, q.args...)
			pt, pr := rowsOf(t, proxied, q.q, q.args...)
			if !reflect.DeepEqual(dt, pt) {
				t.Errorf("%q (%s): column types differ:\n direct %v\n proxy  %v", q.q, params, dt, pt)
			}
			if !reflect.DeepEqual(dr, pr) {
				t.Errorf("%q (%s): rows differ:\n direct %v\n proxy  %v", q.q, params, dr, pr)
			}
		}
	}
}

func TestMultiStatementsAndProcedures(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	db := openDB(t, e.dsn("multiStatements=true"))
	mustExec(t, db, "DROP TABLE IF EXISTS ms; CREATE TABLE ms (id INT); INSERT INTO ms VALUES (1),(2),(3)")
	rows, err := db.Query("SELECT COUNT(*) FROM ms; SELECT id FROM ms ORDER BY id; UPDATE ms SET id = id + 10; SELECT SUM(id) FROM ms")
	if err != nil {
		t.Fatal(err)
	}
	var sets [][]int
	for {
		var cur []int
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			cur = append(cur, v)
		}
		sets = append(sets, cur)
		if !rows.NextResultSet() {
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := [][]int{{3}, {1, 2, 3}, {36}}
	if !reflect.DeepEqual(sets, want) {
		t.Fatalf("result sets = %v, want %v", sets, want)
	}
	// A stored procedure with an OUT parameter and a result set.
	mustExec(t, db, "DROP PROCEDURE IF EXISTS p_out")
	mustExec(t, db, "CREATE PROCEDURE p_out(IN a INT, OUT b INT) BEGIN SELECT a * 2 AS doubled; SET b = a * 3; END")
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var doubled, tripled int
	if err := conn.QueryRowContext(t.Context(), "CALL p_out(7, @b)").Scan(&doubled); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(t.Context(), "SELECT @b").Scan(&tripled); err != nil {
		t.Fatal(err)
	}
	if doubled != 14 || tripled != 21 {
		t.Fatalf("procedure: doubled=%d tripled=%d", doubled, tripled)
	}
	// An error in the middle of a multi-statement stops there, like on the server.
	_, err = db.Exec("INSERT INTO ms VALUES (100); INSERT INTO nosuchtable VALUES (1); INSERT INTO ms VALUES (200)")
	if mysqlErrNo(err) != 1146 {
		t.Fatalf("want 1146, got %v", err)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM ms WHERE id IN (100, 200)").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after failed multi-statement: n=%d err=%v", n, err)
	}
}

func TestLargePackets(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	db := openDB(t, e.dsn("maxAllowedPacket=0"))
	mustExec(t, db, "DROP TABLE IF EXISTS big")
	mustExec(t, db, "CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB)")
	for _, size := range []int{1 << 10, 1<<24 - 5, 1 << 24, 20 << 20} {
		blob := make([]byte, size)
		_, _ = rand.Read(blob)
		for _, params := range []string{"", "interpolateParams=true"} {
			d := openDB(t, e.dsn("maxAllowedPacket=0&"+params))
			mustExec(t, d, "REPLACE INTO big VALUES (?, ?)", size, blob)
			var got []byte
			if err := d.QueryRow("SELECT b FROM big WHERE id = ?", size).Scan(&got); err != nil {
				t.Fatalf("size %d %s: %v", size, params, err)
			}
			if !bytes.Equal(got, blob) {
				t.Fatalf("size %d %s: blob differs (len %d)", size, params, len(got))
			}
			var txt string
			if err := d.QueryRow("SELECT MD5(b) FROM big WHERE id = " + fmt.Sprint(size)).Scan(&txt); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestLoadDataLocal(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	db := openDB(t, e.dsn("allowAllFiles=true"))
	mustExec(t, db, "DROP TABLE IF EXISTS ld")
	mustExec(t, db, "CREATE TABLE ld (id INT, s VARCHAR(20))")
	var b strings.Builder
	for i := 0; i < 50000; i++ {
		fmt.Fprintf(&b, "%d\trow-%d\n", i, i)
	}
	path := t.TempDir() + "/ld.tsv"
	if err := writeFile(path, b.String()); err != nil {
		t.Fatal(err)
	}
	r := mustExec(t, db, "LOAD DATA LOCAL INFILE '"+path+"' INTO TABLE ld")
	if n, _ := r.RowsAffected(); n != 50000 {
		t.Fatalf("rows affected = %d", n)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM ld").Scan(&n); err != nil || n != 50000 {
		t.Fatalf("count=%d err=%v", n, err)
	}
	// A missing file: the driver reports it, the session stays usable.
	if _, err := db.Exec("LOAD DATA LOCAL INFILE '/nonexistent/file' INTO TABLE ld"); err == nil {
		t.Fatal("missing file: no error")
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM ld").Scan(&n); err != nil || n != 50000 {
		t.Fatalf("after failed load: count=%d err=%v", n, err)
	}
}

func TestWrongPassword(t *testing.T) {
	e := startEnv(t, envOptions{})
	for _, dsn := range []string{
		"app:wrong@tcp(" + e.addr + ")/",
		"nosuchuser:whatever@tcp(" + e.addr + ")/",
		"app@tcp(" + e.addr + ")/",
	} {
		db := openDB(t, dsn)
		err := db.Ping()
		if mysqlErrNo(err) != 1045 {
			t.Errorf("%s: got %v, want 1045", dsn, err)
		}
		if err != nil && !strings.Contains(err.Error(), "Access denied for user") {
			t.Errorf("message: %v", err)
		}
	}
}
