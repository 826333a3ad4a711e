// Package failover watches a replicated cluster and replaces a dead master.
// The files analysis.go, candidate.go, statements.go, hooks_env.go and flap.go
// are its pure core: failure analysis, candidate choice, SQL generation, hook
// facts and anti-flapping, with no I/O and no goroutines.
package failover

import (
	"fmt"
	"strings"
	"time"

	"github.com/switchyard/switchyard/gtid"
	"github.com/switchyard/switchyard/topology"
)

// Code names a failure, orchestrator style.
type Code string

const (
	NoProblem Code = "NoProblem"
	// DeadMaster: the master failed failcount probes, every replica is
	// reachable and every one confirms it lost the master. Fail over.
	DeadMaster Code = "DeadMaster"
	// DeadMasterAndSomeReplicas: as DeadMaster, but some replicas are
	// unreachable too; every reachable one confirms. Fail over.
	DeadMasterAndSomeReplicas Code = "DeadMasterAndSomeReplicas"
	// DeadMasterAndReplicas: the master and every replica are unreachable.
	// Nothing can confirm the master is dead (the proxy may be the one cut
	// off) and there is no candidate: no automatic failover.
	DeadMasterAndReplicas Code = "DeadMasterAndReplicas"
	// DeadMasterWithoutReplicas: the master failed and has no replica at all.
	DeadMasterWithoutReplicas Code = "DeadMasterWithoutReplicas"
	// SuspectMaster: the master failed some probes, fewer than failcount.
	SuspectMaster Code = "SuspectMaster"
	// UnreachableMaster: the proxy cannot reach the master but some replica
	// still replicates from it, or none can confirm it is gone (a network
	// blip between proxy and master). No promotion.
	UnreachableMaster Code = "UnreachableMaster"
	// NoMaster: no node is known as master.
	NoMaster Code = "NoMaster"
	// TwoWritableMasters: more than one reachable node has read_only=0.
	TwoWritableMasters Code = "TwoWritableMasters"
	// ReadOnlyMaster: the master is reachable but read_only, so writes fail.
	ReadOnlyMaster Code = "ReadOnlyMaster"
	DeadReplica    Code = "DeadReplica"
	LaggingReplica Code = "LaggingReplica"
	// ReplicationStopped: the IO or SQL thread of a replica is not running,
	// with or without an error (Detail says which).
	ReplicationStopped Code = "ReplicationStopped"
	// ErrantGTID: a replica has transactions the master lacks.
	ErrantGTID Code = "ErrantGTID"
	// ReplicaWrongMaster: a replica replicates from another address than the
	// master's (a repoint that did not happen, or a manual change).
	ReplicaWrongMaster Code = "ReplicaWrongMaster"
)

// Failover reports whether the code warrants an automatic failover.
func (c Code) Failover() bool { return c == DeadMaster || c == DeadMasterAndSomeReplicas }

// Unknown marks a duration or lag the monitor could not measure.
const Unknown = -1

// NodeStatus is what one probe round learnt about one node.
type NodeStatus struct {
	Name    string
	Address string // host:port, as replicas report their master (compared verbatim)
	Role    topology.Role

	// Reachable is the outcome of the latest probe; FailedProbes counts the
	// consecutive failed probes up to and including it (0 when reachable).
	Reachable    bool
	FailedProbes int

	ReadOnly bool

	// Replication, for replicas. IORunning is Slave_IO_Running=Yes;
	// IOConnecting is Slave_IO_Running=Connecting (retrying to reach its
	// master), in which case IORunning is false.
	MasterAddress string
	IORunning     bool
	IOConnecting  bool
	SQLRunning    bool
	LastIOError   string
	LastSQLError  string
	// SinceReceived is how long ago the replica last received an event or
	// heartbeat from its master (Unknown if not measured). Without it a
	// replica whose master vanished silently keeps IORunning until
	// slave_net_timeout; set MASTER_HEARTBEAT_PERIOD and track the heartbeat
	// counter to detect that within GracePeriod.
	SinceReceived time.Duration
	LagSeconds    float64 // Seconds_Behind_Master, Unknown if NULL
	SQLDelay      int     // MASTER_DELAY / SQL_Delay in seconds

	// GTID is the executed position (gtid_current_pos / gtid_executed).
	// Read replicas before the master in a probe round: a replica read after
	// the master may legitimately be ahead of the master's stale reading and
	// would look errant.
	GTID gtid.Set
	// Received is the position received into the relay log (MariaDB
	// Gtid_IO_Pos, MySQL Retrieved_Gtid_Set); empty if unknown.
	Received gtid.Set

	Promotion   Promotion
	Maintenance bool // operator-set: skip as candidate, no lag/stop alarms
}

// AnalysisInput is one probe round of a cluster plus the detection settings.
type AnalysisInput struct {
	// Master names the master of the current epoch (Snapshot.MasterName).
	// Empty: the unique node with Role master, if any.
	Master string
	Nodes  []NodeStatus // configuration order

	// FailCount is how many consecutive failed probes make the master
	// failed (values below 1 mean 1).
	FailCount int
	// GracePeriod: a replica whose IO thread still says running but which
	// received nothing for longer than this confirms the master is gone.
	// 0 disables that test.
	GracePeriod time.Duration
	// MaxLag in seconds above which a replica is reported lagging; 0 disables.
	MaxLag float64
}

// Problem is one finding. Node is the node concerned ("" for the cluster);
// Nodes lists other nodes involved (the writable ones, the replicas that
// confirmed or denied a dead master).
type Problem struct {
	Code   Code
	Node   string
	Nodes  []string
	Detail string
}

func (p Problem) String() string {
	s := string(p.Code)
	if p.Node != "" {
		s += " " + p.Node
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// Analyze classifies one probe round. Master problems come first, then
// cluster-wide ones, then per-node ones in configuration order; with nothing
// wrong the result is a single NoProblem.
//
// The master is dead only when it failed FailCount consecutive probes AND the
// replicas agree: at least one reachable replica confirms (IO thread
// connecting or stopped with an error, or nothing received within
// GracePeriod) and none denies (IO thread running and receiving). A replica
// whose IO thread was stopped cleanly neither confirms nor denies. If no
// replica is reachable the master cannot be proven dead and there is no
// candidate: DeadMasterAndReplicas, no automatic failover (as orchestrator's
// DeadMasterAndSlaves).
func Analyze(in AnalysisInput) []Problem {
	failCount := max(in.FailCount, 1)
	failed := func(n NodeStatus) bool { return !n.Reachable && n.FailedProbes >= failCount }

	var out []Problem
	mi := masterIndex(in)
	var master *NodeStatus
	if mi >= 0 {
		master = &in.Nodes[mi]
	}
	masterDown := false // suppresses per-replica noise caused by the master

	if master == nil {
		d := "no node is known as master"
		if in.Master != "" {
			d = fmt.Sprintf("master %q is not a configured node", in.Master)
		}
		out = append(out, Problem{Code: NoMaster, Detail: d})
	} else if !master.Reachable {
		masterDown = true
		out = append(out, analyzeMaster(in, *master, failCount, failed))
	} else if master.ReadOnly {
		out = append(out, Problem{Code: ReadOnlyMaster, Node: master.Name, Detail: "master is reachable but read_only=1"})
	}

	var writable []string
	for _, n := range in.Nodes {
		if n.Reachable && !n.ReadOnly {
			writable = append(writable, n.Name)
		}
	}
	if len(writable) > 1 {
		out = append(out, Problem{Code: TwoWritableMasters, Nodes: writable,
			Detail: "read_only=0 on " + strings.Join(writable, ", ")})
	}

	for i, n := range in.Nodes {
		if i == mi || n.Role == topology.RoleMaster {
			continue
		}
		if failed(n) {
			out = append(out, Problem{Code: DeadReplica, Node: n.Name,
				Detail: fmt.Sprintf("%d consecutive failed probes", n.FailedProbes)})
			continue
		}
		if !n.Reachable || n.Role != topology.RoleReplica {
			continue
		}
		if master != nil && n.MasterAddress != "" && n.MasterAddress != master.Address {
			out = append(out, Problem{Code: ReplicaWrongMaster, Node: n.Name,
				Detail: fmt.Sprintf("replicates from %s, master is %s at %s", n.MasterAddress, master.Name, master.Address)})
		}
		if master != nil && master.Reachable && !master.GTID.IsEmpty() && !n.GTID.IsEmpty() {
			if e := gtid.Errant(n.GTID, master.GTID); !e.IsEmpty() {
				out = append(out, Problem{Code: ErrantGTID, Node: n.Name,
					Detail: fmt.Sprintf("has %s that master %s lacks", e, master.Name)})
			}
		}
		if n.Maintenance {
			continue
		}
		if diverged(n.LastIOError) {
			// The master's binlog lacks the replica's position: it executed
			// transactions the master never had (an old master rejoined after
			// a crash that Switchyard did not see, say). Restarting won't help.
			out = append(out, Problem{Code: ErrantGTID, Node: n.Name,
				Detail: "diverged: its GTID position is not in its master's binlog; rebuild it from the master (" + n.LastIOError + ")"})
			continue
		}
		stopped := !n.IORunning || !n.SQLRunning
		switch {
		case stopped && n.LastSQLError != "":
			// An SQL error is the replica's own problem, even with the master down.
			out = append(out, Problem{Code: ReplicationStopped, Node: n.Name, Detail: threadDetail(n)})
		case stopped && !masterDown:
			out = append(out, Problem{Code: ReplicationStopped, Node: n.Name, Detail: threadDetail(n)})
		case !stopped && in.MaxLag > 0 && n.LagSeconds > in.MaxLag:
			out = append(out, Problem{Code: LaggingReplica, Node: n.Name,
				Detail: fmt.Sprintf("%.0fs behind, max %.0fs", n.LagSeconds, in.MaxLag)})
		}
	}
	if len(out) == 0 {
		out = append(out, Problem{Code: NoProblem})
	}
	return out
}

// diverged recognises MariaDB's refusal to serve a replica whose GTID
// position is not in the master's binlog (ER_GTID_POSITION_NOT_FOUND_IN_BINLOG
// and ..._BINLOG2, sent inside error 1236).
func diverged(ioError string) bool {
	return strings.Contains(ioError, "which is not in the master's binlog")
}

func masterIndex(in AnalysisInput) int {
	if in.Master != "" {
		for i, n := range in.Nodes {
			if n.Name == in.Master {
				return i
			}
		}
		return -1
	}
	idx := -1
	for i, n := range in.Nodes {
		if n.Role == topology.RoleMaster {
			if idx >= 0 {
				return -1 // ambiguous: let NoMaster / TwoWritableMasters speak
			}
			idx = i
		}
	}
	return idx
}

// analyzeMaster classifies an unreachable master from its probes and the
// replicas' view.
func analyzeMaster(in AnalysisInput, m NodeStatus, failCount int, failed func(NodeStatus) bool) Problem {
	var replicas, confirm, deny, abstain, unreachable []string
	for _, n := range in.Nodes {
		if n.Name == m.Name || n.Role != topology.RoleReplica {
			continue
		}
		if n.MasterAddress != "" && n.MasterAddress != m.Address {
			continue // replicates from someone else: no witness
		}
		replicas = append(replicas, n.Name)
		switch {
		case !n.Reachable:
			unreachable = append(unreachable, n.Name)
		case n.IORunning && in.GracePeriod > 0 && n.SinceReceived >= 0 && n.SinceReceived > in.GracePeriod:
			confirm = append(confirm, n.Name)
		case n.IORunning:
			deny = append(deny, n.Name)
		case n.IOConnecting || n.LastIOError != "":
			confirm = append(confirm, n.Name)
		default:
			abstain = append(abstain, n.Name)
		}
	}
	p := Problem{Node: m.Name}
	probes := fmt.Sprintf("%d/%d failed probes", m.FailedProbes, failCount)
	switch {
	case !failed(m):
		p.Code = SuspectMaster
		p.Detail = probes
	case len(replicas) == 0:
		p.Code = DeadMasterWithoutReplicas
		p.Detail = probes + "; no replica to promote"
	case len(unreachable) == len(replicas):
		p.Code = DeadMasterAndReplicas
		p.Nodes = unreachable
		p.Detail = probes + "; no replica reachable: cannot confirm, no candidate"
	case len(deny) > 0:
		p.Code = UnreachableMaster
		p.Nodes = deny
		p.Detail = probes + "; still replicating: " + strings.Join(deny, ", ")
	case len(confirm) == 0:
		p.Code = UnreachableMaster
		p.Nodes = abstain
		p.Detail = probes + "; no replica can confirm (replication stopped on " + strings.Join(abstain, ", ") + ")"
	case len(unreachable) > 0:
		p.Code = DeadMasterAndSomeReplicas
		p.Nodes = confirm
		p.Detail = probes + "; confirmed by " + strings.Join(confirm, ", ") + "; unreachable: " + strings.Join(unreachable, ", ")
	default:
		p.Code = DeadMaster
		p.Nodes = confirm
		p.Detail = probes + "; confirmed by " + strings.Join(confirm, ", ")
	}
	return p
}

func threadDetail(n NodeStatus) string {
	var parts []string
	switch {
	case n.IORunning:
	case n.IOConnecting:
		parts = append(parts, "IO thread connecting")
	default:
		parts = append(parts, "IO thread stopped")
	}
	if n.LastIOError != "" {
		parts = append(parts, "IO error: "+n.LastIOError)
	}
	if !n.SQLRunning {
		parts = append(parts, "SQL thread stopped")
	}
	if n.LastSQLError != "" {
		parts = append(parts, "SQL error: "+n.LastSQLError)
	}
	return strings.Join(parts, "; ")
}

// StatusFromNode fills a NodeStatus from a topology node: identity, role,
// read_only, replication threads, lag, promotion and the executed GTID
// (parsed with the node's flavour; an unparsable position is an error).
// Probe outcomes (Reachable, FailedProbes), SinceReceived, Received and
// SQLDelay are the monitor's to set: topology does not carry them.
func StatusFromNode(n topology.Node) (NodeStatus, error) {
	s := NodeStatus{
		Name:          n.Name,
		Address:       n.Address,
		Role:          n.Role,
		Reachable:     n.State != topology.StateDown,
		ReadOnly:      n.ReadOnly,
		MasterAddress: n.MasterAddress,
		IORunning:     n.IOThreadRunning,
		SQLRunning:    n.SQLThreadRunning,
		LastIOError:   n.LastIOError,
		LastSQLError:  n.LastSQLError,
		SinceReceived: Unknown,
		LagSeconds:    n.LagSeconds,
		Promotion:     Promotion(n.Promotion),
		Maintenance:   n.State == topology.StateMaintenance || n.State == topology.StateOffline,
	}
	if n.GTIDExecuted != "" {
		f, err := gtid.ParseFlavor(n.Flavor)
		if err != nil {
			return s, fmt.Errorf("node %s: %w", n.Name, err)
		}
		if s.GTID, err = gtid.Parse(f, n.GTIDExecuted); err != nil {
			return s, fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	return s, nil
}
