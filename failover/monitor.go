package failover

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/switchyard/switchyard/gtid"
	"github.com/switchyard/switchyard/topology"
)

// NodeConfig is a configured server the monitor probes.
type NodeConfig struct {
	Name    string
	Address string // host:port the monitor and the proxy connect to
	// ReplAddress is the host:port replicas use to reach this node: what
	// CHANGE MASTER is given and what replicas report as Master_Host:Port.
	// Empty means Address.
	ReplAddress string
	Weight      int
	Local       bool
	Promotion   string
}

func (n NodeConfig) replAddr() string {
	if n.ReplAddress != "" {
		return n.ReplAddress
	}
	return n.Address
}

// MonitorOptions configure a Monitor.
type MonitorOptions struct {
	Nodes    []NodeConfig
	User     string
	Password string
	Interval time.Duration // between probe rounds; default 250ms
	Timeout  time.Duration // per probe query and connect; default 1s
	// FailCount is how many consecutive failed probes make a node failed for
	// the analysis (default 3). A node is shown down from its first failure.
	FailCount int
	// MaxLag above which a replica is shown lagging; 0 disables.
	MaxLag time.Duration
	// GracePeriod is the analysis grace period. A replica's "time since it
	// last received anything" is only trusted when its heartbeat period is at
	// most half of it (otherwise an idle master would look gone).
	GracePeriod time.Duration
	Store       *topology.Store
	Logger      *slog.Logger
}

// Monitor probes every node at an interval and publishes topology snapshots.
// It owns the published snapshot: a Manager steers it (master name, epoch,
// failover flag, fenced nodes, operator states) through its control state.
//
// How "received nothing for a while" is measured: MariaDB 10.11 has no
// last-event timestamp, so each probe reads Slave_received_heartbeats,
// Gtid_IO_Pos and the read position (SHOW ALL SLAVES STATUS) and notes when
// any of them last changed. That is only meaningful when the master sends
// heartbeats often (Slave_heartbeat_period ≤ GracePeriod/2; the Manager sets
// MASTER_HEARTBEAT_PERIOD on every replica it repoints); otherwise the
// duration is reported unknown and the IO thread state alone speaks.
type Monitor struct {
	o   MonitorOptions
	log *slog.Logger

	dbMu sync.Mutex
	dbs  map[string]*sql.DB
	// isolated counts the nodes a drill isolates, so Isolated (asked by
	// the proxy before each statement) is one atomic load when none is.
	isolated atomic.Int32

	roundMu sync.Mutex // one probe round at a time (Run and commands both probe)

	mu     sync.Mutex // guards everything below
	nodes  []topology.Node
	track  []track
	ctl    control
	taken  time.Time
	rounds uint64
}

// track is what the monitor remembers about a node across probes.
type track struct {
	failed    int
	firstFail time.Time // first failed probe of the current failure streak
	recvKey   string    // heartbeat counter + received position at the last probe
	lastRecv  time.Time
	hbPeriod  float64 // Slave_heartbeat_period, seconds; 0 unknown
}

// control is the state the Manager (or an operator) sets and the monitor
// carries into every snapshot.
type control struct {
	master   string
	epoch    uint64
	failover bool
	fenced   map[string]string         // node → why it is kept out
	op       map[string]topology.State // operator states: maintenance | offline
}

// NewMonitor builds a monitor; Run starts it.
func NewMonitor(o MonitorOptions) *Monitor {
	if o.Interval <= 0 {
		o.Interval = 250 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.FailCount < 1 {
		o.FailCount = 3
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Store == nil {
		o.Store = topology.NewStore(nil)
	}
	m := &Monitor{o: o, log: o.Logger, dbs: make(map[string]*sql.DB),
		nodes: make([]topology.Node, len(o.Nodes)), track: make([]track, len(o.Nodes)),
		ctl: control{fenced: map[string]string{}, op: map[string]topology.State{}}}
	for i, nc := range o.Nodes {
		m.nodes[i] = topology.Node{Name: nc.Name, Address: nc.Address, ReplAddress: nc.ReplAddress,
			Role: topology.RoleUnknown, State: topology.StateDown, LagSeconds: Unknown,
			Weight: nc.Weight, Local: nc.Local, Promotion: nc.Promotion}
	}
	if s := o.Store.Load(); s != nil {
		m.ctl.epoch, m.ctl.master = s.Epoch, s.MasterName
	}
	return m
}

// Store returns the store the monitor publishes to.
func (m *Monitor) Store() *topology.Store { return m.o.Store }

func (m *Monitor) db(nc NodeConfig) (*sql.DB, error) {
	m.dbMu.Lock()
	defer m.dbMu.Unlock()
	if db, ok := m.dbs[nc.Name]; ok {
		return db, nil
	}
	db, err := openNodeDB(nc.Address, m.o.User, m.o.Password, m.o.Timeout, m.o.Timeout)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	m.dbs[nc.Name] = db
	return db, nil
}

// openNodeDB opens a pool to addr; readTimeout 0 leaves reads bounded only
// by the contexts (actions such as MASTER_GTID_WAIT take long).
func openNodeDB(addr, user, password string, dial, readTimeout time.Duration) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User = user
	cfg.Passwd = password
	cfg.Net = "tcp"
	cfg.Addr = addr
	cfg.Timeout = dial
	cfg.ReadTimeout = readTimeout
	cfg.WriteTimeout = dial
	cfg.InterpolateParams = true
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", addr, err)
	}
	db := sql.OpenDB(c)
	db.SetConnMaxLifetime(time.Hour)
	return db, nil
}

// probeResult is what one probe of one node returned.
type probeResult struct {
	ok       bool
	err      string
	n        topology.Node // filled fields only
	hbCount  string
	hbPeriod float64
	readPos  string
}

// Probe checks every node once and publishes the result.
func (m *Monitor) Probe(ctx context.Context) *topology.Snapshot {
	m.round(ctx)
	return m.publish()
}

// round probes every node in parallel, each bounded by the probe timeout.
// The master's GTID position is read only after every replica's: a replica
// read after the master could be ahead of the master's stale reading and
// look errant.
func (m *Monitor) round(ctx context.Context) {
	m.roundMu.Lock()
	defer m.roundMu.Unlock()
	m.mu.Lock()
	master := m.ctl.master
	if master == "" {
		for _, n := range m.nodes {
			if n.Role == topology.RoleMaster {
				master = n.Name
			}
		}
	}
	m.mu.Unlock()

	results := make([]probeResult, len(m.o.Nodes))
	replicasDone := make(chan struct{})
	var replicas, all sync.WaitGroup
	for i, nc := range m.o.Nodes {
		all.Add(1)
		isMaster := nc.Name == master
		if !isMaster {
			replicas.Add(1)
		}
		go func() {
			defer all.Done()
			if isMaster {
				results[i] = m.probe(ctx, nc, replicasDone)
				return
			}
			defer replicas.Done()
			results[i] = m.probe(ctx, nc, nil)
		}()
	}
	replicas.Wait()
	close(replicasDone)
	all.Wait()

	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.taken = now
	m.rounds++
	for i := range m.o.Nodes {
		m.apply(i, results[i], now)
	}
}

// apply folds one probe result into the node's remembered state.
func (m *Monitor) apply(i int, r probeResult, now time.Time) {
	tr := &m.track[i]
	prev := m.nodes[i]
	if !r.ok {
		if tr.failed == 0 {
			tr.firstFail = now
		}
		tr.failed++
		tr.recvKey, tr.lastRecv = "", time.Time{}
		n := prev // last known facts stay visible
		n.State = topology.StateDown
		n.LastError = r.err
		n.LastChecked = now
		n.FailedProbes = tr.failed
		n.IOThreadRunning, n.SQLThreadRunning, n.IOConnecting = false, false, false
		m.nodes[i] = n
		return
	}
	tr.failed, tr.firstFail = 0, time.Time{}
	n := r.n
	n.LastChecked = now
	key := r.hbCount + "|" + r.readPos + "|" + n.GTIDReceived
	switch {
	case !n.IOThreadRunning:
		tr.recvKey, tr.lastRecv = "", time.Time{}
	case key != tr.recvKey || tr.lastRecv.IsZero():
		tr.recvKey, tr.lastRecv = key, now
	}
	tr.hbPeriod = r.hbPeriod
	n.LastReceived = tr.lastRecv
	n.State = topology.StateUp
	if n.Role == topology.RoleReplica {
		switch {
		case !n.IOThreadRunning || !n.SQLThreadRunning:
			n.State = topology.StateBroken
		case m.o.MaxLag > 0 && n.LagSeconds > m.o.MaxLag.Seconds():
			n.State = topology.StateLagging
		}
	}
	m.nodes[i] = n
}

func (m *Monitor) probe(ctx context.Context, nc NodeConfig, waitBefore <-chan struct{}) probeResult {
	r := probeResult{n: topology.Node{Name: nc.Name, Address: nc.Address, ReplAddress: nc.ReplAddress,
		Role: topology.RoleUnknown, LagSeconds: Unknown, Weight: nc.Weight, Local: nc.Local, Promotion: nc.Promotion}}
	fail := func(err error) probeResult {
		r.ok, r.err = false, err.Error()
		return r
	}
	db, err := m.db(nc)
	if err != nil {
		return fail(err)
	}
	qctx, cancel := context.WithTimeout(ctx, m.o.Timeout)
	defer cancel()
	n := &r.n
	var ro int
	if err := db.QueryRowContext(qctx, "SELECT @@global.read_only, @@version, @@server_id").Scan(&ro, &n.Version, &n.ServerID); err != nil {
		return fail(err)
	}
	n.ReadOnly = ro == 1
	n.Flavor = string(gtid.MySQL)
	if strings.Contains(strings.ToLower(n.Version), "mariadb") {
		n.Flavor = string(gtid.MariaDB)
	}
	replicating, err := m.replicaStatus(qctx, db, &r)
	if err != nil {
		return fail(err)
	}
	if waitBefore != nil {
		select {
		case <-waitBefore:
		case <-ctx.Done():
			return fail(ctx.Err())
		}
		// A fresh bound: the wait for the replicas is not this node's fault.
		cancel()
		qctx, cancel = context.WithTimeout(ctx, m.o.Timeout)
		defer cancel()
	}
	if n.Flavor == string(gtid.MariaDB) {
		err = db.QueryRowContext(qctx, "SELECT @@global.gtid_current_pos").Scan(&n.GTIDExecuted)
	} else {
		err = db.QueryRowContext(qctx, "SELECT @@global.gtid_executed, @@server_uuid").Scan(&n.GTIDExecuted, &n.ServerUUID)
	}
	if err != nil {
		return fail(err)
	}
	n.GTIDExecuted = strings.ReplaceAll(n.GTIDExecuted, "\n", "")
	switch {
	case replicating:
		n.Role = topology.RoleReplica
	case !n.ReadOnly:
		n.Role = topology.RoleMaster
	}
	r.ok = true
	return r
}

// replicaStatus reads the replication status; false when the node has no
// replication configured. MariaDB's SHOW ALL SLAVES STATUS adds the
// heartbeat counter and period to SHOW SLAVE STATUS.
func (m *Monitor) replicaStatus(ctx context.Context, db *sql.DB, r *probeResult) (bool, error) {
	n := &r.n
	stmt := "SHOW ALL SLAVES STATUS"
	if n.Flavor == string(gtid.MySQL) {
		stmt = "SHOW REPLICA STATUS"
		if !ParseVersion(n.Version).AtLeast(8, 0, 22) {
			stmt = "SHOW SLAVE STATUS"
		}
	}
	rows, err := db.QueryContext(ctx, stmt)
	if err != nil {
		return false, fmt.Errorf("%s: %w", stmt, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return false, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
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
	found := false
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return false, err
		}
		if get("Connection_name") == "" { // the default (unnamed) connection only
			found = true
			break
		}
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	if !found {
		return false, nil
	}
	host, port := get("Master_Host", "Source_Host"), get("Master_Port", "Source_Port")
	if host != "" {
		n.MasterAddress = host + ":" + port
	}
	io := get("Slave_IO_Running", "Replica_IO_Running")
	n.IOThreadRunning = strings.EqualFold(io, "Yes")
	n.IOConnecting = strings.EqualFold(io, "Connecting")
	n.SQLThreadRunning = strings.EqualFold(get("Slave_SQL_Running", "Replica_SQL_Running"), "Yes")
	n.LastIOError = get("Last_IO_Error")
	n.LastSQLError = get("Last_SQL_Error")
	if s := get("Seconds_Behind_Master", "Seconds_Behind_Source"); s != "" {
		if lag, err := strconv.ParseFloat(s, 64); err == nil {
			n.LagSeconds = lag
		}
	}
	if s := get("SQL_Delay"); s != "" {
		n.SQLDelay, _ = strconv.Atoi(s)
	}
	n.GTIDReceived = strings.ReplaceAll(get("Gtid_IO_Pos", "Retrieved_Gtid_Set"), "\n", "")
	r.hbCount = get("Slave_received_heartbeats")
	if s := get("Slave_heartbeat_period"); s != "" {
		r.hbPeriod, _ = strconv.ParseFloat(s, 64)
	}
	r.readPos = get("Master_Log_File", "Source_Log_File") + ":" + get("Read_Master_Log_Pos", "Read_Source_Log_Pos")
	return true, nil
}

// publish builds a snapshot from the last round and the control state and
// publishes it. With no master known and no failover running, a unique
// reachable writable node that replicates from nobody and is not fenced
// becomes the master (epoch+1); so does one taking over from a master that
// was made read_only by hand. Otherwise only the Manager changes the master.
func (m *Monitor) publish() *topology.Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.publishLocked()
}

func (m *Monitor) publishLocked() *topology.Snapshot {
	nodes := make([]topology.Node, len(m.nodes))
	for i, n := range m.nodes {
		if why, ok := m.ctl.fenced[n.Name]; ok {
			n.State, n.Note = topology.StateFenced, why
		} else if st, ok := m.ctl.op[n.Name]; ok {
			n.State, n.Note = st, "set by operator"
		}
		nodes[i] = n
	}
	if !m.ctl.failover {
		var writable []string
		demoted := false
		for _, n := range m.nodes {
			if n.Name == m.ctl.master && n.State != topology.StateDown && n.ReadOnly {
				demoted = true
			}
			if _, f := m.ctl.fenced[n.Name]; !f && n.State != topology.StateDown && n.Role == topology.RoleMaster {
				writable = append(writable, n.Name)
			}
		}
		if len(writable) == 1 && writable[0] != m.ctl.master && (m.ctl.master == "" || demoted) {
			if m.ctl.master != "" {
				m.log.Warn("master changed outside switchyard", "from", m.ctl.master, "to", writable[0])
			}
			m.ctl.master = writable[0]
			m.ctl.epoch++
		}
	}
	snap := &topology.Snapshot{Epoch: m.ctl.epoch, Nodes: nodes, MasterName: m.ctl.master,
		Failover: m.ctl.failover, Taken: m.taken}
	if snap.Taken.IsZero() {
		snap.Taken = time.Now()
	}
	m.o.Store.Publish(snap)
	return snap
}

// statuses converts the last round into the analysis view.
func (m *Monitor) statuses() []NodeStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.statusesLocked()
}

func (m *Monitor) statusesLocked() []NodeStatus {
	out := make([]NodeStatus, len(m.nodes))
	for i, n := range m.nodes {
		tr := m.track[i]
		s := NodeStatus{
			Name: n.Name, Address: m.o.Nodes[i].replAddr(), Role: n.Role,
			Reachable: tr.failed == 0 && !n.LastChecked.IsZero(), FailedProbes: tr.failed,
			ReadOnly: n.ReadOnly, MasterAddress: n.MasterAddress,
			IORunning: n.IOThreadRunning, IOConnecting: n.IOConnecting, SQLRunning: n.SQLThreadRunning,
			LastIOError: n.LastIOError, LastSQLError: n.LastSQLError,
			SinceReceived: Unknown, LagSeconds: n.LagSeconds, SQLDelay: n.SQLDelay,
			Promotion: Promotion(n.Promotion),
		}
		if n.LastChecked.IsZero() {
			s.FailedProbes = max(s.FailedProbes, 1)
		}
		if _, ok := m.ctl.op[n.Name]; ok {
			s.Maintenance = true
		}
		if _, ok := m.ctl.fenced[n.Name]; ok {
			s.Maintenance = true // never a candidate while fenced
		}
		if s.Reachable && s.IORunning && !n.LastReceived.IsZero() && tr.hbPeriod > 0 &&
			m.o.GracePeriod > 0 && tr.hbPeriod <= m.o.GracePeriod.Seconds()/2 {
			s.SinceReceived = m.taken.Sub(n.LastReceived)
		}
		if f, err := gtid.ParseFlavor(n.Flavor); err == nil {
			s.GTID, _ = gtid.Parse(f, n.GTIDExecuted)
			s.Received, _ = gtid.Parse(f, n.GTIDReceived)
		}
		out[i] = s
	}
	return out
}

// firstFailure returns when the node's current failure streak began.
func (m *Monitor) firstFailure(name string) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, nc := range m.o.Nodes {
		if nc.Name == name {
			return m.track[i].firstFail
		}
	}
	return time.Time{}
}

// update changes the control state and publishes at once.
func (m *Monitor) update(f func(*control)) *topology.Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.ctl)
	return m.publishLocked()
}

// setRole changes a node's role until the next probe; m.mu must be held
// (call it inside update).
func (m *Monitor) setRole(name string, r topology.Role) {
	for i := range m.nodes {
		if m.nodes[i].Name == name {
			m.nodes[i].Role = r
		}
	}
}

// node returns the last probed state of a node (without overrides).
func (m *Monitor) node(name string) (topology.Node, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.nodes {
		if n.Name == name {
			return n, true
		}
	}
	return topology.Node{}, false
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
	// Closed outside the lock: DB.Close waits for running queries, and
	// Isolated (asked on the proxy's dial path, from event loops too) takes
	// the lock.
	m.dbMu.Lock()
	dbs := make([]*sql.DB, 0, len(m.dbs))
	for _, db := range m.dbs {
		dbs = append(dbs, db)
	}
	clear(m.dbs)
	m.dbMu.Unlock()
	for _, db := range dbs {
		_ = db.Close()
	}
}
