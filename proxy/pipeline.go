package proxy

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/switchyard/switchyard/evloop"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/wire"
)

// Pipelined reads (routing.pipeline_reads): on an event loop, the
// executions of small prepared reads by sessions without session state go
// over a few connections per replica that the loop's sessions share, and
// several may be in flight on one at a time (sent before the previous
// answers came back; MySQL answers a connection's commands in order). The
// server then finds the next command waiting when it finishes one, instead
// of sleeping and being woken for it: on the 2-core bench machine a
// replica spends about a third less CPU per point select (bench/README.md,
// "Ninth look").
//
// What keeps it correct:
//   - Only what could run on any connection of the node goes there: a
//     COM_STMT_EXECUTE routed to a replica (no transaction, no pin,
//     autocommit), no cursor, by a session with no SET to replay, whose
//     read need not wait for a GTID; the shared connections are keyed
//     like the pool's (user, database, capabilities, collation).
//   - A statement qualifies after an execution on the session's own
//     connection answered small (one read), without warnings, quickly; a
//     shared answer that is not so sends it back to the session's
//     connection for good.
//   - Parameter types go with every shared execution (another session's
//     types may be bound there).
//   - An answer with an error or warnings is not relayed: the statement
//     runs again on the session's own connection, so what the client
//     gets, and SHOW WARNINGS after it, come from there. A statement that
//     reports on the previous one (SHOW WARNINGS, FOUND_ROWS()) after a
//     clean shared read first runs that read again on the session's
//     connection (rerunShared).
//   - A shared connection that fails fails every request queued on it;
//     those that reached no client run again on their session's own
//     connection.
//
// What it costs: a shared answer waits for the ones queued before it
// (head-of-line). A connection whose oldest request has run longer than
// sharedSlow takes no more, and KILL QUERY does not reach a shared
// execution (it would kill another session's).

const (
	sharedPerKey   = 2                     // shared connections per node and pool key, per loop
	sharedDepth    = 8                     // requests in flight on one, at most
	sharedSlow     = 10 * time.Millisecond // a connection whose oldest request is older takes no more
	sharedMaxReq   = 4 << 10               // larger executions are not shared
	sharedMaxAns   = 8 << 10               // a larger answer is not small
	sharedMaxStmts = 256                   // statements prepared on one shared connection
	pipeMaxDur     = 5 * time.Millisecond  // an execution slower than this does not qualify
)

// pipeState says whether a prepared statement's executions may be shared.
type pipeState uint8

const (
	pipeUnknown pipeState = iota // not yet run on the session's own connection
	pipeYes
	pipeNo
)

var (
	errSharedBroken = errors.New("shared connection failed")
	errSharedFull   = errors.New("shared connection holds its most statements")
)

type sharedKey struct {
	node string
	key  poolKey
}

// sharedConns are one event loop's shared read connections, one per node
// and pool key; only tasks of that loop touch them.
type sharedConns struct {
	groups map[sharedKey]*sharedSlot
}

func newSharedConns() *sharedConns { return &sharedConns{groups: make(map[sharedKey]*sharedSlot)} }

// sharedSlot holds the shared connection of one node and pool key. One per
// loop: the fewer connections carry the requests, the more of them a
// server thread finds waiting (two replicas, two loops and 16 sysbench
// threads: four requests on each at most; a second connection per loop
// halved that and gave back most of the saving).
type sharedSlot struct {
	conn    *sharedConn
	dialing bool
}

// sharedConn is one shared connection and its requests in flight, in the
// order they were sent: the first reads its answer, the others wait
// (parked) for their turn.
type sharedConn struct {
	be     *Backend
	queue  []*sharedReq
	broken bool
	stmts  map[string]*backendStmt // by SQL text
}

// sharedReq is a session's request in flight on a shared connection.
type sharedReq struct {
	task   *evloop.Task
	sent   time.Time
	parked bool
}

// send writes a whole request frame and queues r for its answer. It does
// not wait: a socket that cannot take it at once breaks the connection
// (requests are small and few, far below a socket's buffer).
func (c *sharedConn) send(r *sharedReq, frame []byte) error {
	if c.broken {
		return errSharedBroken
	}
	if err := c.be.lconn.WriteNow(frame); err != nil {
		c.fail()
		return err
	}
	c.queue = append(c.queue, r)
	return nil
}

// await parks until r is first in the queue, then attaches the connection
// to r's task for reading its answer.
func (c *sharedConn) await(r *sharedReq) error {
	for !c.broken && c.queue[0] != r {
		r.parked = true
		err := r.task.Park()
		r.parked = false
		if err != nil {
			// (The loop shuts down.) Nobody would read r's answer.
			c.fail()
			return err
		}
	}
	if c.broken {
		return errSharedBroken
	}
	return c.be.lconn.Attach(r.task)
}

// done ends the first request, whose answer was read, and wakes the next.
func (c *sharedConn) done() {
	if c.broken {
		return
	}
	n := copy(c.queue, c.queue[1:])
	c.queue[n] = nil
	c.queue = c.queue[:n]
	if n > 0 && c.queue[0].parked {
		c.queue[0].task.Wake()
	}
}

// fail closes the connection and wakes every request still queued.
func (c *sharedConn) fail() {
	if c.broken {
		return
	}
	c.broken = true
	q := c.queue
	c.queue = nil
	for _, r := range q {
		if r.parked {
			r.task.Wake()
		}
	}
	c.be.giveBack(true)
}

// sharedFor returns the shared connection to own's node for the session's
// next request, dialling it the first time; nil when it cannot take one
// now (full, its oldest request slow, being dialled).
func (s *Session) sharedFor(ctx context.Context, own *Backend, now time.Time) *sharedConn {
	g := s.slot
	if own != s.slotOwn || g == nil {
		// (Slots are never removed: the pointer stays good.)
		k := sharedKey{node: own.node, key: own.key}
		if g = s.shared.groups[k]; g == nil {
			g = &sharedSlot{}
			s.shared.groups[k] = g
		}
		s.slotOwn, s.slot = own, g
	}
	if c := g.conn; c != nil && !c.broken {
		if len(c.queue) >= sharedDepth || (len(c.queue) > 0 && now.Sub(c.queue[0].sent) > sharedSlow) {
			return nil
		}
		return c
	}
	pw, known := s.srv.password(s.user)
	if g.dialing || !known || own.pool == nil {
		return nil
	}
	g.dialing = true
	be, err := s.getBackend(ctx, s.srv.poolFor(own.node, own.pool.addr), own.key, pw)
	g.dialing = false
	if err != nil {
		s.log.Debug("no shared connection", "node", own.node, "err", err)
		return nil
	}
	be.dirty = true
	g.conn = &sharedConn{be: be, stmts: make(map[string]*backendStmt)}
	return g.conn
}

// pipelinable reports whether this execution of st may be shared.
func (s *Session) pipelinable(st *stmtInfo, pkt []byte, flagAt int) bool {
	if st.pipe != pipeYes || s.shared == nil || len(s.replay) > 0 || st.longData ||
		len(pkt) > sharedMaxReq || len(st.sql) > sharedMaxReq || len(pkt) < 10 || pkt[5] != 0 ||
		st.class.Kind != router.KindRead || st.class.Pin != 0 || st.class.Unpin != 0 || st.class.Sticky {
		return false
	}
	if n := int(st.numParams); n > 0 && pkt[flagAt] != 1 && len(st.paramTypes) != 2*n {
		return false
	}
	return s.srv.routing().PipelineReads
}

// executeShared runs an execution on a shared connection to own's node
// (own: the session's connection there, chosen and caught up for this
// read). handled false means nothing reached the client: the caller runs
// it on own.
func (s *Session) executeShared(ctx context.Context, own *Backend, st *stmtInfo, pkt []byte, flagAt int) (handled bool, err error) {
	if own.lconn == nil {
		return false, nil
	}
	start := time.Now()
	c := s.sharedFor(ctx, own, start)
	if c == nil {
		return false, nil
	}
	bs, err := s.sharedStmt(c, st, start)
	if err != nil {
		return false, nil
	}
	// The frame: header, then the execution with this connection's id and
	// the parameter types.
	out := append(s.pipeBuf[:0], 0, 0, 0, 0)
	if n := int(st.numParams); n > 0 && pkt[flagAt] == 0 {
		out = append(out, pkt[:flagAt]...)
		out = append(out, 1)
		out = append(out, st.paramTypes...)
		out = append(out, pkt[flagAt+1:]...)
	} else {
		out = append(out, pkt...)
	}
	s.pipeBuf = out
	l := len(out) - 4
	out[0], out[1], out[2] = byte(l), byte(l>>8), byte(l>>16)
	binary.LittleEndian.PutUint32(out[5:9], bs.id)

	s.lastErr, s.partialErr = false, false
	s.setCurrentAt(nil, st.label, "replica", start)
	if own.inflight == nil {
		own.inflight = s.srv.outstanding(own.node)
	}
	load := &own.inflight[s.shard].n
	load.Add(1)
	status, res, err := s.sharedExec(c, st, bs, out, start)
	load.Add(-1)
	dur := time.Since(start)
	if res == sharedRetry {
		return false, nil
	}
	end := start.Add(dur)
	s.clock = end
	if d := s.srv.digests; d != nil {
		if st.digest == "" {
			st.digest = router.Normalize(st.label)
			st.digestKey = DigestKey(st.digest)
		}
		d.recordKeyed(s.shard, st.digestKey, st.digest, "replica", dur, s.rows, end)
	}
	s.srv.observe(s.shard, "replica", err != nil, dur)
	s.srv.metrics.count(s.shard, "replica", err != nil)
	if err != nil {
		return true, err
	}
	s.afterAnswer(own, status)
	st.lastNode = own.node
	// Kept for rerunShared: what the session's connection runs should a
	// statement ask about this one.
	s.sharedLast = st
	s.sharedPkt = append(s.sharedPkt[:0], out[4:]...)
	return true, nil
}

// sharedResult says how a shared execution ended.
type sharedResult uint8

const (
	sharedAnswered sharedResult = iota // the client has its answer (or err says why not)
	sharedRetry                        // nothing reached the client: run it on the session's connection
)

// sharedExec sends one execution on c, waits for its turn and relays the
// answer.
func (s *Session) sharedExec(c *sharedConn, st *stmtInfo, bs *backendStmt, frame []byte, now time.Time) (uint16, sharedResult, error) {
	r := &s.sreq
	*r = sharedReq{task: s.task, sent: now}
	if err := c.send(r, frame); err != nil {
		return 0, sharedRetry, nil
	}
	if err := c.await(r); err != nil {
		return 0, sharedRetry, nil
	}
	be := c.be
	cm := be.cacheMeta()
	// big: the answer is not small (or not one result set); the frame by
	// frame relay below takes it, as it takes definitions the proxy must
	// follow (metadata caching), which leave the statement shared.
	big := true
	b, err := be.w.Peeked()
	for err == nil {
		n, rows, status, follows, ok, short := wire.WholeResultShort(b, cm)
		if ok {
			if n > sharedMaxAns {
				break
			}
			if cm && (follows || !bs.agrees(st)) {
				big = false
				break
			}
			if wire.FrameLen(b[n-9:]) != 5 || binary.LittleEndian.Uint16(b[n-4:]) != 0 {
				// Warnings: the session's connection runs it again, so
				// SHOW WARNINGS finds them there.
				be.w.Discard(n)
				c.done()
				st.pipe = pipeNo
				return 0, sharedRetry, nil
			}
			if cm {
				st.meta = bs.meta // equal: later checks compare pointers
			}
			s.rows = rows
			s.countShared()              // before the client has it (tests read it then)
			err = s.cw.WriteFrame(b[:n]) // copied: the next request's turn comes first
			be.w.Discard(n)
			c.done()
			if err == nil {
				err = s.cw.Flush()
			}
			if err != nil {
				return 0, sharedAnswered, &relayErr{err: err, client: true}
			}
			return status, sharedAnswered, nil
		}
		if len(b) >= 5 && len(b) >= 4+wire.FrameLen(b) && b[4] == wire.ErrHeader {
			// The session's connection runs it again for the error.
			be.w.Discard(4 + wire.FrameLen(b))
			c.done()
			st.pipe = pipeNo
			return 0, sharedRetry, nil
		}
		if !short || len(b) >= sharedMaxAns {
			break
		}
		b, err = be.w.PeekMore()
	}
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		c.fail()
		return 0, sharedRetry, nil
	}
	if big {
		st.pipe = pipeNo // not shared again
	}
	if cm {
		s.execStmt, s.execBS = st, bs
	}
	s.rows = 0
	s.countShared()
	status, err := s.relay(be, modeExecute)
	s.execStmt, s.execBS = nil, nil
	if err == nil {
		c.done()
		return status, sharedAnswered, nil
	}
	c.fail()
	var re *relayErr
	if errors.As(err, &re) && !re.client && re.inStep && !re.sent {
		return 0, sharedRetry, nil
	}
	return 0, sharedAnswered, s.writeRelayErr(be, err)
}

// countShared counts a read answered over a shared connection.
func (s *Session) countShared() { s.srv.metrics.hot[s.shard%StatShards].pipelined.Add(1) }

// sharedStmt returns st's statement on c, preparing it there (a request in
// the queue like any other) the first time.
func (s *Session) sharedStmt(c *sharedConn, st *stmtInfo, now time.Time) (*backendStmt, error) {
	if st.sharedOn == c {
		return st.sharedBS, nil
	}
	if bs := c.stmts[string(st.sql)]; bs != nil {
		st.sharedOn, st.sharedBS = c, bs
		return bs, nil
	}
	if len(c.stmts) >= sharedMaxStmts {
		return nil, errSharedFull
	}
	frame := make([]byte, 5, 5+len(st.sql))
	l := len(st.sql) + 1
	frame[0], frame[1], frame[2], frame[4] = byte(l), byte(l>>8), byte(l>>16), wire.ComStmtPrepare
	frame = append(frame, st.sql...)
	r := &s.sreq
	*r = sharedReq{task: s.task, sent: now}
	if err := c.send(r, frame); err != nil {
		return nil, err
	}
	if err := c.await(r); err != nil {
		return nil, err
	}
	bs, err := s.readPrepared(c.be, st)
	if err != nil {
		var we *wire.Error
		if !errors.As(err, &we) {
			c.fail()
			return nil, err
		}
		c.done()
		return nil, err
	}
	c.done()
	if have := c.stmts[string(st.sql)]; have != nil {
		// Another session prepared it meanwhile: keep one.
		var b [9]byte
		b[0], b[4] = 5, wire.ComStmtClose
		binary.LittleEndian.PutUint32(b[5:], bs.id)
		if err := c.be.lconn.WriteNow(b[:]); err != nil {
			c.fail()
		}
		st.sharedOn, st.sharedBS = c, have
		return have, nil
	}
	c.stmts[string(st.sql)] = bs
	st.sharedOn, st.sharedBS = c, bs
	return bs, nil
}

// rerunShared runs the session's last shared read again on be, its own
// connection to that node, discarding the answer: a statement about to run
// there reports on the previous one (SHOW WARNINGS, FOUND_ROWS()).
func (s *Session) rerunShared(be *Backend) error {
	st := s.sharedLast
	s.sharedLast = nil
	if st == nil {
		return nil
	}
	bs, err := s.ensurePrepared(be, st)
	if err != nil {
		return err
	}
	pkt := s.sharedPkt
	binary.LittleEndian.PutUint32(pkt[1:5], bs.id)
	if len(pkt) > 10 && st.numParams > 0 {
		bs.typesSent = true // (sharedPkt always carries them)
	}
	if err := be.request(pkt); err != nil {
		return err
	}
	if err := be.drain(); err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			return nil
		}
		return err
	}
	return nil
}
