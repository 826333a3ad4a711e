package proxy

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/wire"
)

// Prepared statements have virtual ids: the client sees ids the session
// hands out, and each backend connection prepares the statement lazily the
// first time it has to run it. The SQL text and the last bound parameter
// types are kept so a statement can be prepared again on another backend.
// Each execution is routed by the statement's classification.

// prepare handles COM_STMT_PREPARE: it prepares on the master (the answer's
// metadata is the same everywhere), rewrites the statement id in the answer,
// and relays the parameter and column definitions.
func (s *Session) prepare(ctx context.Context, pkt []byte) error {
	be, _, err := s.pick(ctx, router.RouteMaster)
	if err != nil {
		return s.writeBackendErr(err)
	}
	sql := append([]byte(nil), pkt[1:]...)
	s.setCurrent(be, "PREPARE "+string(sql), "master")
	if err := be.command(pkt); err != nil {
		s.dropConn(be, true)
		return s.writeErr(errLostBackend(be.node, err))
	}
	p, err := be.w.ReadPacket(0)
	if err != nil {
		s.dropConn(be, true)
		return s.writeErr(errLostDuringQuery(be.node, err))
	}
	if len(p) == 0 || p[0] != wire.OKHeader || len(p) < 12 {
		// ERR (or something unexpected): pass it on as it is.
		s.cw.Seq = be.w.Seq - 1
		if err := s.cw.WritePacket(p); err != nil {
			return err
		}
		return s.cw.Flush()
	}
	backendID := binary.LittleEndian.Uint32(p[1:5])
	numCols := binary.LittleEndian.Uint16(p[5:7])
	numParams := binary.LittleEndian.Uint16(p[7:9])
	s.nextStmt++
	vid := s.nextStmt
	class := router.Classify(string(sql))
	if rules := s.srv.routing().Rules; rules != nil {
		class = rules.Apply(string(sql), class)
	}
	if class.Kind == router.KindSet && numParams > 0 && class.Replay != "" {
		// The text has placeholders: it cannot be replayed elsewhere.
		class.Replay = ""
		class.Pin |= router.PinState
	}
	s.stmts[vid] = &stmtInfo{id: vid, sql: sql, label: "EXECUTE " + string(sql), class: class, numParams: numParams, numCols: numCols}
	s.lastStmt = vid
	be.stmts[vid] = &backendStmt{id: backendID}
	binary.LittleEndian.PutUint32(p[1:5], vid)
	s.cw.Seq = be.w.Seq - 1
	if err := s.cw.WritePacket(p); err != nil {
		return err
	}
	frames, cols := prepareFrames(numParams, numCols)
	lastSeq := s.cw.Seq - 1
	// With metadata caching the client keeps the column definitions.
	meta := s.newMeta(numCols)
	for i := 0; i < frames; i++ {
		f, err := be.w.RelayFrame(s.cw)
		if err != nil {
			return s.finishRelayErr(be, s.classify(err, f, lastSeq))
		}
		lastSeq = f.Seq
		if i >= cols && i < cols+int(numCols) {
			meta = meta.addFrame(f)
		}
	}
	s.stmts[vid].meta, be.stmts[vid].meta = meta, meta
	return s.cw.Flush()
}

// prepareFrames counts the frames after a prepare answer's OK: parameter
// definitions and their EOF, column definitions and theirs; cols is the
// index of the first column definition.
func prepareFrames(numParams, numCols uint16) (frames, cols int) {
	if numParams > 0 {
		frames += int(numParams) + 1
	}
	cols = frames
	if numCols > 0 {
		frames += int(numCols) + 1
	}
	return frames, cols
}

// finishRelayErr sorts out a failed relay: a dead backend gives the client a
// clear error and the session goes on; a dead client ends the session.
func (s *Session) finishRelayErr(be *Backend, err error) error {
	s.dropConn(be, true)
	return s.writeRelayErr(be, err)
}

// writeRelayErr tells the client of a failed relay when its stream is still
// in step; a dead client, or one out of step, ends the session.
func (s *Session) writeRelayErr(be *Backend, err error) error {
	var re *relayErr
	if !errors.As(err, &re) || re.client {
		return err
	}
	s.log.Warn("backend failed during a command", "node", be.node, "err", re.err)
	s.status &^= wire.StatusMoreResultsExists
	if !re.inStep {
		return fmt.Errorf("backend %s failed inside a packet: %w", be.node, re.err)
	}
	s.cw.Seq = re.nextSeq
	return s.cw.WriteError(wire.NewError(crServerLost, "HY000",
		"Lost connection to MySQL server during query (switchyard: backend %s failed: %v)", be.node, re.err))
}

// lookupStmt resolves the statement id at pkt[1:5]; MariaDB's id -1 means
// the statement prepared last.
func (s *Session) lookupStmt(pkt []byte) (*stmtInfo, bool) {
	if len(pkt) < 5 {
		return nil, false
	}
	id := binary.LittleEndian.Uint32(pkt[1:5])
	if id == 0xffffffff {
		id = s.lastStmt
	}
	st, ok := s.stmts[id]
	return st, ok
}

// ensurePrepared makes sure be has st prepared and returns its id there.
func (s *Session) ensurePrepared(be *Backend, st *stmtInfo) (*backendStmt, error) {
	if bs, ok := be.stmts[st.id]; ok {
		return bs, nil
	}
	if err := be.command(append([]byte{wire.ComStmtPrepare}, st.sql...)); err != nil {
		return nil, err
	}
	bs, err := s.readPrepared(be, st)
	if err != nil {
		return nil, err
	}
	be.stmts[st.id] = bs
	return bs, nil
}

// readPrepared reads the answer to preparing st on be.
func (s *Session) readPrepared(be *Backend, st *stmtInfo) (*backendStmt, error) {
	p, err := be.w.ReadPacket(0)
	if err != nil {
		return nil, err
	}
	if len(p) > 0 && p[0] == wire.ErrHeader {
		return nil, wire.ParseErr(p)
	}
	if len(p) < 12 || p[0] != wire.OKHeader {
		return nil, fmt.Errorf("unexpected prepare answer 0x%02x", firstByte(p))
	}
	bs := &backendStmt{id: binary.LittleEndian.Uint32(p[1:5])}
	numCols := binary.LittleEndian.Uint16(p[5:7])
	numParams := binary.LittleEndian.Uint16(p[7:9])
	frames, cols := prepareFrames(numParams, numCols)
	// Only a caching backend's belief matters (prepare keeps the client's
	// from any backend).
	var meta *colMeta
	if be.cacheMeta() {
		meta = s.newMeta(numCols)
	}
	for i := 0; i < frames; i++ {
		f, err := be.w.ReadFrameInto()
		if err != nil {
			return nil, err
		}
		if i >= cols && i < cols+int(numCols) {
			meta = meta.addFrame(f)
		}
	}
	// What this server believes the client holds, from now on.
	bs.meta = internMeta(meta, st.meta)
	return bs, nil
}

// prepareFailed answers a failed lazy prepare: the server's error goes to
// the client as it is; a broken connection is dropped and reported.
func (s *Session) prepareFailed(be *Backend, err error) error {
	var we *wire.Error
	if errors.As(err, &we) {
		return s.writeErr(we)
	}
	s.dropConn(be, true)
	return s.writeErr(errLostBackend(be.node, err))
}

// stmtRoute decides where an execution of st runs.
func (s *Session) stmtRoute(st *stmtInfo) router.Route {
	if st.longData {
		return router.RouteMaster
	}
	r := router.Decide(st.class, s.routerState())
	if r == router.RouteLast && st.lastNode != "" {
		return r
	}
	return r
}

// execute handles COM_STMT_EXECUTE.
func (s *Session) execute(ctx context.Context, pkt []byte) error {
	st, ok := s.lookupStmt(pkt)
	if !ok {
		return s.writeErr(errUnknownStmt(stmtID(pkt), "mysqld_stmt_execute"))
	}
	if s.txLost != "" {
		return s.writeErr(s.txLostErr())
	}
	// Parameter types: the client sends them only when they change; a
	// backend that has not seen them yet needs them inserted.
	n := int(st.numParams)
	flagAt := 10 + (n+7)/8
	if n > 0 {
		if len(pkt) < flagAt+1 || (pkt[flagAt] == 1 && len(pkt) < flagAt+1+2*n) {
			return s.writeErr(wire.NewError(erMalformed, "HY000", "Malformed communication packet"))
		}
		if pkt[flagAt] == 1 {
			st.paramTypes = append(st.paramTypes[:0], pkt[flagAt+1:flagAt+1+2*n]...)
		}
	}
	route := s.stmtRoute(st)
	for attempt := 0; ; attempt++ {
		be, where, err := s.pick(ctx, route)
		if err != nil {
			return s.writeBackendErr(err)
		}
		if where == "replica" && attempt == 0 && s.pipelinable(st, pkt, flagAt) {
			if handled, err := s.executeShared(ctx, be, st, pkt, flagAt); handled {
				return err
			}
		}
		bs, err := s.ensurePrepared(be, st)
		if err != nil {
			var we *wire.Error
			if !errors.As(err, &we) && where == "replica" && attempt == 0 {
				s.dropConn(be, true)
				route = router.RouteMaster
				continue
			}
			return s.prepareFailed(be, err)
		}
		out := pkt
		if n > 0 {
			if pkt[flagAt] == 1 {
				bs.typesSent = true
			} else if !bs.typesSent && len(st.paramTypes) == 2*n {
				out = make([]byte, 0, len(pkt)+2*n)
				out = append(out, pkt[:flagAt]...)
				out = append(out, 1)
				out = append(out, st.paramTypes...)
				out = append(out, pkt[flagAt+1:]...)
				bs.typesSent = true
			}
		}
		if &out[0] == &pkt[0] && attempt > 0 {
			out = append([]byte(nil), pkt...)
		}
		binary.LittleEndian.PutUint32(out[1:5], bs.id)
		if s.srv.digests != nil && st.digest == "" {
			st.digest = router.Normalize(st.label)
			st.digestKey = DigestKey(st.digest)
		}
		s.digestNorm, s.digestKey = st.digest, st.digestKey // exec records it without normalising again
		if s.cacheMeta() {
			s.execStmt, s.execBS = st, bs
		}
		err = s.exec(be, out, modeExecute, st.label, where)
		s.digestNorm, s.execStmt, s.execBS = "", nil, nil
		var retry *retryOnMaster
		if asRetry(err, &retry) && attempt == 0 {
			route = router.RouteMaster
			continue
		}
		if err != nil {
			return err
		}
		st.lastNode = be.node
		if st.pipe == pipeUnknown && where == "replica" && s.shared != nil && s.wholeClean && s.lastDur < pipeMaxDur {
			// A small, clean, quick answer qualifies the statement
			// (pipeline.go); anything else decides nothing yet.
			st.pipe = pipeYes
		}
		if !s.lastErr {
			s.afterStatement(be, &st.class)
		}
		return nil
	}
}

// stmtForward handles COM_STMT_FETCH and COM_STMT_RESET: they go to the
// backend of the statement's last execution.
func (s *Session) stmtForward(ctx context.Context, pkt []byte, mode relayMode, op string) error {
	st, ok := s.lookupStmt(pkt)
	if !ok {
		return s.writeErr(errUnknownStmt(stmtID(pkt), op))
	}
	be, ok := s.conns[st.lastNode]
	where := "last"
	if !ok {
		var err error
		be, where, err = s.pick(ctx, s.stmtRoute(st))
		if err != nil {
			return s.writeBackendErr(err)
		}
	}
	bs, err := s.ensurePrepared(be, st)
	if err != nil {
		return s.prepareFailed(be, err)
	}
	binary.LittleEndian.PutUint32(pkt[1:5], bs.id)
	err = s.exec(be, pkt, mode, "", where)
	var retry *retryOnMaster
	if asRetry(err, &retry) {
		return s.writeErr(errLostDuringQuery(be.node, retry.err))
	}
	return err
}

// sendLongData handles COM_STMT_SEND_LONG_DATA, which has no answer. Long
// data lives on one backend, so such a statement then runs on the master.
func (s *Session) sendLongData(ctx context.Context, pkt []byte) error {
	st, ok := s.lookupStmt(pkt)
	if !ok {
		return nil // the error surfaces at execute, as on a server
	}
	st.longData = true
	be, _, err := s.pick(ctx, router.RouteMaster)
	if err != nil {
		return nil
	}
	bs, err := s.ensurePrepared(be, st)
	if err != nil {
		return nil
	}
	binary.LittleEndian.PutUint32(pkt[1:5], bs.id)
	if err := be.command(pkt); err != nil {
		s.dropConn(be, true)
	}
	return nil
}

// closeStmt handles COM_STMT_CLOSE (no answer): forget the statement and
// close it on every backend that has it.
func (s *Session) closeStmt(pkt []byte) {
	st, ok := s.lookupStmt(pkt)
	if !ok {
		return
	}
	delete(s.stmts, st.id)
	if s.sharedLast == st {
		s.sharedLast = nil
	}
	for _, be := range s.conns {
		bs, ok := be.stmts[st.id]
		if !ok {
			continue
		}
		delete(be.stmts, st.id)
		var b [5]byte
		b[0] = wire.ComStmtClose
		binary.LittleEndian.PutUint32(b[1:], bs.id)
		if err := be.command(b[:]); err != nil {
			s.dropConn(be, true)
		}
	}
}

func stmtID(pkt []byte) uint32 {
	if len(pkt) < 5 {
		return 0
	}
	return binary.LittleEndian.Uint32(pkt[1:5])
}
