package integration

import (
	"database/sql"
	"net"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
)

// FuzzCommands sends arbitrary command packets to a logged-in proxy session
// on a real cluster. Whatever the bytes, the proxy must answer or close that
// session, never crash or hang, and a fresh session must still work.
// Plain `go test` runs the seeds; `make fuzz` explores.
func FuzzCommands(f *testing.F) {
	seeds := [][]byte{
		{0x03, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1'},
		{0x17, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 0, 0}, // execute, unknown/last stmt
		{0x17, 1, 0, 0, 0}, // short execute
		{0x16, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '?', '+', '?'}, // prepare
		{0x18, 1, 0, 0, 0, 0, 0},                                 // long data, unknown
		{0x19},                                                   // short close
		{0x11, 'a', 'p', 'p'},                                    // change user, malformed
		{0x11},
		{0x0c, 1}, // short process kill
		{0x04, 'n', 'o', 't', 'a', 't', 'a', 'b', 'l', 'e', 0}, // field list
		{0x1b, 0},                      // set option, short
		{0x1c, 1, 0, 0, 0, 1, 0, 0, 0}, // fetch unknown
		{0x08},                         // COM_SHUTDOWN: never forwarded
		{0x00},
		{0xff, 0xfe},
		{0x02}, // init db empty
		{0x03}, // empty query
		{0x03, 'K', 'I', 'L', 'L', ' ', '1'},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	e := startEnv(f, envOptions{})
	ensureTestDB(f, e.c)
	control := openDB(f, e.dsn(""))
	control.SetMaxIdleConns(0) // a fresh session each check
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if len(pkt) > 1<<16 {
			pkt = pkt[:1<<16]
		}
		cc, err := client.Connect(e.addr, e.c.Users.App.Name, e.c.Users.App.Password, "test")
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		nc := cc.Conn.Conn
		defer nc.Close()
		frame := append([]byte{byte(len(pkt)), byte(len(pkt) >> 8), byte(len(pkt) >> 16), 0}, pkt...)
		_ = nc.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := nc.Write(frame); err != nil {
			return
		}
		// Read whatever comes until the proxy stops talking or closes.
		buf := make([]byte, 64<<10)
		for {
			_ = nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := nc.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					break
				}
				break
			}
		}
		checkAlive(t, control)
	})
}

func checkAlive(t *testing.T, db *sql.DB) {
	t.Helper()
	var one int
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("proxy no longer serves a fresh session: %v", err)
	}
}
