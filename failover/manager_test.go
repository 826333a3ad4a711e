package failover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/gtid"
	"github.com/switchyard/switchyard/topology"
)

func TestEventRing(t *testing.T) {
	for _, tc := range []struct {
		limit, add int
		want       []string
	}{
		{3, 0, nil},
		{3, 2, []string{"e0", "e1"}},
		{3, 3, []string{"e0", "e1", "e2"}},
		{3, 4, []string{"e1", "e2", "e3"}},
		{3, 8, []string{"e5", "e6", "e7"}},
		{1, 5, []string{"e4"}},
	} {
		l := eventLog{limit: tc.limit}
		for i := range tc.add {
			l.add(Event{Reason: fmt.Sprintf("e%d", i)})
		}
		var got []string
		for _, e := range l.list() {
			if e.Time.IsZero() {
				t.Errorf("event without time")
			}
			got = append(got, e.Reason)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("limit %d, %d added: got %v, want %v", tc.limit, tc.add, got, tc.want)
		}
	}
}

func TestPhaser(t *testing.T) {
	var r Report
	start := time.Now().Add(-time.Second)
	mark := phaser(&r, start)
	mark("a")
	mark("b")
	if len(r.Phases) != 2 || r.Phases[0].Name != "a" || r.Phases[1].Name != "b" ||
		r.Phases[0].Took < time.Second || r.Phases[1].Took >= time.Second {
		t.Fatalf("phases %+v", r.Phases)
	}
	if got := phasesText([]Phase{{"x", 1500 * time.Microsecond}}); got != "x=1.5ms" {
		t.Fatalf("phasesText = %q", got)
	}
}

// testMonitor is a monitor whose last round is set by hand.
func testMonitor(nodes ...topology.Node) *Monitor {
	var cfg []NodeConfig
	for _, n := range nodes {
		cfg = append(cfg, NodeConfig{Name: n.Name, Address: n.Address})
	}
	m := NewMonitor(MonitorOptions{Nodes: cfg, GracePeriod: 2 * time.Second})
	now := time.Now()
	for i, n := range nodes {
		if n.State != topology.StateDown {
			n.LastChecked = now
		} else {
			m.track[i].failed = 1
		}
		m.nodes[i] = n
	}
	m.taken = now
	return m
}

func node(name string, role topology.Role, state topology.State, ro bool) topology.Node {
	return topology.Node{Name: name, Address: "127.0.0.1:" + name, Role: role, State: state, ReadOnly: ro, LagSeconds: -1}
}

func TestPublishAdoptsMaster(t *testing.T) {
	M, R, U := topology.RoleMaster, topology.RoleReplica, topology.RoleUnknown
	up, down := topology.StateUp, topology.StateDown
	for _, tc := range []struct {
		name      string
		nodes     []topology.Node
		ctl       control
		master    string
		epoch     uint64
		failover  bool
		wantState map[string]topology.State
	}{
		{name: "first master adopted",
			nodes:  []topology.Node{node("a", M, up, false), node("b", R, up, true)},
			master: "a", epoch: 1},
		{name: "two writable: none adopted",
			nodes:  []topology.Node{node("a", M, up, false), node("b", M, up, false)},
			master: "", epoch: 0},
		{name: "fenced node never adopted",
			nodes:  []topology.Node{node("a", M, up, false), node("b", R, up, true)},
			ctl:    control{fenced: map[string]string{"a": "old master"}},
			master: "", epoch: 0, wantState: map[string]topology.State{"a": topology.StateFenced}},
		{name: "down master kept",
			nodes:  []topology.Node{node("a", M, down, false), node("b", M, up, false)},
			ctl:    control{master: "a", epoch: 4},
			master: "a", epoch: 4},
		{name: "no adoption during a failover",
			nodes:  []topology.Node{node("a", M, down, false), node("b", M, up, false)},
			ctl:    control{failover: true, epoch: 4},
			master: "", epoch: 4, failover: true},
		{name: "master demoted by hand: the new writable one is followed",
			nodes:  []topology.Node{node("a", U, up, true), node("b", M, up, false)},
			ctl:    control{master: "a", epoch: 2},
			master: "b", epoch: 3},
		{name: "operator states override",
			nodes:  []topology.Node{node("a", M, up, false), node("b", R, up, true)},
			ctl:    control{master: "a", epoch: 1, op: map[string]topology.State{"b": topology.StateMaintenance}},
			master: "a", epoch: 1, wantState: map[string]topology.State{"b": topology.StateMaintenance}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testMonitor(tc.nodes...)
			if tc.ctl.fenced == nil {
				tc.ctl.fenced = map[string]string{}
			}
			if tc.ctl.op == nil {
				tc.ctl.op = map[string]topology.State{}
			}
			m.ctl = tc.ctl
			s := m.publish()
			if s.MasterName != tc.master || s.Epoch != tc.epoch || s.Failover != tc.failover {
				t.Fatalf("master %q epoch %d failover %v; want %q %d %v", s.MasterName, s.Epoch, s.Failover, tc.master, tc.epoch, tc.failover)
			}
			if m.Store().Load() != s {
				t.Fatal("snapshot not published")
			}
			for name, st := range tc.wantState {
				if n, _ := s.Node(name); n.State != st {
					t.Errorf("%s state %s, want %s", name, n.State, st)
				}
			}
		})
	}
}

func TestStatuses(t *testing.T) {
	a := node("a", topology.RoleMaster, topology.StateUp, false)
	a.Flavor, a.GTIDExecuted = "mariadb", "0-1-10"
	b := node("b", topology.RoleReplica, topology.StateUp, true)
	b.Flavor, b.GTIDExecuted, b.GTIDReceived = "mariadb", "0-1-8", "0-1-10"
	b.IOThreadRunning, b.SQLThreadRunning, b.MasterAddress = true, true, a.Address
	c := node("c", topology.RoleReplica, topology.StateDown, true)
	m := testMonitor(a, b, c)
	m.o.Nodes[0].ReplAddress = "10.0.0.1:3306"
	m.ctl.op["b"] = topology.StateOffline

	// No heartbeat period known: time since received is unknown.
	m.nodes[1].LastReceived = m.taken.Add(-5 * time.Second)
	st := m.statuses()
	if st[0].Address != "10.0.0.1:3306" || !st[0].Reachable || st[0].GTID.String() != "0-1-10" {
		t.Fatalf("master status %+v", st[0])
	}
	if st[1].SinceReceived != Unknown || !st[1].Maintenance || st[1].Received.String() != "0-1-10" {
		t.Fatalf("replica status %+v", st[1])
	}
	if st[2].Reachable || st[2].FailedProbes != 1 {
		t.Fatalf("down replica %+v", st[2])
	}
	// A heartbeat period within half the grace period makes it trusted.
	m.track[1].hbPeriod = 0.5
	if got := m.statuses()[1].SinceReceived; got != 5*time.Second {
		t.Fatalf("SinceReceived %v", got)
	}
	// Too slow a heartbeat: an idle master would look gone.
	m.track[1].hbPeriod = 30
	if got := m.statuses()[1].SinceReceived; got != Unknown {
		t.Fatalf("SinceReceived with a 30s heartbeat %v", got)
	}
}

func TestApplyTracksFailuresAndReceipt(t *testing.T) {
	m := testMonitor(node("r", topology.RoleReplica, topology.StateUp, true))
	t0 := time.Now()
	ok := probeResult{ok: true, n: topology.Node{Name: "r", Role: topology.RoleReplica, IOThreadRunning: true, SQLThreadRunning: true, ReadOnly: true}, hbCount: "1"}
	m.apply(0, ok, t0)
	if m.nodes[0].State != topology.StateUp || !m.nodes[0].LastReceived.Equal(t0) {
		t.Fatalf("after first probe %+v", m.nodes[0])
	}
	m.apply(0, ok, t0.Add(time.Second)) // nothing new received
	if !m.nodes[0].LastReceived.Equal(t0) {
		t.Fatalf("LastReceived moved without a new heartbeat")
	}
	ok.hbCount = "2"
	m.apply(0, ok, t0.Add(2*time.Second))
	if !m.nodes[0].LastReceived.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("LastReceived did not follow the heartbeat")
	}
	for i := 1; i <= 3; i++ {
		m.apply(0, probeResult{err: "refused"}, t0.Add(time.Duration(2+i)*time.Second))
		n := m.nodes[0]
		if n.State != topology.StateDown || n.FailedProbes != i || n.Role != topology.RoleReplica || n.LastError != "refused" {
			t.Fatalf("failure %d: %+v", i, n)
		}
	}
	if got := m.firstFailure("r"); !got.Equal(t0.Add(3 * time.Second)) {
		t.Fatalf("first failure %v", got)
	}
	ok.n.SQLThreadRunning = false
	m.apply(0, ok, t0.Add(10*time.Second))
	if n := m.nodes[0]; n.State != topology.StateBroken || n.FailedProbes != 0 || !m.firstFailure("r").IsZero() {
		t.Fatalf("after recovery with a stopped SQL thread %+v", n)
	}
	m.o.MaxLag = time.Second
	ok.n.SQLThreadRunning, ok.n.LagSeconds = true, 5
	m.apply(0, ok, t0.Add(11*time.Second))
	if m.nodes[0].State != topology.StateLagging {
		t.Fatalf("lagging replica state %s", m.nodes[0].State)
	}
}

func TestRunHook(t *testing.T) {
	dir := t.TempDir()
	m := New(Options{Hooks: Hooks{Timeout: 300 * time.Millisecond}})
	defer m.Close()
	facts := HookFacts{Cluster: "c1", Kind: "failover", Reason: DeadMaster, FailedNode: "db1",
		FailedAddress: "127.0.0.1:3306", Successor: "db2; rm -rf /", SuccessorAddress: "127.0.0.1:3307"}
	out := filepath.Join(dir, "out")
	ctx := context.Background()
	if err := m.runHook(ctx, "post", `sh -c 'echo "$1|$SWITCHYARD_FAILED_PORT|$SWITCHYARD_REASON" > "$0"' `+out+` {successorName}`, facts); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if string(got) != "db2; rm -rf /|3306|DeadMaster\n" {
		t.Fatalf("hook saw %q", got)
	}
	for _, tc := range []struct{ cmd, want string }{
		{"sh -c 'echo nope; exit 3'", "exit status 3: nope"},
		{"sleep 5", "timed out"},
		{"/nonexistent/hook", "no such file"},
		{"sh -c 'unterminated", "hook command"},
	} {
		err := m.runHook(ctx, "pre_failover", tc.cmd, facts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "pre_failover") {
			t.Errorf("%s: error %v, want one containing %q", tc.cmd, err, tc.want)
		}
	}
	if err := m.runHook(ctx, "x", "  ", facts); err != nil {
		t.Fatalf("empty hook: %v", err)
	}
}

func TestSetNodeState(t *testing.T) {
	m := New(Options{MonitorOptions: MonitorOptions{Nodes: []NodeConfig{{Name: "a", Address: "127.0.0.1:1"}}}})
	defer m.Close()
	if err := m.SetNodeState("zz", topology.StateOffline); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("unknown node: %v", err)
	}
	if err := m.SetNodeState("a", topology.StateFenced); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("fenced by hand: %v", err)
	}
	for _, st := range []topology.State{topology.StateMaintenance, topology.StateOffline, topology.StateUp} {
		if err := m.SetNodeState("a", st); err != nil {
			t.Fatal(err)
		}
		n, _ := m.Store().Load().Node("a")
		want := st
		if st == topology.StateUp {
			want = topology.StateDown // never probed: its own state shows again
		}
		if n.State != want {
			t.Fatalf("after %s: state %s", st, n.State)
		}
	}
	if evs := m.Events(); len(evs) != 3 || evs[0].Kind != EventNodeState || evs[0].Node != "a" {
		t.Fatalf("events %+v", evs)
	}
}

func TestCommandsRefuseWithoutMaster(t *testing.T) {
	m := New(Options{MonitorOptions: MonitorOptions{Nodes: []NodeConfig{{Name: "a", Address: "127.0.0.1:1"}},
		Timeout: 200 * time.Millisecond}})
	defer m.Close()
	ctx := context.Background()
	if _, err := m.Failover(ctx, ""); !errors.Is(err, ErrNoMaster) {
		t.Fatalf("failover: %v", err)
	}
	if _, err := m.Switchover(ctx, ""); !errors.Is(err, ErrNoMaster) {
		t.Fatalf("switchover: %v", err)
	}
	m.op.Lock()
	if _, err := m.Switchover(ctx, ""); !errors.Is(err, ErrBusy) {
		t.Fatalf("switchover while busy: %v", err)
	}
	m.op.Unlock()
}

// TestTendFencedErrant: an old master back with transactions the master
// lacks stays fenced, with its errant GTIDs in the note and one event.
func TestTendFencedErrant(t *testing.T) {
	a := node("a", topology.RoleUnknown, topology.StateUp, true)
	a.Flavor, a.GTIDExecuted = "mariadb", "0-1-12"
	b := node("b", topology.RoleMaster, topology.StateUp, false)
	b.Flavor, b.GTIDExecuted = "mariadb", "0-2-10"
	m := New(Options{MonitorOptions: MonitorOptions{Nodes: []NodeConfig{{Name: "a", Address: "127.0.0.1:1"}, {Name: "b", Address: "127.0.0.1:2"}}}})
	defer m.Close()
	tm := testMonitor(a, b)
	m.mon.nodes, m.mon.track, m.mon.taken = tm.nodes, tm.track, tm.taken
	m.mon.ctl = control{master: "b", epoch: 2, fenced: map[string]string{"a": "old master"}, op: map[string]topology.State{}}
	for range 3 {
		snap := m.mon.publish()
		m.tendFenced(context.Background(), snap, m.mon.statuses())
	}
	n, _ := m.Store().Load().Node("a")
	if n.State != topology.StateFenced || !strings.Contains(n.Note, "errant GTIDs 0-1-12") {
		t.Fatalf("old master %+v", n)
	}
	if evs := m.Events(); len(evs) != 1 || evs[0].Kind != EventRejoin || evs[0].Outcome != OutcomeRefused {
		t.Fatalf("events %+v", evs)
	}
}

// TestForkErrant: what an old master wrote itself past its successor's
// position at promotion is errant; a rebuilt node's newer triples are not.
func TestForkErrant(t *testing.T) {
	for _, tt := range []struct {
		name, pos, fork string
		flavor          gtid.Flavor
		self            uint32
		want            string
	}{
		{"diverged: own write past the fork", "0-1-16", "0-1-15", gtid.MariaDB, 1, "0-1-16"},
		{"everything reached the successor", "0-1-15", "0-1-15", gtid.MariaDB, 1, ""},
		{"behind the fork", "0-1-12", "0-1-15", gtid.MariaDB, 1, ""},
		{"rebuilt from the new master", "0-2-40", "0-1-15", gtid.MariaDB, 1, ""},
		{"one domain diverged of two", "0-2-30,1-1-9", "0-2-20,1-1-8", gtid.MariaDB, 1, "1-1-9"},
		{"a domain the successor never had", "0-1-15,5-1-1", "0-1-15", gtid.MariaDB, 1, "5-1-1"},
		{"MySQL sets are exact: no fork rule", "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-20", "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-10", gtid.MySQL, 1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := forkErrant(gtid.MustParse(tt.flavor, tt.pos), gtid.MustParse(tt.flavor, tt.fork), tt.self)
			if got.String() != tt.want {
				t.Fatalf("forkErrant(%s, fork %s, self %d) = %q, want %q", tt.pos, tt.fork, tt.self, got, tt.want)
			}
		})
	}
}
