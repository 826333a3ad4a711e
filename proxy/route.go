package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/switchyard/switchyard/gtid"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/topology"
	"github.com/switchyard/switchyard/wire"
)

type gtidPos = gtid.Set

// Consistency modes for reads after writes.
const (
	ConsistencyEventual = "eventual"
	ConsistencySession  = "session" // a session reads its own writes (default)
	ConsistencyStrong   = "strong"  // a read sees every write this proxy acknowledged before it
)

// Routing configures the read/write split (reloadable).
type Routing struct {
	Consistency     string
	MaxReplicaLag   time.Duration
	NoReplicaError  bool          // with no usable replica, fail reads instead of using the master
	ReadWaitTimeout time.Duration // longest wait for a replica to catch up with a GTID
	WriteHold       time.Duration // master-bound statements wait this long for a master
	// ReadsOnMaster disables the split: everything goes to the master.
	ReadsOnMaster bool
	// PipelineReads shares replica connections between the sessions of an
	// event loop for small prepared reads, several in flight on one
	// (pipeline.go).
	PipelineReads bool
	// Rules force routes by pattern or digest (nil: none).
	Rules *router.Rules
}

// DefaultRouting is the routing of a fresh configuration.
func DefaultRouting() Routing {
	return Routing{Consistency: ConsistencySession, MaxReplicaLag: 10 * time.Second,
		ReadWaitTimeout: time.Second, WriteHold: 10 * time.Second}
}

// routeSpec is a route decided up front (commands other than COM_QUERY).
type routeSpec struct {
	route router.Route
	class *router.Class
}

func routeFixed(r router.Route) routeSpec { return routeSpec{route: r} }

// query handles COM_QUERY: classify, decide, run, then track what the
// statement did to the session.
func (s *Session) query(ctx context.Context, pkt []byte) error {
	text := string(pkt[1:])
	c := router.Classify(text)
	if rules := s.srv.routing().Rules; rules != nil {
		c = rules.Apply(text, c)
	}
	if c.Kind == router.KindKill && c.KillID != 0 && c.KillID <= 1<<32-1 {
		return s.kill(ctx, uint32(c.KillID), c.KillQuery)
	}
	if s.txLost != "" {
		switch c.Kind {
		case router.KindTxRollback:
			// The transaction is gone already; acknowledge the rollback.
			s.txLost, s.txNode = "", ""
			s.syncTxOn()
			s.status &^= wire.StatusInTrans
			return s.writeOK(0, 0)
		case router.KindTxBegin, router.KindTxBeginReadOnly, router.KindTxCommit:
		}
		return s.writeErr(s.txLostErr())
	}
	return s.forwardTo(ctx, pkt, routeSpec{route: router.Decide(c, s.routerState()), class: &c}, modeQuery, text)
}

func (s *Session) txLostErr() *wire.Error {
	return wire.NewError(erLockDeadlock, "40001",
		"switchyard: the transaction was lost: %s; it was rolled back — issue ROLLBACK, then retry it", s.txLost)
}

func (s *Session) routerState() router.Session {
	return router.Session{
		InTx:         s.status&wire.StatusInTrans != 0 && s.txNode != "",
		Autocommit:   s.status&wire.StatusAutocommit != 0,
		Pins:         s.pins,
		NextTxMaster: s.nextTxMaster,
	}
}

// forwardTo runs one command on the backend its route names and relays the
// answer; a replica read that fails before anything reached the client is
// retried once on the master.
func (s *Session) forwardTo(ctx context.Context, pkt []byte, rs routeSpec, mode relayMode, text string) error {
	routing := s.srv.routing()
	if routing.ReadsOnMaster && rs.route == router.RouteReplica {
		rs.route = router.RouteMaster
	}
	be, where, err := s.pick(ctx, rs.route)
	if err != nil {
		return s.writeBackendErr(err)
	}
	err = s.exec(be, pkt, mode, text, where)
	var retry *retryOnMaster
	if asRetry(err, &retry) && s.killed.Load() {
		// The session was killed (its backend connection with it): do not
		// run the statement again elsewhere.
		return errQuit
	}
	if asRetry(err, &retry) {
		s.log.Warn("replica failed before answering; retrying on the master", "node", be.node, "err", retry.err)
		s.srv.metrics.retries.Add(1)
		be, where, err = s.pick(ctx, router.RouteMaster)
		if err != nil {
			return s.writeBackendErr(err)
		}
		err = s.exec(be, pkt, mode, text, where)
		if asRetry(err, &retry) {
			return s.writeErr(errLostDuringQuery(be.node, retry.err))
		}
	}
	if err != nil || rs.class == nil {
		return err
	}
	if s.lastErr {
		if s.partialErr {
			// Earlier statements of the text ran: keep what they pinned
			// (pinning too much is safe, too little is not).
			s.pins |= rs.class.Pin
			s.refreshPinned()
		}
		return nil
	}
	s.afterStatement(be, rs.class)
	return nil
}

// unreachableErr: the node did not answer at the network level (refused,
// timed out), as opposed to refusing us (TLS, credentials).
type unreachableErr struct{ err *wire.Error }

func (e *unreachableErr) Error() string { return e.err.Error() }
func (e *unreachableErr) Unwrap() error { return e.err }

// retryOnMaster: a replica failed before any byte reached the client.
type retryOnMaster struct{ err error }

func (r *retryOnMaster) Error() string { return r.err.Error() }

// asRetry is errors.As for *retryOnMaster. errors.As takes the target's
// address as an interface, which moves it to the heap: one allocation per
// statement on the hot path.
func asRetry(err error, target **retryOnMaster) bool {
	for err != nil {
		if r, ok := err.(*retryOnMaster); ok {
			*target = r
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// exec sends pkt to be and relays the answer. While it runs, the statement
// counts as in flight on be's node and, on the master, sets onMaster, which
// Drain reads before txOn: both are undone at the very end, after the
// answer's transaction state is published (afterAnswer). One defer, and a
// single return, so the compiler open-codes it.
func (s *Session) exec(be *Backend, pkt []byte, mode relayMode, text, where string) error {
	isMaster := where == "master"
	if isMaster {
		s.onMaster.Store(true)
	}
	if be.inflight == nil {
		be.inflight = s.srv.outstanding(be.node)
	}
	out := &be.inflight[s.shard].n
	out.Add(1)
	defer func() {
		out.Add(-1)
		if isMaster {
			s.onMaster.Store(false)
		}
	}()
	return s.execStatement(be, pkt, mode, text, where)
}

// execStatement is exec's work.
func (s *Session) execStatement(be *Backend, pkt []byte, mode relayMode, text, where string) error {
	s.lastErr, s.partialErr = false, false
	s.sharedLast = nil
	// One full clock reading per statement, its start (the admin port's
	// "since", the latency's start); its end is the start plus the
	// monotonic clock's difference (latency, digests, the idle clock).
	start := time.Now()
	s.setCurrentAt(be, text, where, start)
	if pkt[0] == wire.ComSetOption {
		be.noReuse = true
	}
	if err := be.request(pkt); err != nil {
		s.dropConn(be, true)
		if where == "replica" {
			return &retryOnMaster{err}
		}
		return s.writeErr(errLostBackend(be.node, err))
	}
	s.rows = 0
	st, err := s.relay(be, mode)
	dur := time.Since(start)
	end := start.Add(dur)
	s.clock, s.lastDur = end, dur
	if d := s.srv.digests; d != nil && s.digestNorm != "" {
		d.recordKeyed(s.shard, s.digestKey, s.digestNorm, where, dur, s.rows, end)
	} else if d != nil && text != "" {
		norm := router.Normalize(text)
		d.recordKeyed(s.shard, DigestKey(norm), norm, where, dur, s.rows, end)
	}
	s.srv.observe(s.shard, where, err != nil || s.lastErr, dur)
	if err == nil {
		s.afterAnswer(be, st)
		s.srv.metrics.count(s.shard, where, s.lastErr)
		return nil
	}
	var re *relayErr
	if errors.As(err, &re) && !re.client && re.inStep && !re.sent && where == "replica" {
		s.dropConn(be, true)
		return &retryOnMaster{re.err}
	}
	s.srv.metrics.count(s.shard, where, true)
	return s.finishRelayErr(be, err)
}

// afterAnswer tracks the server status the client just saw.
func (s *Session) afterAnswer(be *Backend, st uint16) {
	// SHOW WARNINGS / SHOW ERRORS after a failed statement go where it failed.
	s.lastNode = be.node
	if s.lastErr && !s.partialErr {
		return
	}
	s.status = st
	s.inTx.Store(st&wire.StatusInTrans != 0)
	tx := ""
	if st&wire.StatusInTrans != 0 {
		tx = be.node
	}
	if tx != s.txNode {
		s.txNode = tx
		s.syncTxOn()
	}
}

// afterStatement applies what a successful statement did to the session.
func (s *Session) afterStatement(be *Backend, c *router.Class) {
	s.pins &^= c.Unpin &^ router.PinPrepare
	if c.Unpin&router.PinPrepare != 0 {
		delete(s.prepNames, strings.ToLower(c.Name))
		if len(s.prepNames) == 0 {
			s.pins &^= router.PinPrepare
		}
	}
	s.pins |= c.Pin
	if c.Pin&router.PinPrepare != 0 && c.Name != "" {
		if s.prepNames == nil {
			s.prepNames = make(map[string]struct{})
		}
		s.prepNames[strings.ToLower(c.Name)] = struct{}{}
	}
	defer s.refreshPinned()
	switch c.Kind {
	case router.KindSet:
		if c.NextTx {
			s.nextTxMaster = be.node == s.masterName()
		}
		if c.Autocommit != router.ToggleNone {
			// autocommit is followed from the status flags and never
			// replayed (a replica with autocommit=0 would read a stale
			// snapshot); a SET that also changes other variables pins.
			if strings.Contains(c.Replay, ",") {
				s.pins |= router.PinState
			}
			return
		}
		if c.Replay != "" && !c.Multi {
			if len(s.replay) >= maxReplay {
				s.pins |= router.PinState
				return
			}
			s.replay = append(s.replay, c.Replay)
			if be.applied == len(s.replay)-1 {
				be.applied = len(s.replay)
			}
			if touchesTracking(c.Replay) {
				// The client's value replaced the proxy's GTID tracking.
				_ = be.enableTracking()
			}
		}
	case router.KindUse:
		if c.Name != "" {
			s.setDB(c.Name)
			be.db = c.Name
		}
	case router.KindTxBegin, router.KindTxBeginReadOnly:
		s.nextTxMaster = false
	}
}

// maxReplay bounds the SET statements kept for replay; past it the session
// pins to the master.
const maxReplay = 256

func (s *Session) masterName() string {
	if m, ok := s.srv.topo.Load().Master(); ok {
		return m.Name
	}
	return ""
}

// pick returns the backend connection for a route, and the route's name.
func (s *Session) pick(ctx context.Context, r router.Route) (*Backend, string, error) {
	switch r {
	case router.RouteTx:
		if s.txNode != "" {
			if be, ok := s.conns[s.txNode]; ok {
				if err := s.checkTxMaster(be); err != nil {
					return nil, "", err
				}
				return be, "transaction", nil
			}
		}
	case router.RouteLast:
		if be, ok := s.conns[s.lastNode]; ok {
			if s.sharedLast != nil {
				// The previous statement ran on a shared connection.
				if err := s.rerunShared(be); err != nil {
					s.dropConn(be, true)
					return nil, "", wire.NewError(crServerLost, "HY000", "switchyard: lost connection to %s: %v", be.node, err)
				}
			}
			return be, "last", nil
		}
	case router.RouteReplica:
		be, err := s.replicaConn(ctx)
		if err != nil {
			return nil, "", err
		}
		if be != nil {
			return be, "replica", nil
		}
	}
	be, err := s.masterConn(ctx)
	return be, "master", err
}

// checkTxMaster fails a transaction whose master is no longer the master (a
// failover happened while it was open).
func (s *Session) checkTxMaster(be *Backend) error {
	snap := s.srv.topo.Load()
	if !be.wasMaster || snap.MasterName == be.node {
		return nil
	}
	// A node that is a replica now (rejoined) keeps a usable connection: it
	// goes back to the pool after a reset; otherwise it is closed.
	n, ok := snap.Node(be.node)
	rejoined := ok && n.Role == topology.RoleReplica
	s.dropConn(be, !rejoined)
	if rejoined {
		s.txLost = fmt.Sprintf("master %s was replaced by %s while it was open", be.node, snap.MasterName)
	} else {
		s.txLost = fmt.Sprintf("master %s failed over to %q while it was open", be.node, snap.MasterName)
	}
	return s.txLostErr()
}

// waitMaster returns the current master, holding the caller while a
// failover or switchover runs (bounded by Routing.WriteHold).
func (s *Session) waitMaster(ctx context.Context) (topology.Node, error) {
	hold := s.srv.routing().WriteHold
	var deadline time.Time
	for {
		// onMaster is raised before the snapshot is read: a switchover
		// publishes "writes held" and then drains, so either this session
		// sees the hold, or the drain sees this session (no write can slip
		// onto the old master after the drain found it idle).
		s.onMaster.Store(true)
		snap := s.srv.topo.Load()
		if m, ok := snap.Master(); ok && !snap.Failover {
			return m, nil
		}
		s.onMaster.Store(false)
		if deadline.IsZero() {
			deadline = time.Now().Add(hold)
			s.srv.metrics.writesHeld.Add(1)
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			s.srv.metrics.holdTimeouts.Add(1)
			return topology.Node{}, wire.NewError(erLockWaitTimeout, "HY000",
				"switchyard: no master available within %s (failover in progress or master down); retry", hold)
		}
		if err := s.waitChange(ctx, s.srv.topo.Changed(), wait); err != nil {
			return topology.Node{}, err
		}
	}
}

// waitChange waits (parked: off the event loop) until changed fires, d
// passes or ctx ends; only the last is an error.
func (s *Session) waitChange(ctx context.Context, changed <-chan struct{}, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	var err error
	s.park(func() {
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			err = ctx.Err()
		}
	})
	return err
}

// masterConn returns the session's connection to the current master. When
// the master cannot be reached, nothing has been sent yet: the statement
// waits (bounded by Routing.WriteHold) for the monitor to publish a new
// master instead of failing at once — the master may be failing over.
func (s *Session) masterConn(ctx context.Context) (be *Backend, err error) {
	defer func() {
		if err != nil {
			s.onMaster.Store(false)
		}
	}()
	var deadline time.Time
	for {
		snap := s.srv.topo.Load()
		m, err := s.waitMaster(ctx)
		if err != nil {
			return nil, err
		}
		if s.txNode != "" && s.txNode != m.Name && s.status&wire.StatusInTrans != 0 {
			if be, ok := s.conns[s.txNode]; ok {
				if err := s.checkTxMaster(be); err != nil {
					return nil, err
				}
			}
		}
		be, err := s.conn(ctx, m.Name, m.Address)
		if err == nil {
			be.wasMaster = true
			return be, nil
		}
		var ue *unreachableErr
		if !errors.As(err, &ue) {
			return nil, err
		}
		// Unreachable master: hold until the topology changes.
		s.onMaster.Store(false)
		if deadline.IsZero() {
			deadline = time.Now().Add(s.srv.routing().WriteHold)
			s.srv.metrics.writesHeld.Add(1)
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			s.srv.metrics.holdTimeouts.Add(1)
			return nil, err
		}
		changed := s.srv.topo.Changed()
		if s.srv.topo.Load() != snap {
			continue
		}
		if err := s.waitChange(ctx, changed, min(wait, 250*time.Millisecond)); err != nil {
			return nil, err
		}
	}
}

// replicaConn returns a connection to a replica fit for this read, or nil
// when the read should go to the master.
func (s *Session) replicaConn(ctx context.Context) (*Backend, error) {
	routing := s.srv.routing()
	snap := s.srv.topo.Load()
	exclude := ""
	for attempt := 0; attempt < 2; attempt++ {
		var name, addr string
		var held *Backend // the session's connection to name, when known
		if c := &s.choice; attempt == 0 && c.snap == snap && c.routing == routing && c.be != nil && c.be.node == s.replicaNode {
			// What ChooseReplica would say again: given the session's
			// current replica, it names that one while it is usable in
			// the snapshot, and the snapshot and settings are the ones
			// it was chosen (and found usable) under.
			name, held = c.be.node, c.be
		} else {
			var ok bool
			name, ok = router.ChooseReplica(snap, router.ReplicaOptions{MaxLag: routing.MaxReplicaLag,
				Current: s.replicaNode, Sessions: s.srv.readerCount, Outstanding: s.srv.outstandingLoad, Exclude: exclude, Spread: s.id})
			if !ok {
				if routing.NoReplicaError {
					return nil, wire.NewError(crConnHostError, "HY000", "switchyard: no usable replica for this read (routing.no_replica: error)")
				}
				return nil, nil
			}
			n, _ := snap.Node(name)
			addr = n.Address
		}
		s.choice = replicaChoice{}
		// Count the session on its replica before connecting (a dial takes
		// a while), so sessions choosing at the same moment see it.
		prev := s.replicaNode
		s.setReplicaNode(name)
		var be *Backend
		var err error
		if held != nil {
			be, err = s.reuse(held)
		} else {
			be, err = s.conn(ctx, name, addr)
		}
		if err != nil {
			s.setReplicaNode(prev)
			s.log.Debug("replica unavailable", "node", name, "err", err)
			exclude = name
			continue
		}
		ok, err := s.caughtUp(be, routing)
		if err != nil {
			s.setReplicaNode(prev)
			s.dropConn(be, true)
			exclude = name
			continue
		}
		if !ok {
			s.setReplicaNode(prev)
			s.srv.metrics.readFallbacks.Add(1)
			return nil, nil // not caught up in time: the master has it
		}
		s.choice = replicaChoice{snap: snap, routing: routing, be: be}
		return be, nil
	}
	return nil, nil
}

// replicaChoice is the replica connection a read last went to, with the
// topology snapshot and routing settings it was chosen under: while those
// stay the same and the session holds the connection, the next read skips
// the choice and the lookup (replicaConn).
type replicaChoice struct {
	snap    *topology.Snapshot
	routing *Routing
	be      *Backend // cleared when the session lets it go (dropConn)
}

// caughtUp makes sure a replica has applied what the consistency mode
// demands, waiting on it (MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET)
// within Routing.ReadWaitTimeout. false means: read from the master.
func (s *Session) caughtUp(be *Backend, routing *Routing) (bool, error) {
	var want gtidPos
	switch routing.Consistency {
	case ConsistencyEventual:
		return true, nil
	case ConsistencyStrong:
		want = s.srv.ackedPos()
	default:
		want = s.lastGTID
	}
	if want.IsEmpty() {
		return true, nil
	}
	if s.srv.nodeHas(be.node, want) {
		return true, nil
	}
	if !be.tracks || want.Flavor() != be.flavor() {
		return false, nil
	}
	start := time.Now()
	ok, err := be.waitGTID(want, routing.ReadWaitTimeout)
	s.srv.metrics.gtidWaits.Add(1)
	s.srv.metrics.gtidWaitNanos.Add(uint64(time.Since(start)))
	if err != nil {
		return false, err
	}
	if ok {
		s.srv.noteNodeHas(be.node, want)
	}
	return ok, nil
}

// conn returns the session's connection to a node, getting one from the pool
// and bringing it up to date with the session's state.
func (s *Session) conn(ctx context.Context, node, addr string) (*Backend, error) {
	be, ok := s.conns[node]
	if !ok {
		if err := s.refused(node); err != nil {
			return nil, err
		}
		pw, known := s.srv.password(s.user)
		if !known {
			return nil, wire.NewError(erAccessDenied, "28000", "Access denied for user '%s' (user removed from the configuration)", s.user)
		}
		key := poolKey{user: s.user, caps: s.caps&relayCaps | wire.ClientSessionTrack, collation: s.coll, db: s.db, loop: s.task != nil, ext: s.srv.backendExt(s.ext)}
		var err error
		be, err = s.getBackend(ctx, s.srv.poolFor(node, addr), key, pw)
		if err != nil {
			var we *wire.Error
			if errors.As(err, &we) {
				return nil, we
			}
			we = wire.NewError(crConnHostError, "HY000", "switchyard: cannot reach %s: %v", node, err)
			var ne net.Error
			if errors.As(err, &ne) {
				return nil, &unreachableErr{err: we}
			}
			return nil, we
		}
		be.dirty = true
		be.applied = 0
		s.conns[node] = be
	}
	return s.reuse(be)
}

// refused is the error for a node a drill isolates, nil for others.
func (s *Session) refused(node string) error {
	if refuse := s.srv.refuse.Load(); refuse != nil && (*refuse)(node) {
		return &unreachableErr{err: wire.NewError(crConnHostError, "HY000", "switchyard: %s is isolated (drill)", node)}
	}
	return nil
}

// reuse brings be, a connection the session holds, up to date with the
// session's state; one to a node a drill isolates is dropped.
func (s *Session) reuse(be *Backend) (*Backend, error) {
	if err := s.refused(be.node); err != nil {
		s.dropConn(be, true)
		return nil, err
	}
	if err := s.catchUp(be); err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			return nil, we
		}
		s.dropConn(be, true)
		return nil, wire.NewError(crServerLost, "HY000", "switchyard: lost connection to %s: %v", be.node, err)
	}
	return be, nil
}

// getBackend gets a connection from pool. On an event loop the wait (a
// dial, a full pool) happens off the loop, and the connection is then
// attached to the session's task, which pings it if it idled long.
func (s *Session) getBackend(ctx context.Context, pool *Pool, key poolKey, pw string) (*Backend, error) {
	if s.task == nil {
		return pool.Get(ctx, key, pw)
	}
	for {
		var be *Backend
		var err error
		s.park(func() { be, err = pool.Get(ctx, key, pw) })
		if err != nil {
			return nil, err
		}
		if err := be.lconn.Attach(s.task); err != nil {
			pool.discard(be)
			return nil, err
		}
		if !be.needPing || s.pingIdle(be) == nil {
			return be, nil
		}
		pool.discard(be) // dead while idle: try the next
	}
}

// catchUp replays the session's database and SET statements that be has not
// seen yet.
func (s *Session) catchUp(be *Backend) error {
	if s.db != "" && be.db != s.db {
		if _, err := be.simple(append([]byte{wire.ComInitDB}, s.db...)); err != nil {
			return err
		}
		be.db = s.db
	}
	for be.applied < len(s.replay) {
		if err := be.query(s.replay[be.applied]); err != nil {
			return fmt.Errorf("replay %q on %s: %w", s.replay[be.applied], be.node, err)
		}
		if touchesTracking(s.replay[be.applied]) {
			if err := be.enableTracking(); err != nil {
				return err
			}
		}
		be.applied++
	}
	return nil
}

// setReplicaNode records the replica the session reads from, keeping the
// per-node session counts that spread sessions over replicas.
func (s *Session) setReplicaNode(name string) {
	if name == s.replicaNode {
		return
	}
	if s.replicaNode != "" {
		s.srv.readersOf(s.replicaNode).Add(-1)
	}
	if name != "" {
		s.srv.readersOf(name).Add(1)
	}
	s.replicaNode = name
}

// noteWrite records the GTID of a write this session made.
func (s *Session) noteWrite(be *Backend, v string) {
	g, err := gtid.Parse(be.flavor(), v)
	if err != nil || g.IsEmpty() {
		return
	}
	if u, err := s.lastGTID.Union(g); err == nil {
		s.lastGTID = u
	} else {
		s.lastGTID = g
	}
	s.srv.noteAck(g)
}

// refreshPinned updates the admin copy of the pin reasons. It runs after
// every statement, so it does nothing while they are unchanged.
func (s *Session) refreshPinned() {
	if s.pins == s.pinnedFor {
		return
	}
	s.pinnedFor = s.pins
	p := pinString(s.pins)
	s.mu.Lock()
	s.pinned = p
	s.mu.Unlock()
}

// touchesTracking reports whether a SET changes session tracking, which the
// proxy relies on for read-your-writes.
func touchesTracking(set string) bool {
	return strings.Contains(strings.ToLower(set), "session_track_")
}
