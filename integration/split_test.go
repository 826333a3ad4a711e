package integration

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/cluster"
	"github.com/switchyard/switchyard/proxy"
	"github.com/switchyard/switchyard/router"
)

// splitEnv is a 1 master + 2 replica cluster behind the proxy.
func splitEnv(t *testing.T, routing *proxy.Routing) *env {
	t.Helper()
	e := startEnv(t, envOptions{cluster: cluster.Options{Replicas: 2}, proxy: func(o *proxy.Options) { o.Routing = routing }})
	ensureTestDB(t, e.c)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := e.c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	e.waitReplicasUsable(t, 2)
	return e
}

// waitReplicasUsable waits until the monitor reports n usable replicas.
func (e *env) waitReplicasUsable(t *testing.T, n int) {
	t.Helper()
	waitFor(t, 15*time.Second, fmt.Sprintf("%d usable replicas", n), func() bool {
		c := 0
		for _, nd := range e.store.Load().Replicas() {
			if nd.State == "up" && nd.IOThreadRunning && nd.SQLThreadRunning {
				c++
			}
		}
		return c == n
	})
}

func (e *env) ids() (master int, replicas map[int]string) {
	replicas = map[int]string{}
	for _, n := range e.c.Replicas() {
		replicas[n.ServerID] = n.Name
	}
	return e.c.Master().ServerID, replicas
}

func serverID(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, query string, args ...any) int {
	t.Helper()
	var id int
	if err := q.QueryRowContext(t.Context(), query, args...).Scan(&id); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return id
}

func TestSplitReadsSpreadOverReplicas(t *testing.T) {
	e := splitEnv(t, nil)
	masterID, replicas := e.ids()
	seen := map[int]int{}
	for i := 0; i < 8; i++ {
		c, end := oneConn(t, e.dsn(""))
		for j := 0; j < 5; j++ {
			seen[serverID(t, c, "SELECT @@server_id")]++
		}
		end()
	}
	if seen[masterID] != 0 {
		t.Errorf("plain reads went to the master: %v", seen)
	}
	for id, name := range replicas {
		if seen[id] == 0 {
			t.Errorf("replica %s (server_id %d) got no reads: %v", name, id, seen)
		}
	}
	// A session keeps its replica (monotonic reads).
	c, end := oneConn(t, e.dsn(""))
	defer end()
	first := serverID(t, c, "SELECT @@server_id")
	for i := 0; i < 20; i++ {
		if got := serverID(t, c, "SELECT @@server_id"); got != first {
			t.Fatalf("session moved from server %d to %d between reads", first, got)
		}
	}
}

// Sessions open at the same time spread evenly over the replicas (least
// sessions per replica, as HAProxy's leastconn), whatever their ids.
func TestSplitConcurrentSessionsBalance(t *testing.T) {
	e := splitEnv(t, nil)
	_, replicas := e.ids()
	perServer := map[int]int{}
	for i := 0; i < 10; i++ {
		c, end := oneConn(t, e.dsn(""))
		defer end()
		perServer[serverID(t, c, "SELECT @@server_id")]++
	}
	for id, name := range replicas {
		if perServer[id] != 5 {
			t.Errorf("replica %s has %d of 10 sessions: %v", name, perServer[id], perServer)
		}
	}
}

// Statements in flight do not outweigh sessions: while the sessions of one
// replica each have a long statement running, the sessions that come next
// still end up half on each replica (each keeps its replica, so crowding
// them onto the idle one would outlast the moment; 9 of 16 sysbench
// sessions went to one of two replicas when the two counts were added).
func TestSplitBalanceUnderLoad(t *testing.T) {
	e := splitEnv(t, nil)
	_, replicas := e.ids()
	perServer := map[int]int{}
	var first []*sql.Conn
	firstIDs := map[*sql.Conn]int{}
	for i := 0; i < 4; i++ {
		c, end := oneConn(t, e.dsn(""))
		defer end()
		id := serverID(t, c, "SELECT @@server_id")
		perServer[id]++
		first = append(first, c)
		firstIDs[c] = id
	}
	busy := serverID(t, first[0], "SELECT @@server_id")
	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, c := range first {
		if firstIDs[c] != busy {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := c.ExecContext(t.Context(), "SELECT SLEEP(0.1)"); err != nil {
					t.Errorf("busy session: %v", err)
					return
				}
			}
		}()
	}
	time.Sleep(30 * time.Millisecond) // their statements are in flight
	for i := 0; i < 4; i++ {
		c, end := oneConn(t, e.dsn(""))
		defer end()
		perServer[serverID(t, c, "SELECT @@server_id")]++
	}
	stop.Store(true)
	wg.Wait()
	for id, name := range replicas {
		if perServer[id] != 4 {
			t.Errorf("replica %s has %d of 8 sessions: %v", name, perServer[id], perServer)
		}
	}
}

func TestSplitTransactionsAndLockingReadsOnMaster(t *testing.T) {
	e := splitEnv(t, nil)
	masterID, replicas := e.ids()
	c, end := oneConn(t, e.dsn(""))
	defer end()
	exec := func(q string) {
		t.Helper()
		if _, err := c.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE IF NOT EXISTS tx (id INT PRIMARY KEY, v INT)")
	exec("REPLACE INTO tx VALUES (1, 1)")
	for _, tc := range []struct {
		name   string
		before []string
		query  string
		after  []string
		want   string // "master" or "replica"
	}{
		{"BEGIN", []string{"BEGIN"}, "SELECT @@server_id", []string{"COMMIT"}, "master"},
		{"START TRANSACTION", []string{"START TRANSACTION"}, "SELECT @@server_id", []string{"ROLLBACK"}, "master"},
		{"autocommit=0", []string{"SET autocommit=0"}, "SELECT @@server_id", []string{"COMMIT", "SET autocommit=1"}, "master"},
		{"after autocommit=1", nil, "SELECT @@server_id", nil, "replica"},
		{"FOR UPDATE", nil, "SELECT @@server_id FROM tx WHERE id = 1 FOR UPDATE", nil, "master"},
		{"LOCK IN SHARE MODE", nil, "SELECT @@server_id FROM tx WHERE id = 1 LOCK IN SHARE MODE", nil, "master"},
		{"FOR SHARE", nil, "SELECT @@server_id FROM tx WHERE id = 1 FOR UPDATE", nil, "master"},
		{"READ ONLY transaction", []string{"START TRANSACTION READ ONLY"}, "SELECT @@server_id", []string{"COMMIT"}, "replica"},
		{"hint master", nil, "/* switchyard:master */ SELECT @@server_id", nil, "master"},
		{"plain read", nil, "SELECT @@server_id", nil, "replica"},
	} {
		for _, q := range tc.before {
			exec(q)
		}
		id := serverID(t, c, tc.query)
		got := "replica"
		if id == masterID {
			got = "master"
		} else if _, ok := replicas[id]; !ok {
			t.Fatalf("%s: unknown server_id %d", tc.name, id)
		}
		if got != tc.want {
			t.Errorf("%s: %q ran on the %s (server_id %d), want the %s", tc.name, tc.query, got, id, tc.want)
		}
		for _, q := range tc.after {
			exec(q)
		}
	}
	// A whole transaction on one backend: the write is visible to the
	// transaction's own reads before COMMIT.
	exec("BEGIN")
	exec("UPDATE tx SET v = 42 WHERE id = 1")
	var v int
	if err := c.QueryRowContext(t.Context(), "SELECT v FROM tx WHERE id = 1").Scan(&v); err != nil || v != 42 {
		t.Fatalf("read inside the transaction: v=%d err=%v", v, err)
	}
	exec("ROLLBACK")
	if err := c.QueryRowContext(t.Context(), "SELECT v FROM tx WHERE id = 1").Scan(&v); err != nil || v != 1 {
		t.Fatalf("after rollback: v=%d err=%v", v, err)
	}
}

func TestSplitSessionStateLikeOneServer(t *testing.T) {
	e := splitEnv(t, nil)
	masterID, replicas := e.ids()
	c, end := oneConn(t, e.dsn(""))
	defer end()
	ctx := t.Context()
	exec := func(q string, args ...any) sql.Result {
		t.Helper()
		r, err := c.ExecContext(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return r
	}
	// Session variables are replayed: a replica read sees them.
	exec("SET SESSION time_zone = '+05:30'")
	exec("SET SESSION sql_mode = 'ANSI_QUOTES,NO_ZERO_DATE'")
	exec("SET NAMES latin1")
	var id int
	var tz, mode, cs string
	if err := c.QueryRowContext(ctx, "SELECT @@server_id, @@session.time_zone, @@session.sql_mode, @@character_set_client").Scan(&id, &tz, &mode, &cs); err != nil {
		t.Fatal(err)
	}
	if _, ok := replicas[id]; !ok {
		t.Errorf("variable read ran on server %d, want a replica", id)
	}
	if tz != "+05:30" || mode != "ANSI_QUOTES,NO_ZERO_DATE" || cs != "latin1" {
		t.Errorf("replayed state on server %d: tz=%q sql_mode=%q charset=%q", id, tz, mode, cs)
	}
	exec("SET NAMES utf8mb4")
	// USE is replayed too.
	admin := e.adminDB(t)
	mustExec(t, admin, "CREATE DATABASE IF NOT EXISTS other")
	mustExec(t, admin, "CREATE TABLE IF NOT EXISTS other.o (x INT)")
	ctxw, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := e.c.WaitReplicated(ctxw); err != nil {
		t.Fatal(err)
	}
	exec("USE other")
	var db string
	if err := c.QueryRowContext(ctx, "SELECT @@server_id, DATABASE()").Scan(&id, &db); err != nil || db != "other" {
		t.Fatalf("after USE: server %d db %q err %v", id, db, err)
	}
	if _, ok := replicas[id]; !ok {
		t.Errorf("DATABASE() read ran on server %d, want a replica", id)
	}
	exec("USE test")
	// LAST_INSERT_ID after an insert.
	exec("CREATE TABLE IF NOT EXISTS ai (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
	r := exec("INSERT INTO ai (v) VALUES (1)")
	want, _ := r.LastInsertId()
	var lid int64
	if err := c.QueryRowContext(ctx, "SELECT LAST_INSERT_ID()").Scan(&lid); err != nil || lid != want {
		t.Fatalf("LAST_INSERT_ID() = %d (err %v), want %d", lid, err, want)
	}
	// User variables carried between statements pin to the master.
	exec("SET @total = 40")
	exec("SET @total = @total + 2")
	var total int
	if err := c.QueryRowContext(ctx, "SELECT @total").Scan(&total); err != nil || total != 42 {
		t.Fatalf("@total = %d, err %v", total, err)
	}
	if got := serverID(t, c, "SELECT @@server_id"); got != masterID {
		t.Errorf("after user variables, reads ran on server %d, want the master (pinned)", got)
	}
	// Temporary tables, in a fresh session.
	c2, end2 := oneConn(t, e.dsn(""))
	defer end2()
	if _, err := c2.ExecContext(ctx, "CREATE TEMPORARY TABLE tmp (x INT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ExecContext(ctx, "INSERT INTO tmp VALUES (1), (2), (3)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c2.QueryRowContext(ctx, "SELECT COUNT(*) FROM tmp").Scan(&n); err != nil || n != 3 {
		t.Fatalf("temporary table: n=%d err=%v", n, err)
	}
	// SQL_CALC_FOUND_ROWS / FOUND_ROWS in a fresh session.
	c3, end3 := oneConn(t, e.dsn(""))
	defer end3()
	rows, err := c3.QueryContext(ctx, "SELECT SQL_CALC_FOUND_ROWS id FROM ai LIMIT 0")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	var found int
	if err := c3.QueryRowContext(ctx, "SELECT FOUND_ROWS()").Scan(&found); err != nil || found < 1 {
		t.Fatalf("FOUND_ROWS() = %d, err %v", found, err)
	}
}

func TestSplitPreparedStatements(t *testing.T) {
	e := splitEnv(t, nil)
	masterID, replicas := e.ids()
	db := openDB(t, e.dsn(""))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE IF NOT EXISTS ps (id INT PRIMARY KEY, name VARCHAR(20))")
	ins, err := db.Prepare("INSERT INTO ps VALUES (?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	sel, err := db.Prepare("SELECT @@server_id, name FROM ps WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 20; i++ {
		if _, err := ins.Exec(i, fmt.Sprintf("name-%d", i)); err != nil {
			t.Fatal(err)
		}
		var id int
		var name string
		if err := sel.QueryRow(i).Scan(&id, &name); err != nil {
			t.Fatalf("prepared read %d: %v", i, err)
		}
		if name != fmt.Sprintf("name-%d", i) {
			t.Fatalf("prepared read %d: name %q (stale read?)", i, name)
		}
		if _, ok := replicas[id]; !ok && id != masterID {
			t.Fatalf("unknown server %d", id)
		}
	}
	// Prepared reads do reach replicas.
	var id int
	if err := sel.QueryRow(1).Scan(&id, new(string)); err != nil {
		t.Fatal(err)
	}
	if _, ok := replicas[id]; !ok {
		t.Errorf("prepared read ran on server %d, want a replica", id)
	}
	var who int
	if err := db.QueryRow("SELECT @@server_id FROM ps WHERE id = ? FOR UPDATE", 1).Scan(&who); err != nil || who != masterID {
		t.Errorf("prepared locking read ran on %d (err %v), want master %d", who, err, masterID)
	}
}

func TestSplitStoppedAndLaggingReplicasGetNoReads(t *testing.T) {
	r := proxy.DefaultRouting()
	r.MaxReplicaLag = 2 * time.Second
	e := splitEnv(t, &r)
	_, replicas := e.ids()
	reps := e.c.Replicas()
	stopped, other := reps[0], reps[1]
	adm, err := e.c.AdminDB(stopped)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	mustExec(t, adm, "STOP SLAVE")
	waitFor(t, 10*time.Second, "the monitor to see the stopped replica", func() bool {
		n, _ := e.store.Load().Node(stopped.Name)
		return !n.SQLThreadRunning
	})
	readsGoTo := func(want *cluster.Node) {
		t.Helper()
		for i := 0; i < 10; i++ {
			c, end := oneConn(t, e.dsn(""))
			id := serverID(t, c, "SELECT @@server_id")
			end()
			if id != want.ServerID {
				t.Fatalf("read %d ran on %s (server_id %d), want only %s", i, replicas[id], id, want.Name)
			}
		}
	}
	readsGoTo(other)
	mustExec(t, adm, "START SLAVE")
	e.waitReplicasUsable(t, 2)

	// Lagging: delay the SQL thread of one replica and keep writing.
	mustExec(t, adm, "STOP SLAVE")
	mustExec(t, adm, "CHANGE MASTER TO MASTER_DELAY = 30")
	mustExec(t, adm, "START SLAVE")
	w := openDB(t, e.dsn(""))
	mustExec(t, w, "CREATE TABLE IF NOT EXISTS lag (id INT AUTO_INCREMENT PRIMARY KEY)")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				_, _ = w.Exec("INSERT INTO lag VALUES ()")
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	waitFor(t, 20*time.Second, "the monitor to see the lag", func() bool {
		n, _ := e.store.Load().Node(stopped.Name)
		return n.LagSeconds > 2
	})
	readsGoTo(other)
}

// TestReadYourWrites: 10,000 insert-then-select pairs over 16 sessions, with
// reads on replicas; not one may miss its own write.
func TestReadYourWrites(t *testing.T) {
	e := splitEnv(t, nil)
	db := openDB(t, e.dsn(""))
	mustExec(t, db, "CREATE TABLE ryw (sess INT, n INT, PRIMARY KEY (sess, n))")
	const sessions, pairs = 16, 10000
	var stale, failed atomic.Int64
	before := e.srv.Metrics()
	var wg sync.WaitGroup
	start := time.Now()
	for s := 0; s < sessions; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := db.Conn(context.Background())
			if err != nil {
				failed.Add(1)
				return
			}
			defer c.Close()
			for n := s; n < pairs; n += sessions {
				if _, err := c.ExecContext(context.Background(), "INSERT INTO ryw VALUES (?, ?)", s, n); err != nil {
					failed.Add(1)
					continue
				}
				var cnt int
				if err := c.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM ryw WHERE sess = ? AND n = ?", s, n).Scan(&cnt); err != nil {
					failed.Add(1)
					continue
				}
				if cnt != 1 {
					stale.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	after := e.srv.Metrics()
	reads := after.StatementsReplica - before.StatementsReplica
	t.Logf("read-your-writes: %d pairs over %d sessions in %s: %d stale, %d errors; %d reads on replicas, %d fell back to the master, %d GTID waits (mean %.2f ms)",
		pairs, sessions, time.Since(start).Round(time.Millisecond), stale.Load(), failed.Load(), reads,
		after.ReadFallbacks-before.ReadFallbacks, after.GTIDWaits-before.GTIDWaits,
		float64(after.GTIDWaitNanos-before.GTIDWaitNanos)/float64(max(after.GTIDWaits-before.GTIDWaits, 1))/1e6)
	if failed.Load() != 0 {
		t.Errorf("%d statements failed", failed.Load())
	}
	if stale.Load() != 0 {
		t.Errorf("%d stale reads", stale.Load())
	}
	if reads < pairs/2 {
		t.Errorf("only %d of %d reads ran on replicas: the test would prove nothing", reads, pairs)
	}
}

func TestSplitRoutingRules(t *testing.T) {
	rules, err := router.CompileRules([]router.RuleSpec{{Match: `(?i)critical_read`, Route: "master"}})
	if err != nil {
		t.Fatal(err)
	}
	r := proxy.DefaultRouting()
	r.Rules = rules
	e := splitEnv(t, &r)
	masterID, replicas := e.ids()
	c, end := oneConn(t, e.dsn(""))
	defer end()
	if id := serverID(t, c, "SELECT @@server_id AS critical_read"); id != masterID {
		t.Errorf("rule-matched read ran on %d, want master %d", id, masterID)
	}
	if id := serverID(t, c, "SELECT @@server_id AS ordinary"); replicas[id] == "" {
		t.Errorf("ordinary read ran on %d, want a replica", id)
	}
}

// TestStrongConsistency: in strong mode a read sees every write the proxy
// acknowledged before it, from any session.
func TestStrongConsistency(t *testing.T) {
	r := proxy.DefaultRouting()
	r.Consistency = proxy.ConsistencyStrong
	e := splitEnv(t, &r)
	_, replicas := e.ids()
	w, endW := oneConn(t, e.dsn(""))
	defer endW()
	rd, endR := oneConn(t, e.dsn(""))
	defer endR()
	ctx := t.Context()
	if _, err := w.ExecContext(ctx, "CREATE TABLE strong (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	stale := 0
	for i := 0; i < 300; i++ {
		if _, err := w.ExecContext(ctx, "INSERT INTO strong VALUES (?)", i); err != nil {
			t.Fatal(err)
		}
		var id, n int
		if err := rd.QueryRowContext(ctx, "SELECT @@server_id, COUNT(*) FROM strong WHERE id = ?", i).Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			stale++
		}
		if replicas[id] == "" && i > 10 {
			t.Fatalf("strong read %d ran on server %d, want a replica", i, id)
		}
	}
	if stale != 0 {
		t.Fatalf("%d of 300 reads by another session missed an acknowledged write", stale)
	}
}
