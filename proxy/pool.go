package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/switchyard/switchyard/wire"
)

// PoolLimits bound one node's backend connections.
type PoolLimits struct {
	MaxOpen        int           // all users together
	MaxIdle        int           // idle connections kept
	IdleTimeout    time.Duration // idle connections older than this are closed
	ConnectTimeout time.Duration // dial + auth, and the longest wait for a free slot
	// PingAfter: a connection idle longer than this is pinged before reuse.
	PingAfter time.Duration
}

// Pool holds the backend connections of one node, for every user.
type Pool struct {
	node string
	addr string
	tls  *tls.Config
	log  *slog.Logger

	mu     sync.Mutex
	limits PoolLimits
	idle   map[poolKey][]*Backend
	nIdle  int
	open   int           // idle + in use + being dialled
	freed  chan struct{} // closed and replaced whenever a slot frees up
	closed bool
	stats  PoolStats
}

// PoolStats are counters for the admin port and metrics.
type PoolStats struct {
	Open, Idle, InUse  int
	Dials, DialErrors  uint64
	Reuses, Resets     uint64
	Waits, WaitTimeout uint64
}

func newPool(node, addr string, tlsCfg *tls.Config, lim PoolLimits, log *slog.Logger) *Pool {
	return &Pool{node: node, addr: addr, tls: tlsCfg, limits: lim, log: log,
		idle: make(map[poolKey][]*Backend), freed: make(chan struct{})}
}

// ErrPoolClosed is returned by Get after Close.
var ErrPoolClosed = errors.New("pool closed")

// Get returns a clean connection for key, reusing an idle one when it can.
func (p *Pool) Get(ctx context.Context, key poolKey, password string) (*Backend, error) {
	deadline := time.Now().Add(p.limitsSnapshot().ConnectTimeout)
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrPoolClosed
		}
		if l := p.idle[key]; len(l) > 0 {
			b := l[len(l)-1]
			p.idle[key] = l[:len(l)-1]
			p.nIdle--
			p.stats.Reuses++
			lim := p.limits
			p.mu.Unlock()
			stale := lim.PingAfter > 0 && time.Since(b.lastUsed) > lim.PingAfter
			if key.loop {
				// Attached to no loop while idle: the session's task
				// pings it.
				b.needPing = stale
				return b, nil
			}
			if stale && b.ping(lim.ConnectTimeout) != nil {
				p.discard(b)
				continue
			}
			return b, nil
		}
		if p.open < p.limits.MaxOpen {
			p.open++
			p.stats.Dials++
			lim := p.limits
			p.mu.Unlock()
			b, err := dialBackend(ctx, p.node, p.addr, key, password, p.tls, lim.ConnectTimeout)
			if err == nil && key.loop {
				if err = b.toLoopConn(); err != nil {
					b.close()
				}
			}
			if err != nil {
				p.mu.Lock()
				p.open--
				p.stats.DialErrors++
				p.signalLocked()
				p.mu.Unlock()
				return nil, err
			}
			b.pool = p
			return b, nil
		}
		// Full: evict an idle connection of another key if there is one,
		// else wait for a slot.
		if victim := p.evictOtherLocked(key); victim != nil {
			p.open--
			p.mu.Unlock()
			victim.quit()
			continue
		}
		p.stats.Waits++
		ch := p.freed
		p.mu.Unlock()
		wait := time.Until(deadline)
		if wait <= 0 {
			p.mu.Lock()
			p.stats.WaitTimeout++
			max := p.limits.MaxOpen
			p.mu.Unlock()
			return nil, wire.NewError(erConCount, "08004",
				"Too many connections: no free backend connection to %s within the connect timeout (limits.max_backend_connections_per_node=%d)", p.node, max)
		}
		t := time.NewTimer(wait)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		t.Stop()
	}
}

func (p *Pool) evictOtherLocked(key poolKey) *Backend {
	for k, l := range p.idle {
		if k != key && len(l) > 0 {
			b := l[0]
			p.idle[k] = l[1:]
			p.nIdle--
			return b
		}
	}
	return nil
}

func (p *Pool) signalLocked() {
	close(p.freed)
	p.freed = make(chan struct{})
}

func (p *Pool) limitsSnapshot() PoolLimits {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.limits
}

// SetLimits applies new limits (config reload); excess idle connections go
// at the next reap.
func (p *Pool) SetLimits(l PoolLimits) {
	p.mu.Lock()
	p.limits = l
	p.signalLocked()
	p.mu.Unlock()
}

// Put returns a connection. A used connection is reset (COM_RESET_CONNECTION)
// first so no session state leaks to the next client; one that fails the
// reset, or that the caller marks broken, is closed.
func (p *Pool) Put(b *Backend, broken bool) {
	p.mu.Lock()
	closed := p.closed // replaced (the node moved) or shutting down: no reset needed
	p.mu.Unlock()
	if broken || b.noReuse || closed {
		p.discard(b)
		return
	}
	if b.dirty {
		_ = b.w.SetDeadline(time.Now().Add(p.limitsSnapshot().ConnectTimeout))
		_, err := b.simple([]byte{wire.ComResetConnection})
		_ = b.w.SetDeadline(time.Time{})
		if err != nil || b.w.Buffered() > 0 {
			p.log.Debug("backend reset failed; closing", "node", p.node, "err", err)
			p.discard(b)
			return
		}
		// The reset drops prepared statements and temporary state, and
		// session tracking with them.
		clear(b.stmts)
		b.dirty = false
		b.wasMaster = false
		if err := b.enableTracking(); err != nil {
			p.discard(b)
			return
		}
		p.mu.Lock()
		p.stats.Resets++
		p.mu.Unlock()
	}
	b.lastUsed = time.Now()
	b.key.db = b.db
	if b.lconn != nil {
		b.lconn.Release() // reset done on the session's task; idle, it is on no loop
	}
	p.mu.Lock()
	if p.closed || p.nIdle >= p.limits.MaxIdle {
		p.open--
		p.signalLocked()
		p.mu.Unlock()
		b.quit()
		return
	}
	p.idle[b.key] = append(p.idle[b.key], b)
	p.nIdle++
	p.signalLocked()
	p.mu.Unlock()
}

func (p *Pool) discard(b *Backend) {
	b.close()
	p.mu.Lock()
	p.open--
	p.signalLocked()
	p.mu.Unlock()
}

// Reap closes idle connections past the idle timeout or over the idle limit.
func (p *Pool) Reap(now time.Time) {
	var victims []*Backend
	p.mu.Lock()
	for k, l := range p.idle {
		keep := l[:0]
		for _, b := range l {
			if (p.limits.IdleTimeout > 0 && now.Sub(b.lastUsed) > p.limits.IdleTimeout) || p.nIdle > p.limits.MaxIdle {
				victims = append(victims, b)
				p.nIdle--
				p.open--
				continue
			}
			keep = append(keep, b)
		}
		p.idle[k] = keep
	}
	if len(victims) > 0 {
		p.signalLocked()
	}
	p.mu.Unlock()
	for _, b := range victims {
		b.quit()
	}
}

// Close closes idle connections and refuses new Gets; connections in use are
// closed by their sessions.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	var victims []*Backend
	for k, l := range p.idle {
		victims = append(victims, l...)
		delete(p.idle, k)
	}
	p.open -= len(victims)
	p.nIdle = 0
	p.signalLocked()
	p.mu.Unlock()
	for _, b := range victims {
		b.quit()
	}
}

// Stats returns a snapshot of the counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Open = p.open
	s.Idle = p.nIdle
	s.InUse = p.open - p.nIdle
	return s
}

func (p *Pool) String() string { return fmt.Sprintf("pool(%s %s)", p.node, p.addr) }
