package proxy

import "time"

// StatementObserver is told of every statement a session ran on a backend:
// the route it took (master, replica, transaction, last), whether it failed,
// and how long it took from sending the command to the end of the relayed
// answer. It is called on the session's goroutine, on the hot path: it must
// be fast and must not block. shard, in [0, StatShards), is the session's
// counter slot: calls with different shards mostly come from different
// CPUs, so an observer that keeps its counts per shard avoids sharing their
// cache lines.
type StatementObserver interface {
	Statement(shard int, route string, failed bool, d time.Duration)
}

// observerBox lets an interface value sit in an atomic.Pointer.
type observerBox struct{ o StatementObserver }

// SetObserver installs o (nil removes it). Safe to call while serving.
func (s *Server) SetObserver(o StatementObserver) {
	if o == nil {
		s.observer.Store(nil)
		return
	}
	s.observer.Store(&observerBox{o})
}

// observe reports a statement that took d to the observer, if any.
func (s *Server) observe(shard int, route string, failed bool, d time.Duration) {
	if b := s.observer.Load(); b != nil {
		b.o.Statement(shard, route, failed, d)
	}
}

// SessionCount returns the number of client sessions logged in, without
// copying them as Sessions does.
func (s *Server) SessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Listening reports whether Serve has a client listener open (it has been
// called and Shutdown has not).
func (s *Server) Listening() bool {
	s.lnMu.Lock()
	n := len(s.lns)
	s.lnMu.Unlock()
	return n > 0 && !s.draining.Load()
}
