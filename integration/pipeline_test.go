package integration

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/cluster"
	"github.com/switchyard/switchyard/proxy"
)

// pipelineEnv is a master and one replica behind a proxy with one event
// loop (every session shares its connections) and pipelined reads on.
func pipelineEnv(t *testing.T) (*env, *sql.DB) {
	t.Helper()
	if os.Getenv("SWITCHYARD_LOOPS") == "0" {
		t.Skip("SWITCHYARD_LOOPS=0 turns the loops off for this run; pipelined reads need them")
	}
	routing := proxy.DefaultRouting()
	routing.Consistency = proxy.ConsistencyEventual
	routing.PipelineReads = true
	e := startEnv(t, envOptions{cluster: cluster.Options{Replicas: 1}, proxy: func(o *proxy.Options) {
		o.Loops = 1
		o.Routing = &routing
	}})
	ensureTestDB(t, e.c)
	dm := openDB(t, e.directDSN(""))
	mustExec(t, dm, "CREATE TABLE pipe (id INT PRIMARY KEY, v VARCHAR(20))")
	var vals []string
	for i := 1; i <= 200; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'v%d')", i, i))
	}
	mustExec(t, dm, "INSERT INTO pipe VALUES "+strings.Join(vals, ","))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := e.c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	e.waitReplicasUsable(t, 1)
	return e, openDB(t, e.dsn(""))
}

// prepared prepares q on its own connection.
func prepared(t *testing.T, db *sql.DB, q string) (*sql.Conn, *sql.Stmt) {
	t.Helper()
	c, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	st, err := c.PrepareContext(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return c, st
}

// Sessions running the same prepared read at once, some binding the id as
// an integer and some as a string (parameter types differ per session on
// the one server statement), each get their own rows, and the reads
// really went over the shared connection.
func TestPipelinedReads(t *testing.T) {
	e, db := pipelineEnv(t)
	before := e.srv.Metrics().Pipelined
	const sessions, each = 12, 300
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i := range sessions {
		_, st := prepared(t, db, "SELECT id, v FROM pipe WHERE id = ?")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				id := 1 + rand.IntN(200)
				var arg any = id
				if i%2 == 1 {
					arg = fmt.Sprint(id)
				}
				var gotID int
				var v string
				if err := st.QueryRow(arg).Scan(&gotID, &v); err != nil {
					errs <- fmt.Errorf("session %d, id %d: %w", i, id, err)
					return
				}
				if gotID != id || v != fmt.Sprintf("v%d", id) {
					errs <- fmt.Errorf("session %d asked for id %d and got %d %q", i, id, gotID, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Each session's first execution qualifies the statement on its own
	// connection; the rest may go shared (or spill over when it is full).
	if n := e.srv.Metrics().Pipelined - before; n < sessions*each/2 {
		t.Errorf("%d of %d reads ran on the shared connection", n, sessions*each)
	}
}

// What a session asks about its last statement (SHOW WARNINGS) after a
// shared read is about that read, not about what ran before on the
// session's own connection; a shared read that has warnings or fails runs
// on the session's connection, so the client gets them and SHOW WARNINGS
// or SHOW ERRORS finds them.
func TestPipelinedReadsDiagnostics(t *testing.T) {
	e, db := pipelineEnv(t)
	ctx := t.Context()
	c, point := prepared(t, db, "SELECT v FROM pipe WHERE id = ?")
	cast, err := c.PrepareContext(ctx, "SELECT CAST(? AS SIGNED)")
	if err != nil {
		t.Fatal(err)
	}
	defer cast.Close()
	warnings := func(step string) []string {
		t.Helper()
		rows, err := c.QueryContext(ctx, "SHOW WARNINGS")
		if err != nil {
			t.Fatalf("%s: SHOW WARNINGS: %v", step, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var level, msg string
			var code int
			if err := rows.Scan(&level, &code, &msg); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %d", level, code))
		}
		return out
	}
	shared := func(step string, f func()) {
		t.Helper()
		before := e.srv.Metrics().Pipelined
		f()
		if e.srv.Metrics().Pipelined == before {
			t.Fatalf("%s: did not run on the shared connection", step)
		}
	}
	var v string
	var n int64
	// The point read qualifies (on the session's connection) and then runs
	// shared.
	for range 2 {
		if err := point.QueryRowContext(ctx, 7).Scan(&v); err != nil || v != "v7" {
			t.Fatalf("point read: %q, %v", v, err)
		}
	}
	// A warning on the session's own connection...
	if err := cast.QueryRowContext(ctx, "x").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if w := warnings("after the cast"); len(w) != 1 || w[0] != "Warning 1292" {
		t.Fatalf("after a cast of 'x': warnings %v, want one 1292", w)
	}
	// ...is not what SHOW WARNINGS reports after a clean shared read.
	shared("clean shared read", func() {
		if err := point.QueryRowContext(ctx, 8).Scan(&v); err != nil || v != "v8" {
			t.Fatalf("point read: %q, %v", v, err)
		}
	})
	if w := warnings("after a shared read"); len(w) != 0 {
		t.Fatalf("after a clean shared read: warnings %v, want none", w)
	}

	// A shared statement that then warns: the client sees the warning.
	c2, cast2 := prepared(t, db, "SELECT CAST(? AS SIGNED)")
	for range 2 {
		if err := cast2.QueryRowContext(ctx, "12").Scan(&n); err != nil || n != 12 {
			t.Fatalf("cast of '12': %d, %v", n, err)
		}
	}
	if err := cast2.QueryRowContext(ctx, "x").Scan(&n); err != nil || n != 0 {
		t.Fatalf("cast of 'x': %d, %v", n, err)
	}
	c = c2
	if w := warnings("after a warning"); len(w) != 1 || w[0] != "Warning 1292" {
		t.Fatalf("after a cast of 'x' that could have run shared: warnings %v, want one 1292", w)
	}

	// A shared statement that then fails: the client gets the server's
	// error.
	c3, regex3 := prepared(t, db, "SELECT REGEXP_SUBSTR('abc', ?)")
	for range 2 {
		if err := regex3.QueryRowContext(ctx, "b").Scan(&v); err != nil || v != "b" {
			t.Fatalf("regexp 'b': %q, %v", v, err)
		}
	}
	err = regex3.QueryRowContext(ctx, "(").Scan(&v)
	if code := mysqlErrNo(err); code != 1139 {
		t.Fatalf("regexp '(': %v (code %d), want error 1139", err, code)
	}
	c = c3
	if w := warnings("after an error"); len(w) != 1 || w[0] != "Error 1139" {
		t.Fatalf("after the failed read: SHOW WARNINGS %v, want the error 1139", w)
	}
}

// An answer too big to count as small, from a statement whose answers were
// small, is relayed whole all the same; the statement then stays off the
// shared connection.
func TestPipelinedReadsLargeAnswer(t *testing.T) {
	e, db := pipelineEnv(t)
	ctx := t.Context()
	_, rep := prepared(t, db, "SELECT REPEAT('x', ?)")
	var s string
	for range 5 {
		if err := rep.QueryRowContext(ctx, 10).Scan(&s); err != nil || s != strings.Repeat("x", 10) {
			t.Fatalf("small: %q, %v", s, err)
		}
	}
	before := e.srv.Metrics().Pipelined
	if err := rep.QueryRowContext(ctx, 100000).Scan(&s); err != nil || s != strings.Repeat("x", 100000) {
		t.Fatalf("large: %d bytes, %v", len(s), err)
	}
	if e.srv.Metrics().Pipelined != before+1 {
		t.Fatalf("the large answer did not come over the shared connection (%d shared reads before it, %d after)", before, e.srv.Metrics().Pipelined)
	}
	if err := rep.QueryRowContext(ctx, 10).Scan(&s); err != nil || s != strings.Repeat("x", 10) {
		t.Fatalf("small again: %q, %v", s, err)
	}
	if e.srv.Metrics().Pipelined != before+1 {
		t.Fatalf("after a large answer the statement still runs shared")
	}
}

// Clients that cache metadata (libmariadb) and leave the parameter types
// out after the first execution: interleaved on the shared connection,
// their answers keep the shape they expect and their values.
func TestPipelinedReadsMetadataCaching(t *testing.T) {
	e, _ := pipelineEnv(t)
	const n = 3
	var conns [n]*rawConn
	var ids [n]uint32
	for i := range conns {
		var granted uint32
		conns[i], granted = cmLogin(t, e.addr, "app", "app-secret", "test")
		if granted == 0 {
			t.Skip("no metadata caching here")
		}
		ids[i], _, _ = conns[i].prepare("SELECT id FROM pipe WHERE id = ?")
	}
	before := e.srv.Metrics().Pipelined
	for round := range 40 {
		for i, r := range conns {
			id := int64(1 + (round*n+i)%200)
			res := r.cmExecuteTypes(ids[i], id, round == 0)
			if res.follows || len(res.rows) != 1 {
				t.Fatalf("round %d, client %d: follows %v, %d rows", round, i, res.follows, len(res.rows))
			}
			// A binary row: header, NULL bitmap, then the INT.
			if row := res.rows[0]; len(row) != 6 || int64(row[2])|int64(row[3])<<8 != id {
				t.Fatalf("round %d, client %d: row % x for id %d", round, i, row, id)
			}
		}
	}
	if got := e.srv.Metrics().Pipelined - before; got < n*38 {
		t.Fatalf("%d of %d executions ran shared", got, n*40)
	}
}

// The shared connection killed on the server, again and again, under
// load: the reads queued on it run again on their sessions' connections
// and no client sees an error.
func TestPipelinedReadsSharedConnectionDies(t *testing.T) {
	e, db := pipelineEnv(t)
	rep := e.c.Replicas()[0]
	admin := openDB(t, rep.DSN(e.c.Users.Admin, "test"))
	const sessions = 8
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	var reads [sessions]int
	for i := range sessions {
		_, st := prepared(t, db, "SELECT v FROM pipe WHERE id = ?")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := 1 + rand.IntN(200)
				var v string
				if err := st.QueryRow(id).Scan(&v); err != nil || v != fmt.Sprintf("v%d", id) {
					errs <- fmt.Errorf("session %d, id %d: %q, %w", i, id, v, err)
					return
				}
				reads[i]++
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	// Connections caught running a statement: the shared one most of the
	// time (it carries most reads), sometimes a session's own.
	killed := 0
	for deadline := time.Now().Add(10 * time.Second); killed < 5 && time.Now().Before(deadline); {
		rows, err := admin.Query("SELECT id FROM information_schema.processlist WHERE user = 'app' AND command = 'Execute'")
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			_ = rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		for _, id := range ids {
			if _, err := admin.Exec(fmt.Sprintf("KILL %d", id)); err == nil {
				killed++
				time.Sleep(100 * time.Millisecond)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if killed == 0 {
		t.Fatal("no app connection on the replica was running a statement to kill")
	}
	for i, n := range reads {
		if n == 0 {
			t.Errorf("session %d read nothing", i)
		}
	}
	t.Logf("killed %d connections; reads per session %v", killed, reads)
}
