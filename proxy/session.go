package proxy

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/server"

	"github.com/switchyard/switchyard/wire"
)

// Session is one client connection: it reads commands, sends each to the
// right backend connection and relays the answer.
type Session struct {
	id     uint32
	srv    *Server
	sc     *server.Conn // go-mysql's conn, kept for the handshake facts
	cw     *wire.Conn   // our framing over the client's socket
	log    *slog.Logger
	user   string
	caps   uint32 // negotiated capability flags
	coll   uint8  // handshake collation
	db     string
	remote string

	// be is the backend connection this session uses (the master's). Only
	// the session goroutine touches it; mu guards the copy KILL reads.
	be     *Backend
	status uint16

	stmts    map[uint32]*stmtInfo
	nextStmt uint32
	lastStmt uint32

	mu      sync.Mutex
	active  *Backend  // backend running a statement right now (for KILL QUERY)
	current string    // statement text being run (admin port)
	since   time.Time // when it started
	busy    atomic.Bool
	killed  atomic.Bool
	started time.Time
}

type stmtInfo struct {
	id         uint32
	sql        []byte
	numParams  uint16
	numCols    uint16
	paramTypes []byte // last bound parameter types (2 bytes each)
}

// SessionInfo is what the admin port shows of a session.
type SessionInfo struct {
	ID        uint32
	User      string
	Client    string
	DB        string
	Backend   string
	InTx      bool
	Statement string
	Since     time.Time
	Started   time.Time
}

// Info returns a snapshot for the admin port.
func (s *Session) Info() SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := SessionInfo{ID: s.id, User: s.user, Client: s.remote, DB: s.db, Started: s.started,
		Statement: s.current, Since: s.since, InTx: s.status&wire.StatusInTrans != 0}
	if s.active != nil {
		in.Backend = s.active.node
	}
	return in
}

// run is the command loop. It returns when the client quits, fails, or the
// server shuts down.
func (s *Session) run(ctx context.Context) {
	defer s.cleanup()
	for {
		if s.srv.draining.Load() || s.killed.Load() {
			return
		}
		_ = s.cw.SetReadTimeout(s.srv.limits().ClientIdleTimeout)
		pkt, err := s.cw.ReadPacket(s.srv.limits().MaxPacket)
		if err != nil {
			switch {
			case errors.Is(err, wire.ErrPacketTooLarge):
				_ = s.cw.WriteError(wire.NewError(erNetPacketTooLarge, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes"))
				s.log.Warn("client packet too large; closing", "err", err)
			case errors.Is(err, os.ErrDeadlineExceeded):
				s.log.Info("client idle timeout; closing")
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
			default:
				s.log.Debug("client read failed", "err", err)
			}
			return
		}
		_ = s.cw.SetReadTimeout(0)
		if len(pkt) == 0 {
			_ = s.cw.WriteError(wire.NewError(erMalformed, "HY000", "Malformed communication packet"))
			return
		}
		s.busy.Store(true)
		err = s.dispatch(ctx, pkt)
		s.busy.Store(false)
		s.setCurrent(nil, "")
		if err != nil {
			if !errors.Is(err, errQuit) {
				s.log.Debug("session ends", "err", err)
			}
			return
		}
	}
}

var errQuit = errors.New("client quit")

// dispatch runs one command. A non-nil error ends the session.
func (s *Session) dispatch(ctx context.Context, pkt []byte) error {
	switch pkt[0] {
	case wire.ComQuit:
		return errQuit
	case wire.ComPing:
		return s.writeOK(0, 0)
	case wire.ComQuery:
		if id, query, ok := parseKill(pkt[1:]); ok {
			return s.kill(ctx, id, query)
		}
		return s.forward(ctx, pkt, modeQuery, string(pkt[1:]))
	case wire.ComInitDB:
		db := string(pkt[1:])
		st, err := s.forwardStatus(ctx, pkt, modeSingle, "USE "+db)
		if err == nil && st.ok {
			s.mu.Lock()
			s.db = db
			s.mu.Unlock()
			if s.be != nil {
				s.be.db = db
			}
		}
		return err
	case wire.ComFieldList:
		return s.forward(ctx, pkt, modeFields, "")
	case wire.ComStatistics:
		return s.forward(ctx, pkt, modeSingle, "")
	case wire.ComSetOption:
		return s.forward(ctx, pkt, modeSingle, "")
	case wire.ComResetConnection:
		return s.resetConnection(ctx, pkt)
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

// backend returns the session's master connection, connecting on first use.
func (s *Session) backend(ctx context.Context) (*Backend, error) {
	if s.be != nil {
		return s.be, nil
	}
	node, pool, err := s.srv.masterPool(ctx)
	if err != nil {
		return nil, err
	}
	pw, ok := s.srv.password(s.user)
	if !ok {
		return nil, wire.NewError(erAccessDenied, "28000", "Access denied for user '%s' (user removed from the configuration)", s.user)
	}
	key := poolKey{user: s.user, caps: s.caps & relayCaps, collation: s.coll}
	be, err := pool.Get(ctx, key, pw)
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			return nil, we
		}
		return nil, wire.NewError(crConnHostError, "HY000", "switchyard: cannot reach %s: %v", node, err)
	}
	be.dirty = true
	if s.db != "" && be.db != s.db {
		if _, err := be.simple(append([]byte{wire.ComInitDB}, s.db...)); err != nil {
			var we *wire.Error
			if errors.As(err, &we) {
				pool.Put(be, false)
				return nil, we
			}
			pool.Put(be, true)
			return nil, wire.NewError(crServerLost, "HY000", "switchyard: lost connection to %s: %v", node, err)
		}
		be.db = s.db
	}
	s.be = be
	return be, nil
}

// dropBackend gives the session's backend connection back (or closes it).
func (s *Session) dropBackend(broken bool) {
	if s.be == nil {
		return
	}
	be := s.be
	s.be = nil
	if p := s.srv.pool(be.node); p != nil {
		p.Put(be, broken)
	} else {
		be.close()
	}
}

type cmdStatus struct{ ok bool }

func (s *Session) forward(ctx context.Context, pkt []byte, mode relayMode, text string) error {
	_, err := s.forwardStatus(ctx, pkt, mode, text)
	return err
}

// forwardStatus sends a command to the backend and relays the response.
func (s *Session) forwardStatus(ctx context.Context, pkt []byte, mode relayMode, text string) (cmdStatus, error) {
	be, err := s.backend(ctx)
	if err != nil {
		return cmdStatus{}, s.writeBackendErr(err)
	}
	s.setCurrent(be, text)
	if err := be.command(pkt); err != nil {
		s.dropBackend(true)
		return cmdStatus{}, s.writeErr(wire.NewError(crServerLost, "HY000", "switchyard: lost connection to backend %s: %v", be.node, err))
	}
	return s.finishRelay(be, mode)
}

// finishRelay relays the response and sorts out failures: a dead backend
// gives the client a clear error and the session goes on; a dead client ends
// the session.
func (s *Session) finishRelay(be *Backend, mode relayMode) (cmdStatus, error) {
	st, err := s.relay(be, mode)
	if err == nil {
		s.status = st
		return cmdStatus{ok: true}, nil
	}
	var re *relayErr
	if !errors.As(err, &re) {
		s.dropBackend(true)
		return cmdStatus{}, err
	}
	if re.client {
		s.dropBackend(true)
		return cmdStatus{}, err
	}
	s.log.Warn("backend failed during a command", "node", be.node, "err", re.err)
	s.dropBackend(true)
	s.status &^= wire.StatusInTrans | wire.StatusMoreResultsExists
	if !re.inStep {
		return cmdStatus{}, fmt.Errorf("backend %s failed inside a packet: %w", be.node, re.err)
	}
	s.cw.Seq = re.nextSeq
	return cmdStatus{}, s.cw.WriteError(wire.NewError(crServerLost, "HY000",
		"Lost connection to MySQL server during query (switchyard: backend %s failed: %v)", be.node, re.err))
}

func (s *Session) setCurrent(be *Backend, text string) {
	s.mu.Lock()
	s.active = be
	if len(text) > 1024 {
		text = text[:1024]
	}
	s.current = text
	if be != nil {
		s.since = time.Now()
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

func (s *Session) resetConnection(ctx context.Context, pkt []byte) error {
	clear(s.stmts)
	if s.be != nil {
		clear(s.be.stmts)
		st, err := s.forwardStatus(ctx, pkt, modeSingle, "")
		_ = st
		return err
	}
	s.status = wire.StatusAutocommit
	return s.writeOK(0, 0)
}

func (s *Session) cleanup() {
	s.dropBackend(false)
	s.srv.removeSession(s)
	s.sc.Close()
}
