package proxy

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/server"

	"github.com/switchyard/switchyard/evloop"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/wire"
)

// Session is one client connection: it reads commands, decides where each
// runs (router.Decide), sends it to that backend connection and relays the
// answer. It holds at most one backend connection per node for its life.
type Session struct {
	id     uint32
	srv    *Server
	sc     *server.Conn // go-mysql's conn, kept for the handshake facts
	cw     *wire.Conn   // our framing over the client's socket
	log    *slog.Logger
	user   string
	caps   uint32 // negotiated capability flags
	ext    uint32 // negotiated MariaDB extended capabilities (advertisedExt)
	coll   uint8  // handshake collation
	db     string
	remote string

	// Only the session goroutine touches these.
	conns        map[string]*Backend // by node name
	lastNode     string              // ran the previous statement (sticky statements)
	txNode       string              // holds the open transaction, "" when none
	txLost       string              // why the open transaction is gone ("" = not lost)
	replicaNode  string              // replica of the session's last reads (monotonic)
	choice       replicaChoice       // how replicaNode was last chosen
	idleFor      time.Duration       // the idle timeout armIdle last set
	idleRefresh  time.Time           // when armIdle sets the deadline again
	status       uint16              // status flags the client last saw
	pins         router.PinReason
	pinnedFor    router.PinReason    // the pins the admin copy (pinned) shows
	prepNames    map[string]struct{} // text PREPAREd names (PinPrepare)
	replay       []string            // session SETs, replayed on every backend used
	nextTxMaster bool
	lastGTID     gtidPos // the session's last write
	lastErr      bool    // the last relayed answer was an ERR
	partialErr   bool    // ...after earlier statements of the same text succeeded
	rows         uint64  // rows relayed in the last answer
	okBuf        []byte
	digestNorm   string // normalised text of the prepared statement being executed (digests)
	digestKey    uint64 // its DigestKey
	// The prepared statement being executed and its backend statement,
	// whose column definitions the relay follows (meta.go); nil otherwise.
	execStmt *stmtInfo
	execBS   *backendStmt
	clock    time.Time     // when the last statement's answer ended (armIdle's "now"), zero once used
	lastDur  time.Duration // how long the last statement took
	// wholeClean: the last answer was relayed whole, small, without warnings.
	wholeClean bool

	// Pipelined reads (pipeline.go): the loop's shared connections (nil
	// off loops), the session's request in flight on one, the frame
	// being built, and the last shared execution with its packet.
	shared     *sharedConns
	slot       *sharedSlot // the slot of slotOwn's node and key
	slotOwn    *Backend
	sreq       sharedReq
	pipeBuf    []byte
	sharedLast *stmtInfo
	sharedPkt  []byte

	stmts    map[uint32]*stmtInfo
	nextStmt uint32
	lastStmt uint32

	// On an event loop (Options.Loops): the loop, fixed for the session's
	// life, and the task the session runs as. Waits the loop cannot see go
	// through park.
	loop  *evloop.Loop
	task  *evloop.Task
	shard int // the session's slot in the sharded counters (StatShards)

	mu       sync.Mutex
	active   *Backend  // backend running a statement right now (for KILL QUERY)
	current  string    // statement text being run (admin port)
	since    time.Time // when it started
	route    string    // route of the current/last statement
	pinned   string    // pinString(pins), for Info
	txOn     string    // copy of txNode while a transaction is open, for Drain
	busy     atomic.Bool
	inTx     atomic.Bool // copy of the in-transaction flag for Info
	onMaster atomic.Bool // a statement runs on the master right now (drain)
	killed   atomic.Bool
	started  time.Time
}

type stmtInfo struct {
	id         uint32
	sql        []byte
	label      string // "EXECUTE <sql>" for the admin port, built once
	digest     string // router.Normalize(label), computed at the first execution
	digestKey  uint64 // DigestKey(digest)
	class      router.Class
	numParams  uint16
	numCols    uint16
	paramTypes []byte   // last bound parameter types (2 bytes each)
	lastNode   string   // backend of the last execution (fetch/reset go there)
	longData   bool     // long data was sent: runs on the master
	meta       *colMeta // column definitions the client holds (metadata caching only)
	pipe       pipeState
	// The statement on the shared connection it last ran on (pipeline.go).
	sharedOn *sharedConn
	sharedBS *backendStmt
}

// SessionInfo is what the admin port shows of a session.
type SessionInfo struct {
	ID      uint32
	User    string
	Client  string
	DB      string
	Backend string // node running the current statement
	// BackendThread is that backend connection's id (what CONNECTION_ID()
	// returns inside the statement).
	BackendThread uint32
	Route         string
	Pinned        string // why the session is pinned to the master, "" if not
	InTx          bool
	Statement     string
	Since         time.Time
	Started       time.Time
	OnLoop        bool // runs on an event loop (Options.Loops)
}

// Info returns a snapshot for the admin port.
func (s *Session) Info() SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := SessionInfo{ID: s.id, User: s.user, Client: s.remote, DB: s.db, Started: s.started,
		Statement: s.current, Since: s.since, InTx: s.inTx.Load(), Route: s.route,
		Pinned: s.pinned, OnLoop: s.loop != nil}
	if s.active != nil {
		in.Backend = s.active.node
		in.BackendThread = s.active.threadID
	}
	return in
}

// run is the command loop. It returns when the client quits, fails, or the
// server shuts down.
//
// Commands run inside the client conn's command loop (wire.Conn.Commands),
// which waits for the next one without a failing read first; the few that
// read more of the client while they run (change user, LOAD DATA LOCAL)
// are handed back and run outside it.
func (s *Session) run(ctx context.Context) {
	defer s.cleanup()
	var (
		limit   int
		pending []byte // a command to run outside the loop
		ended   bool
	)
	handle := func(pkt []byte) bool {
		if !inLoopCommand(pkt) {
			pending = pkt
			return false
		}
		if !s.command(ctx, pkt) {
			ended = true
			return false
		}
		// A reload that changed the packet limit restarts the loop with it.
		return s.ready() && s.srv.limits().MaxPacket == limit
	}
	for {
		if !s.ready() {
			return
		}
		limit, pending = s.srv.limits().MaxPacket, nil
		big, err := s.cw.Commands(limit, handle)
		if ended {
			return
		}
		if err == nil && big {
			pending, err = s.cw.ReadPacket(limit)
		}
		if err != nil {
			s.readFailed(err)
			return
		}
		if pending != nil && !s.command(ctx, pending) {
			return
		}
	}
}

// ready is checked before the session waits for a command: false when it
// must end (draining, killed); otherwise the idle deadline is armed.
func (s *Session) ready() bool {
	if s.srv.draining.Load() || s.killed.Load() {
		return false
	}
	s.armIdle()
	// A KILL or shutdown that came between the check above and the
	// deadline just set: its wake-up was overwritten.
	return !s.srv.draining.Load() && !s.killed.Load()
}

// command runs one client command; false ends the session.
func (s *Session) command(ctx context.Context, pkt []byte) bool {
	if len(pkt) == 0 {
		_ = s.cw.WriteError(wire.NewError(erMalformed, "HY000", "Malformed communication packet"))
		return false
	}
	s.busy.Store(true)
	err := s.dispatch(ctx, pkt)
	s.busy.Store(false)
	s.onMaster.Store(false)
	s.setCurrent(nil, "", "")
	if err != nil {
		if !errors.Is(err, errQuit) {
			s.log.Debug("session ends", "err", err)
		}
		return false
	}
	return true
}

// readFailed logs why reading the client's next command failed.
func (s *Session) readFailed(err error) {
	switch {
	case errors.Is(err, wire.ErrPacketTooLarge):
		_ = s.cw.WriteError(wire.NewError(erNetPacketTooLarge, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes"))
		s.log.Warn("client packet too large; closing", "err", err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		if !s.srv.draining.Load() && !s.killed.Load() {
			s.log.Info("client idle timeout; closing")
		}
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		s.log.Debug("client read failed", "err", err)
	}
}

// inLoopCommand reports whether a command can run inside the client conn's
// command loop, i.e. reads nothing more of the client while it runs. Only
// LOAD DATA LOCAL (an answer to COM_QUERY) and change user's
// authentication do; a query that has no LOCAL in its text cannot be one.
func inLoopCommand(pkt []byte) bool {
	if len(pkt) == 0 {
		return true
	}
	switch pkt[0] {
	case wire.ComChangeUser:
		return false
	case wire.ComQuery:
		return !containsLocal(pkt[1:])
	}
	return true
}

// containsLocal reports whether b contains "local" in any letter case.
func containsLocal(b []byte) bool {
	for i := 0; i+5 <= len(b); i++ {
		if b[i]|0x20 == 'l' && b[i+1]|0x20 == 'o' && b[i+2]|0x20 == 'c' && b[i+3]|0x20 == 'a' && b[i+4]|0x20 == 'l' {
			return true
		}
	}
	return false
}

var errQuit = errors.New("client quit")

// armIdle sets the client's read deadline for the idle timeout before the
// session waits for a command. Setting a deadline is a timer operation, so
// it is not redone per command but when it has aged by min(timeout/16, 1s):
// the timeout then fires between that much before and exactly timeout after
// the last command. The deadline stays set while a command runs; only reads
// of the client observe it, and those that have their own (change user, LOAD
// DATA LOCAL) call disarmIdle after.
func (s *Session) armIdle() {
	d := s.srv.limits().ClientIdleTimeout
	// The end of the statement just relayed is recent enough, and saves a
	// clock read; it is used once.
	now := s.clock
	s.clock = time.Time{}
	if now.IsZero() {
		now = time.Now()
	}
	if d == s.idleFor && now.Before(s.idleRefresh) {
		return
	}
	if d <= 0 {
		_ = s.cw.SetReadDeadline(time.Time{})
		s.idleRefresh = now.Add(24 * time.Hour) // nothing ages; re-set on reload or disarm
	} else {
		_ = s.cw.SetReadDeadline(now.Add(d))
		s.idleRefresh = now.Add(min(d/16, time.Second))
	}
	s.idleFor = d
}

// disarmIdle notes that the client's read deadline was changed, so armIdle
// sets it again.
func (s *Session) disarmIdle() { s.idleRefresh = time.Time{} }

// dispatch runs one command. A non-nil error ends the session.
func (s *Session) dispatch(ctx context.Context, pkt []byte) error {
	switch pkt[0] {
	case wire.ComQuit:
		return errQuit
	case wire.ComPing:
		return s.writeOK(0, 0)
	case wire.ComQuery:
		return s.query(ctx, pkt)
	case wire.ComInitDB:
		db := string(pkt[1:])
		err := s.forwardTo(ctx, pkt, routeFixed(router.RouteMaster), modeSingle, "USE "+db)
		if err == nil && !s.lastErr {
			s.setDB(db)
		}
		return err
	case wire.ComFieldList:
		return s.forwardTo(ctx, pkt, routeFixed(router.RouteMaster), modeFields, "")
	case wire.ComStatistics:
		return s.forwardTo(ctx, pkt, routeFixed(router.RouteMaster), modeSingle, "")
	case wire.ComSetOption:
		// Multi-statement on/off is per connection and not replayed: pin.
		s.pins |= router.PinState
		s.refreshPinned()
		return s.forwardTo(ctx, pkt, routeFixed(router.RouteMaster), modeSingle, "")
	case wire.ComResetConnection:
		return s.resetConnection(ctx)
	case wire.ComProcessKill:
		if len(pkt) < 5 {
			return s.writeErr(wire.NewError(erMalformed, "HY000", "Malformed communication packet"))
		}
		return s.kill(ctx, binary.LittleEndian.Uint32(pkt[1:5]), false)
	case wire.ComChangeUser:
		return s.changeUser(ctx, pkt)
	case wire.ComStmtPrepare:
		return s.prepare(ctx, pkt)
	case wire.ComStmtExecute:
		return s.execute(ctx, pkt)
	case wire.ComStmtFetch:
		return s.stmtForward(ctx, pkt, modeFetch, "mysqld_stmt_fetch")
	case wire.ComStmtReset:
		return s.stmtForward(ctx, pkt, modeSingle, "mysqld_stmt_reset")
	case wire.ComStmtSendLongData:
		return s.sendLongData(ctx, pkt)
	case wire.ComStmtClose:
		s.closeStmt(pkt)
		return nil
	default:
		return s.writeErr(wire.NewError(erUnknownCom, "08S01", "Unknown command"))
	}
}

func (s *Session) setDB(db string) {
	s.mu.Lock()
	s.db = db
	s.mu.Unlock()
}

// dropConn gives a backend connection back to its pool (or closes it).
func (s *Session) dropConn(be *Backend, broken bool) {
	if be == nil {
		return
	}
	if s.conns[be.node] == be {
		delete(s.conns, be.node)
	}
	if s.choice.be == be {
		s.choice = replicaChoice{}
	}
	if s.txNode == be.node {
		if s.status&wire.StatusInTrans != 0 {
			s.txLost = "the backend holding the transaction (" + be.node + ") failed"
		}
		s.txNode = ""
		s.syncTxOn()
	}
	be.giveBack(broken)
}

func (s *Session) dropAll(broken bool) {
	for _, be := range s.conns {
		s.dropConn(be, broken)
	}
}

func (s *Session) setCurrent(be *Backend, text, route string) {
	var now time.Time
	if be != nil {
		now = time.Now()
	}
	s.setCurrentAt(be, text, route, now)
}

// setCurrentAt is setCurrent for a statement that started at now.
func (s *Session) setCurrentAt(be *Backend, text, route string, now time.Time) {
	s.mu.Lock()
	s.active = be
	if len(text) > 1024 {
		text = text[:1024]
	}
	s.current = text
	if be != nil {
		s.since = now
		s.route = route
	}
	s.mu.Unlock()
}

func (s *Session) writeOK(affected, insertID uint64) error {
	s.cw.Seq = 1
	if err := s.cw.WritePacket(wire.AppendOK(nil, affected, insertID, s.status, 0)); err != nil {
		return err
	}
	return s.cw.Flush()
}

func (s *Session) writeErr(e *wire.Error) error {
	s.cw.Seq = 1
	return s.cw.WriteError(e)
}

// writeBackendErr reports a failure to get a backend connection; the session
// carries on.
func (s *Session) writeBackendErr(err error) error {
	var we *wire.Error
	if !errors.As(err, &we) {
		we = wire.NewError(crConnHostError, "HY000", "switchyard: %v", err)
	}
	return s.writeErr(we)
}

// resetConnection handles COM_RESET_CONNECTION: every backend connection is
// reset, and the session's tracked state starts over.
func (s *Session) resetConnection(ctx context.Context) error {
	clear(s.stmts)
	for _, be := range s.conns {
		clear(be.stmts)
		if _, err := be.simple([]byte{wire.ComResetConnection}); err != nil {
			s.dropConn(be, true)
			continue
		}
		be.applied = 0
		if err := be.enableTracking(); err != nil {
			s.dropConn(be, true)
		}
	}
	s.replay = s.replay[:0]
	s.pins = 0
	s.refreshPinned()
	clear(s.prepNames)
	s.txNode, s.txLost = "", ""
	s.syncTxOn()
	s.nextTxMaster = false
	s.status = wire.StatusAutocommit
	return s.writeOK(0, 0)
}

func (s *Session) cleanup() {
	s.setReplicaNode("")
	s.dropAll(false)
	s.srv.removeSession(s)
	s.sc.Close()
	if s.loop != nil {
		_ = s.cw.Close() // the detached socket (sc's was closed by the detach)
	}
}

// park runs fn, which may wait on channels, timers or Go's netpoller: on an
// event loop through Task.Block, so the loop's other sessions go on.
//
// A panic in fn is raised again in the session, where handle recovers it
// (a goroutine's panic would end the process).
func (s *Session) park(fn func()) {
	if s.task == nil {
		fn()
		return
	}
	var p any
	_ = s.task.Block(func() { // returns once fn has
		defer func() { p = recover() }()
		fn()
	})
	if p != nil {
		panic(p)
	}
}

// pingIdled pings, on a loop, the connections the session got at login
// that idled long enough to need it (Pool.Get leaves that to the task);
// one that fails is dropped, and the session gets another when it needs it.
func (s *Session) pingIdled() {
	for _, be := range s.conns {
		if !be.needPing {
			continue
		}
		if err := s.pingIdle(be); err != nil {
			s.dropConn(be, true)
		}
	}
}

// pingIdle pings a loop connection that idled past PingAfter.
func (s *Session) pingIdle(be *Backend) error {
	be.needPing = false
	return be.ping(s.srv.poolLimits().ConnectTimeout)
}

// onLoop runs fn against the client conn where it may touch it: on the
// session's loop when it has one (fn then runs on the loop goroutine),
// else at once.
func (s *Session) onLoop(cw *wire.Conn, fn func(cw *wire.Conn)) {
	if s.loop != nil {
		s.loop.Post(func() { fn(cw) })
		return
	}
	fn(cw)
}

// pinString names pin reasons for the admin port.
func pinString(p router.PinReason) string {
	if p == 0 {
		return ""
	}
	names := []struct {
		r router.PinReason
		n string
	}{{router.PinTempTable, "temporary table"}, {router.PinUserVar, "user variable"}, {router.PinGetLock, "GET_LOCK"},
		{router.PinLockTables, "LOCK TABLES"}, {router.PinPrepare, "text PREPARE"}, {router.PinFoundRows, "FOUND_ROWS"},
		{router.PinHandler, "HANDLER"}, {router.PinXA, "XA"}, {router.PinState, "unreplayable session state"}}
	var out []string
	for _, n := range names {
		if p&n.r != 0 {
			out = append(out, n.n)
		}
	}
	return strings.Join(out, ", ")
}

// wake interrupts whatever the session waits for on its client (a read, or
// a write to a client that stopped reading), for KILL and shutdown.
func (s *Session) wake() {
	s.mu.Lock()
	cw := s.cw
	s.mu.Unlock()
	if cw != nil {
		s.onLoop(cw, func(cw *wire.Conn) { _ = cw.SetDeadline(timeNow()) })
	}
}

// wakeRead interrupts a session waiting for its client's next command.
func (s *Session) wakeRead() {
	s.mu.Lock()
	cw := s.cw
	s.mu.Unlock()
	if cw != nil {
		s.onLoop(cw, func(cw *wire.Conn) { _ = cw.SetReadDeadline(timeNow()) })
	}
}

// closeClient closes the client's socket (shutdown grace over). Close
// waits until no read of the socket is in progress, and a session runs its
// statement inside one (the command loop): it closes in the background, so
// the caller can go on to close the backends that statement may wait on.
// The goroutine ends when the session leaves its loop.
func (s *Session) closeClient() {
	s.mu.Lock()
	cw := s.cw
	s.mu.Unlock()
	if cw == nil {
		return
	}
	if s.loop != nil {
		// On the loop nothing is in progress while this runs: close at once.
		s.loop.Post(func() {
			_ = cw.SetDeadline(timeNow())
			_ = cw.Close()
		})
		return
	}
	_ = cw.SetDeadline(timeNow())
	go func() { _ = cw.Close() }()
}
