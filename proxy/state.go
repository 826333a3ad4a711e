package proxy

import (
	"sync"
	"sync/atomic"

	"github.com/switchyard/switchyard/gtid"
	"github.com/switchyard/switchyard/topology"
)

// Metrics are the proxy's counters (read by the admin port and /metrics).
type Metrics struct {
	hot                      [StatShards]counterSlot // by route (routeIndex), added to per statement
	retries, readFallbacks   atomic.Uint64
	writesHeld, holdTimeouts atomic.Uint64
	gtidWaits, gtidWaitNanos atomic.Uint64
	metaInjected             atomic.Uint64 // column definitions put into executions (meta.go)
}

// MetricsSnapshot is a copy of the counters.
type MetricsSnapshot struct {
	StatementsMaster, StatementsReplica, StatementsOther uint64
	ErrorsMaster, ErrorsReplica, ErrorsOther             uint64
	ReplicaRetries, ReadFallbacks                        uint64
	WritesHeld, HoldTimeouts                             uint64
	GTIDWaits, GTIDWaitNanos                             uint64
	MetadataInjected                                     uint64
	Pipelined                                            uint64 // replica reads on shared connections
}

// count counts a statement in the session's shard.
func (m *Metrics) count(shard int, where string, failed bool) {
	c := &m.hot[shard%StatShards]
	i := routeIndex(where)
	c.stmts[i].Add(1)
	if failed {
		c.errs[i].Add(1)
	}
}

// Metrics returns a snapshot of the counters.
func (s *Server) Metrics() MetricsSnapshot {
	m := &s.metrics
	var st, er [3]uint64
	var piped uint64
	for i := range m.hot {
		piped += m.hot[i].pipelined.Load()
		for r := range st {
			// Errors first: a statement is counted before its error, so
			// a snapshot never shows an error without its statement.
			er[r] += m.hot[i].errs[r].Load()
			st[r] += m.hot[i].stmts[r].Load()
		}
	}
	return MetricsSnapshot{
		StatementsMaster: st[0], StatementsReplica: st[1], StatementsOther: st[2],
		ErrorsMaster: er[0], ErrorsReplica: er[1], ErrorsOther: er[2],
		ReplicaRetries: m.retries.Load(), ReadFallbacks: m.readFallbacks.Load(),
		WritesHeld: m.writesHeld.Load(), HoldTimeouts: m.holdTimeouts.Load(),
		GTIDWaits: m.gtidWaits.Load(), GTIDWaitNanos: m.gtidWaitNanos.Load(),
		MetadataInjected: m.metaInjected.Load(), Pipelined: piped,
	}
}

// gtidState is what the proxy knows of GTIDs: every write it acknowledged,
// and positions nodes are known to have applied.
type gtidState struct {
	mu      sync.Mutex
	acked   gtid.Set
	applied map[string]gtid.Set
	seenPos map[string]string // node -> monitor's last GTID string, parsed into applied
}

func (s *Server) noteAck(g gtid.Set) {
	s.gtids.mu.Lock()
	defer s.gtids.mu.Unlock()
	if u, err := s.gtids.acked.Union(g); err == nil {
		s.gtids.acked = u
	} else {
		s.gtids.acked = g
	}
}

// AckedGTIDs returns the union of the GTIDs of every write this proxy
// acknowledged (the failover audit compares it with the promoted replica).
func (s *Server) AckedGTIDs() gtid.Set { return s.ackedPos() }

func (s *Server) ackedPos() gtid.Set {
	s.gtids.mu.Lock()
	defer s.gtids.mu.Unlock()
	return s.gtids.acked
}

// nodeHas reports whether node is known to have applied pos, from waits that
// succeeded and from the monitor's last reading.
func (s *Server) nodeHas(node string, pos gtid.Set) bool {
	var fromSnap string
	if n, ok := s.topo.Load().Node(node); ok {
		fromSnap = n.GTIDExecuted
	}
	s.gtids.mu.Lock()
	defer s.gtids.mu.Unlock()
	if s.gtids.applied == nil {
		s.gtids.applied = make(map[string]gtid.Set)
		s.gtids.seenPos = make(map[string]string)
	}
	if fromSnap != "" && s.gtids.seenPos[node] != fromSnap {
		s.gtids.seenPos[node] = fromSnap
		if g, err := gtid.Parse(pos.Flavor(), fromSnap); err == nil {
			if u, err := s.gtids.applied[node].Union(g); err == nil {
				s.gtids.applied[node] = u
			} else {
				s.gtids.applied[node] = g
			}
		}
	}
	cur, ok := s.gtids.applied[node]
	return ok && cur.Contains(pos)
}

func (s *Server) noteNodeHas(node string, pos gtid.Set) {
	s.gtids.mu.Lock()
	defer s.gtids.mu.Unlock()
	if s.gtids.applied == nil {
		s.gtids.applied = make(map[string]gtid.Set)
		s.gtids.seenPos = make(map[string]string)
	}
	if u, err := s.gtids.applied[node].Union(pos); err == nil {
		s.gtids.applied[node] = u
	} else {
		s.gtids.applied[node] = pos
	}
}

// forgetNode drops what is known of a node's position (it was rebuilt or
// rejoined; its history may differ).
func (s *Server) forgetNode(node string) {
	s.gtids.mu.Lock()
	defer s.gtids.mu.Unlock()
	delete(s.gtids.applied, node)
	delete(s.gtids.seenPos, node)
}

// nodeCounter returns (creating) the counter of node in m.
func nodeCounter(m *sync.Map, node string) *atomic.Int64 {
	if v, ok := m.Load(node); ok {
		return v.(*atomic.Int64)
	}
	v, _ := m.LoadOrStore(node, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// outstanding returns the in-flight statement counters of a node.
func (s *Server) outstanding(node string) *nodeLoad {
	if v, ok := s.inflight.Load(node); ok {
		return v.(*nodeLoad)
	}
	v, _ := s.inflight.LoadOrStore(node, new(nodeLoad))
	return v.(*nodeLoad)
}

func (s *Server) outstandingLoad(node string) int { return int(s.outstanding(node).sum()) }

// readersOf returns the counter of sessions whose reads go to a node.
func (s *Server) readersOf(node string) *atomic.Int64 { return nodeCounter(&s.readers, node) }

func (s *Server) readerCount(node string) int { return int(s.readersOf(node).Load()) }

func (s *Server) routing() *Routing { return s.route.Load() }

// SetRouting applies new routing settings (reload).
func (s *Server) SetRouting(r Routing) { s.route.Store(&r) }

var _ = topology.RoleMaster
