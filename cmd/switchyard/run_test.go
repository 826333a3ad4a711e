package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/switchyard/switchyard/cluster"
)

// runProxy writes a configuration for c and starts `switchyard run` on it.
type proxyProc struct {
	cmd    *exec.Cmd
	addr   string
	config string
	stderr *strings.Builder
}

func writeConfig(t *testing.T, path, listen string, c *cluster.Cluster, extraUsers string, consistency string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\nusers:\n  - user: %s\n    password: %q\n%s", listen, c.Users.App.Name, c.Users.App.Password, extraUsers)
	b.WriteString("nodes:\n")
	for _, n := range c.Nodes {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n", n.Name, n.Addr())
	}
	fmt.Fprintf(&b, "monitor:\n  user: %s\n  password: %q\nreplication:\n  user: %s\n  password: %q\nadmin:\n  listen: \"\"\n",
		c.Users.Monitor.Name, c.Users.Monitor.Password, c.Users.Repl.Name, c.Users.Repl.Password)
	fmt.Fprintf(&b, "routing:\n  consistency: %s\nlimits:\n  shutdown_timeout: 5s\nlog:\n  level: info\n", consistency)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func startRun(t *testing.T, c *cluster.Cluster, consistency string) *proxyProc {
	t.Helper()
	bin := binary(t)
	addr := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "switchyard.yaml")
	writeConfig(t, cfg, addr, c, "", consistency)
	p := &proxyProc{addr: addr, config: cfg, stderr: &strings.Builder{}}
	p.cmd = exec.Command(bin, "run", "--config", cfg)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	db := p.open(t, c.Users.App.Name, c.Users.App.Password)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := db.Ping(); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("proxy not answering: %v\n%s", err, p.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

func (p *proxyProc) open(t *testing.T, user, pass string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/test", user, pass, p.addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// rss returns the proxy process's resident set and its peak, in bytes.
func (p *proxyProc) rss() (cur, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = v * 1024
		case "VmHWM:":
			peak = v * 1024
		}
	}
	return cur, peak
}

func adminExec(t *testing.T, c *cluster.Cluster, q string) {
	t.Helper()
	db, err := c.AdminDB(c.Master())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestStreamingOneGigabyte: a 1 GB result passes through the proxy process
// while its memory stays flat.
func TestStreamingOneGigabyte(t *testing.T) {
	needServer(t)
	c := cluster.StartForTest(t, cluster.Options{Replicas: -1})
	adminExec(t, c, "CREATE DATABASE IF NOT EXISTS test")
	p := startRun(t, c, "session")
	db := p.open(t, c.Users.App.Name, c.Users.App.Password)
	_, before := p.rss()
	start := time.Now()
	rows, err := db.Query("SELECT seq, REPEAT('x', 1000) FROM seq_1_to_1000000")
	if err != nil {
		t.Fatal(err)
	}
	var n, bytes int64
	var seq int64
	var s sql.RawBytes
	peakSeen := int64(0)
	for rows.Next() {
		if err := rows.Scan(&seq, &s); err != nil {
			t.Fatal(err)
		}
		n++
		bytes += int64(len(s))
		if n%50000 == 0 {
			if cur, _ := p.rss(); cur > peakSeen {
				peakSeen = cur
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	_, peak := p.rss()
	t.Logf("streamed %d rows, %.2f GB in %s; proxy RSS peak %.1f MB (before the query %.1f MB, sampled max %.1f MB)",
		n, float64(bytes)/1e9, time.Since(start).Round(time.Millisecond), float64(peak)/1e6, float64(before)/1e6, float64(peakSeen)/1e6)
	if n != 1000000 || bytes != 1000000*1000 {
		t.Fatalf("got %d rows, %d bytes", n, bytes)
	}
	if peak > 100<<20 {
		t.Errorf("proxy RSS peaked at %.1f MB streaming 1 GB; want under 100 MB", float64(peak)/1e6)
	}
}

// TestSysbenchReadWrite: sysbench oltp_read_write, 16 threads, 60 s through
// the proxy over 1 master + 2 replicas, with zero errors.
func TestSysbenchReadWrite(t *testing.T) {
	needServer(t)
	if _, err := exec.LookPath("sysbench"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true requires sysbench (make test installs it)")
		}
		t.Skip("sysbench not installed")
	}
	dur := 60
	if testing.Short() {
		dur = 10
	}
	c := cluster.StartForTest(t, cluster.Options{Replicas: 2})
	adminExec(t, c, "CREATE DATABASE IF NOT EXISTS sbtest")
	adminExec(t, c, "CREATE DATABASE IF NOT EXISTS test")
	p := startRun(t, c, "session")
	host, port := strings.Split(p.addr, ":")[0], strings.Split(p.addr, ":")[1]
	base := []string{"--db-driver=mysql", "--mysql-host=" + host, "--mysql-port=" + port, "--mysql-user=" + c.Users.App.Name,
		"--mysql-password=" + c.Users.App.Password, "--mysql-db=sbtest", "--tables=8", "--table-size=20000", "--mysql-ssl=off"}
	out, err := exec.Command("sysbench", append(append([]string{"oltp_read_write"}, base...), "prepare")...).CombinedOutput()
	if err != nil {
		t.Fatalf("sysbench prepare: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(dur+60)*time.Second)
	defer cancel()
	args := append(append([]string{"oltp_read_write"}, base...), "--threads=16", fmt.Sprintf("--time=%d", dur), "--report-interval=0", "run")
	out, err = exec.CommandContext(ctx, "sysbench", args...).CombinedOutput()
	text := string(out)
	if err != nil {
		t.Fatalf("sysbench run: %v\n%s\nproxy log:\n%s", err, text, p.stderr.String())
	}
	get := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(text)
		if m == nil {
			return ""
		}
		return m[1]
	}
	tx, qps := get(`transactions:\s+(\d+)`), get(`queries:\s+\d+\s+\(([\d.]+) per sec`)
	errs, reconnects := get(`ignored errors:\s+(\d+)`), get(`reconnects:\s+(\d+)`)
	p95 := get(`95th percentile:\s+([\d.]+)`)
	t.Logf("sysbench oltp_read_write 16 threads %ds through switchyard: %s transactions, %s queries/s, p95 %s ms, %s ignored errors, %s reconnects",
		dur, tx, qps, p95, errs, reconnects)
	// sysbench stops on any error but the ones it retries: InnoDB deadlocks
	// and lock wait timeouts (1213, 1205), which a direct connection gets
	// too under this contention. Those may happen, rarely; nothing else may.
	ntx, _ := strconv.Atoi(tx)
	nerr, _ := strconv.Atoi(errs)
	if reconnects != "0" || ntx == 0 || nerr*1000 > ntx {
		t.Errorf("want transactions, no reconnects and at most 0.1%% retried deadlocks; sysbench said:\n%s", text)
	}
}

// TestReloadAndGracefulStop: SIGHUP adds a user without a restart; a bad
// configuration is refused and the running one kept; SIGTERM lets a running
// statement finish and exits 0.
func TestReloadAndGracefulStop(t *testing.T) {
	needServer(t)
	c := cluster.StartForTest(t, cluster.Options{Replicas: -1})
	adminExec(t, c, "CREATE DATABASE IF NOT EXISTS test")
	adminExec(t, c, "CREATE USER IF NOT EXISTS 'late'@'%' IDENTIFIED BY 'late-secret'")
	adminExec(t, c, "GRANT SELECT ON *.* TO 'late'@'%'")
	p := startRun(t, c, "session")
	late := p.open(t, "late", "late-secret")
	if err := late.Ping(); err == nil {
		t.Fatal("user not in the configuration logged in")
	}
	writeConfig(t, p.config, p.addr, c, "  - user: late\n    password: late-secret\n", "session")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for late.Ping() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("user added by SIGHUP cannot log in\n%s", p.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A broken configuration is refused; the proxy keeps running.
	if err := os.WriteFile(p.config, []byte("listen: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	if err := late.Ping(); err != nil {
		t.Fatalf("proxy stopped serving after a bad reload: %v", err)
	}
	// SIGTERM during a running statement: it completes.
	db := p.open(t, c.Users.App.Name, c.Users.App.Password)
	res := make(chan error, 1)
	go func() {
		var v int
		res <- db.QueryRow("SELECT SLEEP(1) + 41").Scan(&v)
	}()
	time.Sleep(300 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-res; err != nil {
		t.Errorf("statement running at SIGTERM failed: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15s of SIGTERM")
	}
	// Sessions ran on event loops (the default, one per CPU) unless the
	// run turns them off; the SLEEP above ran on one through the drain.
	loops := regexp.MustCompile(`switchyard listening.* event_loops=(\d+)`).FindStringSubmatch(p.stderr.String())
	switch {
	case loops == nil:
		t.Errorf("no event_loops in the listening line:\n%s", p.stderr.String())
	case os.Getenv("SWITCHYARD_LOOPS") == "0" || runtime.GOOS != "linux":
		if loops[1] != "0" {
			t.Errorf("event_loops=%s, want 0", loops[1])
		}
	case loops[1] == "0":
		t.Errorf("event loops off by default")
	}
	if !strings.Contains(p.stderr.String(), "reload failed") {
		t.Errorf("bad reload not reported:\n%s", p.stderr.String())
	}
	if strings.Contains(p.stderr.String(), "late-secret") || strings.Contains(p.stderr.String(), c.Users.App.Password) {
		t.Errorf("a password reached the log:\n%s", p.stderr.String())
	}
}
