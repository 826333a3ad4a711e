package failover

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/switchyard/switchyard/topology"
)

// NodeConfig is a configured server the monitor probes.
type NodeConfig struct {
	Name      string
	Address   string
	Weight    int
	Local     bool
	Promotion string
}

// MonitorOptions configure a Monitor.
type MonitorOptions struct {
	Nodes    []NodeConfig
	User     string
	Password string
	Interval time.Duration
	Timeout  time.Duration
	Store    *topology.Store
	Logger   *slog.Logger
}

// Monitor probes every node at an interval and publishes topology snapshots.
// The epoch rises whenever the master changes.
type Monitor struct {
	o   MonitorOptions
	mu  sync.Mutex
	dbs map[string]*sql.DB
}

// NewMonitor builds a monitor; Run starts it.
func NewMonitor(o MonitorOptions) *Monitor {
	if o.Interval <= 0 {
		o.Interval = 250 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Monitor{o: o, dbs: make(map[string]*sql.DB)}
}

func (m *Monitor) db(n NodeConfig) (*sql.DB, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if db, ok := m.dbs[n.Name]; ok {
		return db, nil
	}
	cfg := mysql.NewConfig()
	cfg.User = m.o.User
	cfg.Passwd = m.o.Password
	cfg.Net = "tcp"
	cfg.Addr = n.Address
	cfg.Timeout = m.o.Timeout
	cfg.ReadTimeout = m.o.Timeout
	cfg.WriteTimeout = m.o.Timeout
	cfg.InterpolateParams = true
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	db.SetConnMaxLifetime(time.Hour)
	m.dbs[n.Name] = db
	return db, nil
}

// Probe checks every node once and publishes the result.
func (m *Monitor) Probe(ctx context.Context) *topology.Snapshot {
	nodes := make([]topology.Node, len(m.o.Nodes))
	var wg sync.WaitGroup
	for i, nc := range m.o.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i] = m.probe(ctx, nc)
		}()
	}
	wg.Wait()
	prev := m.o.Store.Load()
	snap := &topology.Snapshot{Nodes: nodes, Taken: time.Now()}
	if prev != nil {
		snap.Epoch = prev.Epoch
		snap.MasterName = prev.MasterName
	}
	// The master is the one reachable writable node that replicates from
	// nobody. Until failover lands, a master that goes away keeps its name
	// (no promotion happens here); a new one is taken only when unambiguous.
	var writable []string
	for _, n := range nodes {
		if n.State == topology.StateUp && n.Role == topology.RoleMaster {
			writable = append(writable, n.Name)
		}
	}
	if len(writable) == 1 && writable[0] != snap.MasterName {
		if snap.MasterName != "" {
			m.o.Logger.Warn("master changed", "from", snap.MasterName, "to", writable[0])
		}
		snap.MasterName = writable[0]
		snap.Epoch++
	} else if len(writable) > 1 {
		m.o.Logger.Error("more than one writable master; keeping the current one", "writable", strings.Join(writable, ","))
	}
	m.o.Store.Publish(snap)
	return snap
}

func (m *Monitor) probe(ctx context.Context, nc NodeConfig) topology.Node {
	n := topology.Node{Name: nc.Name, Address: nc.Address, Role: topology.RoleUnknown, State: topology.StateDown,
		LagSeconds: -1, Weight: nc.Weight, Local: nc.Local, Promotion: nc.Promotion, LastChecked: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, m.o.Timeout)
	defer cancel()
	db, err := m.db(nc)
	if err != nil {
		n.LastError = err.Error()
		return n
	}
	var ro int
	var version string
	var sid uint32
	if err := db.QueryRowContext(ctx, "SELECT @@global.read_only, @@version, @@server_id").Scan(&ro, &version, &sid); err != nil {
		n.LastError = err.Error()
		return n
	}
	n.ReadOnly, n.Version, n.ServerID = ro == 1, version, sid
	n.Flavor = "mysql"
	if strings.Contains(strings.ToLower(version), "mariadb") {
		n.Flavor = "mariadb"
	}
	gtidVar := "@@global.gtid_executed"
	if n.Flavor == "mariadb" {
		gtidVar = "@@global.gtid_current_pos"
	}
	_ = db.QueryRowContext(ctx, "SELECT "+gtidVar).Scan(&n.GTIDExecuted)
	replicating, err := m.replica(ctx, db, &n)
	if err != nil {
		n.LastError = err.Error()
		return n
	}
	n.State = topology.StateUp
	switch {
	case replicating:
		n.Role = topology.RoleReplica
		if !n.IOThreadRunning || !n.SQLThreadRunning {
			n.State = topology.StateBroken
		}
	case !n.ReadOnly:
		n.Role = topology.RoleMaster
	default:
		n.Role = topology.RoleUnknown
	}
	return n
}

// replica reads SHOW SLAVE STATUS; it reports false when the node is not a replica.
func (m *Monitor) replica(ctx context.Context, db *sql.DB, n *topology.Node) (bool, error) {
	stmt := "SHOW SLAVE STATUS"
	if n.Flavor == "mysql" {
		stmt = "SHOW REPLICA STATUS"
	}
	rows, err := db.QueryContext(ctx, stmt)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return false, err
	}
	if !rows.Next() {
		return false, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return false, err
	}
	get := func(names ...string) string {
		for _, name := range names {
			for i, c := range cols {
				if strings.EqualFold(c, name) {
					return vals[i].String
				}
			}
		}
		return ""
	}
	host, port := get("Master_Host", "Source_Host"), get("Master_Port", "Source_Port")
	if host != "" {
		n.MasterAddress = host + ":" + port
	}
	n.IOThreadRunning = strings.EqualFold(get("Slave_IO_Running", "Replica_IO_Running"), "Yes")
	n.SQLThreadRunning = strings.EqualFold(get("Slave_SQL_Running", "Replica_SQL_Running"), "Yes")
	n.LastIOError = get("Last_IO_Error")
	n.LastSQLError = get("Last_SQL_Error")
	if s := get("Seconds_Behind_Master", "Seconds_Behind_Source"); s != "" {
		var lag float64
		if _, err := fmt.Sscan(s, &lag); err == nil {
			n.LagSeconds = lag
		}
	}
	return true, nil
}

// Run probes until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.o.Interval)
	defer t.Stop()
	defer m.close()
	for {
		m.Probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Monitor) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, db := range m.dbs {
		_ = db.Close()
	}
	clear(m.dbs)
}
