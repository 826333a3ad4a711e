package failover

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/gtid"
	"github.com/switchyard/switchyard/topology"
)

// Hooks are command lines run around a failover; see HookFacts for their
// placeholders and environment. Each is split into argv (no shell) and run
// with Timeout.
type Hooks struct {
	PreFailover              string // non-zero exit or timeout aborts the failover
	PostFailover             string // best effort, in the background
	PostUnsuccessfulFailover string // best effort, in the background
	Timeout                  time.Duration
}

// Options configure a Manager. The embedded MonitorOptions configure the
// probes (User/Password is also the account that promotes, repoints and
// fences: it needs SUPER or the equivalent privileges).
type Options struct {
	MonitorOptions
	Cluster string // name given to hooks

	// ReplUser/ReplPassword: the account replicas use in CHANGE MASTER.
	ReplUser, ReplPassword string

	Automatic   bool          // fail over on DeadMaster without an operator
	BlockPeriod time.Duration // anti-flapping: no second automatic failover within this
	SemiSync    bool          // set semi-sync roles (master on the winner, replica on the others)
	Hooks       Hooks
	// PromoteCommand replaces the built-in promotion; the winner is then
	// verified writable and not replicating before it takes writes.
	PromoteCommand string
	// HeartbeatPeriod is set as MASTER_HEARTBEAT_PERIOD on every replica
	// the Manager points somewhere; default GracePeriod/4 capped to 1s
	// (at least 100ms), so silence is noticed within the grace period.
	HeartbeatPeriod time.Duration
	// CatchupTimeout bounds waiting for a winner's relay log to be applied,
	// and for a switchover target to catch up; default 5s.
	CatchupTimeout time.Duration
	// DrainTimeout bounds Drain during a switchover; default 2s.
	DrainTimeout time.Duration

	// AckedGTIDs returns the GTIDs of writes the proxy acknowledged, for the
	// lost-write audit; nil: no audit.
	AckedGTIDs func() gtid.Set
	// Drain waits until no statement runs on the master (writes are held
	// while it runs); nil: no wait.
	Drain func(context.Context) error
	// EventLimit is the size of the event ring; default 256.
	EventLimit int
}

// Manager runs the monitor, analyses every probe round and fails over,
// switches over, fences and rejoins. Its methods are safe for concurrent use;
// one failover/switchover/rejoin runs at a time.
type Manager struct {
	o   Options
	mon *Monitor
	log *slog.Logger

	bg     context.Context // background hooks; cancelled by Close
	cancel context.CancelFunc
	hooks  sync.WaitGroup

	op sync.Mutex // held by failover, switchover, rejoin

	dbMu sync.Mutex
	dbs  map[string]*sql.DB

	events eventLog

	mu         sync.Mutex // guards below
	flap       Flap
	problems   []Problem
	noted      map[string]bool      // one event per incident for repeated findings
	gaveUp     string               // master whose automatic failover failed: no retry loop
	lastMaster string               // master replaced or lost by the last failover
	rejoinTry  map[string]time.Time // last rejoin attempt per fenced node
	// forks is, per old master replaced by a failover, the winner's GTID
	// position when it was promoted: everything the new lineage got from
	// the old master. Anything the old master has beyond it never reached
	// the new master. MariaDB positions compare by sequence only, so the
	// new master's later writes would otherwise hide such a divergence.
	forks map[string]gtid.Set
}

// Errors returned by the commands.
var (
	ErrMasterAlive  = errors.New("master is reachable")
	ErrNoMaster     = errors.New("no master")
	ErrBusy         = errors.New("another failover or switchover is running")
	ErrUnknownNode  = errors.New("unknown node")
	ErrInvalidState = errors.New("invalid operator state")
)

// New builds a Manager; Run starts it.
func New(o Options) *Manager {
	if o.Hooks.Timeout <= 0 {
		o.Hooks.Timeout = 30 * time.Second
	}
	if o.HeartbeatPeriod <= 0 {
		o.HeartbeatPeriod = min(max(o.GracePeriod/4, 100*time.Millisecond), time.Second)
	}
	if o.CatchupTimeout <= 0 {
		o.CatchupTimeout = 5 * time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 2 * time.Second
	}
	if o.EventLimit <= 0 {
		o.EventLimit = 256
	}
	if o.ReplUser == "" {
		o.ReplUser, o.ReplPassword = o.User, o.Password
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	mon := NewMonitor(o.MonitorOptions)
	o.MonitorOptions = mon.o // the defaults applied
	bg, cancel := context.WithCancel(context.Background())
	return &Manager{o: o, mon: mon, log: o.Logger, bg: bg, cancel: cancel,
		dbs: map[string]*sql.DB{}, events: eventLog{limit: o.EventLimit},
		flap: Flap{Block: o.BlockPeriod}, noted: map[string]bool{}, rejoinTry: map[string]time.Time{},
		forks: map[string]gtid.Set{}}
}

// Store returns the store snapshots are published to.
func (m *Manager) Store() *topology.Store { return m.mon.o.Store }

// Probe runs one probe round and publishes it (no analysis, no action).
func (m *Manager) Probe(ctx context.Context) *topology.Snapshot { return m.mon.Probe(ctx) }

// Run probes, analyses and acts every interval until ctx ends, then closes
// the manager (waits for background hooks, closes connections).
func (m *Manager) Run(ctx context.Context) {
	defer m.Close()
	t := time.NewTicker(m.o.Interval)
	defer t.Stop()
	for {
		m.Step(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops background hooks and closes connections.
func (m *Manager) Close() {
	m.cancel()
	m.hooks.Wait()
	m.mon.close()
	m.closeDBs()
}

// Step is one probe round followed by analysis and the actions it calls
// for (automatic failover, fencing and rejoining old masters).
func (m *Manager) Step(ctx context.Context) {
	m.mon.round(ctx)
	snap := m.mon.publish()
	st := m.mon.statuses()
	problems := Analyze(AnalysisInput{Master: snap.MasterName, Nodes: st, FailCount: m.o.FailCount,
		GracePeriod: m.o.GracePeriod, MaxLag: m.o.MaxLag.Seconds()})
	m.mu.Lock()
	m.problems = problems
	m.mu.Unlock()
	if snap.Failover || ctx.Err() != nil || !m.op.TryLock() {
		return // an operation is running; it owns the cluster meanwhile
	}
	defer m.op.Unlock()

	if ms, ok := statusOf(st, snap.MasterName); ok && ms.Reachable {
		m.mu.Lock()
		if m.gaveUp == ms.Name {
			m.gaveUp = ""
		}
		for k := range m.noted {
			if !strings.HasPrefix(k, "errant:") {
				delete(m.noted, k)
			}
		}
		m.mu.Unlock()
	}
	for _, p := range problems {
		if p.Code.Failover() && p.Node == snap.MasterName {
			m.autoFailover(ctx, p)
			return
		}
	}
	m.tendFenced(ctx, snap, st)
}

// Problems returns the last analysis.
func (m *Manager) Problems() []Problem {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Problem(nil), m.problems...)
}

// Events returns the event history, oldest first.
func (m *Manager) Events() []Event { return m.events.list() }

// RecordEvent adds an event (drills run elsewhere record theirs here).
func (m *Manager) RecordEvent(e Event) { m.events.add(e) }

// Acknowledge lifts the anti-flapping block.
func (m *Manager) Acknowledge() {
	m.mu.Lock()
	m.flap.Acknowledge()
	clear(m.noted)
	m.mu.Unlock()
	m.events.add(Event{Kind: EventAcknowledge, Reason: "operator acknowledged the last failover", Outcome: OutcomeOK})
}

// Blocked reports whether automatic failover is blocked, and until when.
func (m *Manager) Blocked() (bool, time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.flap.Blocked(time.Now())
}

// SetNodeState sets an operator state: StateMaintenance or StateOffline
// (no new traffic, never a candidate), or StateUp to clear it. It persists
// across probes and is published at once.
func (m *Manager) SetNodeState(name string, state topology.State) error {
	if _, ok := m.nodeConfig(name); !ok {
		return fmt.Errorf("%w %q", ErrUnknownNode, name)
	}
	if !validOperatorState(state) {
		return fmt.Errorf("%w %q: use %s, %s or %s", ErrInvalidState, state,
			topology.StateUp, topology.StateMaintenance, topology.StateOffline)
	}
	m.mon.update(func(c *control) {
		if state == topology.StateUp {
			delete(c.op, name)
		} else {
			c.op[name] = state
		}
	})
	m.events.add(Event{Kind: EventNodeState, Node: name, Reason: "set by operator", Detail: string(state), Outcome: OutcomeOK})
	return nil
}

// noteOnce records an event once per incident (until the master is seen
// healthy again or an operator acknowledges).
func (m *Manager) noteOnce(key string, e Event) {
	m.mu.Lock()
	seen := m.noted[key]
	m.noted[key] = true
	m.mu.Unlock()
	if !seen {
		m.log.Warn(e.Reason, "node", e.Node, "detail", e.Detail)
		m.events.add(e)
	}
}

func (m *Manager) autoFailover(ctx context.Context, p Problem) {
	now := time.Now()
	m.mu.Lock()
	gaveUp := m.gaveUp == p.Node
	blocked, until := m.flap.Blocked(now)
	m.mu.Unlock()
	switch {
	case gaveUp:
		return // reported already; an operator may run FAILOVER
	case !m.o.Automatic:
		m.noteOnce("off:"+p.Node, Event{Kind: EventFailover, Node: p.Node, Reason: string(p.Code) + ": automatic failover is disabled",
			Detail: p.Detail, Outcome: OutcomeBlocked})
		return
	case blocked:
		m.noteOnce("blocked:"+p.Node, Event{Kind: EventFailover, Node: p.Node,
			Reason: string(p.Code) + ": automatic failover blocked by anti-flapping until " + until.Format(time.RFC3339) + " (ACKNOWLEDGE FAILOVER lifts it)",
			Detail: p.Detail, Outcome: OutcomeBlocked})
		return
	}
	_, _ = m.failover(ctx, failRequest{auto: true, old: p.Node, code: p.Code, reason: string(p.Code) + ": " + p.Detail,
		start: m.mon.firstFailure(p.Node), detected: now})
}

// Failover is a forced failover of a dead master, for operators: it ignores
// the anti-flapping block. target may be empty (best candidate). It refuses
// while the master answers probes (use Switchover).
func (m *Manager) Failover(ctx context.Context, target string) (Report, error) {
	if !m.op.TryLock() {
		return Report{Kind: EventFailover}, ErrBusy
	}
	defer m.op.Unlock()
	m.mon.round(ctx)
	snap := m.mon.publish()
	old := snap.MasterName
	if old == "" {
		m.mu.Lock()
		old = m.lastMaster
		m.mu.Unlock()
	}
	if old == "" {
		return Report{Kind: EventFailover}, fmt.Errorf("%w known: nothing to fail over from", ErrNoMaster)
	}
	if s, ok := statusOf(m.mon.statuses(), old); ok && s.Reachable && !s.ReadOnly {
		return Report{Kind: EventFailover, OldMaster: old},
			fmt.Errorf("%w: %s answers probes and is writable; use SWITCHOVER", ErrMasterAlive, old)
	}
	now := time.Now()
	start := m.mon.firstFailure(old)
	if start.IsZero() {
		start = now
	}
	return m.failover(ctx, failRequest{old: old, target: target, code: DeadMaster, reason: "operator command", start: start, detected: now})
}

type failRequest struct {
	auto            bool
	old, target     string
	code            Code
	reason          string
	start, detected time.Time
}

// failover replaces a dead master. The caller holds m.op.
func (m *Manager) failover(ctx context.Context, req failRequest) (Report, error) {
	rep := Report{Kind: EventFailover, Auto: req.auto, OldMaster: req.old, Reason: req.reason,
		Start: req.start, Detected: req.detected}
	if !rep.Start.IsZero() {
		rep.Detection = rep.Detected.Sub(rep.Start)
	}
	log := m.log.With("op", "failover", "old", req.old, "auto", req.auto)
	log.Warn("failover starting", "reason", req.reason)

	// Hold writes at once: nobody is master until the winner is ready.
	m.mon.update(func(c *control) { c.master, c.failover = "", true })
	rep.Held = time.Now()
	mark := phaser(&rep, rep.Held)
	m.mu.Lock()
	m.lastMaster = req.old
	m.mu.Unlock()

	oldNode, _ := m.mon.node(req.old)
	facts := HookFacts{Cluster: m.o.Cluster, Kind: string(EventFailover), Auto: req.auto, Reason: req.code,
		FailedNode: req.old, FailedAddress: m.addr(req.old), FailedGTID: oldNode.GTIDExecuted}

	fail := func(err error) (Report, error) {
		rep.Error = err.Error()
		m.mon.update(func(c *control) { c.master, c.failover = "", false })
		rep.Published = time.Now()
		if req.auto {
			m.mu.Lock()
			m.gaveUp = req.old
			m.mu.Unlock()
		}
		facts.Error = rep.Error
		m.runHookAsync("post_unsuccessful_failover", m.o.Hooks.PostUnsuccessfulFailover, facts)
		log.Error("failover failed", "err", err)
		r := rep
		m.events.add(Event{Kind: EventFailover, Node: req.old, Reason: req.reason, Detail: rep.Error,
			Outcome: OutcomeFailed, Detection: rep.Detection, Report: &r})
		return rep, err
	}

	st := m.mon.statuses()
	var ch Choice
	var err error
	opts := ChooseOptions{Failed: req.old}
	if req.target != "" {
		ch, err = ValidateCandidate(st, req.target, opts)
	} else {
		ch, err = ChooseCandidate(st, opts)
	}
	rep.Skipped, rep.Choice = ch.Skipped, ch.Reason
	if err != nil {
		return fail(fmt.Errorf("no promotion: %w", err))
	}
	mark("choose")
	rep.Winner = ch.Winner
	facts.Successor, facts.SuccessorAddress, facts.SuccessorGTID = ch.Winner, m.addr(ch.Winner), ch.Position.String()
	facts.LostGTIDs = m.lost(ch.Position)
	log = log.With("winner", ch.Winner)
	log.Info("candidate chosen", "why", ch.Reason)

	// Fence the old master in parallel: when it hangs rather than refuses,
	// the attempt must not delay the promotion beyond its own timeout.
	fenced := make(chan error, 1)
	go func() {
		st, err := Fence(m.dialect(req.old))
		if err == nil {
			fctx, cancel := context.WithTimeout(ctx, m.o.Timeout)
			err = m.run(fctx, req.old, m.o.Timeout, st)
			cancel()
		}
		fenced <- err
	}()
	defer func() { <-fenced }() // never leave it behind (it is bounded)

	if err := m.runHook(ctx, "pre_failover", m.o.Hooks.PreFailover, facts); err != nil {
		return fail(fmt.Errorf("aborted by hook: %w", err))
	}
	mark("pre_failover hook")

	d := m.dialect(ch.Winner)
	if ws, _ := statusOf(st, ch.Winner); !ws.SQLRunning {
		// A cleanly stopped SQL thread: restart it so the relay log is applied.
		if step, err := StartSQLThread(d); err == nil {
			if err := m.run(ctx, ch.Winner, m.o.Timeout, step); err != nil {
				log.Warn("could not start the SQL thread", "err", err)
			}
		}
	}
	if err := m.waitPosition(ctx, ch.Winner, ch.Position, m.o.CatchupTimeout); err != nil {
		return fail(fmt.Errorf("relay log not applied: %w", err))
	}
	mark("apply relay log")
	if err := m.promote(ctx, ch.Winner, facts); err != nil {
		return fail(err)
	}
	rep.Promoted = time.Now()
	mark("promote")
	fork := ch.Position
	if pos, err := m.position(ctx, ch.Winner, "gtid_current_pos"); err == nil {
		facts.SuccessorGTID = pos.String()
		facts.LostGTIDs = m.lost(pos)
		fork = pos
	}
	m.mu.Lock()
	m.forks[req.old] = fork
	m.mu.Unlock()
	rep.LostGTIDs = facts.LostGTIDs

	rep.Warnings = append(rep.Warnings, m.repointAll(ctx, ch.Winner, req.old, st)...)
	mark("repoint")
	if m.o.SemiSync {
		if err := m.semiSync(ctx, ch.Winner, SemiSyncMaster); err != nil {
			rep.Warnings = append(rep.Warnings, err.Error())
		}
		mark("semi-sync")
	}
	select {
	case err := <-fenced:
		if err != nil {
			rep.Warnings = append(rep.Warnings, "old master not reachable to fence (kept out of traffic): "+err.Error())
		}
		fenced <- err // for the deferred receive
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	mark("fence old master")

	snap := m.publishMaster(ch.Winner, req.old, "old master, replaced by "+ch.Winner+" at "+time.Now().Format(time.RFC3339))
	rep.Published, rep.Epoch = time.Now(), snap.Epoch
	mark("publish")
	rep.Promotion = rep.Published.Sub(rep.Detected)
	rep.Pause = rep.Published.Sub(rep.Held)
	m.mu.Lock()
	m.flap.RecordFailover(rep.Published)
	m.gaveUp = ""
	m.mu.Unlock()
	log.Warn("failover done", "epoch", snap.Epoch, "detection", rep.Detection, "promotion", rep.Promotion,
		"lost_gtids", rep.LostGTIDs, "phases", phasesText(rep.Phases), "warnings", strings.Join(rep.Warnings, "; "))
	m.runHookAsync("post_failover", m.o.Hooks.PostFailover, facts)
	r := rep
	m.events.add(Event{Kind: EventFailover, Node: req.old, Reason: req.reason,
		Detail:  "promoted " + ch.Winner + ": " + ch.Reason + lostText(rep.LostGTIDs) + warnText(rep.Warnings),
		Outcome: OutcomeOK, Detection: rep.Detection, Promotion: rep.Promotion, Pause: rep.Pause, Report: &r})
	return rep, nil
}

// lost is the acknowledged-write audit: acknowledged GTIDs pos lacks.
func (m *Manager) lost(pos gtid.Set) string {
	if m.o.AckedGTIDs == nil {
		return ""
	}
	acked := m.o.AckedGTIDs()
	if acked.IsEmpty() {
		return ""
	}
	return gtid.Errant(acked, pos).String()
}

func lostText(l string) string {
	if l == "" {
		return ""
	}
	return "; LOST acknowledged GTIDs " + l
}

func warnText(w []string) string {
	if len(w) == 0 {
		return ""
	}
	return "; warnings: " + strings.Join(w, "; ")
}

// promote makes the winner the master: the built-in steps, or the
// promote_command followed by a check.
func (m *Manager) promote(ctx context.Context, name string, facts HookFacts) error {
	if m.o.PromoteCommand != "" {
		if err := m.runHook(ctx, "promote_command", m.o.PromoteCommand, facts); err != nil {
			return fmt.Errorf("promotion failed: %w", err)
		}
		if err := m.verifyPromoted(ctx, name); err != nil {
			return fmt.Errorf("promotion not verified: %w", err)
		}
		return nil
	}
	st, err := Promote(m.dialect(name))
	if err != nil {
		return err
	}
	if err := m.run(ctx, name, m.o.CatchupTimeout, st); err != nil {
		return fmt.Errorf("promotion failed: %w", err)
	}
	return nil
}

// repointAll points every reachable replica but the winner and the old
// master at the winner; failures are returned as warnings.
func (m *Manager) repointAll(ctx context.Context, winner, old string, st []NodeStatus) []string {
	src, err := m.source(winner)
	if err != nil {
		return []string{err.Error()}
	}
	var warnings []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range st {
		if s.Name == winner || s.Name == old || !s.Reachable || s.Role != topology.RoleReplica {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.repoint(ctx, s.Name, src); err != nil {
				mu.Lock()
				warnings = append(warnings, "repoint "+s.Name+": "+err.Error())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return warnings
}

func (m *Manager) repoint(ctx context.Context, name string, src Source) error {
	return m.replicateFrom(ctx, name, src, Repoint)
}

// replicateFrom makes node name a replica of src with the step build
// produces (Repoint or Rejoin), semi-sync replica side first when enabled.
func (m *Manager) replicateFrom(ctx context.Context, name string, src Source, build func(Dialect, Source) (Step, error)) error {
	d := m.dialect(name)
	st, err := build(d, src)
	if err != nil {
		return err
	}
	var steps []Step
	if m.o.SemiSync {
		ss, err := SemiSync(d, SemiSyncReplica)
		if err != nil {
			return err
		}
		steps = append(steps, ss)
	}
	return m.run(ctx, name, m.o.CatchupTimeout, append(steps, st)...)
}

func (m *Manager) semiSync(ctx context.Context, name string, role SemiSyncRole) error {
	st, err := SemiSync(m.dialect(name), role)
	if err != nil {
		return err
	}
	return m.run(ctx, name, m.o.Timeout, st)
}

// publishMaster publishes winner as master of a new epoch, with old fenced
// (why).
func (m *Manager) publishMaster(winner, old, why string) *topology.Snapshot {
	return m.mon.update(func(c *control) {
		c.master, c.failover = winner, false
		c.epoch++
		delete(c.fenced, winner)
		c.fenced[old] = why
		// The last probe still shows the winner as a replica: say what it is now.
		for i := range m.mon.nodes {
			switch m.mon.nodes[i].Name {
			case winner:
				n := &m.mon.nodes[i]
				n.Role, n.ReadOnly, n.State = topology.RoleMaster, false, topology.StateUp
				n.MasterAddress, n.IOThreadRunning, n.SQLThreadRunning, n.IOConnecting = "", false, false, false
				n.LagSeconds = Unknown
			}
		}
	})
}

func (m *Manager) addr(name string) string {
	nc, _ := m.nodeConfig(name)
	return nc.replAddr()
}

// tendFenced keeps fenced nodes read_only and rejoins them as replicas of
// the master when their GTIDs are a subset of its; otherwise reports their
// errant transactions and keeps them out. The caller holds m.op.
func (m *Manager) tendFenced(ctx context.Context, snap *topology.Snapshot, st []NodeStatus) {
	ms, masterOK := statusOf(st, snap.MasterName)
	masterOK = masterOK && ms.Reachable
	for _, n := range snap.Nodes {
		if n.State != topology.StateFenced {
			continue
		}
		s, _ := statusOf(st, n.Name)
		if !s.Reachable {
			continue
		}
		if !s.ReadOnly {
			step, err := Fence(m.dialect(n.Name))
			if err == nil {
				err = m.run(ctx, n.Name, m.o.Timeout, step)
			}
			outcome, detail := OutcomeOK, "read_only=1 set on return"
			if err != nil {
				outcome, detail = OutcomeFailed, err.Error()
			}
			m.events.add(Event{Kind: EventFence, Node: n.Name, Reason: "old master back and writable", Detail: detail, Outcome: outcome})
			if err != nil {
				continue
			}
		}
		if !masterOK {
			continue // fenced, but nothing to rejoin to yet
		}
		if errant := m.errant(n.Name, n.ServerID, s.GTID, ms.GTID); !errant.IsEmpty() {
			why := fmt.Sprintf(errantNote+"%s not on master %s: kept out", errant, ms.Name)
			m.mon.update(func(c *control) { c.fenced[n.Name] = why })
			m.noteOnce("errant:"+n.Name+":"+errant.String(), Event{Kind: EventRejoin, Node: n.Name,
				Reason: "old master has transactions the master lacks", Detail: why, Outcome: OutcomeRefused})
			continue
		}
		m.mu.Lock()
		last := m.rejoinTry[n.Name]
		if time.Since(last) < 5*time.Second {
			m.mu.Unlock()
			continue
		}
		m.rejoinTry[n.Name] = time.Now()
		m.mu.Unlock()
		if err := m.rejoin(ctx, n.Name, ms.Name); err != nil {
			m.events.add(Event{Kind: EventRejoin, Node: n.Name, Reason: "rejoin as replica of " + ms.Name, Detail: err.Error(), Outcome: OutcomeFailed})
			continue
		}
		m.mon.update(func(c *control) { delete(c.fenced, n.Name) })
		m.mu.Lock()
		delete(m.forks, n.Name)
		m.mu.Unlock()
		m.log.Info("old master rejoined as a replica", "node", n.Name, "master", ms.Name)
		m.events.add(Event{Kind: EventRejoin, Node: n.Name, Reason: "old master's GTIDs are a subset of " + ms.Name + "'s",
			Detail: "replicating from " + ms.Name, Outcome: OutcomeOK})
	}
}

// errantNote starts the note of an old master kept out as diverged.
const errantNote = "errant GTIDs "

// Diverged reports whether a node is an old master kept out because it has
// transactions the master lacks; it will not rejoin without a rebuild.
func Diverged(n topology.Node) bool {
	return n.State == topology.StateFenced && strings.HasPrefix(n.Note, errantNote)
}

// errant is what a returning old master has that the master lacks: beyond
// the master's position, or (MariaDB) written by itself beyond the fork point
// recorded when a failover replaced it.
func (m *Manager) errant(name string, self uint32, pos, master gtid.Set) gtid.Set {
	e := gtid.Errant(pos, master)
	m.mu.Lock()
	fork, ok := m.forks[name]
	m.mu.Unlock()
	if !ok {
		return e
	}
	if u, err := e.Union(forkErrant(pos, fork, self)); err == nil {
		return u
	}
	return e
}

// forkErrant is what an old master (server id self) wrote past fork, the
// position its successor had when promoted. A MariaDB position is one
// domain-server-seq per domain, and the new master's own writes soon pass
// the old master's sequence: only the fork point tells that 0-1-16 on the
// old master never reached a new master at 0-2-20. Only triples the old
// master wrote itself count: a node rebuilt from the new master carries the
// new lineage's triples, past the fork but not errant. MySQL positions are
// exact sets and need none of this.
func forkErrant(pos, fork gtid.Set, self uint32) gtid.Set {
	if pos.Flavor() != gtid.MariaDB || fork.Flavor() != gtid.MariaDB || fork.IsEmpty() {
		return gtid.Set{}
	}
	var out gtid.MariaPos
	for _, g := range pos.MariaDB().Ahead(fork.MariaDB()) {
		if g.Server == self {
			out = append(out, g)
		}
	}
	return gtid.FromMariaDB(out)
}

// rejoin makes an old master a replica of master.
func (m *Manager) rejoin(ctx context.Context, name, master string) error {
	src, err := m.source(master)
	if err != nil {
		return err
	}
	return m.replicateFrom(ctx, name, src, Rejoin)
}

// Switchover is a planned change of master to target (empty: the best
// replica). Writes are held (Failover=true) while Drain runs, the old master
// goes read_only, the target catches up with the old master's binlog
// position and is promoted, the other replicas are repointed and the old
// master rejoins as a replica; then the new snapshot (epoch+1) releases the
// writes. Any failure before the promotion puts the old master back.
func (m *Manager) Switchover(ctx context.Context, target string) (Report, error) {
	rep := Report{Kind: EventSwitchover, Reason: "operator command", Start: time.Now()}
	if !m.op.TryLock() {
		return rep, ErrBusy
	}
	defer m.op.Unlock()
	m.mon.round(ctx)
	snap := m.mon.publish()
	old := snap.MasterName
	rep.OldMaster = old
	st := m.mon.statuses()
	ms, ok := statusOf(st, old)
	if old == "" || !ok || !ms.Reachable || ms.ReadOnly {
		err := fmt.Errorf("%w to switch over from (master %q not reachable and writable): use FAILOVER", ErrNoMaster, old)
		return m.refused(rep, err)
	}
	opts := ChooseOptions{Failed: old, Switchover: true}
	var ch Choice
	var err error
	if target != "" {
		ch, err = ValidateCandidate(st, target, opts)
	} else {
		ch, err = ChooseCandidate(st, opts)
	}
	rep.Skipped, rep.Choice = ch.Skipped, ch.Reason
	if err != nil {
		return m.refused(rep, err)
	}
	if ws, _ := statusOf(st, ch.Winner); !ws.IORunning || !ws.SQLRunning {
		return m.refused(rep, fmt.Errorf("%w: %s is not replicating (%s)", ErrNotEligible, ch.Winner, threadDetail(ws)))
	}
	rep.Winner = ch.Winner
	log := m.log.With("op", "switchover", "old", old, "winner", ch.Winner)
	log.Info("switchover starting")

	rep.Detected = time.Now()
	m.mon.update(func(c *control) { c.master, c.failover = "", true })
	rep.Held = time.Now()
	mark := phaser(&rep, rep.Held)
	readOnly := false
	rollback := func(err error) (Report, error) {
		if readOnly {
			// Put the old master back as it was; the target may have been stopped too.
			if e := m.run(context.WithoutCancel(ctx), old, m.o.Timeout, build("unfence", func(func(string) string) []string {
				return []string{"SET GLOBAL read_only = 0"}
			})); e != nil {
				err = fmt.Errorf("%w; and the old master could not be made writable again: %v", err, e)
			}
		}
		m.mon.update(func(c *control) { c.master, c.failover = old, false })
		rep.Published = time.Now()
		rep.Pause = rep.Published.Sub(rep.Held)
		rep.Error = err.Error()
		log.Error("switchover failed", "err", err)
		r := rep
		m.events.add(Event{Kind: EventSwitchover, Node: old, Reason: rep.Reason, Detail: rep.Error, Outcome: OutcomeFailed,
			Pause: rep.Pause, Report: &r})
		return rep, err
	}

	if m.o.Drain != nil {
		dctx, cancel := context.WithTimeout(ctx, m.o.DrainTimeout)
		err := m.o.Drain(dctx)
		cancel()
		if err != nil {
			return rollback(fmt.Errorf("drain: %w", err))
		}
		mark("drain")
	}
	fence, err := Fence(m.dialect(old))
	if err != nil {
		return rollback(err)
	}
	readOnly = true
	if err := m.run(ctx, old, m.o.CatchupTimeout, fence); err != nil {
		return rollback(err)
	}
	mark("read_only on old master")
	pos, err := m.position(ctx, old, "gtid_binlog_pos")
	if err != nil {
		return rollback(err)
	}
	if err := m.waitPosition(ctx, ch.Winner, pos, m.o.CatchupTimeout); err != nil {
		return rollback(fmt.Errorf("catch up: %w", err))
	}
	mark("catch up")
	if err := m.promote(ctx, ch.Winner, HookFacts{Cluster: m.o.Cluster, Kind: string(EventSwitchover),
		FailedNode: old, FailedAddress: m.addr(old), FailedGTID: pos.String(),
		Successor: ch.Winner, SuccessorAddress: m.addr(ch.Winner), SuccessorGTID: pos.String()}); err != nil {
		// STOP SLAVE may have run: point the target back at the old master.
		if src, e := m.source(old); e == nil {
			_ = m.repoint(context.WithoutCancel(ctx), ch.Winner, src)
		}
		return rollback(err)
	}
	rep.Promoted = time.Now()
	mark("promote")
	if wpos, err := m.position(ctx, ch.Winner, "gtid_current_pos"); err == nil {
		rep.LostGTIDs = m.lost(wpos)
	}
	rep.Warnings = append(rep.Warnings, m.repointAll(ctx, ch.Winner, old, st)...)
	mark("repoint")
	if m.o.SemiSync {
		if err := m.semiSync(ctx, ch.Winner, SemiSyncMaster); err != nil {
			rep.Warnings = append(rep.Warnings, err.Error())
		}
		mark("semi-sync")
	}
	// Writes resume now; the old master (read_only) rejoins meanwhile and is
	// kept out of traffic until it has.
	snap = m.publishMaster(ch.Winner, old, "switchover: rejoining as a replica of "+ch.Winner)
	rep.Published, rep.Epoch = time.Now(), snap.Epoch
	mark("publish")
	if err := m.rejoin(ctx, old, ch.Winner); err != nil {
		why := "rejoin after switchover failed: " + err.Error()
		rep.Warnings = append(rep.Warnings, why)
		m.mon.update(func(c *control) { c.fenced[old] = why })
	} else {
		m.mon.update(func(c *control) {
			delete(c.fenced, old)
			m.mon.setRole(old, topology.RoleReplica)
		})
	}
	mark("rejoin old master")
	rep.Promotion = rep.Published.Sub(rep.Detected)
	rep.Pause = rep.Published.Sub(rep.Held)
	log.Info("switchover done", "epoch", snap.Epoch, "pause", rep.Pause, "phases", phasesText(rep.Phases),
		"warnings", strings.Join(rep.Warnings, "; "))
	r := rep
	m.events.add(Event{Kind: EventSwitchover, Node: old, Reason: rep.Reason,
		Detail: "promoted " + ch.Winner + lostText(rep.LostGTIDs) + warnText(rep.Warnings), Outcome: OutcomeOK,
		Promotion: rep.Promotion, Pause: rep.Pause, Report: &r})
	return rep, nil
}

func (m *Manager) refused(rep Report, err error) (Report, error) {
	rep.Error = err.Error()
	r := rep
	m.events.add(Event{Kind: rep.Kind, Node: rep.OldMaster, Reason: rep.Reason, Detail: rep.Error, Outcome: OutcomeRefused, Report: &r})
	return rep, err
}

func phasesText(ps []Phase) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Name + "=" + p.Took.Round(time.Millisecond/10).String()
	}
	return strings.Join(parts, " ")
}
