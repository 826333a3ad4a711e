package integration

import (
	"context"
	"database/sql"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/switchyard/switchyard/cluster"
	"github.com/switchyard/switchyard/failover"
	"github.com/switchyard/switchyard/proxy"
	"github.com/switchyard/switchyard/topology"
)

// env is a real cluster with a Switchyard proxy in front, in this process.
type env struct {
	c     *cluster.Cluster
	store *topology.Store
	srv   *proxy.Server
	addr  string // proxy listen address
}

type envOptions struct {
	cluster cluster.Options
	limits  *proxy.Limits
	proxy   func(*proxy.Options)
	// static: the monitor probes once and does not run, so the test alone
	// publishes topology changes.
	static bool
}

func startEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	if o.cluster.Replicas == 0 {
		o.cluster.Replicas = -1 // most proxy-core tests need only the master
	}
	o.cluster.ExtraServerArgs = append(o.cluster.ExtraServerArgs, "--max-allowed-packet=256M", "--local-infile=1")
	c := cluster.StartForTest(t, o.cluster)
	return startProxyFor(t, c, o)
}

func startProxyFor(t testing.TB, c *cluster.Cluster, o envOptions) *env {
	t.Helper()
	log := testLogger(t)
	store := topology.NewStore(nil)
	mon := failover.NewMonitor(failover.MonitorOptions{Nodes: nodeConfigs(c), User: c.Users.Monitor.Name,
		Password: c.Users.Monitor.Password, Interval: 200 * time.Millisecond, Store: store, Logger: log})
	mon.Probe(t.Context())
	if _, ok := store.Load().Master(); !ok {
		t.Fatalf("monitor found no master: %+v", store.Load())
	}
	po := proxy.Options{
		Users:         []proxy.User{{Name: c.Users.App.Name, Password: c.Users.App.Password}, {Name: "other", Password: "other-secret"}},
		Topology:      store,
		Logger:        log,
		ServerVersion: "5.5.5-" + c.Version + "-MariaDB",
	}
	if o.limits != nil {
		po.Limits = *o.limits
	}
	if o.proxy != nil {
		o.proxy(&po)
	}
	if os.Getenv("SWITCHYARD_PIPELINE_READS") == "1" {
		// make test runs the suites once more with pipelined reads on.
		r := proxy.DefaultRouting()
		if po.Routing != nil {
			r = *po.Routing
		}
		r.PipelineReads = true
		po.Routing = &r
	}
	run := mon.Run
	if o.static {
		run = func(ctx context.Context) { <-ctx.Done() }
	}
	return serveProxy(t, c, po, run)
}

// serveProxy starts a proxy with po and runs topology (the monitor or the
// failover manager) beside it, both stopped in t.Cleanup.
func serveProxy(t testing.TB, c *cluster.Cluster, po proxy.Options, topology func(context.Context)) *env {
	t.Helper()
	srv, err := proxy.New(po)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		topology(ctx)
	}()
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		cancel()
		<-served
		srv.Wait()
		<-done
	})
	return &env{c: c, store: po.Topology, srv: srv, addr: ln.Addr().String()}
}

// nodeConfigs lists the cluster's nodes for the monitor.
func nodeConfigs(c *cluster.Cluster) []failover.NodeConfig {
	var nodes []failover.NodeConfig
	for _, n := range c.Nodes {
		nodes = append(nodes, failover.NodeConfig{Name: n.Name, Address: n.Addr(), Weight: 1})
	}
	return nodes
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// dsn returns a go-sql-driver DSN for the app user through the proxy.
func (e *env) dsn(params string) string {
	u := e.c.Users.App
	d := u.Name + ":" + u.Password + "@tcp(" + e.addr + ")/test"
	if params != "" {
		d += "?" + params
	}
	return d
}

// directDSN is the same, straight to the master.
func (e *env) directDSN(params string) string {
	u := e.c.Users.App
	d := u.Name + ":" + u.Password + "@tcp(" + e.c.Master().Addr() + ")/test"
	if params != "" {
		d += "?" + params
	}
	return d
}

func openDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func mustExec(t testing.TB, db interface {
	Exec(string, ...any) (sql.Result, error)
}, q string, args ...any) sql.Result {
	t.Helper()
	r, err := db.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return r
}

// ensureTestDB creates the `test` database on the master (as admin).
func ensureTestDB(t testing.TB, c *cluster.Cluster) {
	t.Helper()
	a := c.Users.Admin
	db := openDB(t, a.Name+":"+a.Password+"@tcp("+c.Master().Addr()+")/")
	mustExec(t, db, "CREATE DATABASE IF NOT EXISTS test")
}

func mysqlErrNo(err error) uint16 {
	if me, ok := err.(*mysql.MySQLError); ok {
		return me.Number
	}
	return 0
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestMain(m *testing.M) {
	// Make sure stray go-sql-driver logs do not interleave weirdly.
	_ = mysql.SetLogger(mysql.Logger(nopLogger{}))
	os.Exit(m.Run())
}

type nopLogger struct{}

func (nopLogger) Print(...any) {}
