package httpapi

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/failover"
)

// The failover tally must stay monotonic and count each event once, across
// scrapes, equal timestamps and a wrapping event ring.
func TestTally(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ev := func(sec int, k failover.EventKind, outcome string) failover.Event {
		return failover.Event{Time: t0.Add(time.Duration(sec) * time.Second), Kind: k, Outcome: outcome}
	}
	fo, sw, ns := failover.EventFailover, failover.EventSwitchover, failover.EventNodeState
	ok, failed := failover.OutcomeOK, failover.OutcomeFailed
	steps := []struct {
		name   string
		events []failover.Event
		want   map[[2]string]float64
	}{
		{"empty", nil, map[[2]string]float64{{"failover", ok}: 0, {"switchover", ok}: 0}},
		{"first", []failover.Event{ev(1, fo, ok), ev(2, ns, ok)},
			map[[2]string]float64{{"failover", ok}: 1, {"switchover", ok}: 0}},
		{"same again", []failover.Event{ev(1, fo, ok), ev(2, ns, ok)},
			map[[2]string]float64{{"failover", ok}: 1, {"switchover", ok}: 0}},
		{"two at one instant", []failover.Event{ev(1, fo, ok), ev(2, ns, ok), ev(3, sw, ok), ev(3, sw, failed)},
			map[[2]string]float64{{"failover", ok}: 1, {"switchover", ok}: 1, {"switchover", failed}: 1}},
		{"ring wrapped", []failover.Event{ev(3, sw, ok), ev(3, sw, failed), ev(4, fo, failed)},
			map[[2]string]float64{{"failover", ok}: 1, {"switchover", ok}: 1, {"switchover", failed}: 1, {"failover", failed}: 1}},
		{"one more at the last instant", []failover.Event{ev(4, fo, failed), ev(4, sw, ok)},
			map[[2]string]float64{{"failover", ok}: 1, {"switchover", ok}: 2, {"switchover", failed}: 1, {"failover", failed}: 1}},
	}
	c := newCollector(nil, nil, nil)
	for _, s := range steps {
		got := c.tally(s.events)
		if len(got) != len(s.want) {
			t.Fatalf("%s: got %v, want %v", s.name, got, s.want)
		}
		for k, v := range s.want {
			if got[k] != v {
				t.Fatalf("%s: %v = %v, want %v (all: %v)", s.name, k, got[k], v, got)
			}
		}
	}
}
