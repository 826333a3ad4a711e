package router

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/topology"
)

func TestDecide(t *testing.T) {
	free := Session{Autocommit: true}
	cases := []struct {
		sql  string
		s    Session
		want Route
	}{
		{"SELECT * FROM t", free, RouteReplica},
		{"select 1", free, RouteReplica},
		{"SHOW TABLES", free, RouteReplica},
		{"SELECT * FROM t FOR UPDATE", free, RouteMaster},
		{"SELECT * FROM t LOCK IN SHARE MODE", free, RouteMaster},
		{"INSERT INTO t VALUES (1)", free, RouteMaster},
		{"UPDATE t SET a = 1", free, RouteMaster},
		{"BEGIN", free, RouteMaster},
		{"START TRANSACTION READ ONLY", free, RouteReplica},
		{"START TRANSACTION READ ONLY", Session{Autocommit: true, Pins: PinTempTable}, RouteMaster},
		{"START TRANSACTION READ ONLY", Session{Autocommit: true, NextTxMaster: true}, RouteMaster},
		{"SELECT * FROM t", Session{Autocommit: true, InTx: true}, RouteTx},
		{"COMMIT", Session{Autocommit: true, InTx: true}, RouteTx},
		{"COMMIT", free, RouteMaster},
		{"SELECT * FROM t", Session{Autocommit: false}, RouteMaster},
		{"SELECT * FROM t", Session{Autocommit: true, Pins: PinUserVar}, RouteMaster},
		{"SELECT LAST_INSERT_ID()", free, RouteMaster},
		{"SELECT GET_LOCK('a', 1)", free, RouteMaster},
		{"SHOW WARNINGS", free, RouteLast},
		{"/* switchyard:master */ SELECT 1", free, RouteMaster},
		{"/* switchyard:replica */ INSERT INTO t VALUES (1)", free, RouteMaster},
		{"SELECT 1; SELECT 2", free, RouteMaster},
		{"SET NAMES utf8mb4", free, RouteMaster},
		{"USE db", free, RouteMaster},
		{"CALL p()", free, RouteMaster},
		{"DO SLEEP(1)", free, RouteMaster},
		{"garbage that nobody understands", free, RouteMaster},
	}
	for _, c := range cases {
		if got := Decide(Classify(c.sql), c.s); got != c.want {
			t.Errorf("Decide(%q, %+v) = %v, want %v", c.sql, c.s, got, c.want)
		}
	}
}

func TestChooseReplica(t *testing.T) {
	rep := func(name string, lag float64, w int, local bool) topology.Node {
		return topology.Node{Name: name, Role: topology.RoleReplica, State: topology.StateUp, LagSeconds: lag,
			Weight: w, Local: local, IOThreadRunning: true, SQLThreadRunning: true}
	}
	master := topology.Node{Name: "m", Role: topology.RoleMaster, State: topology.StateUp, Weight: 1}
	load := map[string]int{"r1": 5, "r2": 1, "r3": 0}
	out := func(n string) int { return load[n] }
	snap := &topology.Snapshot{MasterName: "m", Nodes: []topology.Node{master, rep("r1", 0, 1, false), rep("r2", 0, 1, false), rep("r3", 30, 1, false)}}
	cases := []struct {
		name string
		snap *topology.Snapshot
		o    ReplicaOptions
		want string
		ok   bool
	}{
		{"least outstanding, lagging skipped", snap, ReplicaOptions{MaxLag: 10 * time.Second, Outstanding: out}, "r2", true},
		{"no lag limit: idle lagging one wins", snap, ReplicaOptions{Outstanding: out}, "r3", true},
		{"current kept", snap, ReplicaOptions{MaxLag: 10 * time.Second, Current: "r1", Outstanding: out}, "r1", true},
		{"current lagging is dropped", snap, ReplicaOptions{MaxLag: 10 * time.Second, Current: "r3", Outstanding: out}, "r2", true},
		{"exclude", snap, ReplicaOptions{MaxLag: 10 * time.Second, Exclude: "r2", Outstanding: out}, "r1", true},
		{"local preferred", &topology.Snapshot{Nodes: []topology.Node{rep("a", 0, 1, false), rep("b", 0, 1, true)}}, ReplicaOptions{}, "b", true},
		{"weights", &topology.Snapshot{Nodes: []topology.Node{rep("r1", 0, 1, false), rep("r2", 0, 3, false)}}, ReplicaOptions{Outstanding: func(n string) int { return 2 }}, "r2", true},
		{"weight 0 takes none", &topology.Snapshot{Nodes: []topology.Node{rep("r1", 0, 0, false)}}, ReplicaOptions{}, "", false},
		{"none usable", &topology.Snapshot{Nodes: []topology.Node{master}}, ReplicaOptions{}, "", false},
		{"nil snapshot", nil, ReplicaOptions{}, "", false},
	}
	for _, c := range cases {
		got, ok := ChooseReplica(c.snap, c.o)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: got %q,%v want %q,%v", c.name, got, ok, c.want, c.ok)
		}
	}
	// Ties rotate evenly over the usable replicas, whatever else is in the
	// node list (an earlier version rotated over all nodes: 2/3 of the
	// sessions took the replica listed after the master).
	for _, nodes := range [][]topology.Node{
		{master, rep("r1", 0, 1, false), rep("r2", 0, 1, false)},
		{rep("r1", 0, 1, false), master, rep("r2", 0, 1, false), rep("r3", 99, 1, false)},
	} {
		two := &topology.Snapshot{Nodes: nodes}
		spread := map[string]int{}
		for i := uint32(0); i < 60; i++ {
			n, _ := ChooseReplica(two, ReplicaOptions{Spread: i, MaxLag: time.Second})
			spread[n]++
		}
		if spread["r1"] != 30 || spread["r2"] != 30 {
			t.Errorf("ties did not spread evenly: %v", spread)
		}
	}
	// Sessions choosing one after another balance by sessions per replica,
	// whatever their ids.
	three := &topology.Snapshot{Nodes: []topology.Node{master, rep("r1", 0, 1, false), rep("r2", 0, 1, false), rep("r3", 0, 2, false)}}
	bound := map[string]int{}
	for i := uint32(0); i < 40; i++ {
		n, _ := ChooseReplica(three, ReplicaOptions{Spread: i * 3, Sessions: func(n string) int { return bound[n] }})
		bound[n]++
	}
	if bound["r1"] != 10 || bound["r2"] != 10 || bound["r3"] != 20 {
		t.Errorf("sessions not balanced by weight: %v", bound)
	}
	// Statements in flight break ties between equal session counts only:
	// a replica busy this instant but with fewer sessions still wins.
	two := &topology.Snapshot{Nodes: []topology.Node{master, rep("r1", 0, 1, false), rep("r2", 0, 1, false)}}
	sessions := map[string]int{"r1": 4, "r2": 3}
	inflight := map[string]int{"r1": 0, "r2": 3}
	pick := func() string {
		n, _ := ChooseReplica(two, ReplicaOptions{MaxLag: time.Second,
			Sessions: func(n string) int { return sessions[n] }, Outstanding: func(n string) int { return inflight[n] }})
		return n
	}
	if n := pick(); n != "r2" {
		t.Errorf("fewer sessions lost to fewer statements in flight: chose %s", n)
	}
	sessions["r2"] = 4
	if n := pick(); n != "r1" {
		t.Errorf("equal sessions: the one with fewer statements in flight should win, chose %s", n)
	}
	down := rep("r1", 0, 1, false)
	down.State = topology.StateDown
	stopped := rep("r2", 0, 1, false)
	stopped.SQLThreadRunning = false
	maint := rep("r3", 0, 1, false)
	maint.State = topology.StateMaintenance
	if _, ok := ChooseReplica(&topology.Snapshot{Nodes: []topology.Node{down, stopped, maint}}, ReplicaOptions{}); ok {
		t.Error("down/stopped/maintenance replica chosen")
	}
}
