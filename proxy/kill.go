package proxy

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/wire"
)

// parseKill recognises `KILL [CONNECTION|QUERY] <id>` so the proxy can map
// the client-visible connection id to the right backend connection.
func parseKill(q []byte) (id uint32, query, ok bool) {
	f := strings.Fields(strings.TrimRight(strings.TrimSpace(string(q)), ";"))
	if len(f) < 2 || !strings.EqualFold(f[0], "KILL") {
		return 0, false, false
	}
	f = f[1:]
	if len(f) > 1 && (strings.EqualFold(f[0], "HARD") || strings.EqualFold(f[0], "SOFT")) {
		f = f[1:]
	}
	if len(f) == 2 {
		switch {
		case strings.EqualFold(f[0], "QUERY"):
			query = true
		case strings.EqualFold(f[0], "CONNECTION"):
		default:
			return 0, false, false
		}
		f = f[1:]
	}
	if len(f) != 1 {
		return 0, false, false
	}
	n, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return 0, false, false
	}
	return uint32(n), query, true
}

// kill handles KILL [QUERY] id where id is a Switchyard connection id: the
// statement that session runs is killed on its backend; KILL CONNECTION also
// ends that session.
func (s *Session) kill(ctx context.Context, id uint32, query bool) error {
	target := s.srv.session(id)
	if target == nil {
		return s.writeErr(wire.NewError(erNoSuchThread, "HY000", "Unknown thread id: %d", id))
	}
	target.mu.Lock()
	owner := target.user
	target.mu.Unlock()
	s.mu.Lock()
	me := s.user
	s.mu.Unlock()
	if owner != me {
		return s.writeErr(wire.NewError(erKillDenied, "HY000", "You are not owner of thread %d", id))
	}
	if target == s {
		if query {
			return s.writeErr(wire.NewError(1317, "70100", "Query execution was interrupted"))
		}
		return errQuit
	}
	var err error
	s.park(func() { err = s.srv.killSession(ctx, target, query) })
	if err != nil {
		s.log.Warn("kill on backend failed", "err", err)
	}
	return s.writeOK(0, 0)
}

// killSession kills the statement target runs on its backend (as target's
// own user, who may always kill its threads); unless query, it also ends
// target, waking it wherever it waits on its client.
func (s *Server) killSession(ctx context.Context, target *Session, query bool) error {
	target.mu.Lock()
	user := target.user
	be := target.active
	var node, addr string
	var thread uint32
	if be != nil && target.busy.Load() {
		node, thread = be.node, be.threadID
		if be.pool != nil {
			addr = be.pool.addr // the server the thread is on, if the node moved since
		}
	}
	target.mu.Unlock()
	if !query {
		target.killed.Store(true)
	}
	var err error
	if thread != 0 {
		if kerr := s.killBackend(ctx, user, node, addr, thread, query); kerr != nil {
			err = fmt.Errorf("kill thread %d on %s: %w", thread, node, kerr)
		}
	}
	if !query {
		target.wake()
	}
	return err
}

// killBackend runs KILL [QUERY] on the node (at addr, or the node's pool's
// address when empty) through a fresh connection of the same user (a user
// may always kill its own threads).
func (s *Server) killBackend(ctx context.Context, user, node, addr string, thread uint32, query bool) error {
	if addr == "" {
		p := s.pool(node)
		if p == nil {
			return fmt.Errorf("no pool for %s", node)
		}
		addr = p.addr
	}
	pw, _ := s.password(user)
	be, err := dialBackend(ctx, node, addr, poolKey{user: user}, pw, s.beTLS, s.limits().ConnectTimeout)
	if err != nil {
		return err
	}
	defer be.quit()
	stmt := "KILL "
	if query {
		stmt += "QUERY "
	} else {
		stmt += "CONNECTION "
	}
	return be.query(fmt.Sprintf("%s%d", stmt, thread))
}
