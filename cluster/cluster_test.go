package cluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func openDB(t *testing.T, n *Node, u User, db string) *sql.DB {
	t.Helper()
	d, err := sql.Open("mysql", n.DSN(u, db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func mustExec(t *testing.T, ctx context.Context, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func count(t *testing.T, ctx context.Context, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func globalVar(t *testing.T, ctx context.Context, db *sql.DB, kind, name string) string {
	t.Helper()
	var k, v string
	if err := db.QueryRowContext(ctx, "SHOW GLOBAL "+kind+" LIKE "+quote(name)).Scan(&k, &v); err != nil {
		t.Fatalf("SHOW GLOBAL %s LIKE %s: %v", kind, name, err)
	}
	return v
}

// TestReplicationAccountsReadOnly: writes on the master reach every replica; replicas are
// read_only and refuse the app user's writes; every account works over 127.0.0.1 TCP.
func TestReplicationAccountsReadOnly(t *testing.T) {
	t.Parallel()
	c := StartForTest(t, Options{})
	ctx := t.Context()
	if len(c.Nodes) != 3 || c.Master().Name != "db1" || len(c.Replicas()) != 2 {
		t.Fatalf("want db1 + 2 replicas, got %d nodes", len(c.Nodes))
	}
	t.Logf("startup of 1 master + 2 replicas: %s", c.StartupTime)

	m := openDB(t, c.Master(), c.Users.App, "")
	mustExec(t, ctx, m, "CREATE DATABASE shop")
	mustExec(t, ctx, m, "CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20))")
	for i := range 10 {
		mustExec(t, ctx, m, "INSERT INTO shop.items VALUES (?, ?)", i, fmt.Sprint("item", i))
	}
	if err := c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	if ro := globalVar(t, ctx, m, "VARIABLES", "read_only"); ro != "OFF" {
		t.Errorf("master read_only = %s, want OFF", ro)
	}
	ids := map[string]bool{}
	for _, n := range c.Nodes {
		for _, u := range []User{c.Users.App, c.Users.Monitor, c.Users.Repl, c.Users.Admin} {
			if err := openDB(t, n, u, "").PingContext(ctx); err != nil {
				t.Errorf("%s: user %s cannot log in over TCP: %v", n.Name, u.Name, err)
			}
		}
		admin := openDB(t, n, c.Users.Admin, "")
		ids[globalVar(t, ctx, admin, "VARIABLES", "server_id")] = true
		if v := globalVar(t, ctx, admin, "VARIABLES", "binlog_format"); v != "ROW" {
			t.Errorf("%s binlog_format = %s", n.Name, v)
		}
	}
	if len(ids) != 3 {
		t.Errorf("server ids not distinct: %v", ids)
	}
	for _, r := range c.Replicas() {
		app := openDB(t, r, c.Users.App, "shop")
		if got := count(t, ctx, app, "SELECT COUNT(*) FROM items"); got != 10 {
			t.Errorf("%s has %d rows, want 10", r.Name, got)
		}
		if ro := globalVar(t, ctx, app, "VARIABLES", "read_only"); ro != "ON" {
			t.Errorf("%s read_only = %s, want ON", r.Name, ro)
		}
		_, err := app.ExecContext(ctx, "INSERT INTO items VALUES (100, 'x')")
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1290 { // ER_OPTION_PREVENTS_STATEMENT
			t.Errorf("%s: app write on read_only replica: got %v, want error 1290", r.Name, err)
		}
		if c.Flavor == FlavorMariaDB {
			admin := openDB(t, r, c.Users.Admin, "")
			rows, err := admin.QueryContext(ctx, "SHOW SLAVE STATUS")
			if err != nil {
				t.Fatal(err)
			}
			st := scanRow(t, rows)
			if st["Using_Gtid"] != "Slave_Pos" || st["Slave_IO_Running"] != "Yes" || st["Slave_SQL_Running"] != "Yes" ||
				st["Master_Port"] != fmt.Sprint(c.Master().Port) || st["Connect_Retry"] != "1" {
				t.Errorf("%s slave status: Using_Gtid=%s IO=%s SQL=%s port=%s retry=%s", r.Name, st["Using_Gtid"],
					st["Slave_IO_Running"], st["Slave_SQL_Running"], st["Master_Port"], st["Connect_Retry"])
			}
		}
	}
}

func scanRow(t *testing.T, rows *sql.Rows) map[string]string {
	t.Helper()
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	cols, _ := rows.Columns()
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for i, c := range cols {
		m[c] = vals[i].String
	}
	return m
}

// TestKillRestart: kill -9 the master and restart it with its data intact, replicas
// reconnect by themselves; a cleanly stopped replica catches up after a restart.
func TestKillRestart(t *testing.T) {
	t.Parallel()
	c := StartForTest(t, Options{})
	ctx := t.Context()
	master, r1 := c.Master(), c.Replicas()[0]
	m := openDB(t, master, c.Users.App, "")
	mustExec(t, ctx, m, "CREATE DATABASE k")
	mustExec(t, ctx, m, "CREATE TABLE k.t (id INT PRIMARY KEY)")
	mustExec(t, ctx, m, "INSERT INTO k.t VALUES (1), (2), (3)")

	pid := c.PID(master)
	if err := c.Kill(master); err != nil {
		t.Fatal(err)
	}
	if c.Running(master) || c.PID(master) != 0 {
		t.Fatal("master still running after Kill")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("killed master pid %d still exists: %v", pid, err)
	}
	if err := c.StartNode(ctx, master); err != nil {
		t.Fatal(err)
	}
	if err := c.StartNode(ctx, master); err == nil {
		t.Error("StartNode on a running node should fail")
	}
	if got := count(t, ctx, m, "SELECT COUNT(*) FROM k.t"); got != 3 {
		t.Fatalf("after kill -9 and restart the master has %d rows, want 3", got)
	}

	if err := c.StopNode(ctx, r1); err != nil {
		t.Fatal(err)
	}
	if c.Running(r1) {
		t.Fatal("replica running after StopNode")
	}
	mustExec(t, ctx, m, "INSERT INTO k.t VALUES (4)")
	if err := c.StartNode(ctx, r1); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range c.Replicas() {
		if got := count(t, ctx, openDB(t, r, c.Users.App, ""), "SELECT COUNT(*) FROM k.t"); got != 4 {
			t.Errorf("%s has %d rows, want 4", r.Name, got)
		}
	}
}

// TestTeardown: Stop leaves no server process and removes what it created; a caller's
// directory and fixed ports are honoured.
func TestTeardown(t *testing.T) {
	base := freeRange(t, 2)
	dir := filepath.Join(t.TempDir(), "d")
	c := StartForTest(t, Options{Replicas: 1, Dir: dir, BasePort: base})
	if c.Master().Port != base || c.Replicas()[0].Port != base+1 {
		t.Errorf("ports %d,%d, want %d,%d", c.Master().Port, c.Replicas()[0].Port, base, base+1)
	}
	var pids []int
	for _, n := range c.Nodes {
		if pids = append(pids, c.PID(n)); c.PID(n) == 0 {
			t.Fatalf("%s has no pid", n.Name)
		}
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	for _, p := range pids {
		if err := syscall.Kill(p, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("server pid %d survived Stop: %v", p, err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("caller's dir must stay: %v", err)
	}
	if len(ents) != 0 {
		t.Errorf("node dirs left in %s: %v", dir, ents)
	}
	if err := c.StartNode(t.Context(), c.Master()); err == nil {
		t.Error("StartNode after Stop should fail")
	}
}

// TestTempDirRemoved: with no Dir, Stop removes the temp dir it made.
func TestTempDirRemoved(t *testing.T) {
	t.Parallel()
	c := StartForTest(t, Options{Replicas: -1})
	if len(c.Nodes) != 1 {
		t.Fatalf("Replicas: -1 gave %d nodes", len(c.Nodes))
	}
	if err := c.WaitReplicated(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s still there: %v", c.Dir, err)
	}
}

// freeRange finds n consecutive free loopback ports.
func freeRange(t *testing.T, n int) int {
	t.Helper()
	for base := 41000 + os.Getpid()%2000*10; base < 65000; base += n {
		if checkPortsFree(base, n) == nil {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// TestSemiSync: the master reports semi-sync ON with both replicas as clients.
func TestSemiSync(t *testing.T) {
	t.Parallel()
	// Custom accounts: partly set Users fill the rest with defaults.
	c := StartForTest(t, Options{SemiSync: true, Users: Users{App: User{"shopapp", "p'w\\d"}}})
	if c.Users.App.Name != "shopapp" || c.Users.Monitor != DefaultUsers().Monitor {
		t.Fatalf("users = %+v", c.Users)
	}
	if err := openDB(t, c.Replicas()[0], c.Users.App, "").PingContext(t.Context()); err != nil {
		t.Errorf("custom app user with quote and backslash in password: %v", err)
	}
	ctx := t.Context()
	if c.Flavor != FlavorMariaDB {
		t.Skip("status names checked here are MariaDB's")
	}
	m := openDB(t, c.Master(), c.Users.Admin, "")
	if v := globalVar(t, ctx, m, "STATUS", "Rpl_semi_sync_master_status"); v != "ON" {
		t.Errorf("Rpl_semi_sync_master_status = %s", v)
	}
	if v := globalVar(t, ctx, m, "STATUS", "Rpl_semi_sync_master_clients"); v != "2" {
		t.Errorf("Rpl_semi_sync_master_clients = %s", v)
	}
	mustExec(t, ctx, m, "CREATE DATABASE s")
	if v := globalVar(t, ctx, m, "STATUS", "Rpl_semi_sync_master_yes_tx"); v == "0" {
		t.Error("no transaction was acknowledged semi-synchronously")
	}
	for _, r := range c.Replicas() {
		if v := globalVar(t, ctx, openDB(t, r, c.Users.Admin, ""), "STATUS", "Rpl_semi_sync_slave_status"); v != "ON" {
			t.Errorf("%s Rpl_semi_sync_slave_status = %s", r.Name, v)
		}
	}
}

// TestBadInput: each mistake gives one clear error naming the fix, and nothing is left.
func TestBadInput(t *testing.T) {
	if _, err := findServer(Options{}); err != nil {
		t.Skipf("no local server binary: %v", err)
	}
	ctx := t.Context()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tp := taken.Addr().(*net.TCPAddr).Port
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	emptyBin := t.TempDir()
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(emptyBin, "no-docker.sock")) // no engine, fast

	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"master port taken", Options{BasePort: tp}, fmt.Sprintf("port 127.0.0.1:%d is already in use; choose another --base-port or stop what listens there", tp)},
		{"replica port taken", Options{BasePort: tp - 1}, fmt.Sprintf("port 127.0.0.1:%d is already in use", tp)},
		{"unwritable dir", Options{Dir: filepath.Join(file, "sub")}, "cannot write data directory " + filepath.Join(file, "sub") + ": not a directory; choose another --dir"},
		{"missing binary local", Options{Backend: BackendLocal, BinDirs: []string{emptyBin}},
			"no MariaDB/MySQL server binary found (looked for mariadbd, mysqld in " + emptyBin + "); install it: apt-get install mariadb-server"},
		{"missing binary auto", Options{BinDirs: []string{emptyBin}}, "install it: apt-get install mariadb-server (and no Docker engine answered either)"},
		{"explicit binary missing", Options{ServerBinary: "/nonexistent/mariadbd"}, "no MariaDB/MySQL server binary found (looked for /nonexistent/mariadbd)"},
		{"unknown backend", Options{Backend: "podman"}, `unknown backend "podman"; use auto, local or docker`},
		{"server refuses its config", Options{Replicas: -1, ExtraServerArgs: []string{"--no-such-option"}}, "unknown option '--no-such-option'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Dir == "" {
				tc.opts.Dir = filepath.Join(t.TempDir(), "base")
			}
			c, err := Start(ctx, tc.opts)
			if err == nil {
				c.Stop()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tc.want)
			}
			if strings.HasPrefix(tc.name, "missing binary") && !errors.Is(err, ErrNoBackend) {
				t.Errorf("missing binary error should match ErrNoBackend: %v", err)
			}
			// Nothing left: no node directories (so no server ran to completion either).
			if ents, _ := os.ReadDir(tc.opts.Dir); len(ents) != 0 {
				t.Errorf("left behind in %s: %v", tc.opts.Dir, ents)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", `'plain'`},
		{"it's", `'it\'s'`},
		{`back\slash`, `'back\\slash'`},
		{"nul\x00", `'nul\0'`},
		{`\'`, `'\\\''`},
	} {
		if got := quote(tc.in); got != tc.want {
			t.Errorf("quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestFindServer(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "mysqld")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExec := t.TempDir()
	if err := os.WriteFile(filepath.Join(notExec, "mariadbd"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		dirs []string
		want string
	}{
		{"found mysqld", []string{dir}, fake},
		{"skips non-executable", []string{notExec, dir}, fake},
		{"none", []string{notExec}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findServer(Options{BinDirs: tc.dirs})
			if got != tc.want || (tc.want == "") != (err != nil) {
				t.Errorf("findServer = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// BenchmarkStartStop measures bringing up (and tearing down) 1 master + 2 replicas.
func BenchmarkStartStop(b *testing.B) {
	for b.Loop() {
		c, err := Start(b.Context(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(c.StartupTime.Milliseconds()), "startup-ms")
		if err := c.Stop(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCopyFileSparse(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	data := make([]byte, 300<<10)
	copy(data[70<<10:], "hello")
	data[len(data)-1] = 0 // trailing hole
	copy(data[200<<10:], "world")
	for _, size := range []int{0, 1, 64 << 10, len(data) - 3, len(data)} {
		if err := os.WriteFile(src, data[:size], 0o640); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, fmt.Sprint("dst", size))
		if err := copyFile(src, dst, 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(data[:size]) {
			t.Errorf("size %d: copy differs (len %d)", size, len(got))
		}
	}
}

// TestNoOrphansWhenLauncherDies: a test process that is killed outright (no cleanup runs)
// takes its servers with it, through the parent-death signal.
func TestNoOrphansWhenLauncherDies(t *testing.T) {
	if dir := os.Getenv("SY_ORPHAN_CHILD_DIR"); dir != "" {
		c := StartForTest(t, Options{Replicas: 1, Dir: dir})
		for _, n := range c.Nodes {
			fmt.Printf("PID %d\n", c.PID(n))
		}
		os.Stdout.Sync()
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	if _, err := findServer(Options{}); err != nil {
		t.Skipf("no local server binary: %v", err)
	}
	cmd := osexec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestNoOrphansWhenLauncherDies$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SY_ORPHAN_CHILD_DIR="+filepath.Join(t.TempDir(), "c"))
	out, _ := cmd.Output() // it dies by SIGKILL, so an error is expected
	var pids []int
	for _, line := range strings.Split(string(out), "\n") {
		var p int
		if _, err := fmt.Sscanf(line, "PID %d", &p); err == nil && p > 0 {
			pids = append(pids, p)
		}
	}
	if len(pids) != 2 {
		t.Fatalf("child reported pids %v; output:\n%s", pids, out)
	}
	for _, p := range pids {
		for !gone(p) { // the kernel delivers the signal; init reaps the zombie
			select {
			case <-t.Context().Done():
				t.Fatalf("server pid %d outlived its launcher", p)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// gone reports whether pid no longer exists or is a zombie awaiting its reaper.
func gone(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// Format: pid (comm) state ...; comm may contain spaces, so find the last ')'.
	s := string(st)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// recordTB captures how StartForTest ends a test; Skipf/Fatalf stop it like the real ones.
type recordTB struct {
	testing.TB
	how, msg string
}

type stopTest struct{}

func (r *recordTB) Helper()             {}
func (r *recordTB) Logf(string, ...any) {}
func (r *recordTB) Skipf(f string, a ...any) {
	r.how, r.msg = "skip", fmt.Sprintf(f, a...)
	panic(stopTest{})
}
func (r *recordTB) Fatalf(f string, a ...any) {
	r.how, r.msg = "fatal", fmt.Sprintf(f, a...)
	panic(stopTest{})
}
func (r *recordTB) Cleanup(func())           {}
func (r *recordTB) Context() context.Context { return context.Background() }

// run calls StartForTest; the recover catches the stopTest panic of Skipf/Fatalf.
func (r *recordTB) run(opts Options) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(stopTest); !ok {
				panic(p)
			}
		}
	}()
	StartForTest(r, opts)
}

func TestStartForTestWithoutBackend(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	none := Options{BinDirs: []string{t.TempDir()}}
	for _, tc := range []struct{ ci, want string }{{"", "skip"}, {"false", "skip"}, {"true", "fatal"}} {
		t.Setenv("CI", tc.ci)
		r := &recordTB{TB: t}
		r.run(none)
		if r.how != tc.want || !strings.Contains(r.msg, "no MariaDB/MySQL server binary found") {
			t.Errorf("CI=%q: %s %q, want %s", tc.ci, r.how, r.msg, tc.want)
		}
	}
}

// TestKeep: with Keep, Stop shuts servers down cleanly and leaves the data.
func TestKeep(t *testing.T) {
	t.Parallel()
	c := StartForTest(t, Options{Replicas: -1, Keep: true})
	t.Cleanup(func() { os.RemoveAll(c.Dir) })
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if c.Running(c.Master()) {
		t.Fatal("still running after Stop")
	}
	log, err := os.ReadFile(filepath.Join(c.Master().Dir, "error.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "Shutdown complete") {
		t.Errorf("no clean shutdown in error log:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, ownerFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("kept dir still marked for sweeping: %v", err)
	}
}

func TestSweepOrphanDirs(t *testing.T) {
	dead := osexec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	mk := func(owner string) string {
		d, err := os.MkdirTemp("", "sy-sweeptest-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		if owner != "" {
			if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(owner), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	deadDir := mk(fmt.Sprintf("%d 12345", dead.ProcessState.Pid()))
	mine := mk(selfIdentity())
	reused := mk(fmt.Sprintf("%d 1", os.Getpid())) // our pid, but another start time
	unmarked := mk("")
	sweepOrphanDirs(slog.New(slog.DiscardHandler))
	for _, tc := range []struct {
		dir  string
		keep bool
	}{{deadDir, false}, {mine, true}, {reused, false}, {unmarked, true}} {
		_, err := os.Stat(tc.dir)
		if exists := err == nil; exists != tc.keep {
			t.Errorf("%s: exists=%v, want %v", tc.dir, exists, tc.keep)
		}
	}
}
