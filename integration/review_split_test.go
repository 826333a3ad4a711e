package integration

import (
	"database/sql"
	"testing"
	"time"
)

// A write that mentions ROW_COUNT()/FOUND_ROWS() is "sticky" for the
// classifier; it must still run on the master (invariant 1), not on the
// replica that ran the previous read.
func TestReviewStickyWriteStaysOnMaster(t *testing.T) {
	e := splitEnv(t, nil)
	masterID, _ := e.ids()
	c, end := oneConn(t, e.dsn(""))
	defer end()
	ctx := t.Context()
	cexec(t, c, "CREATE TABLE IF NOT EXISTS rv_sticky (v BIGINT)")
	if id := serverID(t, c, "SELECT @@server_id"); id == masterID {
		t.Fatalf("setup: plain read ran on the master")
	}
	if _, err := c.ExecContext(ctx, "INSERT INTO rv_sticky SELECT ROW_COUNT()"); err != nil {
		t.Fatalf("INSERT ... SELECT ROW_COUNT() after a replica read: %v", err)
	}
}

// A multi-statement text whose last statement fails must still record what
// the earlier statements did: an open transaction (invariant 2), a temporary
// table or a user variable (invariant 3).
func TestReviewMultiStatementErrorKeepsSessionState(t *testing.T) {
	e := splitEnv(t, nil)
	setup, endSetup := oneConn(t, e.dsn(""))
	cexec(t, setup, "CREATE TABLE IF NOT EXISTS rv_multi (id INT PRIMARY KEY)")
	cexec(t, setup, "DELETE FROM rv_multi")
	endSetup()
	ctx := t.Context()

	t.Run("transaction", func(t *testing.T) {
		c, end := oneConn(t, e.dsn("multiStatements=true"))
		defer end()
		if _, err := c.ExecContext(ctx, "BEGIN; INSERT INTO rv_multi VALUES (1); SELECT * FROM rv_no_such_table"); err == nil {
			t.Fatal("want the error of the last statement")
		}
		var n int
		if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM rv_multi").Scan(&n); err != nil {
			t.Fatal(err)
		}
		cexec(t, c, "ROLLBACK")
		if n != 1 {
			t.Errorf("inside the open transaction its own insert is invisible: COUNT(*)=%d, want 1 (read left the transaction's backend)", n)
		}
	})
	t.Run("temporary table", func(t *testing.T) {
		c, end := oneConn(t, e.dsn("multiStatements=true"))
		defer end()
		if _, err := c.ExecContext(ctx, "CREATE TEMPORARY TABLE rv_tmp (a INT); SELECT * FROM rv_no_such_table"); err == nil {
			t.Fatal("want the error of the last statement")
		}
		var n int
		if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM rv_tmp").Scan(&n); err != nil {
			t.Errorf("temporary table created by the session is gone: %v", err)
		}
	})
	t.Run("user variable", func(t *testing.T) {
		c, end := oneConn(t, e.dsn("multiStatements=true"))
		defer end()
		if _, err := c.ExecContext(ctx, "SET @rv = 7; SELECT * FROM rv_no_such_table"); err == nil {
			t.Fatal("want the error of the last statement")
		}
		var v *int
		if err := c.QueryRowContext(ctx, "SELECT @rv").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v == nil || *v != 7 {
			t.Errorf("user variable set by the session is lost: @rv=%v, want 7", v)
		}
	})
}

func cexec(t *testing.T, c *sql.Conn, q string, args ...any) {
	t.Helper()
	if _, err := c.ExecContext(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// go-sql-driver runs Exec with arguments as a prepared statement. A prepared
// "SET time_zone = ?" must not be queued for replay with its placeholder:
// replaying "SET time_zone = ?" on another backend is a syntax error.
func TestReviewPreparedSetReplay(t *testing.T) {
	e := splitEnv(t, nil)
	c, end := oneConn(t, e.dsn(""))
	defer end()
	ctx := t.Context()
	cexec(t, c, "SET time_zone = ?", "+05:00")
	var tz string
	if err := c.QueryRowContext(ctx, "SELECT @@time_zone").Scan(&tz); err != nil {
		t.Fatal(err)
	}
	if tz != "+05:00" {
		t.Errorf("time_zone = %q, want +05:00", tz)
	}
	// The master connection goes away (a network blip, a wait_timeout...):
	// the session takes a new one and must replay its state onto it.
	var thread int64
	if err := c.QueryRowContext(ctx, "/* switchyard:master */ SELECT CONNECTION_ID()").Scan(&thread); err != nil {
		t.Fatal(err)
	}
	mustExec(t, e.adminDB(t), "KILL CONNECTION ?", thread)
	_, _ = c.ExecContext(ctx, "DO 1") // may report the lost connection
	var lastErr error
	for i := 0; i < 3; i++ {
		if _, lastErr = c.ExecContext(ctx, "DO 1"); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("the session cannot use the master any more: %v", lastErr)
	}
}

// SHOW ERRORS / SHOW WARNINGS report on the statement before; after a read
// that failed on a replica they must run on that replica.
func TestReviewShowErrorsAfterFailedReplicaRead(t *testing.T) {
	e := splitEnv(t, nil)
	c, end := oneConn(t, e.dsn(""))
	defer end()
	ctx := t.Context()
	cexec(t, c, "CREATE TABLE IF NOT EXISTS rv_w (v INT)")
	cexec(t, c, "INSERT INTO rv_w VALUES (1)") // the previous statement ran on the master
	if _, err := c.QueryContext(ctx, "SELECT * FROM rv_no_such_table"); err == nil {
		t.Fatal("want an error")
	}
	rows, err := c.QueryContext(ctx, "SHOW ERRORS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if n == 0 {
		t.Errorf("SHOW ERRORS after a failed read is empty (it ran on another backend); a server lists error 1146")
	}
}

// The proxy learns each write's GTID from session tracking it turned on at
// connect; a client's own SET of session_track_system_variables (replayed on
// the master connection) must not switch that off and silently end
// read-your-writes (invariant 4).
func TestReviewClientTrackingSetKeepsReadYourWrites(t *testing.T) {
	e := splitEnv(t, nil)
	a := e.c.Users.Admin
	for _, n := range e.c.Replicas() {
		db := openDB(t, n.DSN(a, ""))
		mustExec(t, db, "STOP SLAVE")
		mustExec(t, db, "CHANGE MASTER TO MASTER_DELAY = 3")
		mustExec(t, db, "START SLAVE")
	}
	mustExec(t, openDB(t, e.directDSN("")), "CREATE TABLE IF NOT EXISTS rv_ryw (id INT PRIMARY KEY)")
	for _, n := range e.c.Replicas() {
		db := openDB(t, n.DSN(a, "test"))
		waitFor(t, 15*time.Second, "the table on "+n.Name, func() bool {
			_, err := db.Exec("SELECT 1 FROM rv_ryw LIMIT 1")
			return err == nil
		})
	}
	e.waitReplicasUsable(t, 2)
	c, end := oneConn(t, e.dsn(""))
	defer end()
	ctx := t.Context()
	cexec(t, c, "SET SESSION session_track_system_variables = 'autocommit'")
	cexec(t, c, "INSERT INTO rv_ryw VALUES (1)")
	var n int
	if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM rv_ryw WHERE id = 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("the session's own write is invisible to its next read (stale replica read)")
	}
}
