package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/admin"
	"github.com/switchyard/switchyard/asynclog"
	"github.com/switchyard/switchyard/cluster"
	"github.com/switchyard/switchyard/config"
)

func cmdSandbox(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory for the servers' data (default: a new temporary directory)")
	replicas := fs.Int("replicas", 2, "number of replicas")
	basePort := fs.Int("base-port", 0, "first server port (master); replicas follow; 0 picks free ports")
	listen := fs.String("listen", "127.0.0.1:6033", "proxy client address")
	adminListen := fs.String("admin-listen", "127.0.0.1:6032", "proxy admin address")
	httpListen := fs.String("http-listen", "127.0.0.1:6080", "status page and /metrics address (\"\" disables)")
	semiSync := fs.Bool("semi-sync", false, "semi-synchronous replication")
	keep := fs.Bool("keep", false, "keep the data directory on exit")
	backend := fs.String("backend", "auto", "how to run servers: auto, local or docker")
	verbose := fs.Bool("v", false, "debug logging")
	serverBin := fs.String("server-binary", "", "database server to run (default: mariadbd or mysqld from PATH or /usr/sbin)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *replicas < 0 {
		fmt.Fprintln(stderr, "switchyard sandbox: --replicas must be 0 or more")
		return 2
	}
	level := new(slog.LevelVar)
	level.Set(slog.LevelWarn)
	if *verbose {
		level.Set(slog.LevelDebug)
	}
	logw := asynclog.New(stderr, 1<<20) // as in run
	defer logw.Close(2 * time.Second)
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: level}))

	// Check the proxy ports before starting servers, so a taken port costs nothing.
	for _, a := range []struct{ flag, addr string }{{"--listen", *listen}, {"--admin-listen", *adminListen}, {"--http-listen", *httpListen}} {
		if a.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			fmt.Fprintf(stderr, "switchyard sandbox: %s %s is not available (%v); choose another address with %s\n", a.flag, a.addr, err, a.flag)
			return 1
		}
		_ = ln.Close()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	nrep := *replicas
	if nrep == 0 {
		nrep = -1
	}
	fmt.Fprintf(stdout, "starting %d MariaDB servers...\n", *replicas+1)
	c, err := cluster.Start(ctx, cluster.Options{Dir: *dir, Keep: *keep, Replicas: nrep, BasePort: *basePort,
		SemiSync: *semiSync, Backend: *backend, Logger: log, ServerBinary: *serverBin,
		ExtraServerArgs: []string{"--max-allowed-packet=256M", "--local-infile=1"}})
	if err != nil {
		fmt.Fprintf(stderr, "switchyard sandbox: %v\n", err)
		return 1
	}
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintf(stderr, "switchyard sandbox: stopping servers: %v\n", err)
		}
	}()
	if err := createDemoDB(ctx, c); err != nil {
		fmt.Fprintf(stderr, "switchyard sandbox: %v\n", err)
		return 1
	}

	cfg := config.Default()
	cfg.Listen = *listen
	cfg.Admin.Listen = *adminListen
	cfg.HTTP.Listen = *httpListen
	cfg.Admin.Password = "admin-secret" // a sandbox: printed below
	cfg.Users = []config.User{{User: c.Users.App.Name, Password: config.Secret(c.Users.App.Password)}}
	cfg.Monitor.User = c.Users.Monitor.Name
	cfg.Monitor.Password = config.Secret(c.Users.Monitor.Password)
	cfg.Replication = config.Credentials{User: c.Users.Repl.Name, Password: config.Secret(c.Users.Repl.Password)}
	cfg.Nodes = nil
	for _, n := range c.Nodes {
		cfg.Nodes = append(cfg.Nodes, config.DefaultNode(n.Name, n.Addr()))
	}
	cfg.Failover.SemiSync = *semiSync
	cfg.Log.Level = level.Level()

	ready := func(addr, adminAddr string) {
		host, port, _ := net.SplitHostPort(addr)
		app := c.Users.App
		fmt.Fprintf(stdout, "\nSwitchyard sandbox (%s %s, backend %s, started in %s)\n", c.Flavor, c.Version, c.Backend, c.StartupTime.Round(time.Millisecond))
		for i, n := range c.Nodes {
			role := "replica"
			if i == 0 {
				role = "master "
			}
			fmt.Fprintf(stdout, "  %s %s  %s  (server_id %d)\n", role, n.Name, n.Addr(), n.ServerID)
		}
		fmt.Fprintf(stdout, "\nconnect through the proxy:\n  mariadb -h%s -P%s -u%s -p%s demo\n", host, port, app.Name, app.Password)
		if adminAddr != "" {
			ah, ap, _ := net.SplitHostPort(adminAddr)
			fmt.Fprintf(stdout, "admin port (SHOW TOPOLOGY; SELECT * FROM nodes; SWITCHOVER; DRILL 'kill-master'):\n  mariadb -h%s -P%s -u%s -p%s\n", ah, ap, cfg.Admin.User, cfg.Admin.Password.Reveal())
		}
		if *httpListen != "" {
			fmt.Fprintf(stdout, "status page and metrics:\n  http://%s/   http://%s/metrics\n", *httpListen, *httpListen)
		}
		if c.Dir != "" {
			fmt.Fprintf(stdout, "data: %s", c.Dir)
			if *keep {
				fmt.Fprintf(stdout, " (kept on exit)")
			}
			fmt.Fprintln(stdout)
		}
		fmt.Fprintln(stdout, "press Ctrl-C to stop and clean up")
		fmt.Fprintln(stdout, "ready")
	}
	if *keep && c.Dir != "" {
		_ = writeSandboxConfig(filepath.Join(c.Dir, "switchyard.yaml"), cfg)
	}
	if err := serve(ctx, cfg, serveOptions{log: log, level: level, ready: ready,
		injector: admin.ClusterInjector{C: c}, sandbox: true}); err != nil {
		fmt.Fprintf(stderr, "switchyard sandbox: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "stopping...")
	return 0
}

// createDemoDB makes a `demo` database with a small table, so the printed
// command line has something to look at.
func createDemoDB(ctx context.Context, c *cluster.Cluster) error {
	db, err := c.AdminDB(c.Master())
	if err != nil {
		return fmt.Errorf("connect to master: %w", err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS demo",
		"CREATE TABLE IF NOT EXISTS demo.greetings (id INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(100), at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
		"INSERT INTO demo.greetings (msg) VALUES ('hello from the master')",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create demo database: %w", err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.WaitReplicated(wctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("wait for replicas: %w", err)
	}
	return nil
}

func writeSandboxConfig(path string, cfg *config.Config) error {
	var b []byte
	b = fmt.Appendf(b, "# written by switchyard sandbox\nlisten: %s\nusers:\n", cfg.Listen)
	for _, u := range cfg.Users {
		b = fmt.Appendf(b, "  - user: %s\n    password: %q\n", u.User, u.Password.Reveal())
	}
	b = fmt.Appendf(b, "nodes:\n")
	for _, n := range cfg.Nodes {
		b = fmt.Appendf(b, "  - name: %s\n    address: %s\n", n.Name, n.Address)
	}
	b = fmt.Appendf(b, "monitor:\n  user: %s\n  password: %q\nreplication:\n  user: %s\n  password: %q\n",
		cfg.Monitor.User, cfg.Monitor.Password.Reveal(), cfg.Replication.User, cfg.Replication.Password.Reveal())
	return os.WriteFile(path, b, 0o600)
}
