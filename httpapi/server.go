// Package httpapi is Switchyard's HTTP port: Prometheus metrics (/metrics),
// liveness and readiness (/healthz, /readyz), a JSON view of the proxy
// (/api/status) and a status page at / that draws the topology and refreshes
// itself every second.
package httpapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchyard/switchyard/failover"
	"github.com/switchyard/switchyard/proxy"
	"github.com/switchyard/switchyard/topology"
)

// Failover is what the HTTP port reads of the failover manager
// (*failover.Manager satisfies it).
type Failover interface {
	Events() []failover.Event
	Problems() []failover.Problem
}

// Options configure a Server.
type Options struct {
	// Proxy is the proxy whose sessions, pools and counters are shown; nil
	// leaves those out.
	Proxy *proxy.Server
	// Store is the topology store; required.
	Store *topology.Store
	// Failover supplies events and problems; nil leaves them out.
	Failover Failover
	Version  string
	Logger   *slog.Logger
}

// Server serves the HTTP port.
type Server struct {
	o       Options
	reg     *prometheus.Registry
	lat     *latency
	started time.Time
	mux     *http.ServeMux
}

// New builds the server and, when a proxy is given, installs the latency
// observer on it.
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("httpapi: no topology store")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{o: o, reg: prometheus.NewRegistry(), lat: newLatency(), started: time.Now(), mux: http.NewServeMux()}
	for _, c := range []prometheus.Collector{
		newCollector(o.Proxy, o.Store, o.Failover),
		s.lat,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "uptime_seconds", Help: "Seconds since the HTTP port started."},
			func() float64 { return time.Since(s.started).Seconds() }),
	} {
		if err := s.reg.Register(c); err != nil {
			return nil, fmt.Errorf("httpapi: register metrics: %w", err)
		}
	}
	if o.Proxy != nil {
		o.Proxy.SetObserver(s.lat)
	}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorLog: slogErrorLog{o.Logger}}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /api/status", s.apiStatus)
	s.mux.HandleFunc("GET /{$}", s.page)
	return s, nil
}

// Registry returns the metrics registry (to add collectors).
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Serve serves on ln until ctx ends, then shuts down (in-flight requests get
// a few seconds).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(s.o.Logger.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	<-done
	if err != nil {
		return fmt.Errorf("http port %s: %w", ln.Addr(), err)
	}
	return nil
}

type slogErrorLog struct{ log *slog.Logger }

func (l slogErrorLog) Println(v ...any) { l.log.Warn("metrics", "err", fmt.Sprint(v...)) }

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	snap := s.o.Store.Load()
	m, ok := snap.Master()
	switch {
	case !ok:
		http.Error(w, "not ready: no master is known", http.StatusServiceUnavailable)
		return
	case snap.Failover:
		http.Error(w, "not ready: failover in progress, writes are held", http.StatusServiceUnavailable)
		return
	}
	if s.o.Proxy != nil && !s.o.Proxy.Listening() {
		http.Error(w, "not ready: the proxy is not accepting clients", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "ready: master %s\n", m.Name)
}

// Status is the JSON document behind the status page.
type Status struct {
	Version    string                     `json:"version"`
	Now        time.Time                  `json:"now"`
	Uptime     float64                    `json:"uptime_seconds"`
	Epoch      uint64                     `json:"epoch"`
	Master     string                     `json:"master"`
	Failover   bool                       `json:"failover"`
	Nodes      []NodeStatus               `json:"nodes"`
	Pools      map[string]proxy.PoolStats `json:"pools"`
	Sessions   int                        `json:"sessions"`
	Active     []SessionStatus            `json:"active_sessions"`
	Statements proxy.MetricsSnapshot      `json:"statements"`
	Events     []EventStatus              `json:"events"`
	Problems   []string                   `json:"problems"`
}

// NodeStatus is one node on the status page.
type NodeStatus struct {
	Name       string  `json:"name"`
	Address    string  `json:"address"`
	Role       string  `json:"role"`
	State      string  `json:"state"`
	Lag        float64 `json:"lag"` // seconds, -1 unknown
	ReadOnly   bool    `json:"read_only"`
	IORunning  bool    `json:"io_running"`
	SQLRunning bool    `json:"sql_running"`
	Master     string  `json:"replicates_from,omitempty"`
	GTID       string  `json:"gtid,omitempty"`
	Version    string  `json:"version,omitempty"`
	LastError  string  `json:"last_error,omitempty"`
	Note       string  `json:"note,omitempty"`
}

// SessionStatus is a session running a statement.
type SessionStatus struct {
	ID        uint32  `json:"id"`
	User      string  `json:"user"`
	Client    string  `json:"client"`
	Backend   string  `json:"backend"`
	Route     string  `json:"route"`
	Statement string  `json:"statement"`
	Seconds   float64 `json:"seconds"`
}

// EventStatus is one entry of the event history.
type EventStatus struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Node    string    `json:"node"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason"`
	Detail  string    `json:"detail,omitempty"`
}

const (
	maxEvents = 20
	maxActive = 20
)

// Status builds the current status document.
func (s *Server) Status() Status {
	now := time.Now()
	st := Status{Version: s.o.Version, Now: now, Uptime: now.Sub(s.started).Seconds(), Nodes: []NodeStatus{},
		Events: []EventStatus{}, Problems: []string{}, Active: []SessionStatus{}, Pools: map[string]proxy.PoolStats{}}
	if snap := s.o.Store.Load(); snap != nil {
		st.Epoch, st.Master, st.Failover = snap.Epoch, snap.MasterName, snap.Failover
		byAddr := make(map[string]string, len(snap.Nodes))
		for _, n := range snap.Nodes {
			byAddr[n.Address] = n.Name
			if n.ReplAddress != "" {
				byAddr[n.ReplAddress] = n.Name
			}
		}
		for _, n := range snap.Nodes {
			ns := NodeStatus{Name: n.Name, Address: n.Address, Role: string(n.Role), State: string(n.State), Lag: n.LagSeconds,
				ReadOnly: n.ReadOnly, IORunning: n.IOThreadRunning, SQLRunning: n.SQLThreadRunning, GTID: n.GTIDExecuted,
				Version: n.Version, LastError: n.LastError, Note: n.Note}
			if n.Role == topology.RoleReplica {
				ns.Master = byAddr[n.MasterAddress]
				if ns.Master == "" {
					ns.Master = n.MasterAddress
				}
				if ns.LastError == "" {
					ns.LastError = firstNonEmpty(n.LastIOError, n.LastSQLError)
				}
			}
			if ns.Role == "" {
				ns.Role = string(topology.RoleUnknown)
			}
			st.Nodes = append(st.Nodes, ns)
		}
	}
	if p := s.o.Proxy; p != nil {
		st.Pools = p.Pools()
		st.Statements = p.Metrics()
		sessions := p.Sessions()
		st.Sessions = len(sessions)
		for _, ss := range sessions {
			if ss.Statement == "" || len(st.Active) >= maxActive {
				continue
			}
			st.Active = append(st.Active, SessionStatus{ID: ss.ID, User: ss.User, Client: ss.Client, Backend: ss.Backend,
				Route: ss.Route, Statement: ss.Statement, Seconds: now.Sub(ss.Since).Seconds()})
		}
	}
	if f := s.o.Failover; f != nil {
		ev := f.Events()
		for i := len(ev) - 1; i >= 0 && len(st.Events) < maxEvents; i-- {
			e := ev[i]
			st.Events = append(st.Events, EventStatus{Time: e.Time, Kind: string(e.Kind), Node: e.Node, Outcome: e.Outcome,
				Reason: e.Reason, Detail: e.Detail})
		}
		for _, p := range realProblems(f.Problems()) {
			st.Problems = append(st.Problems, p.String())
		}
		sort.Strings(st.Problems)
	}
	return st
}

// realProblems drops the NoProblem marker the analysis returns when all is well.
func realProblems(ps []failover.Problem) []failover.Problem {
	out := ps[:0:0]
	for _, p := range ps {
		if p.Code != failover.NoProblem {
			out = append(out, p)
		}
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func (s *Server) apiStatus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	if err := enc.Encode(s.Status()); err != nil {
		s.o.Logger.Debug("status write failed", "err", err)
	}
}

//go:embed status.html
var statusPage []byte

func (s *Server) page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(statusPage)
}
