package httpapi_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/switchyard/switchyard/cluster"
	"github.com/switchyard/switchyard/failover"
	"github.com/switchyard/switchyard/httpapi"
	"github.com/switchyard/switchyard/proxy"
	"github.com/switchyard/switchyard/topology"
)

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// env is a real cluster (master + 2 replicas), a failover manager, the proxy
// and the HTTP port, all in this process.
type env struct {
	c       *cluster.Cluster
	mgr     *failover.Manager
	srv     *proxy.Server
	proxyAt string
	httpAt  string
}

func startEnv(t *testing.T) *env {
	t.Helper()
	c := cluster.StartForTest(t, cluster.Options{Replicas: 2})
	log := slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var nodes []failover.NodeConfig
	for _, n := range c.Nodes {
		nodes = append(nodes, failover.NodeConfig{Name: n.Name, Address: n.Addr(),
			ReplAddress: net.JoinHostPort(n.ReplHost, strconv.Itoa(n.ReplPort)), Weight: 1})
	}
	store := topology.NewStore(nil)
	mgr := failover.New(failover.Options{
		MonitorOptions: failover.MonitorOptions{Nodes: nodes, User: c.Users.Monitor.Name, Password: c.Users.Monitor.Password,
			Interval: 200 * time.Millisecond, GracePeriod: 2 * time.Second, Store: store, Logger: log},
		Cluster: "test", ReplUser: c.Users.Repl.Name, ReplPassword: c.Users.Repl.Password, BlockPeriod: time.Hour,
	})
	ctx, cancel := context.WithCancel(context.Background())
	mgr.Probe(ctx)
	if _, ok := store.Load().Master(); !ok {
		cancel()
		t.Fatalf("no master found: %+v", store.Load())
	}
	routing := proxy.DefaultRouting()
	routing.Consistency = proxy.ConsistencyEventual
	srv, err := proxy.New(proxy.Options{
		Users:    []proxy.User{{Name: c.Users.App.Name, Password: c.Users.App.Password}},
		Topology: store, Logger: log, ServerVersion: "5.5.5-" + c.Version + "-MariaDB", Routing: &routing,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Options{Proxy: srv, Store: store, Failover: mgr,
		Version: "test", Logger: log})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{}, 3)
	go func() { mgr.Run(ctx); done <- struct{}{} }()
	go func() { _ = srv.Serve(ctx, pln); done <- struct{}{} }()
	go func() {
		if err := api.Serve(ctx, hln); err != nil {
			t.Errorf("http serve: %v", err)
		}
		done <- struct{}{}
	}()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		cancel()
		for range 3 {
			<-done
		}
		srv.Wait()
		mgr.Close()
	})
	return &env{c: c, mgr: mgr, srv: srv, proxyAt: pln.Addr().String(), httpAt: hln.Addr().String()}
}

func (e *env) db(t *testing.T) *sql.DB {
	t.Helper()
	u := e.c.Users.App
	db, err := sql.Open("mysql", u.Name+":"+u.Password+"@tcp("+e.proxyAt+")/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// metric returns the value of the sample whose name and labels (in the
// exposition's order) match, or -1 when absent.
func metric(t *testing.T, body, series string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", series, err)
	}
	return v
}

func TestMetricsMove(t *testing.T) {
	e := startEnv(t)
	base := "http://" + e.httpAt
	if code, body := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || !strings.Contains(body, "db1") {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	_, before := get(t, base+"/metrics")
	for _, s := range []string{
		`switchyard_master_known 1`,
		`switchyard_node_role{node="db1",role="master"} 1`,
		`switchyard_node_role{node="db2",role="replica"} 1`,
		`switchyard_node_state{node="db3",state="up"} 1`,
		`switchyard_topology_changes_total{kind="switchover",outcome="ok"} 0`,
	} {
		if !strings.Contains(before, s+"\n") {
			t.Errorf("/metrics lacks %q", s)
		}
	}
	if v := metric(t, before, `switchyard_replica_lag_seconds{node="db2"}`); v < 0 {
		t.Errorf("no lag for db2")
	}
	replicaOK := metric(t, before, `switchyard_statements_total{result="ok",route="replica"}`)
	masterOK := metric(t, before, `switchyard_statements_total{result="ok",route="master"}`)

	db := e.db(t)
	db.SetMaxOpenConns(4)
	if _, err := db.Exec("CREATE DATABASE IF NOT EXISTS obs"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS obs.t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	const reads = 50
	for i := range reads {
		var n int
		if err := db.QueryRow("SELECT 1 + ?", i).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("SELECT * FROM obs.no_such_table"); err == nil {
		t.Fatal("a select from a missing table succeeded")
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// A session counts a statement just after its answer went to the
	// client, so a scrape right after the last answer may come before its
	// count: scrape until the last statements show, for a while.
	var after string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, after = get(t, base+"/metrics")
		errs := metric(t, after, `switchyard_statements_total{result="error",route="replica"}`) +
			metric(t, after, `switchyard_statements_total{result="error",route="master"}`)
		if (errs >= 1 && metric(t, after, `switchyard_statements_total{result="ok",route="replica"}`)-replicaOK >= reads) ||
			time.Now().After(deadline) {
			break
		}
	}
	if got := metric(t, after, `switchyard_statements_total{result="ok",route="replica"}`) - replicaOK; got < reads {
		t.Errorf("replica ok statements grew by %v, want >= %d", got, reads)
	}
	if got := metric(t, after, `switchyard_statements_total{result="ok",route="master"}`) - masterOK; got < 2 {
		t.Errorf("master ok statements grew by %v, want >= 2 (the DDL)", got)
	}
	if got := metric(t, after, `switchyard_statements_total{result="error",route="replica"}`) +
		metric(t, after, `switchyard_statements_total{result="error",route="master"}`); got < 1 {
		t.Errorf("error statements: %v, want >= 1", got)
	}
	if got := metric(t, after, `switchyard_client_connections`); got < 1 {
		t.Errorf("client_connections = %v with a connection held", got)
	}
	if got, want := metric(t, after, `switchyard_event_loops`), float64(e.srv.EventLoops()); got != want {
		t.Errorf("event_loops = %v, want %v", got, want)
	}
	opened := 0.0
	for _, n := range []string{"db1", "db2", "db3"} {
		if v := metric(t, after, `switchyard_backend_connections{node="`+n+`",state="open"}`); v > 0 {
			opened += v
		}
	}
	if opened < 1 {
		t.Errorf("no backend connection open in any pool:\n%s", grep(after, "backend_connections"))
	}
	// Latency histograms need the proxy to call its observer (proxy.Server.SetObserver).
	// The proxy reports every statement's time to the histogram.
	if n := metric(t, after, `switchyard_statement_duration_seconds_count{result="ok",route="replica"}`); n < reads {
		t.Errorf("replica latency histogram holds %v observations, want >= %d", n, reads)
	}
	if sum := metric(t, after, `switchyard_statement_duration_seconds_sum{result="ok",route="replica"}`); sum <= 0 {
		t.Errorf("replica latency sum = %v, want > 0", sum)
	}

	// A switchover is counted, and the roles flip.
	if _, err := e.mgr.Switchover(t.Context(), "db2"); err != nil {
		t.Fatalf("switchover: %v", err)
	}
	_, sw := get(t, base+"/metrics")
	if v := metric(t, sw, `switchyard_topology_changes_total{kind="switchover",outcome="ok"}`); v != 1 {
		t.Errorf("switchovers = %v, want 1\n%s", v, grep(sw, "topology_changes"))
	}
	if v := metric(t, sw, `switchyard_node_role{node="db2",role="master"}`); v != 1 {
		t.Errorf("db2 master role = %v after the switchover", v)
	}
	// The tally stays put on a second scrape (no double counting).
	_, again := get(t, base+"/metrics")
	if v := metric(t, again, `switchyard_topology_changes_total{kind="switchover",outcome="ok"}`); v != 1 {
		t.Errorf("switchovers on a second scrape = %v, want 1", v)
	}
}

func grep(body, substr string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// chromium returns the browser's path, skipping the test when it is missing
// (failing under CI=true, where `make test` installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true requires chromium for the status page test (./scripts/ensure-deps.sh chromium)")
	}
	t.Skip("skipping: chromium is not installed (apt-get install chromium, or ./scripts/ensure-deps.sh chromium)")
	return ""
}

// headless runs chromium on url with the given extra arguments.
func headless(t *testing.T, bin, url string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir(),
		// Virtual time lets the page's fetch and first render finish before
		// the DOM is dumped, without a wall-clock sleep.
		"--virtual-time-budget=5000"}, args...)
	cmd := exec.CommandContext(ctx, bin, append(all, url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return string(out)
}

func TestStatusPageInChromium(t *testing.T) {
	bin := chromium(t)
	e := startEnv(t)
	db := e.db(t)
	for range 5 {
		if _, err := db.Exec("SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	e.mgr.RecordEvent(failover.Event{Kind: failover.EventNodeState, Node: "db3", Reason: "operator", Outcome: failover.OutcomeOK,
		Detail: "status page test"})
	url := "http://" + e.httpAt + "/"
	dom := headless(t, bin, url, "--dump-dom")

	// The page's script fetched /api/status and drew the topology.
	if m := regexp.MustCompile(`<body[^>]*data-updates="(\d+)"`).FindStringSubmatch(dom); m == nil || m[1] == "0" {
		t.Fatalf("the page never rendered a status update; DOM:\n%s", dom)
	}
	svg := regexp.MustCompile(`(?s)<svg id="topology".*?</svg>`).FindString(dom)
	if svg == "" {
		t.Fatalf("no topology SVG in the DOM:\n%s", dom)
	}
	for _, want := range []string{
		`data-name="db1" data-role="master" data-state="up"`,
		`data-name="db2" data-role="replica" data-state="up"`,
		`data-name="db3" data-role="replica" data-state="up"`,
		`class="name" fill="#1d2330">db1</text>`,
		`class="name" fill="#1d2330">db2</text>`,
		`class="name" fill="#1d2330">db3</text>`,
		`data-replica="db2"`, `data-replica="db3"`, // replication arrows
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("topology SVG lacks %q:\n%s", want, svg)
		}
	}
	if n := strings.Count(svg, `class="lag"`); n != 2 {
		t.Errorf("%d lag labels, want 2 (one per replica)", n)
	}
	for _, want := range []string{"status page test", "db3"} {
		if !strings.Contains(regexp.MustCompile(`(?s)<table id="events">.*?</table>`).FindString(dom), want) {
			t.Errorf("events table lacks %q", want)
		}
	}
	if pools := regexp.MustCompile(`(?s)<table id="pools">.*?</table>`).FindString(dom); !regexp.MustCompile(`<td>db[123]</td>`).MatchString(pools) {
		t.Errorf("pools table shows no node: %s", pools)
	}
	if m := regexp.MustCompile(`<b id="k-sessions">(\d+)</b>`).FindStringSubmatch(dom); m == nil || m[1] == "0" {
		t.Errorf("session count not shown (an open pool connection keeps one session): %v", m)
	}

	// A screenshot, kept for a person to look at when the test runs with -v.
	shot := filepath.Join(t.TempDir(), "status.png")
	headless(t, bin, url, "--screenshot="+shot, "--window-size=1280,900", "--hide-scrollbars")
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Errorf("screenshot missing or empty: %v", err)
	}
	if dir := os.Getenv("SWITCHYARD_SCREENSHOT_DIR"); dir != "" {
		b, _ := os.ReadFile(shot)
		_ = os.WriteFile(filepath.Join(dir, "status.png"), b, 0o644)
	}
}
