package proxy

import (
	"bytes"
	"errors"

	"github.com/switchyard/switchyard/wire"
)

// Metadata caching (MariaDB's MARIADB_CLIENT_CACHE_METADATA) across
// backends. A server leaves out a prepared statement's column definitions
// from an execution when it sent the same ones to the connection last (in
// the prepare answer or an earlier execution), and the client uses those it
// cached. The proxy's client and a backend connection agree on what was
// sent only if every answer of that statement went through to the client:
// a statement is prepared again, unseen, on each backend it runs on, and
// the client may meanwhile have got other definitions from another
// backend. So each side is followed: stmtInfo.meta is what the client
// holds, backendStmt.meta what the backend believes it holds; when an
// execution comes without definitions and the two differ, the backend's
// are put in (Session.columnCount). Equal definitions share one *colMeta, so the
// common check is a pointer comparison.

// colMeta is a statement's column definitions as one server sent them: the
// frames, sequence bytes zeroed.
type colMeta struct {
	frames []byte
	n      int
}

// add appends one definition (a payload under 16 MiB).
func (m *colMeta) add(payload []byte) {
	n := len(payload)
	m.frames = append(m.frames, byte(n), byte(n>>8), byte(n>>16), 0)
	m.frames = append(m.frames, payload...)
	m.n++
}

// cacheMeta reports whether the client negotiated metadata caching.
func (s *Session) cacheMeta() bool { return s.ext&wire.MariaDBCacheMetadata != 0 }

// newMeta returns an empty colMeta for n definitions when the session
// caches metadata, else nil.
func (s *Session) newMeta(n uint16) *colMeta {
	if !s.cacheMeta() || n == 0 {
		return nil
	}
	return &colMeta{}
}

// addFrame adds a definition read as one frame; one that was not kept
// whole (streamed, or continued) makes the definitions unknown (nil), and
// so does adding to unknown ones.
func (m *colMeta) addFrame(f wire.Frame) *colMeta {
	if m == nil || f.Payload == nil || f.Len == wire.MaxPayload {
		return nil
	}
	m.add(f.Payload)
	return m
}

// sameMeta reports whether a and b hold the same definitions.
func sameMeta(a, b *colMeta) bool {
	return a == b || (a != nil && b != nil && a.n == b.n && bytes.Equal(a.frames, b.frames))
}

// agrees reports whether the backend believes the client holds the
// definitions the client does hold (and knows them).
func (bs *backendStmt) agrees(st *stmtInfo) bool {
	return bs.meta != nil && sameMeta(bs.meta, st.meta)
}

// internMeta returns m, or have when they are equal (so later checks are
// pointer comparisons).
func internMeta(m, have *colMeta) *colMeta {
	if sameMeta(m, have) && have != nil {
		return have
	}
	return m
}

// writeMeta writes m's definitions to the client, the first with sequence
// number seq.
func (s *Session) writeMeta(m *colMeta, seq uint8) error {
	for off := 0; off < len(m.frames); {
		n := 4 + wire.FrameLen(m.frames[off:])
		h := [4]byte{m.frames[off], m.frames[off+1], m.frames[off+2], seq}
		if err := s.cw.WriteFrame(h[:]); err != nil {
			return err
		}
		if err := s.cw.WriteFrame(m.frames[off+4 : off+n]); err != nil {
			return err
		}
		off += n
		seq++
	}
	return nil
}

// resultStart is what the relay learned from a result set's column count
// packet (Session.columnCount).
type resultStart struct {
	defsFollow bool  // the backend sends column definitions next
	capture    bool  // ...and they are to be recorded (stmtInfo/backendStmt.meta)
	shift      uint8 // added to the sequence of every later frame (definitions put in)
}

// columnCount passes on a result set's column count packet to a client that
// negotiated metadata caching. A backend without it sends no "metadata
// follows" byte: one is added (definitions always follow). From one with
// it, an execution without definitions gets the backend's put in when the
// client holds other ones; one with definitions has them recorded.
func (s *Session) columnCount(be *Backend, f wire.Frame, rs *resultStart) error {
	if !be.cacheMeta() {
		if s.execStmt != nil {
			// The client now holds this backend's definitions, which the
			// proxy does not keep: unknown, so a backend that leaves them
			// out next gets its own put in.
			s.execStmt.meta = nil
		}
		s.okBuf = append(append(s.okBuf[:0], f.Payload...), 1)
		s.cw.Seq = f.Seq
		rs.defsFollow = true
		if err := s.cw.WritePacket(s.okBuf); err != nil {
			return &wire.DstError{Err: err}
		}
		return nil
	}
	n, follows, flagAt, ok := wire.ColumnCount(f.Payload, true)
	rs.defsFollow = follows
	st, bs := s.execStmt, s.execBS
	switch {
	case !ok || st == nil:
	case follows:
		rs.capture = true
	case bs.agrees(st):
	case bs.meta == nil || uint64(bs.meta.n) != n:
		// Left out, and the proxy does not know what this backend
		// believes the client holds: fail rather than let the client
		// read rows by other definitions. Nothing of the answer went out
		// yet (a read on a replica is retried on the master).
		return errors.New("the backend left out column definitions the proxy does not have")
	default:
		// The client holds other definitions than this backend's rows
		// are encoded by: send the backend's.
		f.Payload[flagAt] = 1
		if err := be.w.ForwardFrame(f, s.cw); err != nil {
			return err
		}
		if err := s.writeMeta(bs.meta, f.Seq+1); err != nil {
			return &wire.DstError{Err: err}
		}
		rs.shift += uint8(n)
		st.meta = bs.meta
		s.srv.metrics.metaInjected.Add(1)
		return nil
	}
	return be.w.ForwardFrame(f, s.cw)
}

// captured records the definitions an execution sent: the client and the
// backend now both hold them (nil: they were not kept, and are unknown).
func (s *Session) captured(m *colMeta) {
	if s.execStmt == nil || s.execBS == nil {
		return
	}
	m = internMeta(m, s.execStmt.meta)
	s.execStmt.meta, s.execBS.meta = m, m
}
