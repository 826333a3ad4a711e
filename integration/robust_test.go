package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/proxy"
	"github.com/switchyard/switchyard/wire"
)

// inChild runs the calling test in a child process when it is not the child
// already, so a proxy crash (a panic in a connection goroutine kills the
// whole process) fails this test instead of the whole package run. It
// returns true in the parent, which should then return.
func inChild(t *testing.T) bool {
	t.Helper()
	const key = "SWITCHYARD_TEST_CHILD"
	if os.Getenv(key) == t.Name() {
		return false
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), key+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		if i := bytes.Index(out, []byte("panic:")); i >= 0 {
			end := min(len(out), i+3000)
			t.Fatalf("the proxy process crashed:\n%s", out[i:end])
		}
		t.Fatalf("child run failed: %v\n%s", err, out)
	}
	t.Logf("child run:\n%s", out)
	return true
}

// steady runs a second session's queries until stop, checking every answer,
// to show that other sessions are unaffected by one client's misbehaviour.
type steady struct {
	stop chan struct{}
	done chan struct{}
	n    int
	err  error
}

func startSteady(t *testing.T, e *env) *steady {
	t.Helper()
	db := openDB(t, e.dsn(""))
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s := &steady{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer conn.Close()
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			default:
			}
			var got int
			var pad string
			err := conn.QueryRowContext(context.Background(), "SELECT ? + 1, REPEAT('p', ? % 500)", i, i).Scan(&got, &pad)
			if err == nil && (got != i+1 || len(pad) != i%500) {
				err = fmt.Errorf("wrong answer for %d: %d, %d bytes", i, got, len(pad))
			}
			if err != nil {
				s.err = err
				return
			}
			s.n++
		}
	}()
	t.Cleanup(func() { s.finish() })
	return s
}

func (s *steady) finish() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	return s.err
}

func (s *steady) check(t *testing.T) {
	t.Helper()
	if err := s.finish(); err != nil {
		t.Fatalf("the concurrent session was disturbed after %d queries: %v", s.n, err)
	}
	if s.n == 0 {
		t.Fatal("the concurrent session ran no query")
	}
}

// handshakeResponse builds a protocol-41 handshake response with the given
// capability flags and tail (what follows the 32-byte fixed part).
func handshakeResponse(caps uint32, tail []byte) []byte {
	b := make([]byte, 32, 32+len(tail))
	binary.LittleEndian.PutUint32(b[0:], caps)
	binary.LittleEndian.PutUint32(b[4:], 1<<24)
	b[8] = 45
	return append(b, tail...)
}

// TestHandshakeGarbage: clients that send junk instead of a handshake
// response get an error or are dropped, and the proxy serves others.
func TestHandshakeGarbage(t *testing.T) {
	if inChild(t) {
		return
	}
	lim := proxy.DefaultLimits()
	lim.HandshakeTimeout = 500 * time.Millisecond
	e := startEnv(t, envOptions{limits: &lim})
	ensureTestDB(t, e.c)
	st := startSteady(t, e)

	const (
		p41     = wire.ClientProtocol41
		secure  = 0x8000  // CLIENT_SECURE_CONNECTION
		plugin  = 1 << 19 // CLIENT_PLUGIN_AUTH
		attrs   = 1 << 20 // CLIENT_CONNECT_ATTRS
		lenenc  = 1 << 21 // CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
		withDB  = 1 << 3  // CLIENT_CONNECT_WITH_DB
		sslFlag = 1 << 11 // CLIENT_SSL
		basic   = p41 | secure
	)
	auth20 := append([]byte{20}, bytes.Repeat([]byte{'a'}, 20)...)
	native := []byte("mysql_native_password\x00")
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	framed := func(seq byte, payload []byte) []byte {
		h := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}
		return append(h, payload...)
	}
	cases := []struct {
		name string
		raw  []byte // sent as is
	}{
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"tiny", framed(1, []byte{1})},
		{"empty", framed(1, nil)},
		{"no protocol 41", framed(1, handshakeResponse(secure, []byte("app\x00")))},
		{"ssl request without TLS", framed(1, handshakeResponse(basic|sslFlag, nil))},
		{"user without NUL", framed(1, handshakeResponse(basic, []byte("app")))},
		{"auth longer than packet", framed(1, handshakeResponse(basic, cat([]byte("app\x00"), []byte{200}, []byte("xx"))))},
		{"lenenc auth huge", framed(1, handshakeResponse(basic|lenenc, cat([]byte("app\x00"), []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})))},
		{"db without NUL", framed(1, handshakeResponse(basic|withDB, cat([]byte("app\x00"), auth20, []byte("test"))))},
		{"plugin without NUL", framed(1, handshakeResponse(basic|plugin, cat([]byte("app\x00"), auth20, []byte("mysql_native"))))},
		{"unknown plugin", framed(1, handshakeResponse(basic|plugin, cat([]byte("app\x00"), auth20, []byte("no_such_plugin\x00"))))},
		{"attrs length truncated", framed(1, handshakeResponse(basic|plugin|attrs, cat([]byte("app\x00"), auth20, native, []byte{0xfc})))},
		{"attrs key truncated", framed(1, handshakeResponse(basic|plugin|attrs, cat([]byte("app\x00"), auth20, native, []byte{2, 0xfd, 1})))},
		{"attrs unknown user", framed(1, handshakeResponse(basic|plugin|attrs, cat([]byte("nobody\x00"), auth20, native, []byte{0xfe, 1})))},
		{"wrong sequence", framed(7, handshakeResponse(basic|plugin, cat([]byte("app\x00"), auth20, native)))},
		{"16MB declared then close", []byte{0xff, 0xff, 0xff, 1, 1, 2, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nc, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			w := wire.NewConn(nc, 0)
			_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
			if p, err := w.ReadPacket(0); err != nil || len(p) == 0 || p[0] != 10 {
				t.Fatalf("initial handshake: % x %v", head(p), err)
			}
			if _, err := nc.Write(c.raw); err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(c.name, "then close") {
				_ = nc.(*net.TCPConn).CloseWrite()
			}
			// Whatever comes back, the connection must end (an ERR first is
			// fine) and must not be a successful login.
			for {
				p, err := w.ReadPacket(0)
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						t.Fatal("the proxy neither answered nor closed")
					}
					break
				}
				if len(p) > 0 && p[0] == wire.OKHeader {
					t.Fatalf("garbage logged in: % x", head(p))
				}
				if len(p) > 0 && p[0] == 0xfe {
					// An auth switch request: answer with junk, the
					// proxy must then refuse.
					w.Seq++
					_ = w.WritePacket([]byte("junk"))
					_ = w.Flush()
				}
			}
			// The proxy still serves a normal client.
			var one int
			if err := openDB(t, e.dsn("")).QueryRow("SELECT 1").Scan(&one); err != nil {
				t.Fatalf("after %s: %v", c.name, err)
			}
		})
	}
	st.check(t)
	waitFor(t, 10*time.Second, "garbage connections to leave no session", func() bool { return e.sessionCount() <= 1 })
}

// TestMalformedCommands: a logged-in client sending broken commands gets
// MySQL errors; other sessions do not notice.
func TestMalformedCommands(t *testing.T) {
	if inChild(t) {
		return
	}
	lim := proxy.DefaultLimits()
	lim.MaxPacket = 1 << 20
	e := startEnv(t, envOptions{limits: &lim})
	ensureTestDB(t, e.c)
	st := startSteady(t, e)

	r := rawLogin(t, e.addr, "app", "app-secret", "test")
	ok := func() {
		t.Helper()
		resp := r.query("SELECT 'still here'")
		if resp[0][0] == wire.ErrHeader {
			t.Fatalf("session broken: %v", wire.ParseErr(resp[0]))
		}
		if len(resp) != 5 || !bytes.Contains(resp[3], []byte("still here")) {
			t.Fatalf("unexpected answer %q", resp)
		}
	}
	stmtPkt := func(cmd byte, id uint32, rest ...byte) []byte {
		b := []byte{cmd, 0, 0, 0, 0}
		binary.LittleEndian.PutUint32(b[1:], id)
		return append(b, rest...)
	}
	// Unknown statement ids.
	r.send(stmtPkt(wire.ComStmtExecute, 12345, 0, 1, 0, 0, 0))
	r.expectErr(1243)
	r.send([]byte{wire.ComStmtExecute})
	r.expectErr(1243)
	r.send(stmtPkt(wire.ComStmtFetch, 777, 10, 0, 0, 0))
	r.expectErr(1243)
	r.send(stmtPkt(wire.ComStmtReset, 777))
	r.expectErr(1243)
	r.send(stmtPkt(wire.ComStmtClose, 777))              // no answer
	r.send(stmtPkt(wire.ComStmtSendLongData, 777, 0, 0)) // no answer
	ok()
	// A real statement with a truncated execute packet.
	id, params, _ := r.prepare("SELECT ? + ?")
	if params != 2 {
		t.Fatalf("params = %d", params)
	}
	r.send(stmtPkt(wire.ComStmtExecute, id, 0, 1, 0, 0)) // iteration count cut short
	if p := r.mustRead(); p[0] != wire.ErrHeader {
		t.Fatalf("truncated execute: % x", head(p))
	}
	r.send(stmtPkt(wire.ComStmtExecute, id, 0, 1, 0, 0, 0, 0, 1, 3)) // types cut short
	if p := r.mustRead(); p[0] != wire.ErrHeader {
		t.Fatalf("truncated types: % x", head(p))
	}
	// A proper execute still works afterwards.
	exec := stmtPkt(wire.ComStmtExecute, id, 0, 1, 0, 0, 0, 0, 1, 8, 0, 8, 0)
	exec = binary.LittleEndian.AppendUint64(exec, 40)
	exec = binary.LittleEndian.AppendUint64(exec, 2)
	r.send(exec)
	if resp := r.readResponse(); resp[0][0] == wire.ErrHeader {
		t.Fatalf("execute: %v", wire.ParseErr(resp[0]))
	}
	// Unknown commands.
	for _, c := range []byte{0x99, 0xff, 0x20, wire.ComQuit + 0x40} {
		r.send([]byte{c, 1, 2, 3})
		r.expectErr(1047)
	}
	// Other commands with bad arguments.
	r.send([]byte{wire.ComChangeUser, 'x'}) // no NUL
	if p := r.mustRead(); p[0] != wire.ErrHeader {
		t.Fatalf("malformed change user: % x", head(p))
	}
	r.send(append([]byte{wire.ComInitDB}, "no_such_db"...))
	r.expectErr(1049)
	r.send(append([]byte{wire.ComFieldList}, "no_such_table\x00"...))
	r.expectErr(1146)
	ok()

	// An empty packet: error, and the session is closed.
	e2 := rawLogin(t, e.addr, "app", "app-secret", "test")
	e2.send(nil)
	got := e2.expectClosed()
	if len(got) != 1 || got[0][0] != wire.ErrHeader {
		t.Errorf("empty packet: got %q, want one ERR then close", got)
	}
	// A packet over the proxy's max packet size: 1153, and closed.
	big := rawLogin(t, e.addr, "app", "app-secret", "test")
	big.send(append([]byte{wire.ComQuery}, strings.Repeat("x", 2<<20)...))
	got = big.expectClosed()
	if len(got) != 1 || got[0][0] != wire.ErrHeader || wire.ParseErr(got[0]).Code != 1153 {
		t.Errorf("oversized packet: got %d packets, want ERR 1153 then close", len(got))
	}
	// A packet that declares 16 MB, sends a little, and the client goes.
	n := e.sessionCount()
	short := rawLogin(t, e.addr, "app", "app-secret", "test")
	waitFor(t, 10*time.Second, "the session to register", func() bool { return e.sessionCount() == n+1 })
	_, _ = short.cc.Conn.Conn.Write([]byte{0xff, 0xff, 0xff, 0, wire.ComQuery, 'S', 'E', 'L'})
	_ = short.cc.Conn.Conn.Close()
	waitFor(t, 10*time.Second, "the half-sent session to end", func() bool { return e.sessionCount() == n })

	ok()
	st.check(t)
}

// TestBackendDiesMidResult: the backend connection of a session streaming a
// large result is killed on the server. The client must get an error (no
// hang, no silent truncation), its next statement must work on a fresh
// backend, and another session must not notice.
func TestBackendDiesMidResult(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	ctx := t.Context()
	st := startSteady(t, e)
	admin := e.adminDB(t)
	a, _ := oneConn(t, e.dsn(""))
	rows, err := a.QueryContext(ctx, "SELECT seq, REPEAT('x', 1000) FROM seq_1_to_500000")
	if err != nil {
		t.Fatal(err)
	}
	var thread int64
	waitFor(t, 10*time.Second, "the streaming query on the master", func() bool {
		err := admin.QueryRow("SELECT id FROM information_schema.processlist WHERE user = 'app' AND info LIKE '%seq_1_to_500000%' AND info NOT LIKE '%processlist%'").Scan(&thread)
		return err == nil
	})
	n := 0
	var seq int
	var pad string
	for rows.Next() {
		if err := rows.Scan(&seq, &pad); err != nil {
			t.Fatal(err)
		}
		n++
		if n == 100 {
			mustExec(t, admin, fmt.Sprintf("KILL CONNECTION %d", thread))
		}
		if n%1000 == 0 {
			time.Sleep(time.Millisecond) // a slow reader
		}
	}
	rerr := rows.Err()
	_ = rows.Close()
	if rerr == nil {
		t.Fatalf("result ended without an error after %d of 500000 rows", n)
	}
	if n >= 500000 {
		t.Fatalf("all rows arrived despite the kill")
	}
	t.Logf("client got %d rows, then: %v", n, rerr)
	// The same client connection carries on, on a new backend.
	var one int
	if err := a.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("next statement on the same connection: %v", err)
	}
	var id int64
	if err := a.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil || id == thread {
		t.Fatalf("new backend thread %d (old %d): %v", id, thread, err)
	}
	st.check(t)
}

// TestHandshakeTimeout: a client that connects and says nothing is dropped
// after the handshake timeout and its client slot comes back.
func TestHandshakeTimeout(t *testing.T) {
	lim := proxy.DefaultLimits()
	lim.HandshakeTimeout = 500 * time.Millisecond
	lim.MaxClientConns = 1
	e := startEnv(t, envOptions{limits: &lim})
	ensureTestDB(t, e.c)
	nc, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	w := wire.NewConn(nc, 0)
	if p, err := w.ReadPacket(0); err != nil || p[0] != 10 {
		t.Fatalf("initial handshake: %v", err)
	}
	// While it sits there, it holds the only client slot.
	var one int
	db := openDB(t, e.dsn(""))
	db.SetMaxIdleConns(0)
	if err := db.QueryRow("SELECT 1").Scan(&one); mysqlErrNo(err) != 1040 {
		t.Fatalf("second client while the slot is held: %v, want 1040", err)
	}
	// Then it is dropped.
	if _, err := w.ReadPacket(0); err == nil {
		t.Fatal("got a packet instead of a close")
	} else {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("silent client not dropped")
		}
	}
	waitFor(t, 10*time.Second, "the client slot", func() bool { return db.QueryRow("SELECT 1").Scan(&one) == nil })
	_ = db.Close()
	waitFor(t, 10*time.Second, "no session left", func() bool { return e.sessionCount() == 0 })
}
