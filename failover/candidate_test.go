package failover

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/topology"
)

// cands returns the failed master m (unreachable) and replicas r1..r3 at the
// same position with IO threads lost.
func cands() []NodeStatus {
	ns := []NodeStatus{master(), replica("r1", "127.0.0.1:3307"), replica("r2", "127.0.0.1:3308"), replica("r3", "127.0.0.1:3309")}
	down(ns, 0, 3)
	for i := 1; i < len(ns); i++ {
		lostMaster(ns, i)
		ns[i].LagSeconds = 0
	}
	return ns
}

func TestChooseCandidate(t *testing.T) {
	tests := []struct {
		name    string
		bend    func(ns []NodeStatus, o *ChooseOptions)
		winner  string
		err     error
		reason  string // substring of Reason or of the error
		skipped string // "name (why)" substring of skipped list
	}{
		{name: "all equal: configuration order", bend: func([]NodeStatus, *ChooseOptions) {},
			winner: "r1", reason: "tie broken by configuration order"},
		{name: "most advanced executed wins", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[2].GTID = mpos("0-1-105")
		}, winner: "r2", reason: "most advanced position 0-1-105"},
		{name: "received position counts: relay log will be applied", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[2].GTID = mpos("0-1-103")
			ns[3].GTID = mpos("0-1-90")
			ns[3].Received = mpos("0-1-110")
		}, winner: "r3", reason: "0-1-110"},
		{name: "prefer breaks a tie", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[3].Promotion = PromotePrefer
		}, winner: "r3", reason: "tie broken by promotion=prefer"},
		{name: "prefer does not beat a more advanced replica", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].Promotion = PromotePrefer
			ns[1].GTID = mpos("0-1-99")
		}, winner: "r2"},
		{name: "lower lag breaks a tie", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].LagSeconds = 4
			ns[2].LagSeconds = 2
			ns[3].LagSeconds = 3
		}, winner: "r2", reason: "lower lag (2s vs 3s)"},
		{name: "unknown lag sorts last", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].LagSeconds = Unknown
			ns[2].LagSeconds = 50
			ns[3].LagSeconds = Unknown
		}, winner: "r2"},
		{name: "promotion=never is skipped", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].Promotion = PromoteNever
		}, winner: "r2", skipped: "r1 (promotion=never)"},
		{name: "most advanced is promotion=never: refuse", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].Promotion = PromoteNever
			ns[1].GTID = mpos("0-1-101")
		}, err: ErrWouldLoseTransactions, reason: "r1 has 0-1-101"},
		{name: "delayed replica skipped", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].SQLDelay = 3600
			ns[1].GTID = mpos("0-1-40")
			ns[1].Received = mpos("0-1-100")
		}, winner: "r2", skipped: "r1 (delayed replica (MASTER_DELAY=3600))"},
		{name: "broken replica skipped", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].SQLRunning = false
			ns[1].LastSQLError = "Duplicate entry"
		}, winner: "r2", skipped: "r1 (SQL thread error: Duplicate entry)"},
		{name: "broken replica ahead blocks", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].LastSQLError = "Duplicate entry"
			ns[1].Received = mpos("0-1-120")
		}, err: ErrWouldLoseTransactions},
		{name: "unreachable replica skipped even if it was ahead", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			down(ns, 1, 3)
			ns[1].GTID = mpos("0-1-200")
		}, winner: "r2", skipped: "r1 (unreachable)"},
		{name: "maintenance skipped", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].Maintenance = true
		}, winner: "r2", skipped: "r1 (in maintenance)"},
		{name: "replica of another server skipped", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].MasterAddress = "127.0.0.1:3399"
		}, winner: "r2", skipped: "r1 (replicates from 127.0.0.1:3399)"},
		{name: "incomparable MariaDB domains: refuse", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].GTID = mpos("0-1-101,1-2-5")
			ns[2].GTID = mpos("0-1-100,1-2-6")
			ns[3].GTID = mpos("0-1-100,1-2-6")
		}, err: ErrIncomparable, reason: "r1 at 0-1-101,1-2-5"},
		{name: "one replica ahead in every domain", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].GTID = mpos("0-1-100,1-2-5")
			ns[2].GTID = mpos("0-1-101,1-2-6")
			ns[3].GTID = mpos("1-2-6")
		}, winner: "r2"},
		{name: "no eligible candidate", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].Promotion = PromoteNever
			down(ns, 2, 3)
			ns[3].SQLDelay = 10
		}, err: ErrNoCandidate, reason: "r1 (promotion=never), r2 (unreachable), r3 (delayed"},
		{name: "MySQL superset wins", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].GTID = ypos(uuidA + ":1-50")
			ns[2].GTID = ypos(uuidA + ":1-48")
			ns[2].Received = ypos(uuidA + ":1-60")
			ns[3].GTID = ypos(uuidA + ":1-55")
		}, winner: "r2", reason: uuidA + ":1-60"},
		{name: "MySQL errant transaction on one replica: refuse", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].GTID = ypos(uuidA + ":1-50," + uuidB + ":1")
			ns[2].GTID = ypos(uuidA + ":1-60")
			ns[3].GTID = ypos(uuidA + ":1-55")
		}, err: ErrIncomparable},
		{name: "switchover tolerates incomparable positions", bend: func(ns []NodeStatus, o *ChooseOptions) {
			o.Switchover = true
			ns[0].Reachable = true
			ns[1].GTID = mpos("0-1-101,1-2-5")
			ns[2].GTID = mpos("0-1-100,1-2-6")
			ns[2].Promotion = PromotePrefer
			ns[3].GTID = mpos("0-1-99")
		}, winner: "r2"},
		{name: "the failed master is never a candidate", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[0].Role = topology.RoleReplica
			ns[0].Reachable = true
			ns[0].GTID = mpos("0-1-300")
		}, winner: "r1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := cands()
			opts := ChooseOptions{Failed: "m"}
			tt.bend(ns, &opts)
			ch, err := ChooseCandidate(ns, opts)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v (choice %+v)", err, tt.err, ch)
				}
				if ch.Winner != "" {
					t.Errorf("refusal still names winner %s", ch.Winner)
				}
				if !strings.Contains(err.Error(), tt.reason) {
					t.Errorf("error %q does not contain %q", err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if ch.Winner != tt.winner {
				t.Fatalf("winner %s, want %s (%s)", ch.Winner, tt.winner, ch.Reason)
			}
			if !strings.Contains(ch.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", ch.Reason, tt.reason)
			}
			if !strings.Contains(ch.Reason, tt.skipped) {
				t.Errorf("reason %q does not list skipped %q", ch.Reason, tt.skipped)
			}
		})
	}
}

func TestValidateCandidate(t *testing.T) {
	tests := []struct {
		name   string
		target string
		bend   func(ns []NodeStatus, o *ChooseOptions)
		err    error
		msg    string
	}{
		{name: "valid", target: "r3", bend: func([]NodeStatus, *ChooseOptions) {}},
		{name: "unknown node", target: "nope", bend: func([]NodeStatus, *ChooseOptions) {}, err: ErrNotEligible, msg: "not a configured node"},
		{name: "the failed master", target: "m", bend: func([]NodeStatus, *ChooseOptions) {}, err: ErrNotEligible, msg: "master being replaced"},
		{name: "promotion=never", target: "r2", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[2].Promotion = PromoteNever
		}, err: ErrNotEligible, msg: "r2: promotion=never"},
		{name: "unreachable", target: "r2", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			down(ns, 2, 1)
		}, err: ErrNotEligible, msg: "unreachable"},
		{name: "delayed", target: "r1", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[1].SQLDelay = 60
		}, err: ErrNotEligible, msg: "MASTER_DELAY=60"},
		{name: "behind another replica", target: "r1", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[3].GTID = mpos("0-1-104")
		}, err: ErrWouldLoseTransactions, msg: "r3 has 0-1-104"},
		{name: "behind a promotion=never replica", target: "r1", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[3].GTID = mpos("0-1-104")
			ns[3].Promotion = PromoteNever
		}, err: ErrWouldLoseTransactions},
		{name: "behind, but a switchover will catch it up", target: "r1", bend: func(ns []NodeStatus, o *ChooseOptions) {
			o.Switchover = true
			ns[3].GTID = mpos("0-1-104")
		}},
		{name: "a master role node", target: "x", bend: func(ns []NodeStatus, _ *ChooseOptions) {
			ns[3].Name = "x"
			ns[3].Role = topology.RoleMaster
		}, err: ErrNotEligible, msg: "role is master"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := cands()
			opts := ChooseOptions{Failed: "m"}
			tt.bend(ns, &opts)
			ch, err := ValidateCandidate(ns, tt.target, opts)
			if tt.err == nil {
				if err != nil || ch.Winner != tt.target {
					t.Fatalf("got %+v, %v; want winner %s", ch, err, tt.target)
				}
				return
			}
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.err, tt.msg)
			}
			if ch.Winner != "" {
				t.Errorf("refusal names winner %s", ch.Winner)
			}
		})
	}
}
