// Package bench holds the benchmark harness (cmd/bench, run by `make bench`)
// and Go benchmarks of the proxy's hot path against real servers.
package bench

import (
	"context"
	"database/sql"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/switchyard/switchyard/cluster"
	"github.com/switchyard/switchyard/failover"
	"github.com/switchyard/switchyard/proxy"
	"github.com/switchyard/switchyard/topology"
)

// startProxy runs a proxy in this process in front of c until the benchmark
// ends and returns its address.
func startProxy(b *testing.B, c *cluster.Cluster) string {
	b.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	store := topology.NewStore(nil)
	var nodes []failover.NodeConfig
	for _, n := range c.Nodes {
		nodes = append(nodes, failover.NodeConfig{Name: n.Name, Address: n.Addr(), Weight: 1})
	}
	mon := failover.NewMonitor(failover.MonitorOptions{Nodes: nodes, User: c.Users.Monitor.Name,
		Password: c.Users.Monitor.Password, Interval: 250 * time.Millisecond, Store: store, Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	mon.Probe(ctx)
	srv, err := proxy.New(proxy.Options{Users: []proxy.User{{Name: c.Users.App.Name, Password: c.Users.App.Password}},
		Topology: store, Logger: log, ServerVersion: "5.5.5-" + c.Version + "-MariaDB",
		Digests: proxy.NewDigests(1000)}) // as switchyard run has it
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { mon.Run(ctx); done <- struct{}{} }()
	go func() { _ = srv.Serve(ctx, ln); done <- struct{}{} }()
	b.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		cancel()
		<-done
		<-done
		srv.Wait()
	})
	return ln.Addr().String()
}

// BenchmarkPointSelect runs a prepared point select on one connection,
// directly against a replica and through the proxy: the difference in
// ns/op and allocs/op is what the proxy adds (client and proxy share this
// process, so allocations of both count).
func BenchmarkPointSelect(b *testing.B) {
	c := cluster.StartForTest(b, cluster.Options{Replicas: 1})
	adm, err := c.AdminDB(c.Master())
	if err != nil {
		b.Fatal(err)
	}
	defer adm.Close()
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS benchdb", "CREATE DATABASE IF NOT EXISTS test",
		"CREATE TABLE IF NOT EXISTS benchdb.t (id INT PRIMARY KEY, k INT, c CHAR(120), pad CHAR(60))",
		"INSERT IGNORE INTO benchdb.t SELECT seq, seq, REPEAT('c', 120), REPEAT('p', 60) FROM test.seq_1_to_1000"} {
		if _, err := adm.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.WaitReplicated(b.Context()); err != nil {
		b.Fatal(err)
	}
	proxyAddr := startProxy(b, c)
	u := c.Users.App
	for _, t := range []struct{ name, addr string }{{"direct", c.Replicas()[0].Addr()}, {"proxy", proxyAddr}} {
		b.Run(t.name, func(b *testing.B) {
			db, err := sql.Open("mysql", u.Name+":"+u.Password+"@tcp("+t.addr+")/benchdb")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			st, err := db.Prepare("SELECT c FROM t WHERE id = ?")
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			var out string
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if err := st.QueryRow(i%1000 + 1).Scan(&out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
