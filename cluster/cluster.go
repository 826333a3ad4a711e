// Package cluster starts real replicated MariaDB (or MySQL) servers on loopback: one master
// and N replicas with GTID replication, the accounts a real deployment has, and helpers to
// kill, stop, restart and wait on nodes. It backs `switchyard sandbox` and every integration
// test. Two backends exist: local server binaries (preferred, fast) and Docker via dockertest.
package cluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// User is one MySQL account.
type User struct{ Name, Password string }

// Users are the accounts the launcher creates on the master (replicas get them by replication).
type Users struct{ App, Monitor, Repl, Admin User }

// DefaultUsers returns the default account names and passwords.
func DefaultUsers() Users {
	return Users{
		App:     User{"app", "app-secret"},
		Monitor: User{"monitor", "monitor-secret"},
		Repl:    User{"repl", "repl-secret"},
		Admin:   User{"root", "root-secret"},
	}
}

// Backend names.
const (
	BackendAuto   = "auto"
	BackendLocal  = "local"
	BackendDocker = "docker"
)

// Flavor names.
const (
	FlavorMariaDB = "mariadb"
	FlavorMySQL   = "mysql"
)

// ErrNoBackend is wrapped by Start's error when neither a local server binary nor a Docker
// engine is available; tests skip on it (or fail under CI=true).
var ErrNoBackend = errors.New("no database backend available")

// Options configures Start.
type Options struct {
	Dir      string // base directory; "" = a new temp dir, removed by Stop
	Keep     bool   // Stop leaves the data in place (and shuts servers down cleanly)
	Replicas int    // number of replicas; 0 = default 2, negative = none
	BasePort int    // 0 = free ports; otherwise master = BasePort, replica i = BasePort+i
	SemiSync bool   // semi-synchronous replication (master side on master, slave side on replicas)
	// SemiSyncTimeout is how long the master waits for a replica ack before falling back to
	// asynchronous replication; 0 = 5s.
	SemiSyncTimeout time.Duration
	Backend         string // "auto" (default) | "local" | "docker"
	Users           Users  // zero accounts = DefaultUsers()'s
	Logger          *slog.Logger
	ExtraServerArgs []string
	// Unsafe relaxes durability (innodb_flush_log_at_trx_commit=2, sync_binlog=0) for speed.
	// Off by default: failover tests rely on acknowledged writes surviving a kill.
	Unsafe bool
	// ServerBinary is the server to run ("" = search BinDirs for mariadbd, then mysqld).
	ServerBinary string
	// BinDirs are the directories searched for the server binary; nil = $PATH then /usr/sbin.
	BinDirs []string
	// DockerFlavor picks the image when the Docker backend is used: "mariadb" (default,
	// mariadb:10.11) or "mysql" (mysql:8).
	DockerFlavor string
}

// Node is one server of the cluster.
type Node struct {
	Name     string // "db1", "db2", ...
	Host     string // address clients use, always 127.0.0.1
	Port     int    // port clients use
	ServerID int
	Dir      string // node directory (local backend); "" for Docker
	// ReplHost and ReplPort are the address other nodes use in CHANGE MASTER TO to reach
	// this node (differs from Host/Port under Docker, where it is the container name).
	ReplHost string
	ReplPort int
	// ReadOnly is the read_only setting the server starts with (replicas: true). Code that
	// changes roles may set it before StartNode so a returning old master comes back fenced.
	ReadOnly bool

	flavor    string
	semiRole  string // "master", "slave" or ""
	socket    string
	errorLog  string
	proc      *process   // local backend; guarded by Cluster.mu
	container *container // docker backend; guarded by Cluster.mu
}

// Addr returns host:port for clients.
func (n *Node) Addr() string { return net.JoinHostPort(n.Host, strconv.Itoa(n.Port)) }

// DSN returns a go-sql-driver/mysql DSN for user u and database db on this node.
func (n *Node) DSN(u User, db string) string {
	cfg := mysql.NewConfig()
	cfg.User = u.Name
	cfg.Passwd = u.Password
	cfg.Net = "tcp"
	cfg.Addr = n.Addr()
	cfg.DBName = db
	cfg.Timeout = 5 * time.Second
	return cfg.FormatDSN()
}

// Cluster is a running master + replicas.
type Cluster struct {
	Nodes       []*Node
	Users       Users
	Backend     string // "local" | "docker"
	Flavor      string // "mariadb" | "mysql"
	Version     string // server version, e.g. "10.11.19"
	Dir         string // base directory (local backend)
	StartupTime time.Duration

	opts    Options
	log     *slog.Logger
	be      backend
	ownsDir bool
	mu      sync.Mutex
	stopped bool
}

// backend is what a way of running servers must offer.
type backend interface {
	name() string
	// startNode starts n (first start or restart) and returns once it accepts connections.
	startNode(ctx context.Context, n *Node) error
	kill(n *Node) error
	stop(ctx context.Context, n *Node) error
	running(n *Node) bool
	// bootstrapDSN is how the launcher first reaches a freshly created node as superuser.
	bootstrapDSN(n *Node) string
	// close removes whatever is left (processes, containers, networks).
	close(clean bool) error
}

// Master returns the node started as master (db1). After failovers, callers track roles.
func (c *Cluster) Master() *Node { return c.Nodes[0] }

// Replicas returns the nodes started as replicas.
func (c *Cluster) Replicas() []*Node { return c.Nodes[1:] }

// Node returns the node with the given name, or nil.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Start starts a master and opts.Replicas replicas and returns once every replica replicates
// from the master. On any failure nothing is left running.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	began := time.Now()
	opts = normalize(opts)
	c := &Cluster{Users: opts.Users, opts: opts, log: opts.Logger}

	ok := false
	defer func() {
		if !ok { // leave nothing behind: processes, containers, directories we made
			if err := c.Stop(); err != nil {
				c.log.Warn("cleanup after failed start", "err", err)
			}
		}
	}()
	be, err := selectBackend(ctx, c)
	if err != nil {
		return nil, err
	}
	c.be = be
	c.Backend = be.name()
	c.log.Debug("backend ready", "backend", c.Backend, "took", time.Since(began).Round(time.Millisecond))
	if err := c.startAll(ctx); err != nil {
		return nil, err
	}
	ok = true
	c.StartupTime = time.Since(began)
	c.log.Info("cluster started", "backend", c.Backend, "flavor", c.Flavor, "version", c.Version,
		"nodes", len(c.Nodes), "master", c.Master().Addr(), "semi_sync", opts.SemiSync,
		"startup", c.StartupTime.Round(time.Millisecond))
	return c, nil
}

func normalize(o Options) Options {
	if o.Replicas == 0 {
		o.Replicas = 2
	} else if o.Replicas < 0 {
		o.Replicas = 0
	}
	if o.Backend == "" {
		o.Backend = BackendAuto
	}
	// Each account left zero gets its default, so callers can override just one.
	def := DefaultUsers()
	for _, p := range []struct{ u, d *User }{
		{&o.Users.App, &def.App}, {&o.Users.Monitor, &def.Monitor},
		{&o.Users.Repl, &def.Repl}, {&o.Users.Admin, &def.Admin},
	} {
		if *p.u == (User{}) {
			*p.u = *p.d
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.SemiSyncTimeout <= 0 {
		o.SemiSyncTimeout = 5 * time.Second
	}
	if o.DockerFlavor == "" {
		o.DockerFlavor = FlavorMariaDB
	}
	return o
}

// newNodes lays out names, ids and roles; ports are filled in by the backend.
func (c *Cluster) newNodes() {
	for i := 0; i <= c.opts.Replicas; i++ {
		n := &Node{
			Name:     fmt.Sprintf("db%d", i+1),
			Host:     "127.0.0.1",
			ServerID: i + 1,
			ReadOnly: i > 0,
			flavor:   c.Flavor,
		}
		if c.opts.SemiSync {
			n.semiRole = "slave"
			if i == 0 {
				n.semiRole = "master"
			}
		}
		c.Nodes = append(c.Nodes, n)
	}
}

// startAll starts every node in parallel; replicas are pointed at the master once the
// master has its accounts, so the replication user exists before any replica connects.
func (c *Cluster) startAll(ctx context.Context) error {
	master := c.Master()
	usersReady := make(chan struct{})
	masterFailed := make(chan struct{})
	var masterPos string // written before usersReady is closed
	errs := make([]error, len(c.Nodes))
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 0 {
				err := c.be.startNode(ctx, n)
				if err == nil {
					c.log.Debug("node accepts connections", "node", n.Name, "port", n.Port)
					masterPos, err = c.createUsers(ctx, n)
				}
				if err != nil {
					errs[i] = err
					close(masterFailed)
					return
				}
				c.log.Debug("accounts created", "node", n.Name, "gtid", masterPos)
				close(usersReady)
				return
			}
			if err := c.be.startNode(ctx, n); err != nil {
				errs[i] = err
				return
			}
			c.log.Debug("node accepts connections", "node", n.Name, "port", n.Port)
			select {
			case <-usersReady:
			case <-masterFailed:
				return
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			if errs[i] = c.configureReplica(ctx, n, master, masterPos); errs[i] == nil {
				c.log.Debug("replica caught up", "node", n.Name)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if c.opts.SemiSync && len(c.Nodes) > 1 {
		if err := c.waitSemiSyncClients(ctx, master, len(c.Nodes)-1); err != nil {
			return err
		}
	}
	return nil
}

// semiSyncMasterVar is the master-side switch of semi-synchronous replication.
func semiSyncMasterVar(flavor string) string {
	if flavor == FlavorMySQL {
		return "rpl_semi_sync_source_enabled"
	}
	return "rpl_semi_sync_master_enabled"
}

func gtidPosSQL(flavor string) string {
	if flavor == FlavorMySQL {
		return "SELECT @@GLOBAL.gtid_executed"
	}
	return "SELECT @@GLOBAL.gtid_binlog_pos"
}

// createUsers creates the accounts on the master and returns its GTID position afterwards.
func (c *Cluster) createUsers(ctx context.Context, n *Node) (string, error) {
	db, err := openOne(n.flavor, c.be.bootstrapDSN(n))
	if err != nil {
		return "", err
	}
	defer db.Close()
	u := c.Users
	grants := []struct {
		user User
		priv string
	}{
		// No SUPER / READ_ONLY ADMIN: read_only replicas must refuse the application's writes.
		{u.App, "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, CREATE TEMPORARY TABLES, " +
			"LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT, TRIGGER, " +
			"REFERENCES, PROCESS ON *.*"},
		{u.Monitor, "ALL PRIVILEGES ON *.*"}, // it promotes replicas and fences masters
		{u.Repl, "REPLICATION SLAVE ON *.*"},
		{u.Admin, "ALL PRIVILEGES ON *.*"},
	}
	var stmts []string
	if n.semiRole == "master" {
		// No replica is connected yet: each commit would wait the full semi-sync timeout.
		stmts = append(stmts, "SET GLOBAL "+semiSyncMasterVar(n.flavor)+"=OFF")
	}
	for _, g := range grants {
		acct := quote(g.user.Name) + "@'%'"
		stmts = append(stmts,
			"CREATE USER IF NOT EXISTS "+acct+" IDENTIFIED BY "+quote(g.user.Password),
			"ALTER USER "+acct+" IDENTIFIED BY "+quote(g.user.Password),
			"GRANT "+g.priv+" TO "+acct)
		if g.user == u.Admin {
			stmts[len(stmts)-1] += " WITH GRANT OPTION"
		}
	}
	if c.Backend == BackendLocal {
		// The template's root@localhost has no password (reachable only via the node's
		// socket); give it the admin password like a real deployment.
		stmts = append(stmts, "ALTER USER 'root'@'localhost' IDENTIFIED BY "+quote(u.Admin.Password))
	}
	if n.semiRole == "master" {
		stmts = append(stmts, "SET GLOBAL "+semiSyncMasterVar(n.flavor)+"=ON")
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return "", fmt.Errorf("creating accounts on %s: %w", n.Name, err)
		}
	}
	var pos string
	if err := db.QueryRowContext(ctx, gtidPosSQL(n.flavor)).Scan(&pos); err != nil {
		return "", fmt.Errorf("reading GTID position of %s: %w", n.Name, err)
	}
	return pos, nil
}

// configureReplica points n at master and waits until it has applied pos (the accounts),
// on the bootstrap session: the accounts the launcher uses later arrive by replication.
func (c *Cluster) configureReplica(ctx context.Context, n, master *Node, pos string) error {
	db, err := openOne(n.flavor, c.be.bootstrapDSN(n))
	if err != nil {
		return err
	}
	defer db.Close()
	// One session throughout: root@localhost's password changes once replication applies it.
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", n.Name, err)
	}
	defer conn.Close()
	for _, s := range replicateSQL(n.flavor, master, c.Users.Repl) {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("configuring replication on %s: %w", n.Name, err)
		}
	}
	return c.waitAppliedOn(ctx, conn, n, pos)
}

// replicateSQL points a replica at master with GTID positioning and starts replication.
func replicateSQL(flavor string, master *Node, repl User) []string {
	if flavor == FlavorMySQL {
		return []string{
			fmt.Sprintf("CHANGE REPLICATION SOURCE TO SOURCE_HOST=%s, SOURCE_PORT=%d, SOURCE_USER=%s, "+
				"SOURCE_PASSWORD=%s, SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=1, GET_SOURCE_PUBLIC_KEY=1",
				quote(master.ReplHost), master.ReplPort, quote(repl.Name), quote(repl.Password)),
			"START REPLICA",
		}
	}
	return []string{
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%d, MASTER_USER=%s, MASTER_PASSWORD=%s, "+
			"MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
			quote(master.ReplHost), master.ReplPort, quote(repl.Name), quote(repl.Password)),
		"START SLAVE",
	}
}

// WaitReplicated waits until every running replica has applied the master's (the node
// started as master) current GTID position.
func (c *Cluster) WaitReplicated(ctx context.Context) error {
	return c.WaitReplicatedFrom(ctx, c.Master())
}

// WaitReplicatedFrom waits until every other running node that has replication configured
// has applied master's current GTID position. Use it after a failover with the new master.
func (c *Cluster) WaitReplicatedFrom(ctx context.Context, master *Node) error {
	if !c.Running(master) {
		return fmt.Errorf("master %s is not running", master.Name)
	}
	mdb, err := c.AdminDB(master)
	if err != nil {
		return err
	}
	defer mdb.Close()
	var pos string
	if err := mdb.QueryRowContext(ctx, gtidPosSQL(c.Flavor)).Scan(&pos); err != nil {
		return fmt.Errorf("reading GTID position of %s: %w", master.Name, err)
	}
	if pos == "" {
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(c.Nodes))
	for i, n := range c.Nodes {
		if n == master || !c.Running(n) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.waitApplied(ctx, n, pos)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *Cluster) waitApplied(ctx context.Context, n *Node, pos string) error {
	db, err := c.AdminDB(n)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", n.Name, err)
	}
	defer conn.Close()
	return c.waitAppliedOn(ctx, conn, n, pos)
}

// waitAppliedOn waits in short rounds so a broken SQL thread is reported instead of
// waited on until ctx ends. Nodes without replication configured are skipped.
func (c *Cluster) waitAppliedOn(ctx context.Context, conn *sql.Conn, n *Node, pos string) error {
	st, err := replicaStatus(ctx, conn, c.Flavor)
	if err != nil {
		return fmt.Errorf("%s: %w", n.Name, err)
	}
	if st == nil || pos == "" {
		return nil
	}
	waitSQL, okVal := "SELECT MASTER_GTID_WAIT(?, 1)", int64(0)
	if c.Flavor == FlavorMySQL {
		waitSQL = "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, 1)"
	}
	for {
		var res sql.NullInt64
		if err := conn.QueryRowContext(ctx, waitSQL, pos).Scan(&res); err != nil {
			return fmt.Errorf("waiting on %s for GTID %s: %w", n.Name, pos, err)
		}
		if res.Valid && res.Int64 == okVal {
			return nil
		}
		st, err := replicaStatus(ctx, conn, c.Flavor)
		if err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
		if st != nil && st.sqlError != "" {
			return fmt.Errorf("replica %s stopped applying: %s", n.Name, st.sqlError)
		}
		if err := ctx.Err(); err != nil {
			io := ""
			if st != nil && st.ioError != "" {
				io = " (last IO error: " + st.ioError + ")"
			}
			return fmt.Errorf("replica %s did not reach GTID %s%s: %w", n.Name, pos, io, err)
		}
	}
}

type replStatus struct{ ioError, sqlError string }

// replicaStatus returns nil when n has no replication configured.
func replicaStatus(ctx context.Context, db *sql.Conn, flavor string) (*replStatus, error) {
	q := "SHOW SLAVE STATUS"
	if flavor == FlavorMySQL {
		q = "SHOW REPLICA STATUS"
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	st := &replStatus{}
	for i, col := range cols {
		switch col {
		case "Last_IO_Error":
			st.ioError = vals[i].String
		case "Last_SQL_Error":
			st.sqlError = vals[i].String
		}
	}
	return st, nil
}

func (c *Cluster) waitSemiSyncClients(ctx context.Context, master *Node, want int) error {
	db, err := c.AdminDB(master)
	if err != nil {
		return err
	}
	defer db.Close()
	name := "Rpl_semi_sync_master_clients"
	if c.Flavor == FlavorMySQL {
		name = "Rpl_semi_sync_source_clients"
	}
	for {
		var k string
		var v int
		if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE "+quote(name)).Scan(&k, &v); err != nil {
			return fmt.Errorf("reading %s on %s: %w", name, master.Name, err)
		}
		if v >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d semi-sync replicas on %s (have %d): %w", want, master.Name, v, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// AdminDB opens a single-connection pool to n as the admin user. The caller closes it.
func (c *Cluster) AdminDB(n *Node) (*sql.DB, error) {
	return openOne(n.flavor, n.DSN(c.Users.Admin, ""))
}

func openOne(_ string, dsn string) (*sql.DB, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %w", err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// Kill sends SIGKILL to n and waits for it to exit.
func (c *Cluster) Kill(n *Node) error {
	if err := c.be.kill(n); err != nil {
		return fmt.Errorf("kill %s: %w", n.Name, err)
	}
	c.log.Info("node killed", "node", n.Name)
	return nil
}

// StopNode shuts n down cleanly (SIGTERM) and waits; when ctx ends first it is killed.
func (c *Cluster) StopNode(ctx context.Context, n *Node) error {
	if err := c.be.stop(ctx, n); err != nil {
		return fmt.Errorf("stop %s: %w", n.Name, err)
	}
	c.log.Info("node stopped", "node", n.Name)
	return nil
}

// StartNode restarts a stopped or killed node with the same directory, port and
// configuration and waits until it accepts connections. Replicas resume replication.
func (c *Cluster) StartNode(ctx context.Context, n *Node) error {
	c.mu.Lock()
	stopped := c.stopped
	c.mu.Unlock()
	if stopped {
		return errors.New("cluster is stopped")
	}
	if c.Running(n) {
		return fmt.Errorf("node %s is already running", n.Name)
	}
	if err := c.be.startNode(ctx, n); err != nil {
		return err
	}
	c.log.Info("node started", "node", n.Name, "addr", n.Addr())
	return nil
}

// PID returns the server's process id under the local backend while it runs, else 0.
func (c *Cluster) PID(n *Node) int {
	if l, ok := c.be.(*local); ok {
		return l.pid(n)
	}
	return 0
}

// Running reports whether n's server process (or container) is alive.
func (c *Cluster) Running(n *Node) bool { return c.be.running(n) }

// Stop tears everything down: kills every server (clean shutdown when Keep), removes the
// directory it created unless Keep. Safe to call more than once.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	c.mu.Unlock()
	var errs []error
	if c.be != nil {
		if err := c.be.close(c.opts.Keep); err != nil {
			errs = append(errs, err)
		}
	}
	if !c.opts.Keep && c.Dir != "" {
		if c.ownsDir {
			errs = append(errs, os.RemoveAll(c.Dir))
		} else {
			// Never remove a directory the caller chose; only what we put in it.
			for _, n := range c.Nodes {
				if n.Dir != "" {
					errs = append(errs, os.RemoveAll(n.Dir))
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stopping cluster: %w", err)
	}
	if c.opts.Keep && c.Dir != "" {
		// Kept on purpose: no longer an orphan for sweepOrphanDirs to collect.
		_ = os.Remove(filepath.Join(c.Dir, ownerFile))
		c.log.Info("cluster stopped, data kept", "dir", c.Dir)
	}
	return nil
}

// quote returns s as a single-quoted SQL string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`)
	return "'" + r.Replace(s) + "'"
}

// freePorts returns n distinct free loopback ports, holding them all at once so they differ.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("picking a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// checkPortsFree verifies base..base+n-1 can be bound on loopback.
func checkPortsFree(base, n int) error {
	for i := range n {
		p := base + i
		if p <= 0 || p > 65535 {
			return fmt.Errorf("port %d is out of range; choose another --base-port", p)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			return fmt.Errorf("port 127.0.0.1:%d is already in use; choose another --base-port or stop what listens there", p)
		}
		l.Close()
	}
	return nil
}

// assignPorts gives each node its client port (checked or picked).
func (c *Cluster) assignPorts() error {
	if c.opts.BasePort != 0 {
		if err := checkPortsFree(c.opts.BasePort, len(c.Nodes)); err != nil {
			return err
		}
		for i, n := range c.Nodes {
			n.Port = c.opts.BasePort + i
		}
		return nil
	}
	ports, err := freePorts(len(c.Nodes))
	if err != nil {
		return err
	}
	for i, n := range c.Nodes {
		n.Port = ports[i]
	}
	return nil
}

// prepareDir creates (or checks) the base directory and proves it is writable.
func (c *Cluster) prepareDir() error {
	if c.opts.Dir == "" {
		// Short names: unix socket paths are limited to ~107 bytes.
		d, err := os.MkdirTemp("", "sy-")
		if err != nil {
			return fmt.Errorf("creating temp directory: %w", err)
		}
		c.Dir, c.ownsDir = d, true
		if err := writeOwner(d); err != nil {
			return fmt.Errorf("cannot write data directory %s: %w; choose another --dir", d, err)
		}
		sweepOrphanDirs(c.log)
		return nil
	}
	d, err := filepath.Abs(c.opts.Dir)
	if err != nil {
		return fmt.Errorf("cannot use data directory %s: %v; choose another --dir", c.opts.Dir, err)
	}
	unwritable := func(err error) error {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("cannot write data directory %s: %v; choose another --dir", d, err)
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return unwritable(err)
	}
	probe, err := os.CreateTemp(d, ".probe-")
	if err != nil {
		return unwritable(err)
	}
	probe.Close()
	os.Remove(probe.Name())
	for _, n := range c.Nodes {
		p := filepath.Join(d, n.Name)
		if ents, err := os.ReadDir(p); err == nil && len(ents) > 0 {
			return fmt.Errorf("data directory %s already holds %s; remove it or choose another --dir", d, p)
		}
	}
	c.Dir = d
	return nil
}
