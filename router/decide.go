package router

import (
	"time"

	"github.com/switchyard/switchyard/topology"
)

// Route is where one statement runs.
type Route uint8

const (
	RouteMaster  Route = iota // the current master
	RouteReplica              // a replica (the session's, or the best usable one)
	RouteTx                   // the backend holding the session's open transaction
	RouteLast                 // the backend that ran the previous statement
)

func (r Route) String() string {
	switch r {
	case RouteMaster:
		return "master"
	case RouteReplica:
		return "replica"
	case RouteTx:
		return "transaction"
	default:
		return "last"
	}
}

// Session is what routing needs to know of a session.
type Session struct {
	InTx       bool      // a transaction is open (server status flag)
	Autocommit bool      // autocommit on
	Pins       PinReason // reasons the session is pinned to the master
	// NextTxMaster: SET TRANSACTION (no scope) was run on the master; the
	// next transaction must start there.
	NextTxMaster bool
}

// Decide picks the route for one statement of a session. It never sends a
// write, a locking read or anything unsure anywhere but the master or the
// session's transaction backend (invariants 1–3).
func Decide(c Class, s Session) Route {
	if s.InTx {
		return RouteTx
	}
	switch c.Kind {
	case KindTxBegin:
		return RouteMaster
	case KindTxBeginReadOnly:
		if s.Pins != 0 || !s.Autocommit || s.NextTxMaster || c.Hint == HintMaster {
			return RouteMaster
		}
		return RouteReplica
	case KindTxCommit, KindTxRollback, KindTxSavepoint:
		// Nothing open: any backend answers the same; keep it on the master
		// so a chained or implicit transaction starts there.
		return RouteMaster
	}
	if !s.Autocommit || s.Pins != 0 {
		// autocommit=0: every statement belongs to a transaction, and a
		// pinned session's state lives on the master.
		return RouteMaster
	}
	if c.Sticky && !c.Master {
		// A statement that must run on the master (a write, a locking
		// read, a pin) goes there even when it reads ROW_COUNT() etc.
		return RouteLast
	}
	if c.Master || c.Multi || c.Hint == HintMaster {
		return RouteMaster
	}
	switch c.Kind {
	case KindRead, KindShow:
		return RouteReplica
	}
	return RouteMaster
}

// ReplicaOptions tune replica choice.
type ReplicaOptions struct {
	MaxLag time.Duration // replicas lagging more get no reads (0 = no limit)
	// Current is the replica the session read from last: it is kept while
	// usable, so the session's reads are monotonic.
	Current string
	// Sessions reports how many sessions read from a node (have it as their
	// Current). Sessions stay on their replica, so this is what spreads
	// them, as an L4 balancer's least-connections does: fewest sessions per
	// unit of weight wins.
	Sessions func(node string) int
	// Outstanding reports the statements in flight on a node. It breaks
	// ties between replicas with as many sessions per unit of weight: a
	// session keeps the replica it chose, so the load of one instant must
	// not outweigh the sessions it will share the replica with (adding the
	// two put 9 of 16 sysbench sessions on one of two replicas).
	Outstanding func(node string) int
	// Exclude names a node not to use (e.g. one that just failed).
	Exclude string
	// Spread breaks ties between equally loaded replicas (e.g. the session
	// id), so sessions that choose at the same moment do not all take the
	// first.
	Spread uint32
}

// UsableReplica reports whether n may take reads.
func UsableReplica(n topology.Node, maxLag time.Duration) bool {
	if n.Role != topology.RoleReplica || n.State != topology.StateUp || n.Weight <= 0 {
		return false
	}
	if !n.IOThreadRunning || !n.SQLThreadRunning {
		return false
	}
	if maxLag > 0 && (n.LagSeconds < 0 || n.LagSeconds > maxLag.Seconds()) {
		return false
	}
	return true
}

// ChooseReplica picks the replica for a read: the session's current one
// while usable, else the local replica, else the usable replica with the
// least load (sessions reading from it plus statements in flight) per unit
// of weight. ok is false when no replica is usable.
func ChooseReplica(snap *topology.Snapshot, o ReplicaOptions) (name string, ok bool) {
	if snap == nil {
		return "", false
	}
	var best string
	bestScore := -1.0
	localFound := ""
	// Ties rotate by Spread over the usable replicas only (rotating over
	// all nodes, master included, would favour the replica after the master).
	usable := 0
	for _, n := range snap.Nodes {
		if n.Name == o.Exclude || !UsableReplica(n, o.MaxLag) {
			continue
		}
		if n.Name == o.Current {
			return n.Name, true
		}
		if n.Local && localFound == "" {
			localFound = n.Name
		}
		usable++
	}
	if localFound != "" {
		return localFound, true
	}
	if usable == 0 {
		return "", false
	}
	// Among equal scores the replica whose position among the usable ones
	// comes first from Spread wins.
	first := int(o.Spread % uint32(usable))
	bestRank, bestOut, u := 0, 0.0, -1
	for _, n := range snap.Nodes {
		if n.Name == o.Exclude || !UsableReplica(n, o.MaxLag) {
			continue
		}
		u++
		sessions, out := 0, 0
		if o.Sessions != nil {
			sessions = o.Sessions(n.Name)
		}
		if o.Outstanding != nil {
			out = o.Outstanding(n.Name)
		}
		score := float64(sessions+1) / float64(n.Weight)
		outScore := float64(out+1) / float64(n.Weight)
		rank := (u - first + usable) % usable
		if bestScore < 0 || score < bestScore ||
			(score == bestScore && (outScore < bestOut || (outScore == bestOut && rank < bestRank))) {
			best, bestScore, bestOut, bestRank = n.Name, score, outScore, rank
		}
	}
	return best, best != ""
}
