package admin

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/switchyard/switchyard/cluster"
	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/failover"
	"github.com/switchyard/switchyard/gtid"
	"github.com/switchyard/switchyard/proxy"
	"github.com/switchyard/switchyard/topology"
)

const (
	adminUser = "admin"
	adminPass = "admin-secret"
)

// env is a real cluster (1 master + 2 replicas), a proxy and a failover
// manager in this process, and the admin port in front of them, wired the
// way cmd/switchyard wires them.
type env struct {
	c         *cluster.Cluster
	mgr       *failover.Manager
	srv       *proxy.Server
	adm       *Server
	digests   *proxy.Digests
	proxyAddr string
	adminAddr string
	reloads   atomic.Int64
}

func startEnv(t *testing.T) *env {
	t.Helper()
	c := cluster.StartForTest(t, cluster.Options{Replicas: 2})
	log := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store := topology.NewStore(nil)
	var nodes []failover.NodeConfig
	for _, n := range c.Nodes {
		nodes = append(nodes, failover.NodeConfig{Name: n.Name, Address: n.Addr(), Weight: 1})
	}
	var srvp atomic.Pointer[proxy.Server]
	mgr := failover.New(failover.Options{
		MonitorOptions: failover.MonitorOptions{Nodes: nodes, User: c.Users.Monitor.Name, Password: c.Users.Monitor.Password,
			Interval: 250 * time.Millisecond, Timeout: time.Second, FailCount: 3, GracePeriod: 2 * time.Second,
			MaxLag: time.Second, Store: store, Logger: log},
		Cluster: "test", ReplUser: c.Users.Repl.Name, ReplPassword: c.Users.Repl.Password,
		Automatic: true, BlockPeriod: time.Hour,
		AckedGTIDs: func() gtid.Set {
			if s := srvp.Load(); s != nil {
				return s.AckedGTIDs()
			}
			return gtid.Set{}
		},
		Drain: func(ctx context.Context) error {
			if s := srvp.Load(); s != nil {
				return s.Drain(ctx)
			}
			return nil
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	mgr.Probe(ctx)
	srv, err := proxy.New(proxy.Options{
		Users:    []proxy.User{{Name: c.Users.App.Name, Password: c.Users.App.Password}},
		Topology: store, Logger: log, ServerVersion: "5.5.5-" + c.Version + "-MariaDB",
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	srvp.Store(srv)
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e := &env{c: c, mgr: mgr, srv: srv, proxyAddr: pln.Addr().String(), adminAddr: aln.Addr().String(), digests: proxy.NewDigests(100)}
	cfg := config.Default()
	cfg.Admin.User, cfg.Admin.Password = adminUser, config.Secret(adminPass)
	cfg.Users = []config.User{{User: c.Users.App.Name, Password: config.Secret(c.Users.App.Password)}}
	adm, err := New(Options{
		User: adminUser, Password: adminPass, Proxy: srv, Manager: mgr, Digests: e.digests,
		Config: func() *config.Config { return cfg },
		Reload: func(context.Context) error {
			if e.reloads.Add(1) == 2 {
				return errors.New("line 3: unknown key \"lisen\"")
			}
			return nil
		},
		Drill: DrillOptions{ProxyAddr: e.proxyAddr, User: c.Users.App.Name, Password: c.Users.App.Password,
			NodeUser: c.Users.Monitor.Name, NodePassword: c.Users.Monitor.Password,
			Injector: ClusterInjector{C: c}, Sandbox: true},
		Logger: log,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e.adm = adm
	done := make(chan struct{})
	go func() { defer close(done); mgr.Run(ctx) }()
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ctx, pln) }()
	adone := make(chan struct{})
	go func() { defer close(adone); _ = adm.Serve(ctx, aln) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		cancel()
		<-adone
		_ = adm.Close()
		<-served
		srv.Wait()
		<-done
	})
	wctx, wcancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer wcancel()
	if err := c.WaitReplicated(wctx); err != nil {
		t.Fatal(err)
	}
	e.waitTopology(t, func(s *topology.Snapshot) bool {
		up := 0
		for _, n := range s.Replicas() {
			if n.State == topology.StateUp {
				up++
			}
		}
		return s.MasterName != "" && up == 2
	})
	return e
}

// waitTopology polls the published snapshot until ok (bounded by 30s, a
// safety net, not a timed assertion).
func (e *env) waitTopology(t *testing.T, ok func(*topology.Snapshot) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ok(e.mgr.Store().Load()) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("topology never reached the expected state: %s", topologyLine(e.mgr.Store().Load()))
}

func (e *env) adminDB(t *testing.T) *sql.DB {
	t.Helper()
	return openTestDB(t, adminUser+":"+adminPass+"@tcp("+e.adminAddr+")/?interpolateParams=true")
}

func (e *env) appDB(t *testing.T) *sql.DB {
	t.Helper()
	u := e.c.Users.App
	return openTestDB(t, u.Name+":"+u.Password+"@tcp("+e.proxyAddr+")/?interpolateParams=true")
}

func openTestDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// query returns every row as strings (NULL as "NULL").
func query(t *testing.T, db *sql.DB, q string) (cols []string, rows [][]string) {
	t.Helper()
	r, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer r.Close()
	cols, _ = r.Columns()
	for r.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := r.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "NULL"
			if v.Valid {
				row[i] = v.String
			}
		}
		rows = append(rows, row)
	}
	if err := r.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return cols, rows
}

func printTable(t *testing.T, cols []string, rows [][]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(strings.Join(cols, " | "))
	for _, r := range rows {
		b.WriteString("\n" + strings.Join(r, " | "))
	}
	t.Log("\n" + b.String())
}

func errNo(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
