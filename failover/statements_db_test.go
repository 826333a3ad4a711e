package failover

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/cluster"
	"github.com/switchyard/switchyard/gtid"
	"github.com/switchyard/switchyard/topology"
)

// TestStepsOnRealServers runs the generated statements against real servers
// (the cluster sandbox): kill the master, choose and promote a replica,
// repoint the other with a replication user whose password is full of quotes
// and backslashes, kill the application's connections, rejoin the old
// master, repoint it once more by slave_pos, and switch back.
func TestStepsOnRealServers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts database servers")
	}
	c := cluster.StartForTest(t, cluster.Options{Replicas: 2})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	flavor, err := gtid.ParseFlavor(c.Flavor)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDialect(flavor, c.Version)
	old, r1, r2 := c.Nodes[0], c.Nodes[1], c.Nodes[2]

	conns := map[string]*sql.Conn{}
	connect := func(n *cluster.Node) *sql.Conn {
		t.Helper()
		db, err := c.AdminDB(n)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatalf("connect %s: %v", n.Name, err)
		}
		t.Cleanup(func() { conn.Close() })
		if _, err := conn.ExecContext(ctx, SessionSetup); err != nil {
			t.Fatalf("%s: %v", SessionSetup, err)
		}
		conns[n.Name] = conn
		return conn
	}
	run := func(n *cluster.Node, st Step) {
		t.Helper()
		for i, q := range st.SQL() {
			if _, err := conns[n.Name].ExecContext(ctx, q); err != nil {
				t.Fatalf("%s on %s: statement %d (%s): %v", st.Name, n.Name, i, st.Redacted()[i], err)
			}
		}
	}
	str := func(n *cluster.Node, q string) string {
		t.Helper()
		var v sql.NullString
		if err := conns[n.Name].QueryRowContext(ctx, q).Scan(&v); err != nil {
			t.Fatalf("%s on %s: %v", q, n.Name, err)
		}
		return v.String
	}
	posSQL := "SELECT @@GLOBAL.gtid_current_pos"
	if flavor == gtid.MySQL {
		posSQL = "SELECT @@GLOBAL.gtid_executed"
	}
	pos := func(n *cluster.Node) gtid.Set {
		t.Helper()
		p, err := gtid.Parse(flavor, str(n, posSQL))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	wait := func(n *cluster.Node, p gtid.Set) {
		t.Helper()
		st, err := WaitForPosition(d, p, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if r := str(n, st.SQL()[0]); !WaitSucceeded(r) {
			t.Fatalf("%s on %s returned %q", st.Redacted()[0], n.Name, r)
		}
	}
	mustStep := func(s Step, err error) Step {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	for _, n := range c.Nodes {
		connect(n)
	}
	for _, q := range []string{
		"CREATE DATABASE fo",
		"CREATE TABLE fo.t (id INT PRIMARY KEY)",
		"INSERT INTO fo.t VALUES (1), (2), (3)",
		"CREATE USER 'nasty'@'127.0.0.1' IDENTIFIED BY " + Quote(nastyPassword),
		"GRANT REPLICATION SLAVE ON *.* TO 'nasty'@'127.0.0.1'",
	} {
		if _, err := conns[old.Name].ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	p := pos(old)
	wait(r1, p)
	wait(r2, p)

	if err := c.Kill(old); err != nil {
		t.Fatal(err)
	}
	var nodes []NodeStatus
	nodes = append(nodes, NodeStatus{Name: old.Name, Address: old.Addr(), Role: topology.RoleMaster})
	for _, n := range []*cluster.Node{r1, r2} {
		nodes = append(nodes, NodeStatus{Name: n.Name, Address: n.Addr(), Role: topology.RoleReplica,
			Reachable: true, GTID: pos(n), LagSeconds: Unknown})
	}
	ch, err := ChooseCandidate(nodes, ChooseOptions{Failed: old.Name})
	if err != nil || ch.Winner != r1.Name {
		t.Fatalf("choice %+v, %v", ch, err)
	}
	wait(r1, ch.Position)
	if flavor == gtid.MariaDB { // MySQL needs the semi-sync plugins loaded
		run(r1, mustStep(SemiSync(d, SemiSyncMaster)))
		run(r1, mustStep(SemiSync(d, SemiSyncOff)))
	}
	run(r1, mustStep(Promote(d)))
	if ro := str(r1, "SELECT @@GLOBAL.read_only"); ro != "0" {
		t.Fatalf("promoted node read_only=%s", ro)
	}
	src := Source{Host: r1.ReplHost, Port: r1.ReplPort, User: "nasty", Password: nastyPassword, HeartbeatPeriod: 500 * time.Millisecond}
	run(r2, mustStep(Repoint(d, src)))
	stopSQL := "STOP SLAVE SQL_THREAD"
	if flavor == gtid.MySQL {
		stopSQL = "STOP REPLICA SQL_THREAD"
	}
	if _, err := conns[r2.Name].ExecContext(ctx, stopSQL); err != nil {
		t.Fatal(err)
	}
	run(r2, mustStep(StartSQLThread(d)))

	write := func(v int) gtid.Set {
		t.Helper()
		if _, err := conns[r1.Name].ExecContext(ctx, fmt.Sprintf("INSERT INTO fo.t VALUES (%d)", v)); err != nil {
			t.Fatal(err)
		}
		return pos(r1)
	}
	// r2 can only apply this if it authenticated with the quoted password.
	wait(r2, write(4))

	// The application's connections to the new master are found and killed;
	// replication threads are not.
	appDB, err := sql.Open("mysql", r1.DSN(c.Users.App, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer appDB.Close()
	var appID uint64
	if err := appDB.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&appID); err != nil {
		t.Fatal(err)
	}
	rows, err := conns[r1.Name].QueryContext(ctx, AppConnectionsQuery(c.Users.Monitor.Name))
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) != 1 || ids[0] != appID {
		t.Fatalf("app connections %v, want [%d] (replication and our own excluded)", ids, appID)
	}
	run(r1, KillConnections(ids))
	if err := appDB.PingContext(ctx); err != nil {
		t.Fatalf("pool did not recover: %v", err) // database/sql reconnects; the killed one is gone
	}

	// The old master comes back fenced and rejoins by GTID.
	old.ReadOnly = true
	if err := c.StartNode(ctx, old); err != nil {
		t.Fatal(err)
	}
	connect(old)
	if e := gtid.Errant(pos(old), pos(r1)); !e.IsEmpty() {
		t.Fatalf("old master has errant %s", e)
	}
	run(old, mustStep(Fence(d)))
	run(old, mustStep(Rejoin(d, src)))
	wait(old, write(5))
	if ro := str(old, "SELECT @@GLOBAL.read_only"); ro != "1" {
		t.Fatalf("rejoined old master read_only=%s", ro)
	}
	// A later plain repoint (by slave_pos) must not replay its own old writes.
	run(old, mustStep(Repoint(d, src)))
	wait(old, write(6))
	if n := str(old, "SELECT COUNT(*) FROM fo.t"); n != "6" {
		t.Fatalf("old master has %s rows, want 6", n)
	}
	// And the old master can be promoted back (switchover home).
	run(r1, mustStep(Fence(d)))
	wait(old, pos(r1))
	run(old, mustStep(Promote(d)))
	oldSrc := Source{Host: old.ReplHost, Port: old.ReplPort, User: c.Users.Repl.Name, Password: c.Users.Repl.Password}
	run(r1, mustStep(Rejoin(d, oldSrc)))
	run(r2, mustStep(Repoint(d, oldSrc)))
	if _, err := conns[old.Name].ExecContext(ctx, "INSERT INTO fo.t VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	p = pos(old)
	wait(r1, p)
	wait(r2, p)
	t.Logf("%s %s: promote, repoint, rejoin, kill and wait statements all ran; final position %s", c.Flavor, c.Version, p)
}
