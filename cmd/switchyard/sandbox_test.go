package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds switchyard once per test run.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sy-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "switchyard")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("build: %v\n%s", binErr, binPath)
	}
	return binPath
}

func needServer(t *testing.T) {
	t.Helper()
	for _, p := range []string{"mariadbd", "mysqld"} {
		if _, err := exec.LookPath(p); err == nil {
			return
		}
		if _, err := os.Stat("/usr/sbin/" + p); err == nil {
			return
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true requires a MariaDB/MySQL server binary")
	}
	t.Skip("no mariadbd/mysqld installed")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestSandboxEndToEnd runs `switchyard sandbox` as a user would: it prints
// ready and a command line that works; SIGTERM stops everything and removes
// the data.
func TestSandboxEndToEnd(t *testing.T) {
	needServer(t)
	bin := binary(t)
	listen, admin, httpAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "sandbox", "--listen", listen, "--admin-listen", admin, "--http-listen", httpAddr)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out []string
	deadline := time.After(2 * time.Minute)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("sandbox exited before ready:\n%s", strings.Join(out, "\n"))
			}
			out = append(out, l)
			if l == "ready" {
				break wait
			}
		case <-deadline:
			t.Fatalf("no ready line within 2 minutes:\n%s", strings.Join(out, "\n"))
		}
	}
	text := strings.Join(out, "\n")
	t.Logf("sandbox output:\n%s", text)
	m := regexp.MustCompile(`(?m)^\s+(mariadb -h\S+ -P\d+ -u\S+ -p\S+ demo)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no mariadb command line in the output")
	}
	args := append(strings.Fields(m[1])[1:], "--protocol=TCP", "--skip-ssl", "-N", "-e", "SELECT @@server_id; SELECT msg FROM greetings")
	res, err := exec.Command("mariadb", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("printed command line failed: %v\n%s", err, res)
	}
	if !strings.Contains(string(res), "hello from the master") {
		t.Fatalf("unexpected answer: %s", res)
	}
	am := regexp.MustCompile(`(?m)^\s+(mariadb -h\S+ -P\d+ -uadmin -p\S+)$`).FindStringSubmatch(text)
	if am == nil {
		t.Fatalf("no admin command line in the output")
	}
	res, err = exec.Command("mariadb", append(strings.Fields(am[1])[1:], "--protocol=TCP", "--skip-ssl", "-e", "SHOW TOPOLOGY")...).CombinedOutput()
	if err != nil || !strings.Contains(string(res), "db1") || !strings.Contains(string(res), "replica") {
		t.Fatalf("admin SHOW TOPOLOGY: %v\n%s", err, res)
	}
	t.Logf("admin SHOW TOPOLOGY:\n%s", res)
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		if path == "/metrics" && !strings.Contains(string(body), "switchyard_master_known 1") {
			t.Errorf("/metrics lacks switchyard_master_known 1")
		}
	}
	dm := regexp.MustCompile(`(?m)^data: (\S+)`).FindStringSubmatch(text)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sandbox exit: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("sandbox did not stop within 60s of SIGTERM")
	}
	if dm != nil {
		if _, err := os.Stat(dm[1]); !os.IsNotExist(err) {
			t.Errorf("data directory %s still there after exit (err %v)", dm[1], err)
		}
		if pids := serverPIDsUnder(dm[1]); len(pids) > 0 {
			t.Errorf("server processes left running: %v", pids)
		}
	}
}

// serverPIDsUnder lists processes whose command line mentions dir.
func serverPIDsUnder(dir string) []string {
	var pids []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// TestSandboxBadInput: each problem gives one clear line and nothing is
// left running.
func TestSandboxBadInput(t *testing.T) {
	needServer(t)
	bin := binary(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	file := filepath.Join(t.TempDir(), "afile")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"proxy port taken", []string{"--listen", taken.Addr().String()}, "is not available"},
		{"server port taken", []string{"--listen", freeAddr(t), "--admin-listen", freeAddr(t), "--http-listen", freeAddr(t), "--base-port", portOf(taken.Addr().String())}, "already in use"},
		{"unwritable dir", []string{"--listen", freeAddr(t), "--admin-listen", freeAddr(t), "--http-listen", freeAddr(t), "--dir", filepath.Join(file, "sub")}, "--dir"},
		{"missing server binary", []string{"--listen", freeAddr(t), "--admin-listen", freeAddr(t), "--http-listen", freeAddr(t), "--server-binary", "/nonexistent/mariadbd"}, "/nonexistent/mariadbd"},
	}
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, bin, append([]string{"sandbox"}, c.args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		cancel()
		if err == nil {
			t.Errorf("%s: sandbox succeeded", c.name)
			continue
		}
		msg := strings.TrimSpace(stderr.String())
		if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, c.want) {
			t.Errorf("%s: want one line mentioning %q, got:\n%s", c.name, c.want, msg)
		} else {
			t.Logf("%s: %s", c.name, msg)
		}
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
