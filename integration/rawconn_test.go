package integration

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/switchyard/switchyard/wire"
)

// rawConn is a client logged in with go-mysql's client whose socket is then
// driven packet by packet, to send what no well-behaved driver would.
type rawConn struct {
	t  *testing.T
	cc *client.Conn
	w  *wire.Conn
}

// rawLogin logs in and returns the connection for raw use. CLIENT_DEPRECATE_EOF
// is left off so direct and proxied answers have the same shape.
func rawLogin(t *testing.T, addr, user, pass, db string) *rawConn {
	t.Helper()
	cc, err := client.ConnectWithTimeout(addr, user, pass, db, 5*time.Second, func(c *client.Conn) error {
		c.UnsetCapability(gmysql.CLIENT_DEPRECATE_EOF | gmysql.CLIENT_QUERY_ATTRIBUTES)
		return nil
	})
	if err != nil {
		t.Fatalf("login to %s as %s: %v", addr, user, err)
	}
	r := &rawConn{t: t, cc: cc, w: wire.NewConn(cc.Conn.Conn, 0)}
	t.Cleanup(func() { _ = cc.Close() })
	return r
}

// send writes one command packet (sequence 0).
func (r *rawConn) send(payload []byte) {
	r.t.Helper()
	r.w.Seq = 0
	if err := r.w.WritePacket(payload); err != nil {
		r.t.Fatalf("write: %v", err)
	}
	if err := r.w.Flush(); err != nil {
		r.t.Fatalf("flush: %v", err)
	}
}

// read reads one packet; the deadline only guards against a hang.
func (r *rawConn) read() ([]byte, error) {
	_ = r.w.SetReadDeadline(time.Now().Add(15 * time.Second))
	p, err := r.w.ReadPacket(0)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), p...), nil
}

func (r *rawConn) mustRead() []byte {
	r.t.Helper()
	p, err := r.read()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return p
}

// expectErr reads one packet and demands an ERR with the given code.
func (r *rawConn) expectErr(code uint16) *wire.Error {
	r.t.Helper()
	p := r.mustRead()
	if len(p) == 0 || p[0] != wire.ErrHeader {
		r.t.Fatalf("want ERR %d, got packet % x", code, head(p))
	}
	e := wire.ParseErr(p)
	if e.Code != code {
		r.t.Fatalf("want ERR %d, got %v", code, e)
	}
	return e
}

// expectClosed reads until the peer closes; any packets before are returned.
func (r *rawConn) expectClosed() [][]byte {
	r.t.Helper()
	var got [][]byte
	for {
		p, err := r.read()
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				r.t.Fatalf("connection still open (read timed out) after packets %q", got)
			}
			return got
		}
		got = append(got, p)
	}
}

// readResponse reads one complete COM_QUERY / COM_STMT_EXECUTE response
// (OK, ERR, or result sets; binary or text rows) as raw packets.
func (r *rawConn) readResponse() [][]byte {
	r.t.Helper()
	var out [][]byte
	for {
		p := r.mustRead()
		out = append(out, p)
		switch {
		case p[0] == wire.ErrHeader:
			return out
		case p[0] == wire.OKHeader:
			if wire.OKStatus(p)&wire.StatusMoreResultsExists == 0 {
				return out
			}
			continue
		}
		ncols, _ := wire.LenEnc(p)
		for i := uint64(0); i < ncols; i++ {
			out = append(out, r.mustRead())
		}
		eof := r.mustRead() // after the column definitions
		out = append(out, eof)
		if wire.EOFStatus(eof)&wire.StatusCursorExists != 0 {
			return out
		}
		var st uint16
		for {
			p := r.mustRead()
			out = append(out, p)
			if p[0] == wire.ErrHeader {
				return out
			}
			if p[0] == wire.EOFHeader && len(p) < 9 {
				st = wire.EOFStatus(p)
				break
			}
		}
		if st&wire.StatusMoreResultsExists == 0 {
			return out
		}
	}
}

// query runs a text query and returns the raw response.
func (r *rawConn) query(q string) [][]byte {
	r.t.Helper()
	r.send(append([]byte{wire.ComQuery}, q...))
	return r.readResponse()
}

// prepare prepares q and returns the statement id and parameter count.
func (r *rawConn) prepare(q string) (id uint32, params, cols uint16) {
	r.t.Helper()
	r.send(append([]byte{wire.ComStmtPrepare}, q...))
	p := r.mustRead()
	if p[0] != wire.OKHeader || len(p) < 12 {
		r.t.Fatalf("prepare %q: % x", q, head(p))
	}
	id = binary.LittleEndian.Uint32(p[1:5])
	cols = binary.LittleEndian.Uint16(p[5:7])
	params = binary.LittleEndian.Uint16(p[7:9])
	n := 0
	if params > 0 {
		n += int(params) + 1
	}
	if cols > 0 {
		n += int(cols) + 1
	}
	for i := 0; i < n; i++ {
		r.mustRead()
	}
	return id, params, cols
}

// okOrErr reports whether p is an OK packet, with the error otherwise.
func okOrErr(p []byte) error {
	if len(p) > 0 && p[0] == wire.OKHeader {
		return nil
	}
	if len(p) > 0 && p[0] == wire.ErrHeader {
		return wire.ParseErr(p)
	}
	return fmt.Errorf("unexpected packet % x", head(p))
}

func head(p []byte) []byte {
	if len(p) > 32 {
		return p[:32]
	}
	return p
}

// waitFor polls cond until it holds; the limit only guards against a hang.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// adminDB opens the admin account straight to the master.
func (e *env) adminDB(t *testing.T) *sql.DB {
	t.Helper()
	a := e.c.Users.Admin
	return openDB(t, a.Name+":"+a.Password+"@tcp("+e.c.Master().Addr()+")/")
}

// sessionCount is the number of live proxy sessions.
func (e *env) sessionCount() int { return len(e.srv.Sessions()) }

// createOtherUser creates the proxy's second configured user on the master.
func (e *env) createOtherUser(t *testing.T) {
	t.Helper()
	a := e.adminDB(t)
	mustExec(t, a, "CREATE USER IF NOT EXISTS 'other'@'%' IDENTIFIED BY 'other-secret'")
	mustExec(t, a, "GRANT SELECT, INSERT, CREATE, DROP ON test.* TO 'other'@'%'")
}
