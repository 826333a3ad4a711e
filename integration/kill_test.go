package integration

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/switchyard/switchyard/wire"
)

// victim is a go-mysql client connection: it exposes the connection id the
// proxy announced in its handshake.
func victim(t *testing.T, e *env) *client.Conn {
	t.Helper()
	cc, err := client.ConnectWithTimeout(e.addr, "app", "app-secret", "test", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// startSleep runs SELECT SLEEP(30) on cc in the background and waits until
// the proxy shows the session running it.
func startSleep(t *testing.T, e *env, cc *client.Conn) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		r, err := cc.Execute("SELECT SLEEP(30)")
		if err == nil {
			defer r.Close()
			if v, _ := r.GetInt(0, 0); v != 1 {
				// MariaDB's SLEEP returns 1 when interrupted, 0 when it ran out.
				err = fmt.Errorf("SLEEP ran to the end (returned %d)", v)
			}
		}
		done <- err
	}()
	id := cc.GetConnectionID()
	waitFor(t, 10*time.Second, "the sleep to start", func() bool {
		for _, s := range e.srv.Sessions() {
			if s.ID == id && strings.Contains(s.Statement, "SLEEP") && s.Backend != "" {
				return true
			}
		}
		return false
	})
	return done
}

// waitDone waits for a background statement; the limit is well under the
// 30 s sleep, so a kill that did not work fails here instead of hanging.
func waitDone(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: the statement was not interrupted", what)
		return nil
	}
}

func TestKillQuery(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	killer := openDB(t, e.dsn(""))
	cc := victim(t, e)
	id := cc.GetConnectionID()

	for i, stmt := range []string{"KILL QUERY %d", "kill query %d;", "KILL HARD QUERY %d"} {
		done := startSleep(t, e, cc)
		mustExec(t, killer, fmt.Sprintf(stmt, id))
		err := waitDone(t, done, stmt)
		if err != nil {
			var me *gmysql.MyError
			if !asMy(err, &me) || me.Code != 1317 {
				t.Fatalf("%d %q: victim got %v, want the sleep interrupted (1 or error 1317)", i, stmt, err)
			}
		}
		// The victim's connection stays usable.
		r, err := cc.Execute("SELECT 40 + 2")
		if err != nil {
			t.Fatalf("%q: victim after kill: %v", stmt, err)
		}
		if v, _ := r.GetInt(0, 0); v != 42 {
			t.Fatalf("victim after kill: %d", v)
		}
		r.Close()
	}
	// KILL QUERY of an idle session is harmless.
	mustExec(t, killer, fmt.Sprintf("KILL QUERY %d", id))
	if err := cc.Ping(); err != nil {
		t.Fatalf("ping after idle KILL QUERY: %v", err)
	}
	if _, err := cc.Execute("SELECT 1"); err != nil {
		t.Fatalf("query after idle KILL QUERY: %v", err)
	}
	// No stray SLEEP left on the master.
	var n int
	if err := e.adminDB(t).QueryRow("SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP%'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("sleeps still running on the master: %d (%v)", n, err)
	}
}

func TestKillConnection(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	killer := openDB(t, e.dsn(""))
	admin := e.adminDB(t)
	gone := func(id uint32) func() bool {
		return func() bool {
			for _, s := range e.srv.Sessions() {
				if s.ID == id {
					return false
				}
			}
			return true
		}
	}

	// A busy session: its statement is interrupted and the session ends.
	busy := victim(t, e)
	done := startSleep(t, e, busy)
	mustExec(t, killer, fmt.Sprintf("KILL CONNECTION %d", busy.GetConnectionID()))
	_ = waitDone(t, done, "KILL CONNECTION")
	waitFor(t, 10*time.Second, "the killed busy session to end", gone(busy.GetConnectionID()))
	if _, err := busy.Execute("SELECT 1"); err == nil {
		t.Fatal("killed busy session still answers")
	}
	// The server ends a killed thread asynchronously: it may still be
	// listed for a moment after KILL returns.
	waitFor(t, 10*time.Second, "the killed sleep to leave the master's processlist", func() bool {
		var n int
		err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP%'").Scan(&n)
		return err == nil && n == 0
	})

	// An idle session (plain KILL means KILL CONNECTION).
	idle := victim(t, e)
	if _, err := idle.Execute("SELECT 1"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, killer, fmt.Sprintf("KILL %d", idle.GetConnectionID()))
	waitFor(t, 10*time.Second, "the killed idle session to end", gone(idle.GetConnectionID()))
	if _, err := idle.Execute("SELECT 1"); err == nil {
		t.Fatal("killed idle session still answers")
	}

	// The killer's own session is fine.
	if err := killer.Ping(); err != nil {
		t.Fatal(err)
	}
	var one int
	if err := killer.QueryRow("SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}

func TestKillErrors(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	killer := openDB(t, e.dsn(""))
	// Unknown ids: 1094, like the server.
	for _, q := range []string{"KILL 4000000000", "KILL QUERY 123", "KILL CONNECTION 1"} {
		if _, err := killer.Exec(q); mysqlErrNo(err) != 1094 {
			t.Errorf("%s: got %v, want 1094", q, err)
		}
	}
	// Another user's session: 1095. "other" only logs in to the proxy.
	other, err := client.ConnectWithTimeout(e.addr, "other", "other-secret", "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, q := range []string{"KILL %d", "KILL QUERY %d", "KILL CONNECTION %d"} {
		if _, err := killer.Exec(fmt.Sprintf(q, other.GetConnectionID())); mysqlErrNo(err) != 1095 {
			t.Errorf("%s: got %v, want 1095", q, err)
		}
	}
	if err := other.Ping(); err != nil {
		t.Fatalf("other's session after refused kills: %v", err)
	}
	// COM_PROCESS_KILL (the old binary command) maps ids the same way.
	raw := rawLogin(t, e.addr, "app", "app-secret", "test")
	pk := []byte{wire.ComProcessKill, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(pk[1:], 3999999999)
	raw.send(pk)
	raw.expectErr(1094)
	binary.LittleEndian.PutUint32(pk[1:], other.GetConnectionID())
	raw.send(pk)
	raw.expectErr(1095)
	raw.send([]byte{wire.ComProcessKill, 1}) // truncated
	if p := raw.mustRead(); len(p) == 0 || p[0] != wire.ErrHeader {
		t.Fatalf("truncated COM_PROCESS_KILL: % x", head(p))
	}
	if p := raw.query("SELECT 1"); p[0][0] == wire.ErrHeader {
		t.Fatalf("raw session after kill errors: %v", wire.ParseErr(p[0]))
	}
	// Statements that merely look like KILL go to the server.
	if _, err := killer.Exec("KILL QUERY ID 999999"); mysqlErrNo(err) != 1094 && mysqlErrNo(err) != 1957 {
		t.Errorf("KILL QUERY ID: got %v", err)
	}
}

// asMy finds a go-mysql MyError under pingcap's wrappers.
func asMy(err error, target **gmysql.MyError) bool {
	for e := err; e != nil; {
		if me, ok := e.(*gmysql.MyError); ok {
			*target = me
			return true
		}
		u, ok := e.(interface{ Cause() error })
		if !ok {
			break
		}
		if c := u.Cause(); c != e {
			e = c
			continue
		}
		break
	}
	return false
}
