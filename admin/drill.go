package admin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-sql-driver/mysql"

	"github.com/switchyard/switchyard/failover"
	"github.com/switchyard/switchyard/topology"
)

// Drill scenarios.
const (
	ScenarioSwitchoverAndBack = "switchover-and-back"
	ScenarioKillMaster        = "kill-master"
	ScenarioStopMaster        = "stop-master"
	ScenarioIsolateMaster     = "isolate-master"
	ScenarioLagReplica        = "lag-replica"
)

// Scenarios lists the drills, in the order the documentation gives them.
var Scenarios = []string{ScenarioSwitchoverAndBack, ScenarioKillMaster, ScenarioStopMaster, ScenarioIsolateMaster, ScenarioLagReplica}

// Injector injects the faults of the kill-master and stop-master drills
// (and undoes them). Node names are the configured ones.
type Injector interface {
	Kill(ctx context.Context, node string) error  // SIGKILL the server
	Stop(ctx context.Context, node string) error  // clean shutdown
	Start(ctx context.Context, node string) error // start it again after Kill or Stop
}

// DrillOptions configure drills.
type DrillOptions struct {
	// ProxyAddr is the proxy's client address the verification workload
	// connects to, as the application, with User/Password.
	ProxyAddr      string
	User, Password string
	// Database holds the workload's table; default switchyard_drill (the
	// application account needs CREATE on it).
	Database string
	// NodeUser/NodePassword: an account with SUPER on the backends (the
	// monitor's), for lag-replica's MASTER_DELAY.
	NodeUser, NodePassword string
	// Injector kills, stops and starts servers; nil: kill-master and
	// stop-master are refused.
	Injector Injector
	// Sandbox: the cluster was started by switchyard sandbox. Otherwise
	// every drill needs DRILL '...' CONFIRM: it acts on real servers.
	Sandbox bool
	// Writers is the number of workload sessions (each writes then reads
	// its write back); default 2.
	Writers int
	// Warmup runs the workload before the fault; default 1s.
	Warmup time.Duration
	// Hold is how long isolate-master and lag-replica keep their fault;
	// default 4s.
	Hold time.Duration
	// FailoverTimeout bounds waiting for a failover (and for the old master
	// to rejoin); default 30s.
	FailoverTimeout time.Duration
}

func (o *DrillOptions) defaults() {
	if o.Database == "" {
		o.Database = "switchyard_drill"
	}
	if o.Writers <= 0 {
		o.Writers = 2
	}
	if o.Warmup <= 0 {
		o.Warmup = time.Second
	}
	if o.Hold <= 0 {
		o.Hold = 4 * time.Second
	}
	if o.FailoverTimeout <= 0 {
		o.FailoverTimeout = 30 * time.Second
	}
}

// DrillReport is what a drill measured. Times are offsets from the fault.
type DrillReport struct {
	Scenario  string
	Outcome   string // ok | failed
	Expected  string // what should happen
	Verdict   string // what happened, in a sentence
	OldMaster string
	NewMaster string
	Fault     time.Time
	// Detection: fault → the decision to fail over; Promotion: fault → new
	// master published; FirstWrite: fault → first acknowledged write on the
	// new master. Zero when it did not happen.
	Detection, Promotion, FirstWrite time.Duration
	// WritePause is the longest time no write was acknowledged (all workload
	// sessions together) from the fault on; LongestWrite the slowest
	// acknowledged write; ServerPause what the manager held writes for.
	WritePause, LongestWrite, ServerPause time.Duration
	// LongestRead is the slowest read-back of a session's own write (a
	// session's next write waits for it, so it can widen WritePause).
	LongestRead                   time.Duration
	Writes, WriteErrors           int
	Reads, ReadErrors, StaleReads int
	Errors                        []string // distinct client errors, with counts
	// AckedLost counts writes the workload got OK for that are missing on
	// the master at the end; -1 when it could not be checked.
	AckedLost int
	MaxLag    float64 // lag-replica: highest lag the monitor saw
	Topology  string  // final topology
	Notes     []string
	Duration  time.Duration
}

// Rows renders the report as (item, value) rows.
func (r DrillReport) Rows() [][]any {
	msv := func(d time.Duration) any {
		if d == 0 {
			return nil
		}
		return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000)
	}
	lost := any(int64(r.AckedLost))
	if r.AckedLost < 0 {
		lost = "not checked"
	}
	rows := [][]any{
		{"scenario", r.Scenario}, {"outcome", r.Outcome}, {"expected", r.Expected}, {"verdict", r.Verdict},
		{"old_master", r.OldMaster}, {"new_master", r.NewMaster}, {"fault_at", fmtTime(r.Fault)},
		{"detection_ms", msv(r.Detection)}, {"promotion_ms", msv(r.Promotion)}, {"first_write_after_ms", msv(r.FirstWrite)},
		{"write_pause_ms", msv(r.WritePause)}, {"longest_write_ms", msv(r.LongestWrite)}, {"longest_read_ms", msv(r.LongestRead)}, {"server_pause_ms", msv(r.ServerPause)},
		{"writes_acked", int64(r.Writes)}, {"write_errors", int64(r.WriteErrors)},
		{"reads", int64(r.Reads)}, {"read_errors", int64(r.ReadErrors)}, {"stale_reads", int64(r.StaleReads)},
		{"acked_writes_lost", lost},
	}
	if r.Scenario == ScenarioLagReplica {
		rows = append(rows, []any{"max_lag_seconds", fmt.Sprintf("%.0f", r.MaxLag)})
	}
	rows = append(rows, []any{"client_errors", strings.Join(r.Errors, "; ")}, []any{"final_topology", r.Topology},
		[]any{"notes", strings.Join(r.Notes, "; ")}, []any{"duration_ms", msv(r.Duration)})
	for i := range rows {
		if s, ok := rows[i][1].(string); ok && s == "" {
			rows[i][1] = nil
		}
	}
	return rows
}

// Summary is the one-line form kept in the events table.
func (r DrillReport) Summary() string {
	lost := fmt.Sprint(r.AckedLost)
	if r.AckedLost < 0 {
		lost = "not checked"
	}
	return fmt.Sprintf("%s: %s; writes %d acked / %d errors, reads %d / %d errors / %d stale, acked lost %s, write pause %.0fms, %s -> %s",
		r.Scenario, r.Verdict, r.Writes, r.WriteErrors, r.Reads, r.ReadErrors, r.StaleReads, lost,
		float64(r.WritePause.Microseconds())/1000, r.OldMaster, r.NewMaster)
}

func (s *Server) drillCommand(ctx context.Context, cmd Command) (*gomysql.Result, error) {
	rep, err := s.RunDrill(ctx, cmd.Scenario, cmd.Confirm)
	if err != nil {
		var me *gomysql.MyError
		if errors.As(err, &me) {
			return nil, me
		}
		return nil, gomysql.NewError(erCommandFailed, "DRILL failed: "+err.Error())
	}
	return textResult([]string{"item", "value"}, rep.Rows()), nil
}

// RunDrill runs a drill scenario and returns its report (also recorded in
// the events table). confirm must be true unless Drill.Sandbox. Progress
// goes to the drill_progress table as it runs.
func (s *Server) RunDrill(ctx context.Context, scenario string, confirm bool) (DrillReport, error) {
	o := s.o.Drill
	known := false
	for _, sc := range Scenarios {
		known = known || sc == scenario
	}
	switch {
	case !known:
		return DrillReport{}, gomysql.NewError(erCommandFailed, fmt.Sprintf("unknown drill %q; scenarios: %s", scenario, strings.Join(Scenarios, ", ")))
	case s.o.Manager == nil:
		return DrillReport{}, notWired("DRILL", "the failover manager")
	case o.ProxyAddr == "" || o.User == "":
		return DrillReport{}, notWired("DRILL", "proxy address and application account for the workload (admin.Options.Drill)")
	case !o.Sandbox && !confirm:
		return DrillReport{}, gomysql.NewError(erCommandFailed, fmt.Sprintf(
			"DRILL '%s' injects a real fault into a cluster not started by the sandbox; repeat it as DRILL '%s' CONFIRM", scenario, scenario))
	case (scenario == ScenarioKillMaster || scenario == ScenarioStopMaster) && o.Injector == nil:
		return DrillReport{}, notWired("DRILL '"+scenario+"'", "fault injector (sandbox cluster or configured kill/stop/start commands)")
	case scenario == ScenarioLagReplica && o.NodeUser == "":
		return DrillReport{}, notWired("DRILL '"+scenario+"'", "backend account (Drill.NodeUser) to set MASTER_DELAY")
	}
	if !s.drillMu.TryLock() {
		return DrillReport{}, gomysql.NewError(erCommandFailed, "another drill is running (see drill_progress)")
	}
	defer s.drillMu.Unlock()

	d := &drill{s: s, o: o, m: s.o.Manager, rep: DrillReport{Scenario: scenario, AckedLost: -1}, started: time.Now()}
	s.progress.begin(scenario, d.started)
	d.say("drill %s starting", scenario)
	err := d.run(ctx)
	d.rep.Duration = time.Since(d.started)
	if err != nil {
		d.rep.Outcome = failover.OutcomeFailed
		if d.rep.Verdict == "" {
			d.rep.Verdict = err.Error()
		} else {
			d.rep.Notes = append(d.rep.Notes, err.Error())
		}
	}
	if d.rep.Outcome == "" {
		d.rep.Outcome = failover.OutcomeOK
	}
	d.say("drill %s finished: %s", scenario, d.rep.Outcome)
	r := d.rep
	ev := failover.Event{Kind: failover.EventDrill, Node: r.OldMaster, Reason: "drill " + scenario, Detail: r.Summary(),
		Outcome: r.Outcome, Detection: r.Detection, Promotion: r.Promotion, Pause: r.WritePause}
	if d.fo != nil {
		ev.Report = d.fo
	}
	s.o.Manager.RecordEvent(ev)
	return r, nil
}

type drill struct {
	s       *Server
	o       DrillOptions
	m       *failover.Manager
	rep     DrillReport
	started time.Time
	fo      *failover.Report // the failover or switchover the drill caused
	wl      *workload
}

// noteFailover records the failover or switchover the drill caused, its
// times measured from the fault.
func (d *drill) noteFailover(r *failover.Report) {
	d.fo = r
	d.rep.NewMaster = r.Winner
	d.rep.Detection = r.Detected.Sub(d.rep.Fault)
	d.rep.Promotion = r.Published.Sub(d.rep.Fault)
	d.rep.ServerPause = r.Pause
}

func (d *drill) say(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.s.progress.add(msg)
	d.s.log.Info("drill", "scenario", d.rep.Scenario, "step", msg)
}

func (d *drill) snap() *topology.Snapshot { return d.m.Store().Load() }

func (d *drill) run(ctx context.Context) error {
	snap := d.snap()
	if snap.MasterName == "" || snap.Failover {
		return errors.New("no master at the moment: a drill starts from a healthy cluster")
	}
	d.rep.OldMaster = snap.MasterName
	d.rep.NewMaster = snap.MasterName
	wl, err := startWorkload(ctx, d.o, d.say)
	if err != nil {
		return fmt.Errorf("verification workload: %w", err)
	}
	d.wl = wl
	d.say("workload running: %d sessions writing and reading their writes back through %s", d.o.Writers, d.o.ProxyAddr)
	if err := sleepCtx(ctx, d.o.Warmup); err != nil {
		wl.stop()
		return err
	}
	var runErr error
	switch d.rep.Scenario {
	case ScenarioSwitchoverAndBack:
		runErr = d.switchoverAndBack(ctx)
	case ScenarioKillMaster, ScenarioStopMaster:
		runErr = d.masterDown(ctx)
	case ScenarioIsolateMaster:
		runErr = d.isolateMaster(ctx)
	case ScenarioLagReplica:
		runErr = d.lagReplica(ctx)
	}
	wl.stop()
	d.measure()
	d.checkLost(ctx)
	if d.rep.Scenario == ScenarioKillMaster || d.rep.Scenario == ScenarioStopMaster {
		d.restore(ctx)
	}
	d.rep.Topology = topologyLine(d.snap())
	d.say("final topology: %s", d.rep.Topology)
	wl.cleanup(ctx)
	if runErr != nil {
		return runErr
	}
	d.judge()
	return nil
}

// judge sets the outcome from the expectations of the scenario.
func (d *drill) judge() {
	r := &d.rep
	var bad []string
	if r.WriteErrors > 0 && r.Scenario == ScenarioSwitchoverAndBack {
		bad = append(bad, fmt.Sprintf("%d write errors during a planned switchover", r.WriteErrors))
	}
	if r.AckedLost > 0 {
		bad = append(bad, fmt.Sprintf("%d acknowledged writes lost", r.AckedLost))
	}
	if r.StaleReads > 0 {
		bad = append(bad, fmt.Sprintf("%d reads missed the session's own write", r.StaleReads))
	}
	if r.Scenario == ScenarioLagReplica && (r.WriteErrors > 0 || r.ReadErrors > 0) {
		bad = append(bad, "client errors while a replica lagged")
	}
	if len(bad) > 0 {
		r.Outcome = failover.OutcomeFailed
		r.Verdict = strings.Join(bad, "; ") + " (" + r.Verdict + ")"
	}
}

func (d *drill) switchoverAndBack(ctx context.Context) error {
	d.rep.Expected = "writes held, not failed: zero client errors, no acknowledged write lost, sub-second pause each way"
	old := d.rep.OldMaster
	d.rep.Fault = time.Now()
	d.say("SWITCHOVER away from %s", old)
	r1, err := d.m.Switchover(ctx, "")
	if err != nil {
		d.rep.Verdict = "switchover refused or failed: " + err.Error()
		return err
	}
	d.noteFailover(&r1)
	d.say("switched over to %s: writes held %.1fms (%s)", r1.Winner, msf(r1.Pause), phases(r1.Phases))
	d.waitWriteAfter(ctx, r1.Published)
	if err := sleepCtx(ctx, d.o.Warmup); err != nil {
		return err
	}
	d.say("SWITCHOVER back to %s", old)
	r2, err := d.m.Switchover(ctx, old)
	if err != nil {
		d.rep.Verdict = fmt.Sprintf("switched to %s, but the switch back failed: %v", r1.Winner, err)
		return err
	}
	d.rep.NewMaster = r2.Winner
	d.rep.ServerPause = max(d.rep.ServerPause, r2.Pause)
	d.say("switched back to %s: writes held %.1fms (%s)", r2.Winner, msf(r2.Pause), phases(r2.Phases))
	d.waitWriteAfter(ctx, r2.Published)
	d.rep.Verdict = fmt.Sprintf("%s -> %s (held %.0fms) -> %s (held %.0fms)", old, r1.Winner, msf(r1.Pause), r2.Winner, msf(r2.Pause))
	return sleepCtx(ctx, d.o.Warmup/2)
}

func (d *drill) masterDown(ctx context.Context) error {
	old := d.rep.OldMaster
	d.rep.Expected = "the master's failure detected, the most advanced replica promoted, writes resume on it, no acknowledged write lost"
	before := len(d.m.Events())
	d.rep.Fault = time.Now()
	var err error
	if d.rep.Scenario == ScenarioKillMaster {
		d.say("SIGKILL of master %s", old)
		err = d.o.Injector.Kill(ctx, old)
	} else {
		d.say("clean shutdown of master %s", old)
		err = d.o.Injector.Stop(ctx, old)
	}
	if err != nil {
		d.rep.Verdict = "fault injection failed: " + err.Error()
		return fmt.Errorf("inject: %w", err)
	}
	d.say("fault injected (%.0fms)", msf(time.Since(d.rep.Fault)))
	rep, err := d.waitFailover(ctx, before)
	if err != nil {
		d.rep.Verdict = err.Error()
		return err
	}
	d.noteFailover(&rep)
	d.say("promoted %s: detected after %.0fms, published after %.0fms (%s)", rep.Winner, msf(d.rep.Detection), msf(d.rep.Promotion), phases(rep.Phases))
	d.waitWriteAfter(ctx, rep.Published)
	d.rep.Verdict = fmt.Sprintf("failed over from %s to %s", old, rep.Winner)
	return sleepCtx(ctx, d.o.Warmup/2)
}

// waitFailover waits for the failover the fault causes: the manager's
// automatic one, or, when automatic failover is off or blocked, one the
// drill asks for once the manager has said so.
func (d *drill) waitFailover(ctx context.Context, before int) (failover.Report, error) {
	deadline := time.Now().Add(d.o.FailoverTimeout)
	seenDown, seenHeld := false, false
	for time.Now().Before(deadline) {
		evs := d.m.Events()
		for _, e := range evs[min(before, len(evs)):] {
			if e.Kind != failover.EventFailover || e.Time.Before(d.rep.Fault) {
				continue
			}
			switch e.Outcome {
			case failover.OutcomeOK:
				if e.Report != nil {
					return *e.Report, nil
				}
			case failover.OutcomeFailed, failover.OutcomeRefused:
				return failover.Report{}, fmt.Errorf("failover %s: %s %s", e.Outcome, e.Reason, e.Detail)
			case failover.OutcomeBlocked:
				d.say("automatic failover did not run (%s): the drill runs FAILOVER", e.Reason)
				d.rep.Notes = append(d.rep.Notes, "automatic failover was off or blocked; the drill ran FAILOVER after the manager detected the failure")
				rep, err := d.m.Failover(ctx, "")
				if err != nil {
					return rep, fmt.Errorf("FAILOVER: %w", err)
				}
				return rep, nil
			}
		}
		snap := d.snap()
		if n, ok := snap.Node(d.rep.OldMaster); ok && n.State == topology.StateDown && !seenDown {
			seenDown = true
			d.say("monitor sees %s down after %.0fms: %s", n.Name, msf(time.Since(d.rep.Fault)), n.LastError)
		}
		if snap.Failover && !seenHeld {
			seenHeld = true
			d.say("failover running, writes held (%.0fms)", msf(time.Since(d.rep.Fault)))
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return failover.Report{}, err
		}
	}
	return failover.Report{}, fmt.Errorf("no failover within %s of the fault (problems: %s)", d.o.FailoverTimeout, problemsLine(d.m.Problems()))
}

// restore starts the old master again and waits for it to rejoin.
func (d *drill) restore(ctx context.Context) {
	old := d.rep.OldMaster
	d.say("starting %s again", old)
	if err := d.o.Injector.Start(ctx, old); err != nil {
		d.rep.Notes = append(d.rep.Notes, fmt.Sprintf("could not start %s again: %v", old, err))
		d.say("start %s failed: %v", old, err)
		return
	}
	deadline := time.Now().Add(d.o.FailoverTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n, ok := d.snap().Node(old)
		if ok && n.Role == topology.RoleReplica && n.State == topology.StateUp {
			d.say("%s rejoined as a replica of %s", old, d.snap().MasterName)
			break
		}
		if ok && failover.Diverged(n) {
			break // it will not rejoin by itself
		}
		_ = sleepCtx(ctx, 100*time.Millisecond)
	}
	switch n, ok := d.snap().Node(old); {
	case !ok || (n.Role == topology.RoleReplica && n.State == topology.StateUp):
	case failover.Diverged(n):
		// Asynchronous replication's known cost: a write the old master
		// committed as it died never reached the new master. Its client got
		// an error, not an OK (the audit counts acknowledged writes lost).
		d.say("%s diverged and stays out: %s", old, n.Note)
		d.rep.Notes = append(d.rep.Notes, fmt.Sprintf("%s diverged (%s): it committed writes that never reached %s before it died, whose clients got errors, not OKs; it stays out of traffic until rebuilt from %s",
			old, n.Note, d.snap().MasterName, d.snap().MasterName))
	default:
		why := strings.TrimSpace(strings.Join([]string{n.Note, n.LastIOError, n.LastSQLError}, " "))
		d.rep.Notes = append(d.rep.Notes, fmt.Sprintf("%s is back but not (yet) a healthy replica: %s %s %s", old, n.Role, n.State, why))
	}
	if blocked, _ := d.m.Blocked(); blocked {
		// The drill's own failover must not block the next real one.
		d.m.Acknowledge()
		d.rep.Notes = append(d.rep.Notes, "the anti-flapping block set by the drill's failover was acknowledged")
	}
}

func (d *drill) isolateMaster(ctx context.Context) error {
	old := d.rep.OldMaster
	d.rep.Expected = "Switchyard loses its path to the master but the replicas still replicate from it: no failover"
	before := len(d.m.Events())
	d.rep.Fault = time.Now()
	d.say("isolating %s from switchyard for %s", old, d.o.Hold)
	if err := d.m.Isolate(old, true); err != nil {
		return fmt.Errorf("isolate: %w", err)
	}
	defer func() { _ = d.m.Isolate(old, false) }()
	seen := map[string]bool{}
	end := time.Now().Add(d.o.Hold)
	for time.Now().Before(end) {
		for _, p := range d.m.Problems() {
			if p.Code == failover.NoProblem {
				continue
			}
			if k := p.String(); !seen[k] {
				seen[k] = true
				d.say("analysis after %.0fms: %s", msf(time.Since(d.rep.Fault)), p.String())
			}
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	if err := d.m.Isolate(old, false); err != nil {
		return err
	}
	d.say("isolation lifted")
	// Wait for the master to be seen again before judging.
	deadline := time.Now().Add(d.o.FailoverTimeout)
	for time.Now().Before(deadline) {
		if n, ok := d.snap().Node(old); ok && n.State == topology.StateUp {
			break
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	var failovers []string
	evs := d.m.Events()
	for _, e := range evs[min(before, len(evs)):] {
		if e.Kind == failover.EventFailover && e.Outcome == failover.OutcomeOK {
			failovers = append(failovers, e.Detail)
		}
	}
	d.rep.NewMaster = d.snap().MasterName
	var codes []string
	for k := range seen {
		codes = append(codes, k)
	}
	sort.Strings(codes)
	if len(failovers) > 0 || d.rep.NewMaster != old {
		d.rep.Outcome = failover.OutcomeFailed
		d.rep.Verdict = fmt.Sprintf("a failover ran although the replicas still saw %s: %s", old, strings.Join(failovers, "; "))
		return nil
	}
	d.rep.Verdict = fmt.Sprintf("no failover: %s stayed master (analysis: %s)", old, strings.Join(codes, "; "))
	if len(seen) == 0 {
		d.rep.Notes = append(d.rep.Notes, "the analysis reported no problem during the isolation")
	}
	d.rep.Notes = append(d.rep.Notes, "the isolation cuts the monitor's probes; the proxy's own path is cut only where it consults Manager.Isolated")
	d.waitWriteAfter(ctx, time.Now())
	return nil
}

func (d *drill) lagReplica(ctx context.Context) error {
	d.rep.Expected = "reads avoid the lagging replica or wait for the session's writes: no stale read, no client error"
	snap := d.snap()
	var target topology.Node
	for _, n := range snap.Replicas() {
		if n.State == topology.StateUp {
			target = n
			break
		}
	}
	if target.Name == "" {
		return errors.New("no healthy replica to make lag")
	}
	delay := max(int(d.o.Hold.Seconds()*0.75), 1)
	db, err := openDirect(target.Address, d.o.NodeUser, d.o.NodePassword, "")
	if err != nil {
		return err
	}
	defer db.Close()
	d.rep.Fault = time.Now()
	d.say("making %s lag: MASTER_DELAY=%d for %s", target.Name, delay, d.o.Hold)
	if err := setDelay(ctx, db, delay); err != nil {
		return fmt.Errorf("set MASTER_DELAY on %s: %w", target.Name, err)
	}
	restored := false
	defer func() {
		if !restored {
			_ = setDelay(context.WithoutCancel(ctx), db, 0)
		}
	}()
	end := time.Now().Add(d.o.Hold)
	lastState := topology.State("")
	for time.Now().Before(end) {
		if n, ok := d.snap().Node(target.Name); ok {
			d.rep.MaxLag = math.Max(d.rep.MaxLag, n.LagSeconds)
			if n.State != lastState {
				lastState = n.State
				d.say("%s: state %s, lag %.0fs", n.Name, n.State, n.LagSeconds)
			}
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	if err := setDelay(ctx, db, 0); err != nil {
		return fmt.Errorf("reset MASTER_DELAY on %s: %w", target.Name, err)
	}
	restored = true
	d.say("MASTER_DELAY reset on %s; waiting for it to catch up", target.Name)
	deadline := time.Now().Add(d.o.FailoverTimeout)
	for time.Now().Before(deadline) {
		if n, ok := d.snap().Node(target.Name); ok && n.State == topology.StateUp && n.LagSeconds == 0 {
			break
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	d.rep.Verdict = fmt.Sprintf("%s lagged up to %.0fs", target.Name, d.rep.MaxLag)
	return nil
}

func setDelay(ctx context.Context, db *sql.DB, secs int) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, q := range []string{"STOP SLAVE", fmt.Sprintf("CHANGE MASTER TO MASTER_DELAY=%d", secs), "START SLAVE"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// waitWriteAfter waits (bounded) until a write is acknowledged after t.
func (d *drill) waitWriteAfter(ctx context.Context, t time.Time) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if at, ok := d.wl.firstAckAfter(t); ok {
			d.say("first write acknowledged %.0fms after the new master was published", msf(at.Sub(t)))
			return
		}
		if sleepCtx(ctx, 10*time.Millisecond) != nil {
			return
		}
	}
	d.say("no write acknowledged within 10s of %s", t.Format(timeFormat))
}

// measure fills the client-side figures from the workload's record.
func (d *drill) measure() {
	wl := d.wl
	wl.mu.Lock()
	defer wl.mu.Unlock()
	r := &d.rep
	r.Writes, r.Reads, r.StaleReads, r.LongestRead = len(wl.acks), wl.reads, wl.stale, wl.longestRead
	ends := make([]time.Time, 0, len(wl.acks))
	for _, a := range wl.acks {
		ends = append(ends, a.end)
		r.LongestWrite = max(r.LongestWrite, a.end.Sub(a.start))
	}
	sort.Slice(ends, func(i, j int) bool { return ends[i].Before(ends[j]) })
	from := r.Fault
	if from.IsZero() {
		from = d.started
	}
	last := from
	for _, e := range ends {
		if e.Before(from) {
			continue
		}
		r.WritePause = max(r.WritePause, e.Sub(last))
		last = e
	}
	if !wl.stopped.IsZero() && last.Before(wl.stopped) {
		r.WritePause = max(r.WritePause, wl.stopped.Sub(last))
	}
	if d.fo != nil {
		for _, e := range ends {
			if e.After(d.fo.Published) {
				r.FirstWrite = e.Sub(r.Fault)
				break
			}
		}
	}
	counts := map[string]int{}
	var order []string
	for _, e := range wl.errs {
		if e.write {
			r.WriteErrors++
		} else {
			r.ReadErrors++
		}
		if counts[e.msg] == 0 {
			order = append(order, e.msg)
		}
		counts[e.msg]++
	}
	for i, m := range order {
		if i == 5 {
			r.Errors = append(r.Errors, fmt.Sprintf("... %d more kinds", len(order)-5))
			break
		}
		r.Errors = append(r.Errors, fmt.Sprintf("%dx %s", counts[m], m))
	}
}

// checkLost counts acknowledged writes missing on the master.
func (d *drill) checkLost(ctx context.Context) {
	snap := d.snap()
	m, ok := snap.Master()
	if !ok {
		d.rep.Notes = append(d.rep.Notes, "no master at the end: acknowledged writes not checked")
		return
	}
	db, err := openDirect(m.Address, d.o.User, d.o.Password, d.o.Database)
	if err != nil {
		d.rep.Notes = append(d.rep.Notes, "lost-write check: "+err.Error())
		return
	}
	defer db.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rows, err := db.QueryContext(cctx, "SELECT writer, seq FROM drill_writes WHERE run = ?", d.wl.run)
	if err != nil {
		d.rep.Notes = append(d.rep.Notes, "lost-write check: "+err.Error())
		return
	}
	defer rows.Close()
	have := map[[2]int]bool{}
	for rows.Next() {
		var k [2]int
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			d.rep.Notes = append(d.rep.Notes, "lost-write check: "+err.Error())
			return
		}
		have[k] = true
	}
	if err := rows.Err(); err != nil {
		d.rep.Notes = append(d.rep.Notes, "lost-write check: "+err.Error())
		return
	}
	d.wl.mu.Lock()
	lost := 0
	for _, a := range d.wl.acks {
		if !have[[2]int{a.writer, a.seq}] {
			lost++
		}
	}
	d.wl.mu.Unlock()
	d.rep.AckedLost = lost
	d.say("acknowledged writes checked on %s: %d of %d missing", m.Name, lost, d.rep.Writes)
}

func topologyLine(snap *topology.Snapshot) string {
	if snap == nil {
		return ""
	}
	parts := make([]string, 0, len(snap.Nodes))
	for _, n := range snap.Nodes {
		role := string(n.Role)
		if n.Name == snap.MasterName {
			role = "master"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s", n.Name, role, n.State))
	}
	return fmt.Sprintf("%s (epoch %d)", strings.Join(parts, ", "), snap.Epoch)
}

func problemsLine(ps []failover.Problem) string {
	if len(ps) == 0 {
		return "none"
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func openDirect(addr, user, password, db string) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = user, password, "tcp", addr, db
	cfg.Timeout = 5 * time.Second
	cfg.InterpolateParams = true
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	return sql.OpenDB(c), nil
}

// progressLog keeps the running (or last) drill's progress for the
// drill_progress table; Seq keeps growing across drills so a poller can ask
// for what is new.
type progressLog struct {
	mu       sync.Mutex
	seq      uint64
	scenario string
	start    time.Time
	items    []progressItem
}

type progressItem struct {
	Seq      uint64
	Time     time.Time
	Elapsed  time.Duration
	Scenario string
	Message  string
}

func (p *progressLog) begin(scenario string, start time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scenario, p.start, p.items = scenario, start, nil
}

func (p *progressLog) add(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.items) >= 1000 {
		return // a drill says far less; never grow without bound
	}
	p.seq++
	now := time.Now()
	p.items = append(p.items, progressItem{Seq: p.seq, Time: now, Elapsed: max(now.Sub(p.start), time.Microsecond), Scenario: p.scenario, Message: msg})
}

func (p *progressLog) list() []progressItem {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]progressItem(nil), p.items...)
}
