package failover

import (
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/gtid"
	"github.com/switchyard/switchyard/topology"
)

const (
	mAddr = "127.0.0.1:3306"
	uuidA = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	uuidB = "8a94f357-aab4-11df-86ab-c80aa9429563"
)

func mpos(s string) gtid.Set { return gtid.MustParse(gtid.MariaDB, s) }
func ypos(s string) gtid.Set { return gtid.MustParse(gtid.MySQL, s) }

func master() NodeStatus {
	return NodeStatus{Name: "m", Address: mAddr, Role: topology.RoleMaster, Reachable: true,
		SinceReceived: Unknown, LagSeconds: Unknown, GTID: mpos("0-1-100")}
}

func replica(name, addr string) NodeStatus {
	return NodeStatus{Name: name, Address: addr, Role: topology.RoleReplica, Reachable: true,
		ReadOnly: true, MasterAddress: mAddr, IORunning: true, SQLRunning: true,
		SinceReceived: time.Second, LagSeconds: 0, GTID: mpos("0-1-100")}
}

// testCluster returns a healthy master m with replicas r1 and r2, ready to bend.
func testCluster() []NodeStatus {
	return []NodeStatus{master(), replica("r1", "127.0.0.1:3307"), replica("r2", "127.0.0.1:3308")}
}

// down marks node i unreachable for n probes.
func down(ns []NodeStatus, i, n int) {
	ns[i].Reachable = false
	ns[i].FailedProbes = n
}

// lostMaster makes replica i see its master gone: IO connecting with an error.
func lostMaster(ns []NodeStatus, i int) {
	ns[i].IORunning = false
	ns[i].IOConnecting = true
	ns[i].LastIOError = "error reconnecting to master 'repl@127.0.0.1:3306' - retry-time: 1  maximum-retries: 86400  message: Can't connect to server on '127.0.0.1' (111)"
	ns[i].SinceReceived = 10 * time.Second
	ns[i].LagSeconds = Unknown
}

func TestAnalyze(t *testing.T) {
	tests := []struct {
		name   string
		bend   func(ns []NodeStatus, in *AnalysisInput)
		want   []string // "Code node"
		detail string   // substring of the first problem's Detail
	}{
		{name: "healthy", bend: func([]NodeStatus, *AnalysisInput) {}, want: []string{"NoProblem "}},
		{name: "master failed fewer probes than failcount", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			down(ns, 0, 2)
		}, want: []string{"SuspectMaster m"}, detail: "2/3 failed probes"},
		{name: "network blip: proxy lost the master, replicas still replicate", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			down(ns, 0, 10)
		}, want: []string{"UnreachableMaster m"}, detail: "still replicating: r1, r2"},
		{name: "dead master confirmed by all replicas", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			down(ns, 0, 3)
			lostMaster(ns, 1)
			lostMaster(ns, 2)
		}, want: []string{"DeadMaster m"}, detail: "confirmed by r1, r2"},
		{name: "dead master and some replicas", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			down(ns, 0, 3)
			lostMaster(ns, 1)
			down(ns, 2, 3)
		}, want: []string{"DeadMasterAndSomeReplicas m", "DeadReplica r2"}, detail: "unreachable: r2"},
		{name: "dead master, replica down for fewer probes still counts as unreachable", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			down(ns, 0, 3)
			lostMaster(ns, 1)
			down(ns, 2, 1)
		}, want: []string{"DeadMasterAndSomeReplicas m"}},
		{name: "everything unreachable: cannot confirm, no candidate", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			down(ns, 0, 3)
			down(ns, 1, 3)
			down(ns, 2, 3)
		}, want: []string{"DeadMasterAndReplicas m", "DeadReplica r1", "DeadReplica r2"}, detail: "cannot confirm"},
		{name: "dead master without replicas", bend: func(ns []NodeStatus, in *AnalysisInput) {
			in.Nodes = ns[:1]
			down(ns, 0, 3)
		}, want: []string{"DeadMasterWithoutReplicas m"}},
		{name: "silent master: IO thread still Yes but nothing received within grace", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			down(ns, 0, 3)
			ns[1].SinceReceived = 6 * time.Second
			ns[2].SinceReceived = 7 * time.Second
		}, want: []string{"DeadMaster m"}},
		{name: "silent master but grace check disabled", bend: func(ns []NodeStatus, in *AnalysisInput) {
			in.GracePeriod = 0
			down(ns, 0, 3)
			ns[1].SinceReceived = time.Hour
			ns[2].SinceReceived = time.Hour
		}, want: []string{"UnreachableMaster m"}},
		{name: "IO running with unknown receive time denies", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			down(ns, 0, 3)
			lostMaster(ns, 1)
			ns[2].SinceReceived = Unknown
		}, want: []string{"UnreachableMaster m"}, detail: "still replicating: r2"},
		{name: "one replica confirms, the other still replicates", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			down(ns, 0, 5)
			lostMaster(ns, 1)
		}, want: []string{"UnreachableMaster m"}, detail: "still replicating: r2"},
		{name: "replication stopped cleanly everywhere: no witness", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			down(ns, 0, 3)
			for i := 1; i <= 2; i++ {
				ns[i].IORunning, ns[i].SQLRunning = false, false
			}
		}, want: []string{"UnreachableMaster m"}, detail: "no replica can confirm"},
		{name: "clean stop abstains, error confirms", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			down(ns, 0, 3)
			ns[1].IORunning = false
			ns[2].IORunning = false
			ns[2].LastIOError = "Lost connection to server during query"
		}, want: []string{"DeadMaster m"}, detail: "confirmed by r2"},
		{name: "replica of another server is no witness", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			down(ns, 0, 3)
			lostMaster(ns, 1)
			ns[2].MasterAddress = "127.0.0.1:3399"
		}, want: []string{"DeadMaster m", "ReplicaWrongMaster r2"}, detail: "confirmed by r1"},
		{name: "failcount below 1 means 1", bend: func(ns []NodeStatus, in *AnalysisInput) {
			in.FailCount = 0
			down(ns, 0, 1)
			lostMaster(ns, 1)
			lostMaster(ns, 2)
		}, want: []string{"DeadMaster m"}, detail: "1/1 failed probes"},
		{name: "dead master and a broken replica", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			down(ns, 0, 3)
			lostMaster(ns, 1)
			lostMaster(ns, 2)
			ns[2].SQLRunning = false
			ns[2].LastSQLError = "Duplicate entry '1' for key 'PRIMARY'"
		}, want: []string{"DeadMaster m", "ReplicationStopped r2"}},
		{name: "two writable nodes", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			ns[2].ReadOnly = false
		}, want: []string{"TwoWritableMasters "}, detail: "m, r2"},
		{name: "unreachable writable node is not counted", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			ns[2].ReadOnly = false
			down(ns, 2, 1)
		}, want: []string{"NoProblem "}},
		{name: "read-only master", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			ns[0].ReadOnly = true
		}, want: []string{"ReadOnlyMaster m"}},
		{name: "dead replica", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			down(ns, 1, 3)
		}, want: []string{"DeadReplica r1"}},
		{name: "lagging replica", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			ns[2].LagSeconds = 45
		}, want: []string{"LaggingReplica r2"}, detail: "45s behind, max 30s"},
		{name: "lag unknown or maintenance is no alarm", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			ns[1].LagSeconds = Unknown
			ns[2].LagSeconds = 500
			ns[2].Maintenance = true
		}, want: []string{"NoProblem "}},
		{name: "replication stopped with IO error while master is up", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			ns[1].IORunning = false
			ns[1].LastIOError = "Got fatal error 1236 from master"
		}, want: []string{"ReplicationStopped r1"}, detail: "IO thread stopped; IO error: Got fatal error 1236"},
		{name: "diverged replica refused by the master's binlog (MariaDB)", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			ns[1].IORunning = false
			ns[1].LastIOError = "Got fatal error 1236 from master when reading data from binary log: 'Error: connecting slave requested to start from GTID 0-1-16, which is not in the master's binlog. Since the master's binlog contains GTIDs with higher sequence numbers, it probably means that the slave has diverged due to executing extra erroneous transactions'"
		}, want: []string{"ErrantGTID r1"}, detail: "diverged: its GTID position is not in its master's binlog"},
		{name: "SQL thread stopped without error", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			ns[2].SQLRunning = false
		}, want: []string{"ReplicationStopped r2"}, detail: "SQL thread stopped"},
		{name: "errant GTID MariaDB", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			ns[1].GTID = mpos("0-1-100,7-12-3")
		}, want: []string{"ErrantGTID r1"}, detail: "has 7-12-3 that master m lacks"},
		{name: "errant GTID MySQL", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			ns[0].GTID = ypos(uuidA + ":1-100")
			ns[1].GTID = ypos(uuidA + ":1-90")
			ns[2].GTID = ypos(uuidA + ":1-100," + uuidB + ":1-2")
		}, want: []string{"ErrantGTID r2"}, detail: uuidB + ":1-2"},
		{name: "replica behind is not errant", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			ns[1].GTID = mpos("0-1-50")
		}, want: []string{"NoProblem "}},
		{name: "no master known", bend: func(ns []NodeStatus, in *AnalysisInput) {
			in.Master = ""
			ns[0].Role = topology.RoleUnknown
			ns[0].ReadOnly = true
		}, want: []string{"NoMaster "}},
		{name: "master found by role when not named", bend: func(ns []NodeStatus, in *AnalysisInput) {
			in.Master = ""
		}, want: []string{"NoProblem "}},
		{name: "named master not configured", bend: func(ns []NodeStatus, in *AnalysisInput) {
			in.Master = "ghost"
		}, want: []string{"NoMaster "}, detail: `"ghost"`},
		{name: "replica pointing elsewhere", bend: func(ns []NodeStatus, _ *AnalysisInput) {
			ns[1].MasterAddress = "127.0.0.1:3308"
		}, want: []string{"ReplicaWrongMaster r1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := testCluster()
			in := AnalysisInput{Master: "m", Nodes: ns, FailCount: 3, GracePeriod: 5 * time.Second, MaxLag: 30}
			tt.bend(ns, &in)
			got := Analyze(in)
			var codes []string
			for _, p := range got {
				codes = append(codes, string(p.Code)+" "+p.Node)
			}
			if strings.Join(codes, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("got %q, want %q\n%v", codes, tt.want, got)
			}
			if tt.detail != "" && !strings.Contains(got[0].Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", got[0].Detail, tt.detail)
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	p := Problem{Code: DeadReplica, Node: "r1", Detail: "3 consecutive failed probes"}
	if got := p.String(); got != "DeadReplica r1: 3 consecutive failed probes" {
		t.Errorf("String() = %q", got)
	}
	if got := (Problem{Code: NoProblem}).String(); got != "NoProblem" {
		t.Errorf("String() = %q", got)
	}
}

func TestCodeFailover(t *testing.T) {
	for _, c := range []Code{NoProblem, DeadMaster, DeadMasterAndSomeReplicas, DeadMasterAndReplicas,
		DeadMasterWithoutReplicas, SuspectMaster, UnreachableMaster, NoMaster, TwoWritableMasters,
		ReadOnlyMaster, DeadReplica, LaggingReplica, ReplicationStopped, ErrantGTID, ReplicaWrongMaster} {
		want := c == DeadMaster || c == DeadMasterAndSomeReplicas
		if c.Failover() != want {
			t.Errorf("%s.Failover() = %v", c, !want)
		}
	}
}

func TestStatusFromNode(t *testing.T) {
	n := topology.Node{Name: "r1", Address: "127.0.0.1:3307", Role: topology.RoleReplica, State: topology.StateUp,
		ReadOnly: true, Flavor: "mariadb", MasterAddress: mAddr, IOThreadRunning: true, SQLThreadRunning: true,
		LagSeconds: 2, GTIDExecuted: "1-2-5,0-1-100", Promotion: "prefer"}
	s, err := StatusFromNode(n)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Reachable || s.GTID.String() != "0-1-100,1-2-5" || s.Promotion != PromotePrefer || s.SinceReceived != Unknown || !s.IORunning {
		t.Errorf("unexpected status %+v", s)
	}
	n.State = topology.StateMaintenance
	if s, _ := StatusFromNode(n); !s.Maintenance {
		t.Error("maintenance not carried over")
	}
	n.GTIDExecuted = "garbage"
	if _, err := StatusFromNode(n); err == nil || !strings.Contains(err.Error(), "r1") {
		t.Errorf("want error naming the node, got %v", err)
	}
	n.GTIDExecuted, n.Flavor = "0-1-1", "oracle"
	if _, err := StatusFromNode(n); err == nil {
		t.Error("unknown flavour accepted")
	}
}
