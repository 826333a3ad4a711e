package integration

import (
	"testing"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"time"

	"github.com/switchyard/switchyard/wire"
)

// A client that stops reading a large result blocks the session in a write
// to the client. KILL (admin KILL SESSION, or a client's KILL CONNECTION) must
// still end that session and give its backend connection back; a server
// would drop such a client after net_write_timeout.
func TestReviewKillSessionBlockedOnClientWrite(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	r := rawLogin(t, e.addr, "app", "app-secret", "test")
	id := r.cc.GetConnectionID()
	r.send(append([]byte{wire.ComQuery}, "SELECT REPEAT('x', 10000) FROM seq_1_to_100000"...))
	// Never read. Wait until the statement has run for a while: by then every
	// socket buffer between the backend and the client is full.
	admin := e.adminDB(t)
	waitFor(t, 15*time.Second, "the big select to stall", func() bool {
		var n int
		_ = admin.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT REPEAT%' AND TIME >= 2").Scan(&n)
		return n > 0
	})
	if err := e.srv.KillSession(t.Context(), id); err != nil {
		t.Logf("KillSession: %v", err)
	}
	waitFor(t, 15*time.Second, "the killed session to end", func() bool { return e.sessionCount() == 0 })
}

// COM_CHANGE_USER naming a database that does not exist: the error must
// continue the packet sequence of the exchange (switch request 1, answer 2,
// result 3); with another sequence number the client falls out of step.
func TestReviewChangeUserUnknownDBSequence(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	r := rawLogin(t, e.addr, "app", "app-secret", "test")
	p := r.changeUser("app", "app-secret", "rv_no_such_db")
	if p == nil {
		t.Fatal("connection closed")
	}
	if len(p) == 0 || p[0] != wire.ErrHeader {
		t.Fatalf("want ERR, got % x", head(p))
	}
	t.Logf("answer: %v, next seq the reader expects %d", wire.ParseErr(p), r.w.Seq)
	if got := r.w.Seq - 1; got != 3 {
		t.Errorf("ERR sent with sequence %d, want 3", got)
	}
}

// COM_SET_OPTION changes the connection's multi-statement setting, which
// COM_RESET_CONNECTION does not restore: a backend connection must not go
// back to the pool for the next client with it changed.
func TestReviewSetOptionDoesNotLeakThroughPool(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	// Client A logs in with CLIENT_MULTI_STATEMENTS, then turns it off.
	a := rawLoginMulti(t, e.addr)
	a.send([]byte{wire.ComSetOption, 1, 0}) // MYSQL_OPTION_MULTI_STATEMENTS_OFF
	t.Logf("set option answer: % x", head(a.mustRead()))
	if p := a.query("SELECT 1; SELECT 2"); p[0][0] != wire.ErrHeader {
		t.Fatalf("setup: multi statements still on for A")
	}
	a.send([]byte{wire.ComQuit})
	_ = a.cc.Close()
	waitFor(t, 10*time.Second, "A's session to end", func() bool { return e.sessionCount() == 0 })
	// Client B logs in with the same flags and expects multi-statements on.
	b := rawLoginMulti(t, e.addr)
	resp := b.query("SELECT 1; SELECT 2")
	if resp[0][0] == wire.ErrHeader {
		t.Errorf("client B inherited A's COM_SET_OPTION: %v", wire.ParseErr(resp[0]))
	}
}

// rawLoginMulti is rawLogin with CLIENT_MULTI_STATEMENTS negotiated.
func rawLoginMulti(t *testing.T, addr string) *rawConn {
	t.Helper()
	cc, err := client.ConnectWithTimeout(addr, "app", "app-secret", "test", 5*time.Second, func(c *client.Conn) error {
		c.UnsetCapability(gmysql.CLIENT_DEPRECATE_EOF | gmysql.CLIENT_QUERY_ATTRIBUTES)
		if err := c.SetCapability(gmysql.CLIENT_MULTI_STATEMENTS); err != nil {
			return err
		}
		return c.SetCapability(gmysql.CLIENT_MULTI_RESULTS)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return &rawConn{t: t, cc: cc, w: wire.NewConn(cc.Conn.Conn, 0)}
}
