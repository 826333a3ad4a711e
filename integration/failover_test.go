package integration

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/cluster"
	"github.com/switchyard/switchyard/failover"
	"github.com/switchyard/switchyard/gtid"
	"github.com/switchyard/switchyard/proxy"
	"github.com/switchyard/switchyard/topology"
)

// managedEnv is a cluster behind a proxy whose topology comes from the
// failover manager (automatic failover on), wired as cmd/switchyard does.
type managedEnv struct {
	*env
	mgr *failover.Manager
}

func startManaged(t *testing.T, copts cluster.Options, fo func(*failover.Options)) *managedEnv {
	t.Helper()
	copts.ExtraServerArgs = append(copts.ExtraServerArgs, "--max-allowed-packet=256M")
	c := cluster.StartForTest(t, copts)
	ensureTestDB(t, c)
	log := testLogger(t)
	store := topology.NewStore(nil)
	var srvp atomic.Pointer[proxy.Server]
	o := failover.Options{
		MonitorOptions: failover.MonitorOptions{Nodes: nodeConfigs(c), User: c.Users.Monitor.Name, Password: c.Users.Monitor.Password,
			Interval: 250 * time.Millisecond, Timeout: time.Second, FailCount: 3, GracePeriod: 2 * time.Second,
			Store: store, Logger: log},
		Cluster: "test", ReplUser: c.Users.Repl.Name, ReplPassword: c.Users.Repl.Password,
		Automatic: true, BlockPeriod: time.Hour, SemiSync: copts.SemiSync,
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
	}
	if fo != nil {
		fo(&o)
	}
	mgr := failover.New(o)
	mgr.Probe(t.Context())
	e := serveProxy(t, c, proxy.Options{
		Users:    []proxy.User{{Name: c.Users.App.Name, Password: c.Users.App.Password}},
		Topology: store, Logger: log, ServerVersion: "5.5.5-" + c.Version + "-MariaDB",
	}, mgr.Run)
	srvp.Store(e.srv)
	ctxw, cw := context.WithTimeout(t.Context(), 30*time.Second)
	defer cw()
	if err := c.WaitReplicated(ctxw); err != nil {
		t.Fatal(err)
	}
	e.waitReplicasUsable(t, len(c.Replicas()))
	return &managedEnv{env: e, mgr: mgr}
}

// TestFailoverKillMasterUnderLoad: kill -9 of the master while 8 writers
// write through the proxy with semi-sync on. Every acknowledged row must be
// on the new master, and writes must resume there.
func TestFailoverKillMasterUnderLoad(t *testing.T) {
	e := startManaged(t, cluster.Options{Replicas: 2, SemiSync: true}, nil)
	db := openDB(t, e.dsn(""))
	db.SetMaxOpenConns(16)
	mustExec(t, db, "CREATE TABLE acked (id BIGINT PRIMARY KEY, writer INT, at DATETIME(6))")
	const writers = 8
	var (
		next     atomic.Int64
		mu       sync.Mutex
		acked    []int64
		errCount atomic.Int64
		killAt   atomic.Pointer[time.Time]
		firstOK  atomic.Pointer[time.Time]
		lastErr  atomic.Value
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				id := next.Add(1)
				_, err := db.ExecContext(ctx, "INSERT INTO acked VALUES (?, ?, NOW(6))", id, w)
				if err != nil {
					if ctx.Err() == nil {
						errCount.Add(1)
						lastErr.Store(err.Error())
						time.Sleep(20 * time.Millisecond)
					}
					continue
				}
				now := time.Now()
				if k := killAt.Load(); k != nil && now.After(*k) {
					firstOK.CompareAndSwap(nil, &now)
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	old := e.c.Master()
	now := time.Now()
	killAt.Store(&now)
	if err := e.c.Kill(old); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "writes to resume on a new master", func() bool {
		m, ok := e.store.Load().Master()
		return ok && m.Name != old.Name && firstOK.Load() != nil
	})
	time.Sleep(time.Second) // some writes on the new master too
	cancel()
	wg.Wait()
	snap := e.store.Load()
	newMaster, _ := snap.Master()
	kill := *killAt.Load()
	first := *firstOK.Load()
	var detect, promote time.Duration
	for _, ev := range e.mgr.Events() {
		if ev.Kind == "failover" && ev.Outcome == "ok" {
			detect, promote = ev.Detection, ev.Promotion
		}
	}
	t.Logf("kill -9 of %s: new master %s (epoch %d); kill→first write %s; detection %s, promotion %s; %d rows acknowledged, %d client errors (last: %v)",
		old.Name, newMaster.Name, snap.Epoch, first.Sub(kill).Round(time.Millisecond), detect.Round(time.Millisecond),
		promote.Round(time.Millisecond), len(acked), errCount.Load(), lastErr.Load())
	// Every acknowledged row is on the new master.
	nm := e.c.Node(newMaster.Name)
	adb, err := e.c.AdminDB(nm)
	if err != nil {
		t.Fatal(err)
	}
	defer adb.Close()
	rows, err := adb.Query("SELECT id FROM test.acked")
	if err != nil {
		t.Fatal(err)
	}
	have := map[int64]bool{}
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		have[id] = true
	}
	rows.Close()
	var lost []int64
	for _, id := range acked {
		if !have[id] {
			lost = append(lost, id)
		}
	}
	sort.Slice(lost, func(i, j int) bool { return lost[i] < lost[j] })
	if len(lost) > 0 {
		t.Errorf("%d acknowledged rows missing on the new master %s: %v", len(lost), nm.Name, headIDs(lost, 20))
	}
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
	// Old master stays out of traffic.
	if n, _ := snap.Node(old.Name); snap.MasterName == old.Name || n.State != topology.StateFenced {
		t.Errorf("old master not fenced: master=%s state=%s", snap.MasterName, n.State)
	}
	if errCount.Load() > 2*writers {
		t.Errorf("%d client errors: only statements in flight at the kill may fail; new writes must wait for the new master", errCount.Load())
	}
}

func headIDs(v []int64, n int) string {
	if len(v) > n {
		return fmt.Sprint(v[:n]) + "..."
	}
	return fmt.Sprint(v)
}

// TestFailoverOpenTransactionGetsClearError: a transaction open on the
// master when it dies fails with a clear, retryable error; after ROLLBACK
// the session works on the new master.
func TestFailoverOpenTransactionGetsClearError(t *testing.T) {
	e := startManaged(t, cluster.Options{Replicas: 2, SemiSync: true}, nil)
	c, end := oneConn(t, e.dsn(""))
	defer end()
	ctx := t.Context()
	if _, err := c.ExecContext(ctx, "CREATE TABLE otx (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "INSERT INTO otx VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	old := e.c.Master()
	if err := e.c.Kill(old); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a new master", func() bool {
		m, ok := e.store.Load().Master()
		return ok && m.Name != old.Name
	})
	_, err := c.ExecContext(ctx, "INSERT INTO otx VALUES (2)")
	if err == nil {
		t.Fatal("statement in a transaction on the dead master succeeded")
	}
	t.Logf("in-transaction statement after failover: %v", err)
	if n := mysqlErrNo(err); n != 1213 && n != 2013 {
		t.Errorf("error %v: want 1213 (retryable, SQLSTATE 40001) or 2013", err)
	}
	if _, err := c.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatalf("ROLLBACK: %v", err)
	}
	if _, err := c.ExecContext(ctx, "INSERT INTO otx VALUES (3)"); err != nil {
		t.Fatalf("after ROLLBACK: %v", err)
	}
	var n int
	if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM otx WHERE id = 3").Scan(&n); err != nil || n != 1 {
		t.Fatalf("read after failover: n=%d err=%v", n, err)
	}
}
