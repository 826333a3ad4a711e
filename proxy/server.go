// Package proxy is Switchyard's client-facing MySQL endpoint: the listener,
// handshake and authentication, one Session per client, backend connection
// pools, and the byte-exact relay of every command's answer.
package proxy

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/server"

	"github.com/switchyard/switchyard/evloop"
	"github.com/switchyard/switchyard/topology"
	"github.com/switchyard/switchyard/wire"
)

// Limits are the run-time limits of the proxy (reloadable).
type Limits struct {
	MaxClientConns     int
	MaxBackendPerNode  int
	MaxIdlePerNode     int
	BackendIdleTimeout time.Duration
	ClientIdleTimeout  time.Duration
	HandshakeTimeout   time.Duration
	ConnectTimeout     time.Duration
	MaxPacket          int
}

// DefaultLimits are sensible limits for tests and small deployments.
func DefaultLimits() Limits {
	return Limits{MaxClientConns: 4096, MaxBackendPerNode: 256, MaxIdlePerNode: 64,
		BackendIdleTimeout: 5 * time.Minute, ClientIdleTimeout: 8 * time.Hour,
		HandshakeTimeout: 10 * time.Second, ConnectTimeout: 3 * time.Second, MaxPacket: 1 << 30}
}

// User is an account clients log in as; backend connections log in as the
// same account with the same password.
type User struct {
	Name     string
	Password string
	// Plugin is the authentication method asked of clients:
	// mysql_native_password (default) or caching_sha2_password.
	Plugin string
}

// Options configure a Server.
type Options struct {
	Users      []User
	Limits     Limits
	TLS        *tls.Config // client-facing; nil = no TLS
	RequireTLS bool
	// RSAKey serves caching_sha2_password full authentication without TLS;
	// generated when nil.
	RSAKey     *rsa.PrivateKey
	BackendTLS *tls.Config
	// ServerVersion is announced to clients; it should be the backends' version.
	ServerVersion string
	Topology      *topology.Store
	Logger        *slog.Logger
	// Routing configures the read/write split; the zero value means
	// DefaultRouting().
	Routing *Routing
	// Digests, when set, aggregates every statement for the admin port's
	// query_digest table.
	Digests *Digests
	// Loops, when above zero, runs sessions on that many event loops
	// (package evloop) instead of a goroutine each: sessions whose client
	// socket is plain TCP or Unix, while no backend TLS is configured
	// (others stay goroutines). It raises GOMAXPROCS to Loops+1 when lower.
	// LoopsAuto is one loop per P (GOMAXPROCS at start) on Linux and none
	// elsewhere; 0 keeps goroutines (config runtime.event_loops). The
	// environment variable SWITCHYARD_LOOPS (a number, or "auto") overrides
	// it, for whole test and bench runs in one mode.
	Loops int
}

// LoopsAuto is Options.Loops for one event loop per P where loops run.
const LoopsAuto = -1

// resolveLoops applies SWITCHYARD_LOOPS and LoopsAuto to a Loops setting.
func resolveLoops(n int, env string) (int, error) {
	if env != "" {
		if env == "auto" {
			n = LoopsAuto
		} else if v, err := strconv.Atoi(env); err == nil && v >= 0 && v <= 256 {
			n = v
		} else {
			return 0, fmt.Errorf("SWITCHYARD_LOOPS=%q: want auto or a number from 0 to 256", env)
		}
	}
	if n == LoopsAuto {
		if !evloop.Supported {
			return 0, nil
		}
		return min(runtime.GOMAXPROCS(0), 256), nil
	}
	if n < 0 {
		return 0, fmt.Errorf("event loops: %d: want auto or a number from 0 to 256", n)
	}
	return n, nil
}

// Server accepts client connections and runs their sessions.
type Server struct {
	gs       atomic.Pointer[server.Server]
	gsArgs   gsArgs
	topo     *topology.Store
	log      *slog.Logger
	tlsReq   bool
	beTLS    *tls.Config
	lim      atomic.Pointer[Limits]
	users    atomic.Pointer[map[string]User]
	draining atomic.Bool

	mu       sync.Mutex
	sessions map[uint32]*Session
	pools    map[string]*Pool // by node name
	addrs    map[string]string
	nconns   atomic.Int64
	wg       sync.WaitGroup
	lnMu     sync.Mutex
	lns      []net.Listener
	stats    Stats
	metrics  Metrics
	route    atomic.Pointer[Routing]
	gtids    gtidState
	inflight sync.Map                    // node -> *nodeLoad
	readers  sync.Map                    // node -> *atomic.Int64: sessions reading from it
	observer atomic.Pointer[observerBox] // SetObserver (observe.go)
	digests  *Digests
	refuse   atomic.Pointer[func(node string) bool]

	// Event loops (Options.Loops).
	loops     []*evloop.Loop
	shared    []*sharedConns // by loop
	stopLoops context.CancelFunc
	nextLoop  atomic.Uint32
}

// SetRefuse installs a check that makes the proxy treat a node as
// unreachable (a drill isolating the master); nil removes it.
func (s *Server) SetRefuse(f func(node string) bool) {
	if f == nil {
		s.refuse.Store(nil)
		return
	}
	s.refuse.Store(&f)
}

// Stats are server-wide counters.
type Stats struct {
	Accepted, Rejected, AuthFailures atomic.Uint64
}

// New builds a server. It does not listen yet.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Topology == nil {
		return nil, errors.New("proxy: no topology store")
	}
	if o.ServerVersion == "" {
		o.ServerVersion = "5.5.5-10.11.0-MariaDB-switchyard"
	}
	if o.RSAKey == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate RSA key: %w", err)
		}
		o.RSAKey = k
	}
	s := &Server{gsArgs: gsArgs{version: o.ServerVersion, key: o.RSAKey, tls: o.TLS}, topo: o.Topology, digests: o.Digests, log: o.Logger, tlsReq: o.RequireTLS, beTLS: o.BackendTLS,
		sessions: make(map[uint32]*Session), pools: make(map[string]*Pool), addrs: make(map[string]string)}
	lim := o.Limits
	if lim == (Limits{}) {
		lim = DefaultLimits()
	}
	if err := s.newGoMySQLServer(); err != nil {
		return nil, err
	}
	s.lim.Store(&lim)
	r := DefaultRouting()
	if o.Routing != nil {
		r = *o.Routing
	}
	s.route.Store(&r)
	s.SetUsers(o.Users)
	loops, err := resolveLoops(o.Loops, os.Getenv("SWITCHYARD_LOOPS"))
	if err != nil {
		return nil, err
	}
	if loops > 0 && o.BackendTLS == nil {
		// (With backend TLS every session is a goroutine: no loops.)
		if err := s.startLoops(loops); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// startLoops starts n event loops; they run until Shutdown ends.
//
// The loops wait raw (evloop.Options.RawWait): each keeps its P, so the
// runtime never hands a waiting loop's P to another thread, and sysmon does
// not tick every 20 µs. Measured with sysbench point selects at 16 threads
// on 2 cores: 38–44 µs of proxy CPU per query against 48–53 with waits
// through the runtime. The other goroutines (logins, monitor, admin, the
// work a session hands off) need a P of their own: GOMAXPROCS is raised to
// n+1 when lower (process-wide), and fixed there.
func (s *Server) startLoops(n int) error {
	// Set even when already enough: an explicit setting also stops the
	// runtime from lowering it later (cgroup limits).
	runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), n+1))
	ctx, cancel := context.WithCancel(context.Background())
	for range n {
		l, err := evloop.NewWithOptions(evloop.Options{RawWait: true})
		if err != nil {
			cancel()
			return fmt.Errorf("event loop: %w", err)
		}
		s.loops = append(s.loops, l)
		s.shared = append(s.shared, newSharedConns())
		go func() {
			if err := l.Run(ctx); err != nil {
				s.log.Error("event loop failed", "err", err)
			}
		}()
	}
	s.stopLoops = cancel
	return nil
}

// EventLoops returns how many event loops run sessions (0: goroutines).
func (s *Server) EventLoops() int { return len(s.loops) }

// loopsOn reports whether sessions on plain sockets run on event loops
// (none are started with backend TLS).
func (s *Server) loopsOn() bool { return len(s.loops) > 0 }

// loopFor picks the loop for a new session (in turn, passing over any that
// stopped), nil when sessions run as goroutines.
func (s *Server) loopFor() (*evloop.Loop, int) {
	if !s.loopsOn() {
		return nil, 0
	}
	n := int(s.nextLoop.Add(1))
	for i := range s.loops {
		k := (n + i) % len(s.loops)
		if l := s.loops[k]; !l.Stopped() {
			return l, k
		}
	}
	return nil, 0
}

func (s *Server) limits() *Limits { return s.lim.Load() }

// SetLimits applies new limits (reload).
func (s *Server) SetLimits(l Limits) {
	s.lim.Store(&l)
	s.mu.Lock()
	for _, p := range s.pools {
		p.SetLimits(s.poolLimits())
	}
	s.mu.Unlock()
}

// gsArgs build go-mysql's server, which runs the handshake.
type gsArgs struct {
	version string
	key     *rsa.PrivateKey
	tls     *tls.Config
}

// newGoMySQLServer builds the handshake server. A new one also starts with
// an empty caching_sha2_password cache, so a changed password cannot be
// answered from the old one's cache.
func (s *Server) newGoMySQLServer() error {
	a := s.gsArgs
	gs := server.NewServer(a.version, gmysql.DEFAULT_COLLATION_ID, gmysql.AUTH_NATIVE_PASSWORD, a.key, a.tls)
	if err := gs.SetCapability(gmysql.CLIENT_LOCAL_FILES); err != nil {
		return err
	}
	s.gs.Store(gs)
	return nil
}

// SetUsers replaces the user list (reload). Sessions already logged in stay.
func (s *Server) SetUsers(users []User) {
	m := make(map[string]User, len(users))
	for _, u := range users {
		if u.Plugin == "" {
			u.Plugin = gmysql.AUTH_NATIVE_PASSWORD
		}
		m[u.Name] = u
	}
	old := s.users.Swap(&m)
	if old == nil {
		return
	}
	for name, u := range *old {
		if nu, ok := m[name]; !ok || nu.Password != u.Password || nu.Plugin != u.Plugin {
			if err := s.newGoMySQLServer(); err != nil {
				s.log.Error("rebuild handshake server", "err", err)
			}
			return
		}
	}
}

func (s *Server) password(user string) (string, bool) {
	u, ok := (*s.users.Load())[user]
	return u.Password, ok
}

func (s *Server) poolLimits() PoolLimits {
	l := s.limits()
	return PoolLimits{MaxOpen: l.MaxBackendPerNode, MaxIdle: l.MaxIdlePerNode, IdleTimeout: l.BackendIdleTimeout,
		ConnectTimeout: l.ConnectTimeout, PingAfter: 10 * time.Second}
}

// pool returns the pool of a node, nil if unknown.
func (s *Server) pool(node string) *Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pools[node]
}

// poolFor returns (creating) the pool for a node at addr; a node whose
// address changed gets a fresh pool.
func (s *Server) poolFor(node, addr string) *Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pools[node]; ok && s.addrs[node] == addr {
		return p
	} else if ok {
		go p.Close()
	}
	p := newPool(node, addr, s.beTLS, s.poolLimits(), s.log.With("node", node))
	s.pools[node] = p
	s.addrs[node] = addr
	return p
}

// masterPool returns the pool of the current master.
func (s *Server) masterPool(ctx context.Context) (string, *Pool, error) {
	snap := s.topo.Load()
	m, ok := snap.Master()
	if !ok {
		return "", nil, wire.NewError(crConnHostError, "HY000", "switchyard: no master is known at the moment; try again")
	}
	return m.Name, s.poolFor(m.Name, m.Address), nil
}

// Pools returns the pools' statistics by node name.
func (s *Server) Pools() map[string]PoolStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]PoolStats, len(s.pools))
	for n, p := range s.pools {
		out[n] = p.Stats()
	}
	return out
}

// Sessions returns a snapshot of the live sessions, by id.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	list := make([]*Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		list = append(list, ss)
	}
	s.mu.Unlock()
	out := make([]SessionInfo, 0, len(list))
	for _, ss := range list {
		out = append(out, ss.Info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Serve accepts clients on ln until ctx ends or Shutdown is called.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.lnMu.Lock()
	s.lns = append(s.lns, ln)
	s.lnMu.Unlock()
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	reapDone := make(chan struct{})
	defer close(reapDone)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-reapDone:
				return
			case now := <-t.C:
				s.mu.Lock()
				ps := make([]*Pool, 0, len(s.pools))
				for _, p := range s.pools {
					ps = append(ps, p)
				}
				s.mu.Unlock()
				for _, p := range ps {
					p.Reap(now)
				}
			}
		}
	}()
	var tempDelay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.draining.Load() || ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				time.Sleep(tempDelay)
				continue
			}
			// EMFILE and friends: back off instead of spinning.
			s.log.Warn("accept failed", "err", err)
			tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
			time.Sleep(tempDelay)
			continue
		}
		tempDelay = 0
		s.stats.Accepted.Add(1)
		if n := s.nconns.Add(1); int(n) > s.limits().MaxClientConns {
			s.nconns.Add(-1)
			s.stats.Rejected.Add(1)
			go rejectTooMany(nc)
			continue
		}
		s.wg.Add(1)
		go s.handle(ctx, nc, func() {
			s.nconns.Add(-1)
			s.wg.Done()
		})
	}
}

// rejectTooMany answers a connection over the limit with error 1040 in place
// of the handshake, as MySQL does.
func rejectTooMany(nc net.Conn) {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(time.Second))
	w := wire.NewConn(nc, 512)
	_ = w.WriteError(wire.NewError(erConCount, "08004", "Too many connections"))
}

// handle authenticates a client and runs its session; end runs once when
// the connection is done with. A session handed to an event loop outlives
// handle's goroutine (which would otherwise sit parked for the session's
// life, a stack per client): its task runs end.
func (s *Server) handle(ctx context.Context, nc net.Conn, end func()) {
	handedOff := false
	defer func() {
		if !handedOff {
			end()
		}
	}()
	remote := nc.RemoteAddr().String()
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		_ = tc.SetKeepAlive(true)
	}
	_ = nc.SetDeadline(time.Now().Add(s.limits().HandshakeTimeout))
	h := &handshakeHandler{}
	// The session exists before the login OK is sent and is registered in
	// OnAuthSuccess, so a client that got its OK can be KILLed at once.
	sess := &Session{
		srv:     s,
		remote:  remote,
		status:  wire.StatusAutocommit,
		conns:   make(map[string]*Backend),
		stmts:   make(map[uint32]*stmtInfo),
		started: time.Now(),
	}
	ah := &authHandler{srv: s, remote: remote, h: h, ctx: ctx, sess: sess}
	sc, err := s.handshake(nc, ah, h)
	if err != nil {
		// go-mysql already sent the error packet (1045 for a bad password)
		// and closed the connection.
		s.log.Debug("handshake failed", "client", remote, "err", err)
		if ah.registered {
			s.removeSession(sess)
		}
		if ah.be != nil {
			ah.be.giveBack(false)
		}
		return
	}
	raw := socketOf(sc) // the handshake is over: write to the socket itself
	_ = raw.SetDeadline(time.Time{})
	_, isTLS := raw.(*tls.Conn)
	defer s.recoverSession(sess, remote, sc.Close)
	// On an event loop the client's socket leaves Go's netpoller; the login
	// check's backend goes back to its pool (a loop session uses the loop
	// pools).
	var lc *evloop.Conn
	var loop *evloop.Loop
	loopIdx := 0
	if !isTLS && isSocket(raw) {
		loop, loopIdx = s.loopFor()
	}
	if loop != nil {
		if c, err := evloop.DetachConn(raw); err != nil {
			s.log.Debug("session stays off the event loops", "client", remote, "err", err)
		} else {
			lc = c
			raw = c
		}
	}
	if ah.be != nil && (ah.be.lconn != nil) != (lc != nil) {
		// The login check's connection is of the other kind (the detach
		// failed): the session gets its own later.
		ah.be.giveBack(true)
		ah.be = nil
	}
	sess.mu.Lock()
	sess.sc = sc
	sess.cw = wire.NewConn(raw, 16<<10)
	// The session's counter slot: its loop's, so one CPU writes each;
	// goroutine sessions spread by id over as many slots as CPUs.
	sess.shard = int(sess.id) % min(runtime.GOMAXPROCS(0), StatShards)
	if lc != nil {
		sess.loop = loop
		sess.shared = s.shared[loopIdx]
		sess.shard = loopIdx % StatShards
	}
	sess.caps = sc.Capability()
	sess.ext = clientExtOf(sc)
	sess.coll = sc.Charset()
	sess.db = h.db
	sess.mu.Unlock()
	sess.log = s.log.With("session", sess.id, "user", sess.user, "client", remote)
	if ah.be != nil {
		sess.conns[ah.be.node] = ah.be
		ah.be.wasMaster = true
	}
	if !ah.registered {
		sc.Close()
		return
	}
	if sess.killed.Load() {
		// Killed between its login and now.
		sess.cleanup()
		return
	}
	sess.log.Debug("session start", "db", sess.db, "tls", isTLS, "loop", lc != nil)
	if lc == nil {
		sess.run(ctx)
		return
	}
	ok := sess.loop.Go(func(t *evloop.Task) {
		defer end()
		// Recovered inside the task too, or a panic would end the loop
		// and every session on it.
		defer s.recoverSession(sess, remote, func() { _ = sess.cw.Close() })
		sess.task = t
		err := lc.Attach(t)
		for _, be := range sess.conns {
			if err == nil {
				err = be.lconn.Attach(t)
			}
		}
		if err != nil {
			sess.log.Debug("attach to the event loop failed", "err", err)
			sess.cleanup()
			return
		}
		sess.pingIdled()
		sess.run(ctx)
	})
	if !ok {
		// The loops have stopped (shutdown): the socket is on none.
		_ = lc.Close()
		sess.cleanup()
		return
	}
	handedOff = true
}

// recoverSession, deferred, keeps a bug to one session, never the proxy:
// a panic is logged and the session closed.
func (s *Server) recoverSession(sess *Session, remote string, closeConn func()) {
	if r := recover(); r != nil {
		s.log.Error("session panic; closing it", "client", remote, "panic", r, "stack", string(debug.Stack()))
		s.removeSession(sess)
		closeConn()
	}
}

// socketOf returns the connection a client's session runs on: the socket
// (or TLS connection) under the handshake's capture wrapper.
func socketOf(c *server.Conn) net.Conn {
	if cc, ok := c.Conn.Conn.(*capConn); ok {
		return cc.Conn
	}
	return c.Conn.Conn
}

// clientExtOf returns the MariaDB extended capabilities the client
// negotiated with us.
func clientExtOf(c *server.Conn) uint32 {
	nc := c.Conn.Conn
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn() // the flags came in the SSL request, before TLS
	}
	if cc, ok := nc.(*capConn); ok {
		return cc.clientExt()
	}
	return 0
}

// backendExt is what of a client's MariaDB extended capabilities backend
// connections can be asked for: none over backend TLS (see wire.ExtConn),
// so such clients share pools with the others.
func (s *Server) backendExt(ext uint32) uint32 {
	if s.beTLS != nil {
		return 0
	}
	return ext
}

// isSocket reports whether c is a plain TCP or Unix socket.
func isSocket(c net.Conn) bool {
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}

func (s *Server) addSession(ss *Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return false
	}
	s.sessions[ss.id] = ss
	return true
}

func (s *Server) removeSession(ss *Session) {
	s.mu.Lock()
	delete(s.sessions, ss.id)
	s.mu.Unlock()
}

func (s *Server) session(id uint32) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// Shutdown stops accepting, lets running statements finish until ctx ends,
// then closes every session and pool.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.lnMu.Lock()
	for _, ln := range s.lns {
		_ = ln.Close()
	}
	s.lnMu.Unlock()
	// Idle sessions are waiting for a command: wake them by closing their
	// read side now; busy ones notice draining after their statement.
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		n := len(s.sessions)
		for _, ss := range s.sessions {
			if !ss.busy.Load() {
				ss.wakeRead()
			}
		}
		s.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for _, ss := range s.sessions {
				ss.closeClient()
			}
			s.mu.Unlock()
			s.closePools()
			return fmt.Errorf("shutdown: %d sessions still running: %w", n, ctx.Err())
		case <-t.C:
		}
	}
	s.closePools()
	return nil
}

func (s *Server) closePools() {
	s.mu.Lock()
	ps := make([]*Pool, 0, len(s.pools))
	for _, p := range s.pools {
		ps = append(ps, p)
	}
	s.mu.Unlock()
	for _, p := range ps {
		p.Close()
	}
	if s.stopLoops != nil {
		// Sessions still on a loop find their sockets closed and end.
		s.stopLoops()
	}
}

// Wait waits for every session goroutine to end.
func (s *Server) Wait() { s.wg.Wait() }

// authHandler checks clients against the configured users. An unknown user
// gets the same 1045 as a wrong password, so user names cannot be probed.
type authHandler struct {
	srv        *Server
	remote     string
	h          *handshakeHandler
	ctx        context.Context
	be         *Backend // master connection opened to check the database
	sess       *Session // registered once authenticated
	registered bool
}

func (a *authHandler) GetCredential(username string) (server.Credential, bool, error) {
	u, ok := (*a.srv.users.Load())[username]
	if !ok {
		// A random password nobody knows: the check fails with 1045.
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		return server.Credential{Passwords: []string{hex.EncodeToString(b)}, AuthPluginName: gmysql.AUTH_NATIVE_PASSWORD}, true, nil
	}
	return server.Credential{Passwords: []string{u.Password}, AuthPluginName: u.Plugin}, true, nil
}

// OnAuthSuccess runs before the OK packet: what a server would refuse at
// login (plain transport when TLS is required, an unknown database) is
// refused here, so the client sees it where it expects it.
func (a *authHandler) OnAuthSuccess(c *server.Conn) error {
	if a.srv.tlsReq {
		if _, ok := c.Conn.Conn.(*tls.Conn); !ok {
			return gmysql.NewError(erSecureTransport, "Connections using insecure transport are prohibited: this Switchyard requires TLS (tls.require)")
		}
	}
	if err := a.checkDB(c); err != nil {
		return err
	}
	a.sess.mu.Lock()
	a.sess.id = c.ConnectionID()
	a.sess.user = c.GetUser()
	a.sess.mu.Unlock()
	if !a.srv.addSession(a.sess) {
		return gmysql.NewError(erConCount, "Switchyard is shutting down")
	}
	a.registered = true
	return nil
}

// checkDB checks the database named at login.
func (a *authHandler) checkDB(c *server.Conn) error {
	if a.h.db == "" {
		return nil
	}
	// Check the database the way the server would: by connecting to the
	// master with it. The connection is the session's first one.
	snap := a.srv.topo.Load()
	m, ok := snap.Master()
	if !ok || snap.Failover {
		return nil // no master right now: the first statement will say
	}
	u, ok := (*a.srv.users.Load())[c.GetUser()]
	if !ok {
		return nil
	}
	// A session bound for an event loop gets a loop connection (Get does
	// no I/O on it: an idle one is pinged later, by the session's task).
	raw := socketOf(c)
	key := poolKey{user: u.Name, caps: c.Capability()&relayCaps | wire.ClientSessionTrack, collation: c.Charset(), db: a.h.db,
		loop: a.srv.loopsOn() && isSocket(raw), ext: a.srv.backendExt(clientExtOf(c))}
	be, err := a.srv.poolFor(m.Name, m.Address).Get(a.ctx, key, u.Password)
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) && (we.Code == 1049 || we.Code == 1044 || we.Code == 1045) {
			me := gmysql.NewError(we.Code, we.Message)
			me.State = we.State
			return me
		}
		return nil // backend trouble: not the client's fault; the first statement reports it
	}
	be.dirty = true
	a.be = be
	return nil
}

// handshake runs go-mysql's handshake, turning a panic in its parser (seen
// with malformed handshake responses) into an error for this client only.
func (s *Server) handshake(nc net.Conn, ah *authHandler, h *handshakeHandler) (sc *server.Conn, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Warn("malformed handshake from client", "client", ah.remote, "panic", r)
			_ = nc.Close()
			sc, err = nil, fmt.Errorf("handshake panic: %v", r)
		}
	}()
	return s.gs.Load().NewCustomizedConn(&capConn{Conn: nc}, ah, h)
}

func (a *authHandler) OnAuthFailure(c *server.Conn, err error) {
	a.srv.stats.AuthFailures.Add(1)
	a.srv.log.Warn("client authentication failed", "user", c.GetUser(), "client", a.remote)
}

// handshakeHandler only records the database named in the handshake; the
// session runs commands itself.
type handshakeHandler struct {
	server.EmptyHandler
	db string
}

func (h *handshakeHandler) UseDB(db string) error {
	h.db = db
	return nil
}
