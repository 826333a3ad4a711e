package failover

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/gtid"
	"github.com/switchyard/switchyard/topology"
)

// actionDB returns the pool used for actions on a node (separate from the
// probes' so a long MASTER_GTID_WAIT never delays a probe).
func (m *Manager) actionDB(name string) (*sql.DB, error) {
	nc, ok := m.nodeConfig(name)
	if !ok {
		return nil, fmt.Errorf("unknown node %q", name)
	}
	m.dbMu.Lock()
	defer m.dbMu.Unlock()
	if db, ok := m.dbs[name]; ok {
		return db, nil
	}
	db, err := openNodeDB(nc.Address, m.o.User, m.o.Password, m.o.Timeout, 0)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	m.dbs[name] = db
	return db, nil
}

func (m *Manager) closeDBs() {
	m.dbMu.Lock()
	defer m.dbMu.Unlock()
	for _, db := range m.dbs {
		_ = db.Close()
	}
	clear(m.dbs)
}

// conn opens an action session on a node, ready for Steps.
func (m *Manager) conn(ctx context.Context, name string) (*sql.Conn, error) {
	db, err := m.actionDB(name)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, m.o.Timeout)
	defer cancel()
	c, err := db.Conn(cctx)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", name, err)
	}
	if _, err := c.ExecContext(cctx, SessionSetup); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("session setup on %s: %w", name, err)
	}
	return c, nil
}

// run executes a step on a node, each statement bounded by timeout.
func (m *Manager) run(ctx context.Context, name string, timeout time.Duration, steps ...Step) error {
	c, err := m.conn(ctx, name)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, st := range steps {
		for i, q := range st.SQL() {
			sctx, cancel := context.WithTimeout(ctx, timeout)
			_, err := c.ExecContext(sctx, q)
			cancel()
			if err != nil {
				return fmt.Errorf("%s on %s: %s: %w", st.Name, name, st.Redacted()[i], err)
			}
		}
		m.log.Debug("step done", "node", name, "step", st)
	}
	return nil
}

// queryString runs a one-value query on a node.
func (m *Manager) queryString(ctx context.Context, name, q string) (string, error) {
	c, err := m.conn(ctx, name)
	if err != nil {
		return "", err
	}
	defer c.Close()
	qctx, cancel := context.WithTimeout(ctx, m.o.Timeout)
	defer cancel()
	var v sql.NullString
	if err := c.QueryRowContext(qctx, q).Scan(&v); err != nil {
		return "", fmt.Errorf("%s on %s: %w", q, name, err)
	}
	return v.String, nil
}

// waitPosition waits until the node has applied pos (bounded by timeout).
func (m *Manager) waitPosition(ctx context.Context, name string, pos gtid.Set, timeout time.Duration) error {
	if pos.IsEmpty() {
		return nil
	}
	st, err := WaitForPosition(m.dialect(name), pos, timeout)
	if err != nil {
		return err
	}
	c, err := m.conn(ctx, name)
	if err != nil {
		return err
	}
	defer c.Close()
	wctx, cancel := context.WithTimeout(ctx, timeout+m.o.Timeout)
	defer cancel()
	var v sql.NullString
	if err := c.QueryRowContext(wctx, st.SQL()[0]).Scan(&v); err != nil {
		return fmt.Errorf("waiting for %s on %s: %w", pos, name, err)
	}
	if !v.Valid || !WaitSucceeded(v.String) {
		return fmt.Errorf("%s did not reach %s within %s", name, pos, timeout)
	}
	return nil
}

// position reads a node's current position (the binlog position on
// MariaDB: what a master wrote, for a switchover target to catch up with).
func (m *Manager) position(ctx context.Context, name, variable string) (gtid.Set, error) {
	d := m.dialect(name)
	q := "SELECT @@GLOBAL.gtid_executed"
	if d.Flavor == gtid.MariaDB {
		q = "SELECT @@GLOBAL." + variable
	}
	s, err := m.queryString(ctx, name, q)
	if err != nil {
		return gtid.Set{}, err
	}
	return gtid.Parse(d.Flavor, strings.ReplaceAll(s, "\n", ""))
}

// dialect of a node from its last probe; MariaDB when never seen.
func (m *Manager) dialect(name string) Dialect {
	n, _ := m.mon.node(name)
	f, err := gtid.ParseFlavor(n.Flavor)
	if err != nil {
		f = gtid.MariaDB
	}
	return NewDialect(f, n.Version)
}

// source is how replicas reach a node.
func (m *Manager) source(name string) (Source, error) {
	nc, ok := m.nodeConfig(name)
	if !ok {
		return Source{}, fmt.Errorf("unknown node %q", name)
	}
	host, port, err := net.SplitHostPort(nc.replAddr())
	if err != nil {
		return Source{}, fmt.Errorf("node %s address: %w", name, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return Source{}, fmt.Errorf("node %s port: %w", name, err)
	}
	return Source{Host: host, Port: p, User: m.o.ReplUser, Password: m.o.ReplPassword,
		HeartbeatPeriod: m.o.HeartbeatPeriod}, nil
}

// verifyPromoted checks what a promote_command left: writable and not
// replicating.
func (m *Manager) verifyPromoted(ctx context.Context, name string) error {
	ro, err := m.queryString(ctx, name, "SELECT @@GLOBAL.read_only")
	if err != nil {
		return err
	}
	if ro != "0" {
		return fmt.Errorf("%s is still read_only after promote_command", name)
	}
	c, err := m.conn(ctx, name)
	if err != nil {
		return err
	}
	defer c.Close()
	stmt := "SHOW SLAVE STATUS"
	if d := m.dialect(name); d.replicaWords() {
		stmt = "SHOW REPLICA STATUS"
	}
	qctx, cancel := context.WithTimeout(ctx, m.o.Timeout)
	defer cancel()
	rows, err := c.QueryContext(qctx, stmt)
	if err != nil {
		return fmt.Errorf("%s on %s: %w", stmt, name, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, c := range cols {
			switch strings.ToLower(c) {
			case "slave_io_running", "replica_io_running", "slave_sql_running", "replica_sql_running":
				if strings.EqualFold(vals[i].String, "Yes") {
					return fmt.Errorf("%s still replicates after promote_command (%s=Yes)", name, c)
				}
			}
		}
	}
	return rows.Err()
}

const hookOutputLimit = 2048

// runHook runs a hook command line with the facts (placeholders and
// environment), bounded by the hook timeout. An empty command is a no-op.
func (m *Manager) runHook(ctx context.Context, which, cmdline string, facts HookFacts) error {
	if strings.TrimSpace(cmdline) == "" {
		return nil
	}
	args, err := facts.ExpandArgs(cmdline)
	if err != nil {
		return fmt.Errorf("%s: %w", which, err)
	}
	hctx, cancel := context.WithTimeout(ctx, m.o.Hooks.Timeout)
	defer cancel()
	cmd := exec.CommandContext(hctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), facts.Env()...)
	// A grandchild holding the output pipe must not keep us waiting.
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	text := strings.TrimSpace(string(out))
	if len(text) > hookOutputLimit {
		text = text[:hookOutputLimit] + "…"
	}
	switch {
	case errors.Is(hctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s %q timed out after %s", which, args[0], m.o.Hooks.Timeout)
	case err != nil:
		if text != "" {
			return fmt.Errorf("%s %q: %w: %s", which, args[0], err, text)
		}
		return fmt.Errorf("%s %q: %w", which, args[0], err)
	}
	m.log.Info("hook ran", "hook", which, "command", args[0], "output", text)
	return nil
}

// runHookAsync runs a best-effort hook in the background; Close waits for it.
func (m *Manager) runHookAsync(which, cmdline string, facts HookFacts) {
	if strings.TrimSpace(cmdline) == "" {
		return
	}
	m.hooks.Add(1)
	go func() {
		defer m.hooks.Done()
		if err := m.runHook(m.bg, which, cmdline, facts); err != nil {
			m.log.Warn("hook failed", "hook", which, "err", err)
			m.events.add(Event{Kind: EventFailover, Node: facts.FailedNode, Reason: which + " hook failed",
				Detail: err.Error(), Outcome: OutcomeFailed})
		}
	}()
}

func (m *Manager) nodeConfig(name string) (NodeConfig, bool) {
	for _, nc := range m.o.Nodes {
		if nc.Name == name {
			return nc, true
		}
	}
	return NodeConfig{}, false
}

func statusOf(st []NodeStatus, name string) (NodeStatus, bool) {
	for _, s := range st {
		if s.Name == name {
			return s, true
		}
	}
	return NodeStatus{}, false
}

// validOperatorState reports whether SetNodeState accepts s.
func validOperatorState(s topology.State) bool {
	return s == topology.StateUp || s == topology.StateMaintenance || s == topology.StateOffline
}
