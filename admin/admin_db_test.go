package admin

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/switchyard/switchyard/failover"
	"github.com/switchyard/switchyard/topology"
)

// TestAdminAuth: only the admin account opens the admin port.
func TestAdminAuth(t *testing.T) {
	e := startEnv(t)
	if err := e.adminDB(t).Ping(); err != nil {
		t.Fatalf("admin login: %v", err)
	}
	bad := openTestDB(t, adminUser+":wrong@tcp("+e.adminAddr+")/")
	if err := bad.Ping(); errNo(err) != mysql.ER_ACCESS_DENIED_ERROR {
		t.Fatalf("wrong admin password: %v, want 1045", err)
	}
	u := e.c.Users.App
	app := openTestDB(t, u.Name+":"+u.Password+"@tcp("+e.adminAddr+")/")
	if err := app.Ping(); errNo(err) != mysql.ER_ACCESS_DENIED_ERROR {
		t.Fatalf("app credentials on the admin port: %v, want 1045", err)
	}
	// And the admin account does not open the proxy.
	adm := openTestDB(t, adminUser+":"+adminPass+"@tcp("+e.proxyAddr+")/")
	if err := adm.Ping(); errNo(err) != mysql.ER_ACCESS_DENIED_ERROR {
		t.Fatalf("admin credentials on the proxy port: %v, want 1045", err)
	}
}

// TestAdminTables: the live tables answer real SQL.
func TestAdminTables(t *testing.T) {
	e := startEnv(t)
	db := e.adminDB(t)
	app := e.appDB(t)
	app.SetMaxOpenConns(1)
	if _, err := app.Exec("CREATE DATABASE IF NOT EXISTS t1"); err != nil {
		t.Fatal(err)
	}
	e.digests.Record("SELECT * FROM t WHERE id = 1", "replica", 2*time.Millisecond, 1)
	e.digests.Record("SELECT * FROM t WHERE id = 22", "master", 4*time.Millisecond, 1)
	e.digests.Record("INSERT INTO t VALUES (1, 'x')", "master", time.Millisecond, 1)

	cols, rows := query(t, db, "SHOW TOPOLOGY")
	printTable(t, cols, rows)
	if len(rows) != 3 || cols[0] != "name" || cols[5] != "lag_seconds" {
		t.Fatalf("SHOW TOPOLOGY: %v %v", cols, rows)
	}
	master := e.c.Master().Name
	if rows[0][0] != master || rows[0][2] != "master" || rows[0][3] != "up" || rows[0][4] != "0" {
		t.Fatalf("master row: %v", rows[0])
	}
	if !strings.Contains(rows[0][6], "-") || rows[0][7] != "1" || !strings.Contains(strings.ToLower(rows[0][8]), "mariadb") {
		t.Fatalf("master row lacks GTID / server id / version: %v", rows[0])
	}

	cols, rows = query(t, db, "SELECT name, lag_seconds FROM nodes WHERE role='replica' ORDER BY lag_seconds")
	printTable(t, cols, rows)
	if len(rows) != 2 {
		t.Fatalf("replicas: %v", rows)
	}
	for _, r := range rows {
		if _, err := strconv.ParseFloat(r[1], 64); err != nil || r[0] == master {
			t.Fatalf("replica row %v", r)
		}
	}

	_, rows = query(t, db, "SELECT role, COUNT(*) AS n, SUM(read_only) FROM nodes GROUP BY role ORDER BY role")
	if fmt.Sprint(rows) != "[[master 1 0] [replica 2 2]]" {
		t.Fatalf("GROUP BY role: %v", rows)
	}
	// A join: the proxy's sessions with their backend's role.
	_, rows = query(t, db, "SELECT s.id, s.user, n.role FROM sessions s LEFT JOIN nodes n ON n.name = s.backend WHERE s.user = 'app'")
	if len(rows) != 1 {
		t.Fatalf("sessions join nodes: %v", rows)
	}
	_, rows = query(t, db, "SELECT normalized, count, master_count, replica_count, ROUND(total_ms) FROM query_digest ORDER BY normalized")
	if len(rows) != 2 || rows[1][1] != "2" || rows[1][2] != "1" || rows[1][3] != "1" || rows[1][4] != "6" {
		t.Fatalf("query_digest: %v", rows)
	}
	_, rows = query(t, db, "SELECT key, value FROM config WHERE key IN ('admin.password', 'admin.user', 'users[0].password')")
	for _, r := range rows {
		if strings.Contains(r[1], "secret") {
			t.Fatalf("config leaks a secret: %v", r)
		}
	}
	if len(rows) < 2 {
		t.Fatalf("config: %v", rows)
	}
	_, rows = query(t, db, "SHOW TABLES")
	var names []string
	for _, r := range rows {
		names = append(names, r[0])
	}
	if got := strings.Join(names, ","); !strings.Contains(got, "nodes,sessions,events,query_digest,pools,config") {
		t.Fatalf("SHOW TABLES: %s", got)
	}
	_, rows = query(t, db, "SELECT node, open FROM pools WHERE open > 0")
	if len(rows) == 0 {
		t.Fatalf("pools: no open pool although an app session is connected")
	}
	// What the mariadb client asks on connect.
	_, rows = query(t, db, "select @@version_comment limit 1")
	if len(rows) != 1 || rows[0][0] != "Switchyard admin" {
		t.Fatalf("@@version_comment: %v", rows)
	}
	// Column types: integers are integers to the client.
	var n int64
	var lag sql.NullFloat64
	if err := db.QueryRow("SELECT COUNT(*), MAX(lag_seconds) FROM nodes").Scan(&n, &lag); err != nil || n != 3 {
		t.Fatalf("typed scan: %d %v %v", n, lag, err)
	}

	for _, tc := range []struct {
		q    string
		code uint16
	}{
		{"SELECT * FROM nope", mysql.ER_NO_SUCH_TABLE},
		{"SELECT nope FROM nodes", mysql.ER_BAD_FIELD_ERROR},
		{"SELECT FROM WHERE", mysql.ER_PARSE_ERROR},
		{"DROP TABLE nodes", mysql.ER_PARSE_ERROR},
		{"WITH x AS (SELECT 1) DELETE FROM nodes", mysql.ER_OPTION_PREVENTS_STATEMENT},
		{"SWITCHOVER TO", mysql.ER_PARSE_ERROR},
	} {
		_, err := db.Exec(tc.q)
		if errNo(err) != tc.code {
			t.Errorf("%s: %v, want %d", tc.q, err, tc.code)
		}
	}
}

// TestAdminCommands drives SET NODE, ACKNOWLEDGE, RELOAD, KILL, FAILOVER
// (refused) through the admin port.
func TestAdminCommands(t *testing.T) {
	e := startEnv(t)
	db := e.adminDB(t)
	replica := e.c.Replicas()[1].Name

	_, rows := query(t, db, "SET NODE '"+replica+"' MAINTENANCE")
	t.Log(rows)
	_, rows = query(t, db, "SELECT state FROM nodes WHERE name = '"+replica+"'")
	if rows[0][0] != string(topology.StateMaintenance) {
		t.Fatalf("after SET NODE MAINTENANCE: %v", rows)
	}
	query(t, db, "SET NODE '"+replica+"' OFFLINE")
	_, rows = query(t, db, "SELECT state FROM nodes WHERE name = '"+replica+"'")
	if rows[0][0] != string(topology.StateOffline) {
		t.Fatalf("after SET NODE OFFLINE: %v", rows)
	}
	query(t, db, "SET NODE '"+replica+"' ONLINE")
	e.waitTopology(t, func(s *topology.Snapshot) bool { n, _ := s.Node(replica); return n.State == topology.StateUp })
	_, rows = query(t, db, "SELECT kind, node, detail, outcome FROM events WHERE kind = 'node-state' ORDER BY time")
	if len(rows) != 3 || rows[2][2] != "up" {
		t.Fatalf("node-state events: %v", rows)
	}
	if _, err := db.Exec("SET NODE 'nope' OFFLINE"); err == nil || !strings.Contains(err.Error(), "unknown node") {
		t.Fatalf("SET NODE of an unknown node: %v", err)
	}

	_, rows = query(t, db, "ACKNOWLEDGE FAILOVER")
	if len(rows) != 1 {
		t.Fatalf("ACKNOWLEDGE: %v", rows)
	}
	_, rows = query(t, db, "SELECT COUNT(*) FROM events WHERE kind = 'acknowledge'")
	if rows[0][0] != "1" {
		t.Fatalf("acknowledge event: %v", rows)
	}

	query(t, db, "RELOAD CONFIG")
	if _, err := db.Exec("RELOAD CONFIG"); err == nil || !strings.Contains(err.Error(), "lisen") {
		t.Fatalf("failing RELOAD CONFIG: %v", err)
	}

	_, err := db.Exec("FAILOVER")
	if err == nil || !strings.Contains(err.Error(), "use SWITCHOVER") {
		t.Fatalf("FAILOVER with a live master: %v", err)
	}

	// KILL SESSION: an app session sleeping in a statement is ended.
	app := e.appDB(t)
	app.SetMaxOpenConns(1)
	conn, err := app.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// In a transaction, so it runs on the master: a read killed on a replica
	// is retried on the master by the proxy (see the report).
	if _, err := conn.ExecContext(context.Background(), "BEGIN"); err != nil {
		t.Fatal(err)
	}
	slept := make(chan error, 1)
	go func() {
		_, err := conn.ExecContext(context.Background(), "SELECT SLEEP(30)")
		slept <- err
	}()
	var id string
	deadline := time.Now().Add(10 * time.Second)
	for id == "" && time.Now().Before(deadline) {
		_, rows = query(t, db, "SELECT id, statement_seconds, backend, route FROM sessions WHERE statement LIKE '%SLEEP%'")
		t.Log(rows)
		if len(rows) == 1 {
			id = rows[0][0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	if id == "" {
		t.Fatal("the sleeping session never showed in the sessions table")
	}
	_, krows := query(t, db, "KILL SESSION "+id)
	t.Logf("KILL SESSION %s: %v", id, krows)
	if err := <-slept; err == nil {
		t.Fatal("killed session's statement succeeded")
	} else {
		t.Logf("killed session saw: %v", err)
	}
	if _, err := db.Exec("KILL SESSION 999999"); errNo(err) != mysql.ER_NO_SUCH_THREAD {
		t.Fatalf("KILL of an unknown session: %v", err)
	}
}

// TestSwitchoverUnderLoad: SWITCHOVER (and back, with TO) under a
// continuous write load through the proxy: the pause is reported and the
// clients see no error.
func TestSwitchoverUnderLoad(t *testing.T) {
	e := startEnv(t)
	db := e.adminDB(t)
	app := e.appDB(t)
	app.SetMaxOpenConns(8)
	if _, err := app.Exec("CREATE DATABASE IF NOT EXISTS sw"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Exec("CREATE TABLE sw.w (id BIGINT AUTO_INCREMENT PRIMARY KEY, writer INT)"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	var acked int
	var maxLatency time.Duration
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				start := time.Now()
				_, err := app.ExecContext(ctx, "INSERT INTO sw.w (writer) VALUES (?)", w)
				mu.Lock()
				if err != nil && ctx.Err() == nil {
					errs = append(errs, err.Error())
				} else if err == nil {
					acked++
					maxLatency = max(maxLatency, time.Since(start))
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	old := e.c.Master().Name
	cols, rows := query(t, db, "SWITCHOVER")
	printTable(t, cols, rows)
	winner := rows[0][2]
	if winner == old || rows[0][3] != "ok" {
		t.Fatalf("switchover report: %v", rows)
	}
	pause1 := rows[0][4]
	time.Sleep(500 * time.Millisecond)
	cols, rows = query(t, db, "SWITCHOVER TO '"+old+"'")
	printTable(t, cols, rows)
	if rows[0][2] != old {
		t.Fatalf("switchover back: %v", rows)
	}
	pause2 := rows[0][4]
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("switchover %s->%s pause %sms, back pause %sms; %d writes acked, slowest %s, %d client errors",
		old, winner, pause1, pause2, acked, maxLatency, len(errs))
	if len(errs) > 0 {
		t.Fatalf("client errors during switchover: %d, first: %s", len(errs), errs[0])
	}
	_, rows = query(t, db, "SELECT kind, outcome, pause_ms, winner FROM events WHERE kind = 'switchover' ORDER BY time")
	if len(rows) != 2 || rows[0][1] != "ok" || rows[1][3] != old {
		t.Fatalf("switchover events: %v", rows)
	}
	_, rows = query(t, db, "SELECT name FROM nodes WHERE role = 'master'")
	if len(rows) != 1 || rows[0][0] != old {
		t.Fatalf("master after switching back: %v", rows)
	}
}

// TestDrills runs every scenario through the admin port on one cluster and
// checks each report carries real numbers.
func TestDrills(t *testing.T) {
	e := startEnv(t)
	db := e.adminDB(t)
	db.SetMaxOpenConns(4)

	if _, err := db.Exec("DRILL 'nope'"); err == nil || !strings.Contains(err.Error(), "scenarios:") {
		t.Fatalf("unknown drill: %v", err)
	}

	lastNotes := "" // the last drill report's notes, shown if the topology does not heal
	report := func(t *testing.T, scenario string) map[string]string {
		t.Helper()
		// Progress is visible from another connection while it runs.
		var progress []string
		done, finished := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-time.After(100 * time.Millisecond):
				case <-finished:
					return
				}
				rows, err := db.Query("SELECT message FROM drill_progress WHERE scenario = ? ORDER BY seq", scenario)
				if err != nil {
					continue
				}
				var p []string
				for rows.Next() {
					var m string
					_ = rows.Scan(&m)
					p = append(p, m)
				}
				rows.Close()
				if len(p) > 0 {
					progress = p
				}
				if len(p) > 0 && strings.Contains(p[len(p)-1], "finished") {
					return
				}
			}
		}()
		cols, rows := query(t, db, "DRILL '"+scenario+"'")
		close(finished)
		<-done
		printTable(t, cols, rows)
		if len(progress) < 3 {
			t.Errorf("progress seen while the drill ran: %v", progress)
		}
		m := map[string]string{}
		for _, r := range rows {
			m[r[0]] = r[1]
		}
		lastNotes = m["notes"]
		if m["outcome"] != "ok" {
			t.Errorf("%s outcome %s: %s", scenario, m["outcome"], m["verdict"])
		}
		if n, _ := strconv.Atoi(m["writes_acked"]); n < 10 {
			t.Errorf("%s: only %s writes", scenario, m["writes_acked"])
		}
		if m["acked_writes_lost"] != "0" || m["stale_reads"] != "0" {
			t.Errorf("%s: lost %s, stale %s", scenario, m["acked_writes_lost"], m["stale_reads"])
		}
		if _, err := strconv.ParseFloat(m["write_pause_ms"], 64); err != nil {
			t.Errorf("%s: write pause %q", scenario, m["write_pause_ms"])
		}
		_, ev := query(t, db, "SELECT outcome, detail FROM events WHERE kind = 'drill' AND reason = 'drill "+scenario+"'")
		if len(ev) != 1 {
			t.Errorf("%s: drill events %v", scenario, ev)
		}
		t.Logf("FIGURES %s: detection %s ms, promotion %s ms, first write %s ms, client write pause %s ms, server pause %s ms, writes %s, write errors %s, reads %s, read errors %s, lost %s",
			scenario, m["detection_ms"], m["promotion_ms"], m["first_write_after_ms"], m["write_pause_ms"], m["server_pause_ms"],
			m["writes_acked"], m["write_errors"], m["reads"], m["read_errors"], m["acked_writes_lost"])
		return m
	}
	// healthy waits for a master and every node up. After a drill that
	// kills or stops the master, the old master may instead have diverged:
	// a write it committed as it died never reached the new master (the
	// drill's writes are asynchronous and unacknowledged when that happens).
	// Then it must be kept out, fenced, and the drill must say so.
	keptOut := map[string]bool{}
	healthy := func(t *testing.T, divergeOK bool) {
		t.Logf("last drill's notes: %s", lastNotes)
		var out []string
		e.waitTopology(t, func(s *topology.Snapshot) bool {
			up := 0
			out = out[:0]
			for _, n := range s.Nodes {
				switch {
				case n.State == topology.StateUp:
					up++
				case divergeOK && failover.Diverged(n):
					out = append(out, n.Name)
				}
			}
			return s.MasterName != "" && !s.Failover && up >= 1 && up+len(out) == 3
		})
		for _, name := range out {
			if keptOut[name] {
				continue
			}
			keptOut[name] = true
			t.Logf("%s diverged and is kept out", name)
			if !strings.Contains(lastNotes, name+" diverged") {
				t.Errorf("the drill kept %s out without saying so: %s", name, lastNotes)
			}
		}
	}

	t.Run(ScenarioSwitchoverAndBack, func(t *testing.T) {
		m := report(t, ScenarioSwitchoverAndBack)
		if m["write_errors"] != "0" || m["promotion_ms"] == "NULL" || m["old_master"] != m["new_master"] {
			t.Errorf("switchover-and-back: %v", m)
		}
	})
	healthy(t, false)
	t.Run(ScenarioLagReplica, func(t *testing.T) {
		m := report(t, ScenarioLagReplica)
		if lag, _ := strconv.ParseFloat(m["max_lag_seconds"], 64); lag < 1 {
			t.Errorf("lag-replica: the monitor never saw lag: %v", m)
		}
	})
	healthy(t, false)
	t.Run(ScenarioIsolateMaster, func(t *testing.T) {
		m := report(t, ScenarioIsolateMaster)
		if m["old_master"] != m["new_master"] {
			t.Errorf("isolate-master failed over: %v", m)
		}
	})
	healthy(t, false)
	for _, sc := range []string{ScenarioStopMaster, ScenarioKillMaster} {
		t.Run(sc, func(t *testing.T) {
			m := report(t, sc)
			if m["old_master"] == m["new_master"] || m["detection_ms"] == "NULL" || m["promotion_ms"] == "NULL" || m["first_write_after_ms"] == "NULL" {
				t.Errorf("%s: %v", sc, m)
			}
			if blocked, _ := e.mgr.Blocked(); blocked {
				t.Errorf("%s left the anti-flapping block on", sc)
			}
		})
		healthy(t, true)
	}
	_, rows := query(t, db, "SELECT kind, outcome FROM events WHERE kind IN ('failover', 'drill') AND outcome = 'ok' ORDER BY time")
	t.Logf("events: %v", rows)
	_ = failover.EventDrill
}

// TestDrillClient: the `switchyard drill` client prints progress and the
// report; a drill of a cluster not started by the sandbox needs CONFIRM.
func TestDrillClient(t *testing.T) {
	e := startEnv(t)
	var out strings.Builder
	if err := DrillClient(t.Context(), e.adminAddr, adminUser, adminPass, ScenarioSwitchoverAndBack, false, &out); err != nil {
		t.Fatalf("drill client: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	for _, want := range []string{"SWITCHOVER away", "drill report:", "write_pause_ms", "outcome"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("drill client output lacks %q", want)
		}
	}
	e.adm.o.Drill.Sandbox = false
	defer func() { e.adm.o.Drill.Sandbox = true }()
	err := DrillClient(t.Context(), e.adminAddr, adminUser, adminPass, ScenarioKillMaster, false, &out)
	if err == nil || !strings.Contains(err.Error(), "CONFIRM") {
		t.Fatalf("drill without CONFIRM on a non-sandbox cluster: %v", err)
	}
}
