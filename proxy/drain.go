package proxy

import (
	"context"
	"time"
)

// Drain waits until no statement runs on the master and no session holds a
// transaction open there, or ctx ends. A switchover calls it after
// publishing "writes held": new master-bound statements then wait in
// waitMaster, statements inside an open transaction still run (so the
// transaction can finish), and the old master can be made read-only without
// failing anyone's statement.
func (s *Server) Drain(ctx context.Context) error {
	master := ""
	if m, ok := s.topo.Load().Master(); ok {
		master = m.Name
	}
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		if s.masterIdle(master) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// masterIdle reports whether no session uses the master right now. master is
// the master as it was when the drain began ("" when unknown: any session
// running a master statement counts).
func (s *Server) masterIdle(master string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		if ss.onMaster.Load() {
			return false
		}
		ss.mu.Lock()
		tx := ss.txOn
		ss.mu.Unlock()
		if tx != "" && (master == "" || tx == master) {
			return false
		}
	}
	return true
}

// syncTxOn copies txNode for Drain (which runs on another goroutine).
func (s *Session) syncTxOn() {
	s.mu.Lock()
	s.txOn = s.txNode
	s.mu.Unlock()
}
