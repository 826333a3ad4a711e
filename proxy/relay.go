package proxy

import (
	"errors"

	"github.com/switchyard/switchyard/wire"
)

// relayMode says how a response is shaped.
type relayMode uint8

const (
	modeQuery   relayMode = iota // COM_QUERY / COM_STMT_EXECUTE: OK | ERR | LOCAL INFILE | result sets
	modeExecute                  // COM_STMT_EXECUTE: as query, and a cursor ends the result after the columns
	modeFetch                    // COM_STMT_FETCH: rows then EOF, or ERR
	modeFields                   // COM_FIELD_LIST: column definitions then EOF, or ERR
	modeSingle                   // one packet (COM_STATISTICS, OK/ERR answers)
)

// frameKind says what Session.relay's reader looks at in a frame.
type frameKind uint8

const (
	frameAny    frameKind = iota // passed on unread
	frameOK                      // an OK packet is inspected (session state)
	frameResult                  // an OK packet, or a result set's column count (metadata caching)
)

// relayErr says which side failed during a relay and whether the client's
// stream is still in step (an ERR packet can still be sent to it).
type relayErr struct {
	err     error
	client  bool // the client side failed (gone): nothing more can be sent
	inStep  bool // backend failed between frames: the client can get an ERR
	nextSeq uint8
	// sent: part of the answer went to the client already (sequence
	// numbers wrap, so nextSeq cannot tell).
	sent bool
}

func (e *relayErr) Error() string { return e.err.Error() }
func (e *relayErr) Unwrap() error { return e.err }

// relay copies one command's response from the backend to the client and
// returns the final server status. Frames are forwarded unchanged, except
// OK packets for clients without session tracking and column counts for
// clients with metadata caching (meta.go); only their first bytes (and
// small status packets) are inspected.
func (s *Session) relay(be *Backend, mode relayMode) (uint16, error) {
	// (What a failure leaves is settled here rather than in a defer of
	// relayAnswer, whose many returns would make the defer a slow one.)
	var (
		rs   resultStart
		sent bool // anything forwarded yet
	)
	s.wholeClean = false
	st, err := s.relayAnswer(be, mode, &rs, &sent)
	if err != nil {
		if re, ok := err.(*relayErr); ok && sent {
			re.sent = true
		}
		if rs.capture {
			// Failed amid new definitions: part may have reached the client.
			s.captured(nil)
		}
	}
	return st, err
}

// relayAnswer is relay's work; it notes in *sent whether anything reached
// the client.
func (s *Session) relayAnswer(be *Backend, mode relayMode, rs *resultStart, sent *bool) (uint16, error) {
	cw := s.cw
	var (
		lastSeq uint8 = 0 // sequence of the client's command
		status  uint16
	)
	// Metadata caching (meta.go): for a client that negotiated it, column
	// count packets are looked at, and once definitions were put in, later
	// frames renumbered (rs.shift).
	clientCaches := s.cacheMeta()
	read := func() (wire.Frame, error) {
		f, err := be.w.NextFrame()
		if err == nil && rs.shift != 0 {
			f.Seq += rs.shift
			if f.Raw != nil {
				f.Raw[3] = f.Seq
			}
		}
		return f, err
	}
	// next reads and forwards one logical packet, returning its first frame.
	// Continuation frames (after a frame of MaxPayload bytes) are forwarded
	// without inspection. With kind frameOK, an OK packet is inspected for
	// the session state it carries (and rewritten for a client that did not
	// ask for session tracking); with frameResult, also a column count
	// packet, for metadata caching.
	next := func(kind frameKind) (wire.Frame, error) {
		f, err := read()
		shifted := rs.shift
		if err == nil {
			switch {
			case kind != frameAny && f.First == wire.OKHeader && f.Raw != nil && f.Len >= 7:
				err = s.okPacket(be, f)
			case kind == frameResult && clientCaches && f.Raw != nil && f.First != wire.OKHeader &&
				f.First != wire.ErrHeader && f.First != wire.InfileHeader:
				err = s.columnCount(be, f, rs)
			default:
				err = be.w.ForwardFrame(f, cw)
			}
		}
		if err != nil {
			return f, s.classify(err, f, lastSeq)
		}
		lastSeq = f.Seq + rs.shift - shifted // and the definitions put in after it
		*sent = true
		for g := f; g.Len == wire.MaxPayload; {
			g, err = read()
			if err == nil {
				err = be.w.ForwardFrame(g, cw)
			}
			if err != nil {
				return f, s.classify(err, g, lastSeq)
			}
			lastSeq = g.Seq
		}
		return f, nil
	}
	flush := func() error {
		if err := cw.Flush(); err != nil {
			return &relayErr{err: err, client: true}
		}
		return nil
	}

	switch mode {
	case modeSingle:
		f, err := next(frameOK)
		if err != nil {
			return 0, err
		}
		switch f.First {
		case wire.OKHeader:
			status = wire.OKStatus(f.Payload)
		case wire.ErrHeader:
			s.lastErr = true
			status = s.status
		case wire.EOFHeader:
			status = wire.EOFStatus(f.Payload)
		default:
			status = s.status
		}
		return status, flush()
	case modeFields:
		for {
			f, err := next(frameAny)
			if err != nil {
				return 0, err
			}
			if f.First == wire.ErrHeader || wire.IsEOF(f) {
				status = s.status
				if wire.IsEOF(f) {
					status = wire.EOFStatus(f.Payload)
				} else {
					s.lastErr = true
				}
				return status, flush()
			}
		}
	case modeFetch:
		for {
			f, err := next(frameAny)
			if err != nil {
				return 0, err
			}
			if f.First == wire.ErrHeader {
				s.lastErr = true
				return s.status, flush()
			}
			if wire.IsEOF(f) {
				return wire.EOFStatus(f.Payload), flush()
			}
		}
	}

	// The common small answer, one result set all in the read buffer, goes
	// on in one write.
	if st, ok, err := s.relayWhole(be, sent); ok {
		return st, err
	}

	// Query / execute: a sequence of results while MORE_RESULTS is set.
	// status is the server status after the last completed result: an ERR
	// that ends a multi-statement text leaves the earlier statements' effects
	// (an open transaction, say) in place.
	status = s.status
	for {
		f, err := next(frameResult)
		if err != nil {
			return 0, err
		}
		switch {
		case f.First == wire.OKHeader:
			status = wire.OKStatus(f.Payload)
			if status&wire.StatusMoreResultsExists != 0 {
				continue
			}
			return status, flush()
		case f.First == wire.ErrHeader:
			s.lastErr = true
			s.partialErr = status&wire.StatusMoreResultsExists != 0
			return status &^ wire.StatusMoreResultsExists, flush()
		case f.First == wire.InfileHeader && mode == modeQuery:
			if err := flush(); err != nil {
				return 0, err
			}
			if err := s.relayInfile(be); err != nil {
				return 0, err
			}
			continue
		}
		// A result set: column count, then definitions, EOF, rows, EOF.
		ncols, follows, _, ok := wire.ColumnCount(f.Payload, be.cacheMeta())
		if !ok {
			return 0, &relayErr{err: errors.New("malformed result set header from backend"), inStep: true, nextSeq: lastSeq + 1}
		}
		if clientCaches {
			follows = rs.defsFollow
		}
		var meta *colMeta // the definitions, when recorded
		if rs.capture {
			meta = &colMeta{}
		}
		for left := ncols; follows && left > 0; {
			// Column definitions go on unread, in bulk when buffered.
			if meta == nil && rs.shift == 0 {
				if k, seq, err := be.w.ForwardFrames(cw, int(min(left, 1<<16))); err != nil {
					return 0, &relayErr{err: err, client: true}
				} else if k > 0 {
					left -= uint64(k)
					lastSeq, *sent = seq, true
					continue
				}
			}
			g, err := next(frameAny)
			if err != nil {
				return 0, err
			}
			if meta != nil {
				if meta = meta.addFrame(g); meta == nil {
					rs.capture = false
					s.captured(nil) // not kept whole: unknown
				}
			}
			left--
		}
		if rs.capture {
			s.captured(meta)
		}
		// Only the first result of an execution is the statement's.
		rs.capture, s.execStmt, s.execBS = false, nil, nil
		f, err = next(frameAny) // EOF after the column definitions
		if err != nil {
			return 0, err
		}
		st := wire.EOFStatus(f.Payload)
		if mode == modeExecute && st&wire.StatusCursorExists != 0 {
			// Rows come later through COM_STMT_FETCH.
			return st, flush()
		}
		for {
			// Rows go on in bulk when buffered, unless renumbered.
			if rs.shift == 0 {
				if k, seq, err := be.w.ForwardRows(cw); err != nil {
					return 0, &relayErr{err: err, client: true}
				} else if k > 0 {
					s.rows += uint64(k)
					lastSeq, *sent = seq, true
					continue
				}
			}
			f, err = next(frameAny)
			if err != nil {
				return 0, err
			}
			if f.First == wire.ErrHeader {
				s.lastErr = true
				s.partialErr = status&wire.StatusMoreResultsExists != 0
				return status &^ wire.StatusMoreResultsExists, flush()
			}
			if wire.IsEOF(f) {
				status = wire.EOFStatus(f.Payload)
				break
			}
			s.rows++
		}
		if status&wire.StatusMoreResultsExists == 0 {
			return status, flush()
		}
	}
}

// relayWhole relays, in one write, an answer to a query or execution that is
// one result set and all in be's read buffer (wire.WholeResult: a point
// select's arrives in one read), reading once if nothing is buffered. It
// reports false, having consumed nothing, for any other answer and for one
// whose column count needs the proxy (metadata caching: a "metadata
// follows" byte to add, definitions to record or put in); the frame by
// frame relay then takes it.
func (s *Session) relayWhole(be *Backend, sent *bool) (uint16, bool, error) {
	b, err := be.w.Peeked()
	if err != nil {
		// What the frame by frame relay's first read would return.
		return 0, true, s.classify(err, wire.Frame{}, 0)
	}
	cm := be.cacheMeta()
	if cm != s.cacheMeta() {
		return 0, false, nil
	}
	n, rows, st, follows, ok := wire.WholeResult(b, cm)
	if !ok {
		return 0, false, nil
	}
	if cm && s.execStmt != nil && (follows || !s.execBS.agrees(s.execStmt)) {
		return 0, false, nil // (Session.columnCount)
	}
	s.execStmt, s.execBS = nil, nil // as after any first result
	s.rows, *sent = rows, true
	// (The answer ends with an EOF: warnings, then status.)
	s.wholeClean = n <= sharedMaxAns && wire.FrameLen(b[n-9:]) == 5 && b[n-4] == 0 && b[n-3] == 0
	err = s.cw.WriteDirect(b[:n]) // from the read buffer, no copy
	be.w.Discard(n)
	if err != nil {
		return 0, true, &relayErr{err: err, client: true}
	}
	return st, true, nil
}

// relayInfile forwards the client's LOAD DATA LOCAL file to the backend: data
// packets until an empty one.
func (s *Session) relayInfile(be *Backend) error {
	defer s.disarmIdle()
	for {
		_ = s.cw.SetReadTimeout(s.srv.limits().ClientIdleTimeout)
		f, err := s.cw.RelayFrame(be.w)
		if err != nil {
			var de *wire.DstError
			if errors.As(err, &de) {
				return &relayErr{err: err} // backend gone; client mid-upload
			}
			return &relayErr{err: err, client: true}
		}
		if f.Len == 0 {
			break
		}
	}
	_ = s.cw.SetReadTimeout(0)
	if err := be.w.Flush(); err != nil {
		return &relayErr{err: err}
	}
	return nil
}

// classify wraps a relay failure: a DstError means the client went away;
// any other error is the backend's. A backend failure is "in step" when it
// happened at a frame boundary, so the client can still be sent an ERR.
func (s *Session) classify(err error, f wire.Frame, lastSeq uint8) error {
	var de *wire.DstError
	if errors.As(err, &de) {
		return &relayErr{err: err, client: true}
	}
	// RelayFrame only writes a small frame once it has read all of it, and a
	// large one as it streams: a failure inside a large frame breaks the
	// client's stream.
	inStep := f.Len <= 64<<10
	return &relayErr{err: err, inStep: inStep, nextSeq: lastSeq + 1}
}

// okPacket passes an OK packet on, first taking the GTID of the session's
// write from its session state. A client that did not negotiate session
// tracking gets the packet in the plain format it expects.
func (s *Session) okPacket(be *Backend, f wire.Frame) error {
	if !be.tracks {
		return be.w.ForwardFrame(f, s.cw)
	}
	ok, err := wire.ParseOK(f.Payload)
	if err != nil {
		return be.w.ForwardFrame(f, s.cw)
	}
	info, state, good := wire.TrackedOK(ok)
	if good && state != nil {
		if v, found := wire.StateVariable(state, be.gtidVar); found && v != "" {
			s.noteWrite(be, v)
		}
		if db, found := wire.StateSchema(state); found {
			// USE inside a procedure, or any other way the database changed.
			be.db = db
			s.setDB(db)
		}
	}
	if s.caps&wire.ClientSessionTrack != 0 || !good {
		return be.w.ForwardFrame(f, s.cw)
	}
	s.okBuf = wire.AppendPlainOK(s.okBuf[:0], f.First, ok, info)
	s.cw.Seq = f.Seq
	if err := s.cw.WritePacket(s.okBuf); err != nil {
		return &wire.DstError{Err: err}
	}
	return nil
}
