// Package admin is Switchyard's admin SQL port: a MySQL-protocol listener
// with its own credentials, virtual tables over the live state (queried
// with real SQL by an embedded SQLite), and commands (SWITCHOVER, FAILOVER,
// SET NODE, ACKNOWLEDGE FAILOVER, RELOAD CONFIG, KILL SESSION, DRILL).
package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/server"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/failover"
	"github.com/switchyard/switchyard/proxy"
)

// Options configure the admin port. Nil sources leave their tables empty and
// their commands refused.
type Options struct {
	// User and Password are the admin account (config admin.user /
	// admin.password); no other account opens the admin port.
	User, Password string
	Proxy          *proxy.Server
	Manager        *failover.Manager
	Digests        *proxy.Digests
	// Config returns the effective configuration (the config table shows
	// its masked settings).
	Config func() *config.Config
	// Reload re-reads the configuration (RELOAD CONFIG); nil refuses it.
	Reload func(context.Context) error
	Drill  DrillOptions
	// ServerVersion is announced in the handshake.
	ServerVersion string
	// HandshakeTimeout bounds the login; default 10s.
	HandshakeTimeout time.Duration
	Logger           *slog.Logger
}

// Server is the admin listener.
type Server struct {
	o   Options
	log *slog.Logger
	gs  *server.Server
	eng *engine

	progress progressLog
	drillMu  sync.Mutex // one drill at a time

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	lns   []net.Listener
	wg    sync.WaitGroup
}

// New builds the admin server; Serve starts it.
func New(o Options) (*Server, error) {
	if o.User == "" {
		return nil, errors.New("admin: no admin user configured")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ServerVersion == "" {
		o.ServerVersion = "5.5.5-10.11.0-switchyard-admin"
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	o.Drill.defaults()
	eng, err := newEngine()
	if err != nil {
		return nil, err
	}
	// One go-mysql server for every connection (building one is not free).
	gs := server.NewServer(o.ServerVersion, mysql.DEFAULT_COLLATION_ID, mysql.AUTH_NATIVE_PASSWORD, nil, nil)
	return &Server{o: o, log: o.Logger.With("component", "admin"), gs: gs, eng: eng, conns: map[net.Conn]struct{}{}}, nil
}

// ListenAndServe listens on addr (config admin.listen) and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin listen %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts admin connections on ln until ctx ends; it then closes ln
// and every admin connection and waits for their handlers. It returns nil
// on a clean stop.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		_ = ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
	})
	defer stop()
	defer s.wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("admin accept: %w", err)
		}
		s.mu.Lock()
		if ctx.Err() != nil {
			s.mu.Unlock()
			_ = c.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				_ = c.Close()
			}()
			s.serveConn(ctx, c)
		}()
	}
}

// Close releases the SQL engine; call it after Serve returned.
func (s *Server) Close() error { return s.eng.close() }

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("admin connection panicked", "client", c.RemoteAddr().String(), "panic", fmt.Sprint(r))
		}
	}()
	h := &handler{s: s, ctx: ctx}
	_ = c.SetDeadline(time.Now().Add(s.o.HandshakeTimeout))
	conn, err := s.gs.NewCustomizedConn(c, &auth{s: s, remote: c.RemoteAddr().String()}, h)
	if err != nil {
		return // the client got its error (1045) from the handshake
	}
	_ = c.SetDeadline(time.Time{})
	for ctx.Err() == nil && !conn.Closed() {
		if err := conn.HandleCommand(); err != nil {
			return
		}
	}
}

// auth accepts only the admin account: the application's users are
// another list and do not open this port.
type auth struct {
	s      *Server
	remote string
}

func (a *auth) GetCredential(user string) (server.Credential, bool, error) {
	if user != a.s.o.User {
		// A random password nobody knows: the check fails with 1045, as
		// for a wrong password (no hint that the user does not exist).
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		return server.Credential{Passwords: []string{hex.EncodeToString(b)}, AuthPluginName: mysql.AUTH_NATIVE_PASSWORD}, true, nil
	}
	return server.Credential{Passwords: []string{a.s.o.Password}, AuthPluginName: mysql.AUTH_NATIVE_PASSWORD}, true, nil
}

func (a *auth) OnAuthSuccess(*server.Conn) error { return nil }

func (a *auth) OnAuthFailure(c *server.Conn, _ error) {
	a.s.log.Warn("admin authentication failed", "user", c.GetUser(), "client", a.remote)
}

// handler serves one admin connection.
type handler struct {
	s   *Server
	ctx context.Context
}

func (h *handler) UseDB(string) error { return nil }

func (h *handler) HandleQuery(q string) (res *mysql.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			h.s.log.Error("admin statement panicked", "panic", fmt.Sprint(r))
			res, err = nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, "internal error running the statement")
		}
	}()
	return h.s.Exec(h.ctx, q)
}

func (h *handler) HandleFieldList(string, string) ([]*mysql.Field, error) {
	return nil, mysql.NewError(mysql.ER_UNKNOWN_COM_ERROR, "field lists are not supported on the admin port")
}

func (h *handler) HandleStmtPrepare(string) (int, int, any, error) {
	return 0, 0, nil, mysql.NewError(mysql.ER_UNSUPPORTED_PS, "the admin port has no prepared statements: send plain text statements (interpolateParams=true)")
}

func (h *handler) HandleStmtExecute(any, string, []any) (*mysql.Result, error) {
	return nil, mysql.NewError(mysql.ER_UNSUPPORTED_PS, "the admin port has no prepared statements")
}

func (h *handler) HandleStmtClose(any) error { return nil }

func (h *handler) HandleOtherCommand(cmd byte, _ []byte) error {
	return mysql.NewError(mysql.ER_UNKNOWN_COM_ERROR, fmt.Sprintf("command %d is not supported on the admin port", cmd))
}
