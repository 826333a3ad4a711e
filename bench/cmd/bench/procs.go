package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/switchyard/switchyard/cluster"
)

func lookPath(tool string) (string, error) {
	if p, err := exec.LookPath(tool); err == nil {
		return p, nil
	}
	p := "/usr/sbin/" + tool
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

func commandOutput(name string, args ...string) string {
	p, err := lookPath(name)
	if err != nil {
		return ""
	}
	out, _ := exec.Command(p, args...).CombinedOutput()
	return string(out)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// prepare creates the sysbench tables once, on the master, and waits for the
// replicas to have them.
func prepare(ctx context.Context, c *cluster.Cluster, sb sysbench) error {
	adm, err := c.AdminDB(c.Master())
	if err != nil {
		return err
	}
	defer adm.Close()
	if _, err := adm.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+sb.db); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	fmt.Printf("preparing sysbench tables (%d x %d rows)...\n", sb.tables, sb.tableSize)
	if _, err := sb.run(ctx, "oltp_common", c.Master().Addr(), 4, 0, "prepare"); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := c.WaitReplicated(wctx); err != nil {
		return fmt.Errorf("wait for replicas: %w", err)
	}
	return nil
}

// proc is a child process (HAProxy, Switchyard) with its output in a file.
type proc struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	exitErr error
	stopped atomic.Bool
}

func startProc(name, logPath string, env []string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.exitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) stop() {
	p.stopped.Store(true)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// err reports an unexpected exit.
func (p *proc) err() error {
	select {
	case <-p.done:
		if !p.stopped.Load() {
			b, _ := os.ReadFile(p.logPath)
			return fmt.Errorf("%s exited: %v\n%s", filepath.Base(p.cmd.Path), p.exitErr, tail(string(b), 30))
		}
	default:
	}
	return nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitTCP waits until addr accepts connections or p exits.
func waitTCP(ctx context.Context, p *proc, addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if err := p.err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not listen on %s within 30s", filepath.Base(p.cmd.Path), addr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type haproxy struct {
	*proc
	roAddr, rwAddr string
}

// startHAProxy runs HAProxy in TCP mode: one port balancing over the
// replicas (read-only workloads), one to the master (read_write).
func startHAProxy(ctx context.Context, dir, master string, replicas []string) (*haproxy, error) {
	ro, err := freeAddr()
	if err != nil {
		return nil, err
	}
	rw, err := freeAddr()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `global
    maxconn 8000
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend replicas_in
    bind %s
    default_backend replicas
backend replicas
    balance leastconn
`, ro)
	for i, r := range replicas {
		fmt.Fprintf(&b, "    server replica%d %s\n", i+1, r)
	}
	fmt.Fprintf(&b, `frontend master_in
    bind %s
    default_backend master
backend master
    server master %s
`, rw, master)
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	bin, err := lookPath("haproxy")
	if err != nil {
		return nil, err
	}
	p, err := startProc(bin, filepath.Join(dir, "haproxy.log"), nil, "-db", "-f", cfg)
	if err != nil {
		return nil, err
	}
	h := &haproxy{proc: p, roAddr: ro, rwAddr: rw}
	for _, a := range []string{ro, rw} {
		if err := waitTCP(ctx, p, a); err != nil {
			h.stop()
			return nil, err
		}
	}
	return h, nil
}

type switchyardProc struct {
	*proc
	addr        string
	httpAddr    string
	consistency string
	user, pass  string
}

// startSwitchyard writes a configuration for the cluster and runs the
// binary as a separate process (so its RSS is its own).
func startSwitchyard(ctx context.Context, bin, dir string, c *cluster.Cluster, maxClients, gomaxprocs int, pipeline bool) (*switchyardProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	const consistency = "eventual"
	var b strings.Builder
	fmt.Fprintf(&b, "# generated by the bench harness\nlisten: %s\nusers:\n  - user: %s\n    password: %q\nnodes:\n",
		addr, c.Users.App.Name, c.Users.App.Password)
	for _, n := range c.Nodes {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n", n.Name, n.Addr())
	}
	fmt.Fprintf(&b, "monitor:\n  user: %s\n  password: %q\nreplication:\n  user: %s\n  password: %q\n",
		c.Users.Monitor.Name, c.Users.Monitor.Password, c.Users.Repl.Name, c.Users.Repl.Password)
	fmt.Fprintf(&b, "admin:\n  listen: \"\"\nhttp:\n  listen: %s\nlimits:\n  max_client_connections: %d\nrouting:\n  consistency: %s\n  pipeline_reads: %v\nlog:\n  level: warn\n",
		httpAddr, maxClients, consistency, pipeline)
	cfg := filepath.Join(dir, "switchyard.yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	var env []string
	if gomaxprocs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(gomaxprocs))
	}
	args := []string{"run", "--config", cfg}
	if prof := os.Getenv("BENCH_CPUPROFILE"); prof != "" {
		args = append(args, "--cpuprofile", prof) // profile the proxy during the run
	}
	p, err := startProc(bin, filepath.Join(dir, "switchyard.log"), env, args...)
	if err != nil {
		return nil, err
	}
	s := &switchyardProc{proc: p, addr: addr, httpAddr: httpAddr, consistency: consistency, user: c.Users.App.Name, pass: c.Users.App.Password}
	if err := waitTCP(ctx, p, addr); err != nil {
		s.stop()
		return nil, err
	}
	// Ready when a query goes through.
	db, err := sql.Open("mysql", s.dsn(""))
	if err != nil {
		s.stop()
		return nil, err
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var one int
		err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("switchyard never answered a query: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eventLoops reads the proxy's switchyard_event_loops gauge ("?" when the
// scrape fails).
func (s *switchyardProc) eventLoops(ctx context.Context) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.httpAddr+"/metrics", nil)
	if err != nil {
		return "?"
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "?"
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, "switchyard_event_loops "); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func (s *switchyardProc) dsn(db string) string {
	return s.user + ":" + s.pass + "@tcp(" + s.addr + ")/" + db
}

// procStatus reads VmRSS and VmHWM (in MB) of a process.
func procStatus(pid int) (rss, hwm float64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			hwm = kb / 1024
		}
	}
	return rss, hwm
}

// StreamResult is the proxy's memory while a big result passes through.
type StreamResult struct {
	Rows         int     `json:"rows"`
	Bytes        int64   `json:"bytes"`
	Seconds      float64 `json:"seconds"`
	RSSBeforeMB  float64 `json:"rss_before_mb"`
	PeakHWMMB    float64 `json:"peak_vmhwm_mb"`
	MaxSampledMB float64 `json:"max_sampled_rss_mb"`
	Query        string  `json:"query"`
}

func streamTest(ctx context.Context, c *cluster.Cluster, sy *switchyardProc, rows int) (*StreamResult, error) {
	q := fmt.Sprintf("SELECT seq, REPEAT('x', 1000) FROM seq_1_to_%d", rows)
	res := &StreamResult{Rows: rows, Query: q}
	pid := sy.pid()
	// Reset the peak RSS so VmHWM measures this test only.
	_ = os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0)
	res.RSSBeforeMB, _ = procStatus(pid)
	db, err := sql.Open("mysql", sy.dsn("sbtest")) // the sequence engine needs a current database
	if err != nil {
		return nil, err
	}
	defer db.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var maxRSS float64
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if r, _ := procStatus(pid); r > maxRSS {
					maxRSS = r
				}
			}
		}
	}()
	start := time.Now()
	r, err := db.QueryContext(ctx, q)
	if err != nil {
		close(stop)
		wg.Wait()
		return nil, err
	}
	var seq, pad sql.RawBytes
	n := 0
	for r.Next() {
		if err := r.Scan(&seq, &pad); err != nil {
			r.Close()
			close(stop)
			wg.Wait()
			return nil, err
		}
		res.Bytes += int64(len(seq) + len(pad))
		n++
	}
	err = r.Err()
	r.Close()
	res.Seconds = time.Since(start).Seconds()
	close(stop)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if n != rows {
		return nil, fmt.Errorf("read %d rows, want %d", n, rows)
	}
	res.MaxSampledMB = maxRSS
	_, res.PeakHWMMB = procStatus(pid)
	return res, nil
}

// IdleResult is the proxy's cost of many idle clients.
type IdleResult struct {
	Clients       int     `json:"clients"`
	RSSBeforeMB   float64 `json:"rss_before_mb"`
	RSSAfterMB    float64 `json:"rss_after_mb"`
	PerClientKB   float64 `json:"rss_per_client_kb"`
	BackendBefore int     `json:"backend_connections_before"`
	BackendAfter  int     `json:"backend_connections_after"`
	ConnectSecs   float64 `json:"connect_seconds"`
}

// backendConns counts the app user's connections on every node (what the
// proxy holds open to the servers).
func backendConns(ctx context.Context, c *cluster.Cluster, user string) (int, error) {
	total := 0
	for _, n := range c.Nodes {
		db, err := c.AdminDB(n)
		if err != nil {
			return 0, err
		}
		var k int
		err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?", user).Scan(&k)
		db.Close()
		if err != nil {
			return 0, err
		}
		total += k
	}
	return total, nil
}

func idleTest(ctx context.Context, c *cluster.Cluster, sy *switchyardProc, n int) (*IdleResult, error) {
	res := &IdleResult{Clients: n}
	var err error
	if res.BackendBefore, err = backendConns(ctx, c, sy.user); err != nil {
		return nil, err
	}
	res.RSSBeforeMB, _ = procStatus(sy.pid())
	cfg, err := mysql.ParseDSN(sy.dsn(""))
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	conns := make([]driver.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	start := time.Now()
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := conn.Connect(ctx)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("client %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	res.ConnectSecs = time.Since(start).Seconds()
	// Every client is logged in; check the last one still answers.
	if p, ok := conns[n-1].(driver.Pinger); ok {
		if err := p.Ping(ctx); err != nil {
			return nil, fmt.Errorf("ping an idle client: %w", err)
		}
	}
	res.RSSAfterMB, _ = procStatus(sy.pid())
	res.PerClientKB = (res.RSSAfterMB - res.RSSBeforeMB) * 1024 / float64(n)
	if res.BackendAfter, err = backendConns(ctx, c, sy.user); err != nil {
		return nil, err
	}
	return res, nil
}

// procCPU is a process's CPU time so far (user+system, all threads); 0 for
// pid 0 or when unreadable.
func procCPU(pid int) time.Duration {
	u, s := procTimes(pid)
	return u + s
}

// machineBusy is the machine's busy CPU time so far (all CPUs: user, nice,
// system, irq, softirq, steal), from the first line of /proc/stat.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, _ := strconv.ParseUint(f[i], 10, 64)
		ticks += v
	}
	return time.Duration(ticks) * (time.Second / 100)
}
