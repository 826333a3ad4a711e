package integration

import (
	"bytes"
	"testing"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/switchyard/switchyard/wire"
)

// changeUser sends COM_CHANGE_USER and answers the proxy's auth switch with
// the mysql_native_password scramble of password. It returns the final
// packet (OK or ERR), or nil when the connection closed instead.
func (r *rawConn) changeUser(user, password, db string) []byte {
	r.t.Helper()
	pkt := []byte{wire.ComChangeUser}
	pkt = append(pkt, user...)
	pkt = append(pkt, 0)
	pkt = append(pkt, 0) // no auth data for the old scramble: the proxy asks again
	pkt = append(pkt, db...)
	pkt = append(pkt, 0)
	pkt = append(pkt, 45, 0) // utf8mb4_general_ci
	pkt = append(pkt, "mysql_native_password\x00"...)
	r.send(pkt)
	p := r.mustRead()
	if len(p) == 0 || p[0] != 0xfe {
		return p
	}
	name, rest, ok := bytes.Cut(p[1:], []byte{0})
	if !ok || string(name) != "mysql_native_password" || len(rest) != 21 || rest[20] != 0 {
		r.t.Fatalf("bad auth switch request % x", p)
	}
	var answer []byte
	if password != "" {
		answer = gmysql.CalcNativePassword(rest[:20], []byte(password))
	}
	// The answer continues the sequence of the switch request.
	if err := r.w.WritePacket(answer); err != nil {
		r.t.Fatal(err)
	}
	if err := r.w.Flush(); err != nil {
		r.t.Fatal(err)
	}
	p, err := r.read()
	if err != nil {
		return nil
	}
	return p
}

// scalar runs a one-value query and returns the value as text ("NULL" for NULL).
func (r *rawConn) scalar(q string) string {
	r.t.Helper()
	resp := r.query(q)
	if resp[0][0] == wire.ErrHeader {
		r.t.Fatalf("%s: %v", q, wire.ParseErr(resp[0]))
	}
	if len(resp) != 5 {
		r.t.Fatalf("%s: %d packets", q, len(resp))
	}
	row := resp[3]
	if row[0] == 0xfb {
		return "NULL"
	}
	n, k := wire.LenEnc(row)
	return string(row[k : k+int(n)])
}

func TestChangeUser(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	e.createOtherUser(t)
	setup := openDB(t, e.directDSN(""))
	mustExec(t, setup, "DROP TABLE IF EXISTS cu_t")
	mustExec(t, setup, "CREATE TABLE cu_t (id INT)")

	r := rawLogin(t, e.addr, "app", "app-secret", "test")
	if got := r.scalar("SELECT CURRENT_USER()"); got != "app@%" {
		t.Fatalf("before: %s", got)
	}
	// State that must not survive the change.
	r.query("SET @x = 'kept?'")
	r.query("CREATE TEMPORARY TABLE cu_tmp (a INT)")
	r.query("BEGIN")
	r.query("INSERT INTO cu_t VALUES (1)")
	stmt, _, _ := r.prepare("SELECT 1")

	if p := r.changeUser("other", "other-secret", "test"); okOrErr(p) != nil {
		t.Fatalf("change user to other: %v", okOrErr(p))
	}
	if got := r.scalar("SELECT CURRENT_USER()"); got != "other@%" {
		t.Fatalf("after change user: CURRENT_USER() = %s", got)
	}
	if got := r.scalar("SELECT DATABASE()"); got != "test" {
		t.Errorf("DATABASE() = %s", got)
	}
	if got := r.scalar("SELECT IFNULL(@x, 'NULL')"); got != "NULL" {
		t.Errorf("user variable survived: %s", got)
	}
	if resp := r.query("SELECT * FROM cu_tmp"); resp[0][0] != wire.ErrHeader {
		t.Errorf("temporary table survived")
	}
	if got := r.scalar("SELECT COUNT(*) FROM cu_t"); got != "0" {
		t.Errorf("the open transaction was not rolled back: %s rows", got)
	}
	r.send(execPkt(stmt, 0, false))
	r.expectErr(1243)
	var seen bool
	for _, s := range e.srv.Sessions() {
		if s.User == "other" {
			seen = true
		}
	}
	if !seen {
		t.Errorf("sessions do not show the new user: %+v", e.srv.Sessions())
	}
	// other's privileges apply: it has no UPDATE.
	if resp := r.query("UPDATE cu_t SET id = 2"); resp[0][0] != wire.ErrHeader || wire.ParseErr(resp[0]).Code != 1142 {
		t.Errorf("other could update cu_t: %q", resp[0])
	}

	// Back to app, without a database.
	if p := r.changeUser("app", "app-secret", ""); okOrErr(p) != nil {
		t.Fatalf("change user back to app: %v", okOrErr(p))
	}
	if got := r.scalar("SELECT CURRENT_USER()"); got != "app@%" {
		t.Fatalf("after change back: %s", got)
	}
	if got := r.scalar("SELECT IFNULL(DATABASE(), 'NULL')"); got != "NULL" {
		t.Errorf("changed user with no database, but DATABASE() = %s", got)
	}

	// A database that does not exist.
	if p := r.changeUser("app", "app-secret", "no_such_db"); p == nil || p[0] != wire.ErrHeader || wire.ParseErr(p).Code != 1049 {
		t.Errorf("change user into a missing database: % x", head(p))
	}

	// Wrong password and unknown user: 1045, and the connection ends.
	for _, c := range []struct{ user, pw string }{{"other", "wrong"}, {"nobody", "x"}, {"app", ""}} {
		r := rawLogin(t, e.addr, "app", "app-secret", "test")
		p := r.changeUser(c.user, c.pw, "test")
		if p == nil || p[0] != wire.ErrHeader || wire.ParseErr(p).Code != 1045 {
			t.Errorf("change user %s/%q: got % x, want 1045", c.user, c.pw, head(p))
			continue
		}
		if got := r.expectClosed(); len(got) != 0 {
			t.Errorf("after a failed change user the connection sent %q", got)
		}
	}
}
