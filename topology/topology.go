// Package topology holds the data model of a replicated cluster: nodes, their
// roles, health, lag and GTID positions, published as immutable snapshots
// stamped with an epoch. It does no I/O: the monitor (package failover) writes
// snapshots, the router and the proxy only read them.
package topology

import (
	"sync/atomic"
	"time"
)

// Role is what a node does in the replication topology.
type Role string

const (
	RoleUnknown Role = "unknown"
	RoleMaster  Role = "master"
	RoleReplica Role = "replica"
)

// State is the health of a node as seen by the monitor.
type State string

const (
	StateUp          State = "up"          // reachable and usable
	StateDown        State = "down"        // unreachable
	StateLagging     State = "lagging"     // replica beyond max lag
	StateBroken      State = "broken"      // replication stopped or erroring
	StateFenced      State = "fenced"      // an old master kept out of traffic
	StateMaintenance State = "maintenance" // set by an operator: no new traffic
	StateOffline     State = "offline"     // set by an operator: drained
)

// Node is one server as last observed. Values, not pointers, so a snapshot
// can be shared across goroutines without locks.
type Node struct {
	Name    string
	Address string // host:port the proxy and the monitor connect to
	// ReplAddress is the host:port replicas use to reach this node (as they
	// report it in Master_Host:Master_Port); empty means Address.
	ReplAddress string
	Role        Role
	State       State

	ReadOnly   bool
	ServerID   uint32
	ServerUUID string
	Version    string
	Flavor     string // "mariadb" or "mysql"

	// Replication, for replicas.
	MasterAddress    string
	IOThreadRunning  bool
	SQLThreadRunning bool
	LagSeconds       float64 // -1 when unknown
	LastIOError      string
	LastSQLError     string
	// IOConnecting: Slave_IO_Running=Connecting (the replica is retrying to
	// reach its master).
	IOConnecting bool
	// SQLDelay is MASTER_DELAY in seconds (a delayed replica is never promoted).
	SQLDelay int
	// LastReceived is when the monitor last saw the replica receive anything
	// (an event or a heartbeat) from its master; zero when unknown.
	LastReceived time.Time
	// GTIDReceived is the position received into the relay log (MariaDB
	// Gtid_IO_Pos, MySQL Retrieved_Gtid_Set).
	GTIDReceived string

	// GTID positions as the server reports them (MariaDB gtid_current_pos,
	// MySQL gtid_executed).
	GTIDExecuted string

	LastChecked time.Time
	LastError   string
	// FailedProbes counts consecutive failed probes (0 when reachable).
	FailedProbes int
	// Note explains an operator or failover state (why fenced, errant GTIDs
	// of an old master kept out, ...).
	Note string

	// Static configuration carried along for the router.
	Weight    int
	Local     bool   // the replica local to this proxy
	Promotion string // prefer | neutral | never
}

// Usable reports whether the node may receive new traffic at all.
func (n Node) Usable() bool { return n.State == StateUp || n.State == StateLagging }

// Snapshot is an immutable view of the topology. Never modify a published
// snapshot; build a new one with a higher epoch.
type Snapshot struct {
	Epoch uint64
	Nodes []Node
	// MasterName names the current master of this epoch; empty while there is
	// none (failover in progress, or nothing known yet). Writes go only there.
	MasterName string
	// Failover is true while a failover or switchover holds writes.
	Failover bool
	Taken    time.Time
}

// Master returns the current master, if any.
func (s *Snapshot) Master() (Node, bool) {
	if s == nil || s.MasterName == "" {
		return Node{}, false
	}
	return s.Node(s.MasterName)
}

// Node returns the named node.
func (s *Snapshot) Node(name string) (Node, bool) {
	if s == nil {
		return Node{}, false
	}
	for _, n := range s.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// Replicas returns the nodes whose role is replica, in configuration order.
func (s *Snapshot) Replicas() []Node {
	if s == nil {
		return nil
	}
	var out []Node
	for _, n := range s.Nodes {
		if n.Role == RoleReplica {
			out = append(out, n)
		}
	}
	return out
}

// Store publishes snapshots atomically. The zero value holds no snapshot.
type Store struct {
	cur     atomic.Pointer[Snapshot]
	changed atomic.Pointer[chan struct{}]
}

// NewStore returns a store holding s.
func NewStore(s *Snapshot) *Store {
	st := &Store{}
	ch := make(chan struct{})
	st.changed.Store(&ch)
	st.cur.Store(s)
	return st
}

// Load returns the current snapshot (possibly nil).
func (st *Store) Load() *Snapshot { return st.cur.Load() }

// Publish replaces the current snapshot and wakes everyone waiting in Changed.
// The epoch of s must be higher than the current one when the master changes;
// Publish does not enforce that, the monitor does.
func (st *Store) Publish(s *Snapshot) {
	st.cur.Store(s)
	ch := make(chan struct{})
	old := st.changed.Swap(&ch)
	if old != nil {
		close(*old)
	}
}

// Changed returns a channel closed at the next Publish.
func (st *Store) Changed() <-chan struct{} {
	p := st.changed.Load()
	if p == nil {
		ch := make(chan struct{})
		st.changed.CompareAndSwap(nil, &ch)
		p = st.changed.Load()
	}
	return *p
}
