package failover

import (
	"sync"
	"time"
)

// EventKind classifies an Event.
type EventKind string

const (
	EventFailover    EventKind = "failover"
	EventSwitchover  EventKind = "switchover"
	EventDrill       EventKind = "drill"
	EventNodeState   EventKind = "node-state"
	EventRejoin      EventKind = "rejoin"
	EventFence       EventKind = "fence"
	EventAcknowledge EventKind = "acknowledge"
)

// Outcomes of an Event.
const (
	OutcomeOK      = "ok"
	OutcomeFailed  = "failed"  // tried and did not succeed
	OutcomeRefused = "refused" // not tried: preconditions not met
	OutcomeBlocked = "blocked" // not tried: anti-flapping or automatic failover off
)

// Event is one entry of the Manager's history (the admin port's events
// table).
type Event struct {
	Time    time.Time
	Kind    EventKind
	Node    string // the node concerned (the old master for failovers)
	Reason  string // why it happened
	Detail  string
	Outcome string
	// Durations, where they apply (0 otherwise).
	Detection time.Duration // first failed probe → decision
	Promotion time.Duration // decision → new snapshot published
	Pause     time.Duration // writes held
	Report    *Report       // failovers and switchovers
}

// Report is the outcome of a failover or switchover.
type Report struct {
	Kind      EventKind // failover | switchover
	Auto      bool
	OldMaster string
	Winner    string
	Reason    string // why it ran (analysis, or "operator")
	Choice    string // why the winner won
	Skipped   []Skipped
	Error     string // why it failed, empty on success

	// Timeline. Start is the master's first failed probe (failover) or the
	// command's start (switchover); Detected the decision to act; Held when
	// writes started to be held (Failover=true published); Promoted when the
	// winner accepted writes; Published when the new snapshot went out.
	Start, Detected, Held, Promoted, Published time.Time
	Detection                                  time.Duration // Detected − Start (failover)
	Promotion                                  time.Duration // Published − Detected
	Pause                                      time.Duration // Published − Held: how long writes were held

	// LostGTIDs: acknowledged GTIDs (Options.AckedGTIDs) the winner lacks at
	// promotion; empty when nothing acknowledged was lost.
	LostGTIDs string
	// Phases times each step (choose, pre hook, relay log, promote, repoint,
	// fence, drain, catch up, rejoin, ...), in order.
	Phases   []Phase
	Epoch    uint64   // of the new snapshot
	Warnings []string // steps that failed without failing the whole (a repoint, a hook)
}

// Phase is one timed step of a failover or switchover.
type Phase struct {
	Name string
	Took time.Duration
}

// phaser returns a function that records, under a name, the time since
// its previous call (or since start).
func phaser(r *Report, start time.Time) func(name string) {
	last := start
	return func(name string) {
		now := time.Now()
		r.Phases = append(r.Phases, Phase{Name: name, Took: now.Sub(last)})
		last = now
	}
}

// eventLog is a bounded ring of events.
type eventLog struct {
	mu    sync.Mutex
	limit int
	buf   []Event
	next  int
	full  bool
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if len(l.buf) < l.limit {
		l.buf = append(l.buf, e)
		return
	}
	l.buf[l.next] = e
	l.next = (l.next + 1) % l.limit
	l.full = true
}

// list returns the events oldest first.
func (l *eventLog) list() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Event, 0, len(l.buf))
	if l.full {
		out = append(out, l.buf[l.next:]...)
		return append(out, l.buf[:l.next]...)
	}
	return append(out, l.buf...)
}
