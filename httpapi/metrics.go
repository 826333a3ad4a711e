package httpapi

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/failover"
	"github.com/switchyard/switchyard/proxy"
	"github.com/switchyard/switchyard/topology"
)

const ns = "switchyard"

// Every node state and role, so each node exports a full enumeration (one
// series at 1, the rest at 0) and state changes show as flips, not as
// series appearing and vanishing.
var (
	allStates = []topology.State{topology.StateUp, topology.StateDown, topology.StateLagging, topology.StateBroken,
		topology.StateFenced, topology.StateMaintenance, topology.StateOffline}
	allRoles = []topology.Role{topology.RoleMaster, topology.RoleReplica, topology.RoleUnknown}
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(ns+"_"+name, help, labels, nil)
}

// collector reads the live snapshots (proxy counters, pools, sessions,
// topology, failover events) at scrape time: nothing is copied on the hot
// path.
type collector struct {
	proxy *proxy.Server
	store *topology.Store
	fo    Failover

	clients, stmts, retries, fallbacks, gtidWaits, gtidWaitSec, held, holdTimeouts    *prometheus.Desc
	poolConns, poolDials, poolDialErrs, poolReuses, poolResets, poolWaits, poolWaitTO *prometheus.Desc
	lag, state, role, ioRunning, sqlRunning, epoch, masterKnown, failoverActive       *prometheus.Desc
	operations, problems, loops, metaInjected, pipelined                              *prometheus.Desc

	// Failovers and switchovers are counted from the manager's bounded event
	// ring; the tally lives here so it stays monotonic when the ring wraps.
	mu       sync.Mutex
	lastSeen time.Time
	seenAt   int // events already counted whose Time == lastSeen
	ops      map[[2]string]float64
}

func newCollector(p *proxy.Server, store *topology.Store, fo Failover) *collector {
	return &collector{
		proxy: p, store: store, fo: fo, ops: make(map[[2]string]float64),
		clients:      desc("client_connections", "Client sessions currently open."),
		stmts:        desc("statements_total", "Statements run on a backend, by route and result.", "route", "result"),
		retries:      desc("replica_retries_total", "Reads retried on the master after a replica failed before answering."),
		fallbacks:    desc("read_fallbacks_total", "Reads sent to the master because no replica had caught up in time."),
		gtidWaits:    desc("gtid_waits_total", "Waits on a replica for a GTID (read-your-writes)."),
		gtidWaitSec:  desc("gtid_wait_seconds_total", "Time spent waiting on replicas for GTIDs."),
		held:         desc("writes_held_total", "Master-bound statements held while no master was available."),
		holdTimeouts: desc("write_hold_timeouts_total", "Held statements that gave up waiting for a master."),

		poolConns:    desc("backend_connections", "Backend connections per node, by state (open = idle + in_use + dialling).", "node", "state"),
		poolDials:    desc("backend_dials_total", "Backend connections dialled.", "node"),
		poolDialErrs: desc("backend_dial_errors_total", "Backend dials that failed.", "node"),
		poolReuses:   desc("backend_reuses_total", "Backend connections reused from the pool.", "node"),
		poolResets:   desc("backend_resets_total", "COM_RESET_CONNECTION before reuse.", "node"),
		poolWaits:    desc("backend_waits_total", "Waits for a free backend slot.", "node"),
		poolWaitTO:   desc("backend_wait_timeouts_total", "Waits for a backend slot that timed out.", "node"),

		lag:            desc("replica_lag_seconds", "Replication lag of a replica as last measured (absent when unknown).", "node"),
		state:          desc("node_state", "1 for the node's current state, 0 for the others.", "node", "state"),
		role:           desc("node_role", "1 for the node's current role, 0 for the others.", "node", "role"),
		ioRunning:      desc("replica_io_running", "1 when the replica's IO thread runs.", "node"),
		sqlRunning:     desc("replica_sql_running", "1 when the replica's SQL thread runs.", "node"),
		epoch:          desc("topology_epoch", "Epoch of the current topology snapshot."),
		masterKnown:    desc("master_known", "1 when a master is known and takes writes."),
		failoverActive: desc("failover_in_progress", "1 while a failover or switchover holds writes."),
		operations:     desc("topology_changes_total", "Failovers and switchovers seen in the event history, by kind and outcome.", "kind", "outcome"),
		problems:       desc("problems", "Problems the failure analysis currently reports."),
		loops:          desc("event_loops", "Event loops running sessions (runtime.event_loops); 0 when every session is a goroutine."),
		pipelined:      desc("pipelined_reads_total", "Replica reads that ran on a connection shared by the sessions of an event loop, pipelined (routing.pipeline_reads)."),
		metaInjected:   desc("metadata_injected_total", "Prepared-statement executions whose column definitions the proxy put in: the backend left them out (MariaDB metadata caching) but the client held another backend's."),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.clients, c.stmts, c.retries, c.fallbacks, c.gtidWaits, c.gtidWaitSec, c.held, c.holdTimeouts,
		c.poolConns, c.poolDials, c.poolDialErrs, c.poolReuses, c.poolResets, c.poolWaits, c.poolWaitTO,
		c.lag, c.state, c.role, c.ioRunning, c.sqlRunning, c.epoch, c.masterKnown, c.failoverActive, c.operations, c.problems, c.loops, c.metaInjected, c.pipelined} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	if c.proxy != nil {
		gauge(c.clients, float64(c.proxy.SessionCount()))
		gauge(c.loops, float64(c.proxy.EventLoops()))
		m := c.proxy.Metrics()
		for _, r := range []struct {
			route    string
			all, err uint64
		}{{"master", m.StatementsMaster, m.ErrorsMaster}, {"replica", m.StatementsReplica, m.ErrorsReplica}, {"other", m.StatementsOther, m.ErrorsOther}} {
			counter(c.stmts, float64(r.all-min(r.err, r.all)), r.route, "ok")
			counter(c.stmts, float64(r.err), r.route, "error")
		}
		counter(c.retries, float64(m.ReplicaRetries))
		counter(c.fallbacks, float64(m.ReadFallbacks))
		counter(c.gtidWaits, float64(m.GTIDWaits))
		counter(c.gtidWaitSec, float64(m.GTIDWaitNanos)/1e9)
		counter(c.held, float64(m.WritesHeld))
		counter(c.holdTimeouts, float64(m.HoldTimeouts))
		counter(c.metaInjected, float64(m.MetadataInjected))
		counter(c.pipelined, float64(m.Pipelined))
		for node, p := range c.proxy.Pools() {
			gauge(c.poolConns, float64(p.Open), node, "open")
			gauge(c.poolConns, float64(p.Idle), node, "idle")
			gauge(c.poolConns, float64(p.InUse), node, "in_use")
			counter(c.poolDials, float64(p.Dials), node)
			counter(c.poolDialErrs, float64(p.DialErrors), node)
			counter(c.poolReuses, float64(p.Reuses), node)
			counter(c.poolResets, float64(p.Resets), node)
			counter(c.poolWaits, float64(p.Waits), node)
			counter(c.poolWaitTO, float64(p.WaitTimeout), node)
		}
	}
	if snap := c.store.Load(); snap != nil {
		gauge(c.epoch, float64(snap.Epoch))
		_, ok := snap.Master()
		gauge(c.masterKnown, b2f(ok && !snap.Failover))
		gauge(c.failoverActive, b2f(snap.Failover))
		for _, n := range snap.Nodes {
			for _, s := range allStates {
				gauge(c.state, b2f(n.State == s), n.Name, string(s))
			}
			role := n.Role
			if role == "" {
				role = topology.RoleUnknown
			}
			for _, r := range allRoles {
				gauge(c.role, b2f(role == r), n.Name, string(r))
			}
			if n.Role == topology.RoleReplica {
				if n.LagSeconds >= 0 {
					gauge(c.lag, n.LagSeconds, n.Name)
				}
				gauge(c.ioRunning, b2f(n.IOThreadRunning), n.Name)
				gauge(c.sqlRunning, b2f(n.SQLThreadRunning), n.Name)
			}
		}
	} else {
		gauge(c.masterKnown, 0)
	}
	if c.fo != nil {
		for k, v := range c.tally(c.fo.Events()) {
			counter(c.operations, v, k[0], k[1])
		}
		gauge(c.problems, float64(len(realProblems(c.fo.Problems()))))
	}
}

// tally adds the failovers and switchovers not counted yet to the running
// totals. Events come oldest first.
func (c *collector) tally(events []failover.Event) map[[2]string]float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Always export both kinds, so a dashboard shows 0 rather than no data.
	for _, k := range []failover.EventKind{failover.EventFailover, failover.EventSwitchover} {
		if _, ok := c.ops[[2]string{string(k), failover.OutcomeOK}]; !ok {
			c.ops[[2]string{string(k), failover.OutcomeOK}] = 0
		}
	}
	last, seenAt := c.lastSeen, c.seenAt
	atLast := 0
	for _, e := range events {
		switch {
		case e.Time.Before(c.lastSeen):
			continue
		case e.Time.Equal(c.lastSeen):
			atLast++
			if atLast <= c.seenAt {
				continue
			}
		}
		if e.Time.After(last) {
			last, seenAt = e.Time, 0
		}
		if e.Time.Equal(last) {
			seenAt++
		}
		if e.Kind != failover.EventFailover && e.Kind != failover.EventSwitchover {
			continue
		}
		outcome := e.Outcome
		if outcome == "" {
			outcome = failover.OutcomeOK
		}
		c.ops[[2]string{string(e.Kind), outcome}]++
	}
	c.lastSeen, c.seenAt = last, seenAt
	out := make(map[[2]string]float64, len(c.ops))
	for k, v := range c.ops {
		out[k] = v
	}
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// latency is the proxy's StatementObserver: a histogram of statement time
// by route and result. Counts are kept per shard (proxy.StatShards), so
// sessions on different CPUs add to different cache lines, and summed when
// scraped; an observation is two atomic adds on lines only its shard
// writes.
type latency struct {
	desc   *prometheus.Desc
	shards [proxy.StatShards]latencyShard
}

// routes are the proxy's statement routes; any other is counted as "other".
var routes = [...]string{"master", "replica", "transaction", "last", "other"}

const (
	latencyBuckets = 20    // upper bounds 50µs << i: 50µs .. ~26s (point selects on loopback sit at the bottom)
	latencyBase    = 50e-6 // the first bound, in seconds
)

// latencyCounts is one route and result's histogram in one shard: counts
// per bucket (not cumulative; the last is +Inf; their sum is the count) and
// the sum of the durations.
type latencyCounts struct {
	nanos   atomic.Uint64
	buckets [latencyBuckets + 1]atomic.Uint64
}

type latencyShard struct {
	h [len(routes)][2]latencyCounts
	_ [shardGap]byte // keeps the next shard's first counters off this one's lines
}

// shardGap is the padding between shards: two 64-byte lines.
const shardGap = 128

func newLatency() *latency {
	return &latency{desc: prometheus.NewDesc(ns+"_statement_duration_seconds",
		"Time from sending a statement to a backend to the end of its relayed answer, by route and result.",
		[]string{"route", "result"}, nil)}
}

// latencyBucket is the index of the first bound d is at most.
func latencyBucket(d time.Duration) int {
	const base = time.Duration(latencyBase * 1e9)
	if d <= base {
		return 0
	}
	return min(bits.Len64(uint64((d-1)/base)), latencyBuckets)
}

// Statement implements proxy.StatementObserver.
func (l *latency) Statement(shard int, route string, failed bool, d time.Duration) {
	r := len(routes) - 1
	for i, name := range routes[:len(routes)-1] {
		if name == route {
			r = i
			break
		}
	}
	k := 0
	if failed {
		k = 1
	}
	c := &l.shards[shard%proxy.StatShards].h[r][k]
	c.buckets[latencyBucket(d)].Add(1)
	c.nanos.Add(uint64(max(d, 0)))
}

// Describe implements prometheus.Collector.
func (l *latency) Describe(ch chan<- *prometheus.Desc) { ch <- l.desc }

// Collect implements prometheus.Collector: the shards summed, one
// histogram per route and result.
func (l *latency) Collect(ch chan<- prometheus.Metric) {
	for r, route := range routes {
		for k, result := range [2]string{"ok", "error"} {
			var nanos uint64
			var per [latencyBuckets + 1]uint64
			for i := range l.shards {
				c := &l.shards[i].h[r][k]
				nanos += c.nanos.Load()
				for b := range per {
					per[b] += c.buckets[b].Load()
				}
			}
			cum := make(map[float64]uint64, latencyBuckets)
			var run uint64
			for b := range latencyBuckets {
				run += per[b]
				cum[latencyBase*float64(uint64(1)<<b)] = run
			}
			// A scrape racing an observation may see its bucket and not yet
			// its duration in the sum: the sum lags by at most that.
			ch <- prometheus.MustNewConstHistogram(l.desc, run+per[latencyBuckets], float64(nanos)/1e9, cum, route, result)
		}
	}
}
