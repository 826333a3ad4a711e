package admin

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/switchyard/switchyard/topology"
)

// column types of the virtual tables, as SQLite declares them.
const (
	tInt  = "INTEGER"
	tReal = "REAL"
	tText = "TEXT"
)

type column struct{ name, typ string }

// table is a virtual table: its rows are read from the live sources each
// time a query mentions it.
type table struct {
	name string
	doc  string
	cols []column
	rows func(s *Server) [][]any
}

func cols(spec ...string) []column {
	out := make([]column, 0, len(spec))
	for _, s := range spec {
		name, typ, _ := strings.Cut(s, " ")
		out = append(out, column{name, typ})
	}
	return out
}

const timeFormat = "2006-01-02 15:04:05.000"

func fmtTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format(timeFormat)
}

func ms(d time.Duration) any {
	if d == 0 {
		return nil
	}
	return float64(d.Microseconds()) / 1000
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// tables lists the admin port's tables, in SHOW TABLES order.
var tables = []table{
	{name: "nodes", doc: "the backends as the monitor last saw them (SHOW TOPOLOGY)",
		cols: cols("name TEXT", "address TEXT", "role TEXT", "state TEXT", "read_only INTEGER", "lag_seconds REAL",
			"gtid_position TEXT", "server_id INTEGER", "version TEXT", "connections INTEGER", "last_checked TEXT",
			"last_error TEXT", "failed_probes INTEGER", "note TEXT"),
		rows: nodeRows},
	{name: "sessions", doc: "client sessions of the proxy",
		cols: cols("id INTEGER", "user TEXT", "client TEXT", "db TEXT", "backend TEXT", "route TEXT", "pinned TEXT",
			"in_transaction INTEGER", "statement TEXT", "statement_seconds REAL", "connected_seconds REAL", "event_loop INTEGER"),
		rows: sessionRows},
	{name: "events", doc: "failovers, switchovers, drills, node state changes",
		cols: cols("time TEXT", "kind TEXT", "node TEXT", "reason TEXT", "detail TEXT", "outcome TEXT",
			"detection_ms REAL", "promotion_ms REAL", "pause_ms REAL", "winner TEXT", "lost_gtids TEXT"),
		rows: eventRows},
	{name: "query_digest", doc: "statements by normalised text",
		cols: cols("digest TEXT", "normalized TEXT", "count INTEGER", "total_ms REAL", "mean_ms REAL", "max_ms REAL",
			"rows INTEGER", "master_count INTEGER", "replica_count INTEGER", "other_count INTEGER", "last_seen TEXT"),
		rows: digestRows},
	{name: "pools", doc: "backend connection pools by node",
		cols: cols("node TEXT", "open INTEGER", "idle INTEGER", "in_use INTEGER", "dials INTEGER", "dial_errors INTEGER",
			"reuses INTEGER", "resets INTEGER", "waits INTEGER", "wait_timeouts INTEGER"),
		rows: poolRows},
	{name: "config", doc: "the effective configuration, secrets masked",
		cols: cols("key TEXT", "value TEXT"), rows: configRows},
	{name: "metrics", doc: "proxy counters",
		cols: cols("name TEXT", "value INTEGER"), rows: metricRows},
	{name: "problems", doc: "the failover analysis of the last probe round",
		cols: cols("code TEXT", "node TEXT", "nodes TEXT", "detail TEXT"), rows: problemRows},
	{name: "drill_progress", doc: "progress of the running (or last) drill",
		cols: cols("seq INTEGER", "time TEXT", "elapsed_ms REAL", "scenario TEXT", "message TEXT"), rows: progressRows},
}

func tableByName(name string) (table, bool) {
	for _, t := range tables {
		if t.name == name {
			return t, true
		}
	}
	return table{}, false
}

func (s *Server) snapshot() *topology.Snapshot {
	if s.o.Manager == nil {
		return nil
	}
	return s.o.Manager.Store().Load()
}

func nodeRows(s *Server) [][]any {
	snap := s.snapshot()
	if snap == nil {
		return nil
	}
	pools := map[string]int{}
	if s.o.Proxy != nil {
		for n, p := range s.o.Proxy.Pools() {
			pools[n] = p.Open
		}
	}
	out := make([][]any, 0, len(snap.Nodes))
	for _, n := range snap.Nodes {
		var lag any
		if n.LagSeconds >= 0 && n.Role == topology.RoleReplica {
			lag = n.LagSeconds
		}
		role := string(n.Role)
		if n.Name == snap.MasterName && n.Role != topology.RoleMaster {
			role = string(topology.RoleMaster) // the epoch's master, whatever its last probe said
		}
		out = append(out, []any{n.Name, n.Address, role, string(n.State), b2i(n.ReadOnly), lag,
			n.GTIDExecuted, int64(n.ServerID), n.Version, int64(pools[n.Name]), fmtTime(n.LastChecked),
			n.LastError, int64(n.FailedProbes), n.Note})
	}
	return out
}

func sessionRows(s *Server) [][]any {
	if s.o.Proxy == nil {
		return nil
	}
	now := time.Now()
	var out [][]any
	for _, si := range s.o.Proxy.Sessions() {
		var stmtSecs any
		if si.Statement != "" && !si.Since.IsZero() {
			stmtSecs = now.Sub(si.Since).Seconds()
		}
		var connSecs any
		if !si.Started.IsZero() {
			connSecs = now.Sub(si.Started).Seconds()
		}
		out = append(out, []any{int64(si.ID), si.User, si.Client, si.DB, si.Backend, si.Route, si.Pinned,
			b2i(si.InTx), si.Statement, stmtSecs, connSecs, b2i(si.OnLoop)})
	}
	return out
}

func eventRows(s *Server) [][]any {
	if s.o.Manager == nil {
		return nil
	}
	var out [][]any
	for _, e := range s.o.Manager.Events() {
		var winner, lost any
		if e.Report != nil {
			winner, lost = e.Report.Winner, e.Report.LostGTIDs
		}
		out = append(out, []any{fmtTime(e.Time), string(e.Kind), e.Node, e.Reason, e.Detail, e.Outcome,
			ms(e.Detection), ms(e.Promotion), ms(e.Pause), winner, lost})
	}
	return out
}

func digestRows(s *Server) [][]any {
	var out [][]any
	for _, d := range s.o.Digests.Snapshot() {
		mean := 0.0
		if d.Count > 0 {
			mean = float64(d.Total.Microseconds()) / 1000 / float64(d.Count)
		}
		out = append(out, []any{fmt.Sprintf("%016x", d.Digest), d.Normalized, int64(d.Count),
			float64(d.Total.Microseconds()) / 1000, mean, float64(d.Max.Microseconds()) / 1000, int64(d.Rows),
			int64(d.MasterCount), int64(d.ReplicaCount), int64(d.OtherCount), fmtTime(d.Last)})
	}
	return out
}

func poolRows(s *Server) [][]any {
	if s.o.Proxy == nil {
		return nil
	}
	pools := s.o.Proxy.Pools()
	names := make([]string, 0, len(pools))
	for n := range pools {
		names = append(names, n)
	}
	sort.Strings(names)
	var out [][]any
	for _, n := range names {
		p := pools[n]
		out = append(out, []any{n, int64(p.Open), int64(p.Idle), int64(p.InUse), int64(p.Dials), int64(p.DialErrors),
			int64(p.Reuses), int64(p.Resets), int64(p.Waits), int64(p.WaitTimeout)})
	}
	return out
}

func configRows(s *Server) [][]any {
	if s.o.Config == nil {
		return nil
	}
	c := s.o.Config()
	if c == nil {
		return nil
	}
	var out [][]any
	for _, st := range c.Settings() {
		out = append(out, []any{st.Key, st.Value})
	}
	return out
}

func metricRows(s *Server) [][]any {
	if s.o.Proxy == nil {
		return nil
	}
	m := s.o.Proxy.Metrics()
	kv := []struct {
		k string
		v uint64
	}{
		{"statements_master", m.StatementsMaster}, {"statements_replica", m.StatementsReplica},
		{"statements_other", m.StatementsOther}, {"errors_master", m.ErrorsMaster},
		{"errors_replica", m.ErrorsReplica}, {"errors_other", m.ErrorsOther},
		{"replica_retries", m.ReplicaRetries}, {"read_fallbacks", m.ReadFallbacks},
		{"writes_held", m.WritesHeld}, {"hold_timeouts", m.HoldTimeouts},
		{"gtid_waits", m.GTIDWaits}, {"gtid_wait_ms", m.GTIDWaitNanos / 1e6},
		{"sessions", uint64(len(s.o.Proxy.Sessions()))},
		{"event_loops", uint64(s.o.Proxy.EventLoops())},
	}
	out := make([][]any, len(kv))
	for i, e := range kv {
		out[i] = []any{e.k, int64(e.v)}
	}
	return out
}

func problemRows(s *Server) [][]any {
	if s.o.Manager == nil {
		return nil
	}
	var out [][]any
	for _, p := range s.o.Manager.Problems() {
		out = append(out, []any{string(p.Code), p.Node, strings.Join(p.Nodes, ","), p.Detail})
	}
	return out
}

func progressRows(s *Server) [][]any {
	var out [][]any
	for _, p := range s.progress.list() {
		out = append(out, []any{int64(p.Seq), fmtTime(p.Time), ms(p.Elapsed), p.Scenario, p.Message})
	}
	return out
}
