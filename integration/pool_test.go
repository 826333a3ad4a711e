package integration

import (
	"context"
	"database/sql"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/proxy"
)

// oneConn opens a private go-sql-driver pool and takes its one connection;
// closing the returned func sends COM_QUIT, ending the proxy session.
func oneConn(t *testing.T, dsn string) (*sql.Conn, func()) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		_ = db.Close()
		t.Fatal(err)
	}
	closed := false
	end := func() {
		if !closed {
			closed = true
			_ = conn.Close()
			_ = db.Close()
		}
	}
	t.Cleanup(end)
	return conn, end
}

func connID(t *testing.T, c *sql.Conn) int64 {
	t.Helper()
	var id int64
	if err := c.QueryRowContext(t.Context(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// waitIdleBackends waits until every session has ended and n backend
// connections sit idle in the master's pool.
func (e *env) waitIdleBackends(t *testing.T, n int) {
	t.Helper()
	waitFor(t, 10*time.Second, "sessions to end and backends to go idle", func() bool {
		if e.sessionCount() != 0 {
			return false
		}
		for _, ps := range e.srv.Pools() {
			if ps.Idle >= n && ps.InUse == 0 {
				return true
			}
		}
		return false
	})
}

// sessionState is what a fresh session must see, read on any connection.
func sessionState(t *testing.T, c *sql.Conn) []string {
	t.Helper()
	var out []string
	q := "SELECT IFNULL(@u, 'NULL'), @@session.sql_mode, @@character_set_client, @@character_set_connection, " +
		"@@character_set_results, @@collation_connection, @@in_transaction, @@autocommit, @@time_zone, " +
		"IFNULL(DATABASE(), 'NULL'), IS_FREE_LOCK('pool_lock'), @@session.wait_timeout, @@last_insert_id"
	row := c.QueryRowContext(t.Context(), q)
	vals := make([]sql.NullString, 13)
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := row.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	for _, v := range vals {
		out = append(out, v.String)
	}
	return out
}

func TestPoolResetsState(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	ctx := t.Context()
	setup := openDB(t, e.directDSN(""))
	mustExec(t, setup, "DROP TABLE IF EXISTS pool_t")
	mustExec(t, setup, "CREATE TABLE pool_t (id INT PRIMARY KEY AUTO_INCREMENT, v INT)")

	// What a brand-new session looks like, straight on the server.
	dc, _ := oneConn(t, e.directDSN(""))
	want := sessionState(t, dc)

	a, endA := oneConn(t, e.dsn(""))
	idA := connID(t, a)
	for _, q := range []string{
		"SET @u = 'leak'",
		"SET SESSION sql_mode = 'ANSI'",
		"SET NAMES latin1",
		"SET time_zone = '+05:00'",
		"SET SESSION wait_timeout = 1234",
		"CREATE TEMPORARY TABLE tmp_a (x INT)",
		"INSERT INTO tmp_a VALUES (1)",
		"BEGIN",
		"INSERT INTO pool_t (v) VALUES (7)",
	} {
		if _, err := a.ExecContext(ctx, q); err != nil {
			t.Fatalf("A: %s: %v", q, err)
		}
	}
	var got int
	if err := a.QueryRowContext(ctx, "SELECT GET_LOCK('pool_lock', 0)").Scan(&got); err != nil || got != 1 {
		t.Fatalf("A: GET_LOCK: %d %v", got, err)
	}
	endA() // quits with the transaction open
	e.waitIdleBackends(t, 1)

	b, _ := oneConn(t, e.dsn(""))
	if idB := connID(t, b); idB != idA {
		t.Fatalf("B got backend thread %d, A had %d: the pool did not reuse the connection", idB, idA)
	}
	if st := sessionState(t, b); strings.Join(st, "|") != strings.Join(want, "|") {
		t.Errorf("B inherited state:\n got  %q\n want %q (a fresh direct session)", st, want)
	}
	if _, err := b.ExecContext(ctx, "SELECT * FROM tmp_a"); mysqlErrNo(err) != 1146 {
		t.Errorf("B sees A's temporary table: %v", err)
	}
	var n int
	if err := b.QueryRowContext(ctx, "SELECT COUNT(*) FROM pool_t").Scan(&n); err != nil || n != 0 {
		t.Errorf("A's uncommitted insert: count=%d err=%v", n, err)
	}
	// The lock is free for everyone, and the table is not locked by A's transaction.
	if err := setup.QueryRow("SELECT IS_FREE_LOCK('pool_lock')").Scan(&n); err != nil || n != 1 {
		t.Errorf("A's GET_LOCK survives: %d %v", n, err)
	}
	mustExec(t, setup, "INSERT INTO pool_t (v) VALUES (1)")
}

// TestPoolDefaultDatabase: the default database a session leaves behind on a
// pooled backend must not leak to the next session.
func TestPoolDefaultDatabase(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	ctx := t.Context()
	noDB := strings.Replace(e.dsn(""), "/test", "/", 1)

	// A switches database with a USE statement (COM_QUERY, not COM_INIT_DB).
	a, endA := oneConn(t, e.dsn(""))
	idA := connID(t, a)
	if _, err := a.ExecContext(ctx, "USE mysql"); err != nil {
		t.Fatal(err)
	}
	endA()
	e.waitIdleBackends(t, 1)

	// Backends are pooled by default database, so B may or may not get A's
	// connection; either way it must be in the database it asked for.
	b, endB := oneConn(t, e.dsn(""))
	_ = idA
	var db sql.NullString
	if err := b.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	if db.String != "test" {
		t.Errorf("B asked for database test, is in %q (left behind by A's USE)", db.String)
	}
	endB()
	e.waitIdleBackends(t, 1)

	// C asks for no database at all.
	c, _ := oneConn(t, noDB)
	if err := c.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	if db.Valid {
		t.Errorf("C connected without a database but is in %q", db.String)
	}
}

func TestPoolBackendLimit(t *testing.T) {
	lim := proxy.DefaultLimits()
	lim.MaxBackendPerNode = 2
	lim.ConnectTimeout = 500 * time.Millisecond
	e := startEnv(t, envOptions{limits: &lim})
	ensureTestDB(t, e.c)
	ctx := t.Context()

	s1, end1 := oneConn(t, e.dsn(""))
	s2, _ := oneConn(t, e.dsn(""))
	id1, id2 := connID(t, s1), connID(t, s2) // each session now holds a backend
	if id1 == id2 {
		t.Fatal("two sessions share one backend")
	}
	s3, _ := oneConn(t, e.dsn(""))
	if err := s3.PingContext(ctx); err != nil {
		t.Fatalf("s3 ping (no backend needed): %v", err)
	}
	var one int
	err := s3.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	if mysqlErrNo(err) != 1040 {
		t.Fatalf("third session: got %v, want 1040", err)
	}
	// The first two are unaffected.
	for i, c := range []*sql.Conn{s1, s2} {
		if err := c.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatalf("s%d: %v", i+1, err)
		}
	}
	if ps := e.srv.Pools(); len(ps) != 1 {
		t.Fatalf("pools: %+v", ps)
	} else {
		for _, p := range ps {
			if p.Open != 2 || p.WaitTimeout == 0 {
				t.Errorf("pool stats after the refusal: %+v", p)
			}
		}
	}
	// s3's session survives the refusal and gets a backend once one frees up.
	end1()
	waitFor(t, 10*time.Second, "s1's session to end", func() bool { return e.sessionCount() == 2 })
	if err := s3.QueryRowContext(ctx, "SELECT 3").Scan(&one); err != nil || one != 3 {
		t.Fatalf("s3 after a backend was freed: %v", err)
	}
	if id3 := connID(t, s3); id3 != id1 {
		t.Errorf("s3 got backend %d, want s1's freed %d", id3, id1)
	}
}

func TestMaxClientConns(t *testing.T) {
	lim := proxy.DefaultLimits()
	lim.MaxClientConns = 3
	e := startEnv(t, envOptions{limits: &lim})
	ensureTestDB(t, e.c)
	ctx := t.Context()
	var ends []func()
	for i := 0; i < 3; i++ {
		c, end := oneConn(t, e.dsn(""))
		if err := c.PingContext(ctx); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		ends = append(ends, end)
	}
	over := openDB(t, e.dsn(""))
	err := over.PingContext(ctx)
	if mysqlErrNo(err) != 1040 || !strings.Contains(err.Error(), "Too many connections") {
		t.Fatalf("4th client: got %v, want 1040 Too many connections", err)
	}
	ends[0]()
	// The slot comes back once the first session has ended.
	waitFor(t, 10*time.Second, "a client slot", func() bool {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return over.PingContext(cctx) == nil
	})
	var one int
	if err := over.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}

func TestClientIdleTimeout(t *testing.T) {
	lim := proxy.DefaultLimits()
	lim.ClientIdleTimeout = time.Second
	e := startEnv(t, envOptions{limits: &lim})
	ensureTestDB(t, e.c)
	ctx := t.Context()
	busy, _ := oneConn(t, e.dsn(""))
	// A statement running longer than the idle timeout is not idleness.
	var r int
	if err := busy.QueryRowContext(ctx, "SELECT SLEEP(1.5)").Scan(&r); err != nil || r != 0 {
		t.Fatalf("1.5 s statement under a 1 s idle timeout: %d %v", r, err)
	}
	idle, _ := oneConn(t, e.dsn(""))
	if err := idle.QueryRowContext(ctx, "SELECT 1").Scan(&r); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "idle sessions to be dropped", func() bool { return e.sessionCount() == 0 })
	if err := idle.QueryRowContext(ctx, "SELECT 1").Scan(&r); err == nil {
		t.Fatal("a dropped idle client still gets answers")
	}
	// Its backend went back to the pool, clean.
	for n, ps := range e.srv.Pools() {
		if ps.InUse != 0 {
			t.Errorf("pool %s after idle drops: %+v", n, ps)
		}
	}
	// New clients are served.
	fresh := openDB(t, e.dsn(""))
	if err := fresh.QueryRowContext(ctx, "SELECT 2").Scan(&r); err != nil || r != 2 {
		t.Fatalf("new client: %v", err)
	}
}

// A node whose address changes gets a new pool; a session still holding a
// connection to the old address gives it back to the old pool (closed, so
// the connection closes), never to the new one: the new pool neither hands
// out a connection to the old address nor loses count of its own.
func TestAddressChangeKeepsPoolsApart(t *testing.T) {
	e := startEnv(t, envOptions{static: true})
	ensureTestDB(t, e.c)
	master := e.c.Master().Name
	a, endA := oneConn(t, e.dsn(""))
	connID(t, a) // a connection from the pool of the first address

	snap := *e.store.Load()
	snap.Nodes = slices.Clone(snap.Nodes)
	for i := range snap.Nodes {
		if snap.Nodes[i].Name == master {
			host, port, err := net.SplitHostPort(snap.Nodes[i].Address)
			if err != nil {
				t.Fatal(err)
			}
			snap.Nodes[i].Address = net.JoinHostPort(host, "0"+port) // another address, the same server
		}
	}
	snap.Epoch++
	e.store.Publish(&snap)

	b, endB := oneConn(t, e.dsn(""))
	idB := connID(t, b) // dials the new address: a new pool
	connID(t, a)        // still on its first connection
	endA()
	waitFor(t, 10*time.Second, "the first session to end", func() bool { return e.sessionCount() == 1 })
	ps := e.srv.Pools()[master]
	if ps.Open != 1 || ps.Idle != 0 {
		t.Errorf("new pool after the old-address connection came back: open %d idle %d, want 1 and 0 (only the second session's)", ps.Open, ps.Idle)
	}
	endB()
	e.waitIdleBackends(t, 1)
	ps = e.srv.Pools()[master]
	if ps.Open != 1 || ps.Idle != 1 {
		t.Errorf("new pool with both sessions gone: open %d idle %d, want 1 and 1", ps.Open, ps.Idle)
	}
	// The idle connection is the second session's, to the new address.
	c, _ := oneConn(t, e.dsn(""))
	if id := connID(t, c); id != idB {
		t.Errorf("a new session got backend thread %d, want the new address's %d", id, idB)
	}
}
