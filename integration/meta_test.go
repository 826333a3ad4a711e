package integration

import (
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/switchyard/switchyard/cluster"
	"github.com/switchyard/switchyard/proxy"
	"github.com/switchyard/switchyard/wire"
)

// cmLogin logs in as a client that negotiates MariaDB metadata caching (as
// libmariadb does), for raw use; it returns the extended flags granted.
func cmLogin(t *testing.T, addr, user, pass, db string) (*rawConn, uint32) {
	t.Helper()
	var xc *wire.ExtConn
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		nc, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		xc = wire.NewExtConn(nc, wire.MariaDBCacheMetadata)
		return xc, nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cc, err := client.ConnectWithDialer(ctx, "tcp", addr, user, pass, db, dial, func(c *client.Conn) error {
		c.UnsetCapability(gmysql.CLIENT_DEPRECATE_EOF | gmysql.CLIENT_QUERY_ATTRIBUTES)
		return nil
	})
	if err != nil {
		t.Fatalf("login to %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return &rawConn{t: t, cc: cc, w: wire.NewConn(xc.Conn, 0)}, xc.Granted()
}

// cmResult is an execution's answer as a metadata-caching client sees it.
type cmResult struct {
	follows bool     // the column count's "metadata follows" byte
	defs    [][]byte // definitions sent
	rows    [][]byte
}

// cmExecute executes statement id with one BIGINT parameter and reads the
// answer, checking sequence numbers run on without a gap.
func (r *rawConn) cmExecute(id uint32, arg int64) cmResult {
	r.t.Helper()
	return r.cmExecuteTypes(id, arg, true)
}

// cmExecuteTypes is cmExecute; without types it leaves the parameter's
// type out (new-params-bound 0), as libmariadb does after the first
// execution, so the server uses the type bound before.
func (r *rawConn) cmExecuteTypes(id uint32, arg int64, types bool) cmResult {
	r.t.Helper()
	pkt := []byte{wire.ComStmtExecute, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0x08, 0}
	if !types {
		pkt = pkt[:len(pkt)-2]
		pkt[len(pkt)-1] = 0
	}
	binary.LittleEndian.PutUint32(pkt[1:], id)
	pkt = binary.LittleEndian.AppendUint64(pkt, uint64(arg))
	r.send(pkt)
	var seq uint8 = 1
	read := func() []byte {
		p := r.mustRead()
		if r.w.Seq != seq+1 {
			r.t.Fatalf("packet % x: sequence %d, want %d", head(p), r.w.Seq-1, seq)
		}
		seq++
		return p
	}
	cc := read()
	if cc[0] == wire.ErrHeader {
		r.t.Fatalf("execute: %v", wire.ParseErr(cc))
	}
	n, follows, _, ok := wire.ColumnCount(cc, true)
	if !ok {
		r.t.Fatalf("column count packet % x is not the metadata-caching form", cc)
	}
	var res cmResult
	res.follows = follows
	for i := uint64(0); follows && i < n; i++ {
		res.defs = append(res.defs, read())
	}
	if p := read(); !isEOFPacket(p) {
		r.t.Fatalf("want EOF after the definitions, got % x", head(p))
	}
	for {
		p := read()
		if isEOFPacket(p) {
			return res
		}
		res.rows = append(res.rows, p)
	}
}

func isEOFPacket(p []byte) bool { return len(p) > 0 && p[0] == wire.EOFHeader && len(p) < 9 }

// columnType is a column definition's type byte.
func columnType(t *testing.T, def []byte) byte {
	p := def
	for range 6 { // catalog, schema, table, org_table, name, org_name
		n, k := wire.LenEnc(p)
		p = p[k+int(n):]
	}
	if len(p) < 1+2+4+1 {
		t.Fatalf("short column definition % x", def)
	}
	return p[1+2+4]
}

// TestMetadataCaching: a client that negotiates MariaDB metadata caching
// gets it through the proxy, as it would from the server: executions of a
// prepared statement come without column definitions while they stand.
// When the statement runs on a backend whose definitions differ from the
// ones the client holds (here the replica's table was altered on its own),
// the proxy puts that backend's definitions in, so every row is read with
// the types it was encoded with.
func TestMetadataCaching(t *testing.T) {
	routing := proxy.DefaultRouting()
	routing.Consistency = proxy.ConsistencyEventual
	e := startEnv(t, envOptions{cluster: cluster.Options{Replicas: 1}, proxy: func(o *proxy.Options) { o.Routing = &routing }})
	ensureTestDB(t, e.c)
	dm := openDB(t, e.directDSN(""))
	mustExec(t, dm, "CREATE TABLE meta (id INT PRIMARY KEY, v INT)")
	mustExec(t, dm, "INSERT INTO meta VALUES (1, 7)")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := e.c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	e.waitReplicasUsable(t, 1)

	// The shape a direct connection to the replica gets, for comparison.
	rep := e.c.Replicas()[0]
	direct, granted := cmLogin(t, rep.Addr(), "app", "app-secret", "test")
	if granted != wire.MariaDBCacheMetadata {
		t.Skipf("the server does not offer metadata caching (granted %#x)", granted)
	}
	did, _, _ := direct.prepare("SELECT v FROM meta WHERE id = ?")
	if res := direct.cmExecute(did, 1); res.follows || len(res.rows) != 1 {
		t.Fatalf("direct execution: follows %v, %d rows", res.follows, len(res.rows))
	}

	r, granted := cmLogin(t, e.addr, "app", "app-secret", "test")
	if granted != wire.MariaDBCacheMetadata {
		t.Fatalf("the proxy does not offer metadata caching (granted %#x)", granted)
	}
	// Text results carry the flag, always set.
	if resp := r.query("SELECT v FROM meta"); len(resp[0]) != 2 || resp[0][1] != 1 {
		t.Fatalf("text result's column count % x, want count and flag 1", resp[0])
	}
	id, _, cols := r.prepare("SELECT v FROM meta WHERE id = ?")
	if cols != 1 {
		t.Fatalf("prepare: %d columns", cols)
	}
	// What the client holds: the prepare's definitions (an INT), then
	// whatever an execution sends.
	holds := byte(gmysql.MYSQL_TYPE_LONG)
	injectedBefore := e.srv.Metrics().MetadataInjected
	run := func(step string, wantFollows bool) {
		t.Helper()
		res := r.cmExecute(id, 1)
		if res.follows != wantFollows {
			t.Fatalf("%s: metadata follows %v, want %v", step, res.follows, wantFollows)
		}
		if res.follows {
			holds = columnType(t, res.defs[0])
		}
		if len(res.rows) != 1 {
			t.Fatalf("%s: %d rows", step, len(res.rows))
		}
		// A binary row: header, NULL bitmap, then the value in its type's width.
		width := map[byte]int{gmysql.MYSQL_TYPE_LONG: 4, gmysql.MYSQL_TYPE_LONGLONG: 8}[holds]
		row := res.rows[0]
		if len(row) != 2+width {
			t.Fatalf("%s: row % x is not one %d-byte value (the client holds type %d)", step, row, width, holds)
		}
		if v := row[2]; v != 7 {
			t.Fatalf("%s: value %d, want 7", step, v)
		}
	}
	run("first execution on the replica", false)
	run("second", false)

	// The replica's table changes on its own: the replica sends the new
	// definitions itself.
	dr := openDB(t, rep.DSN(e.c.Users.Admin, "test"))
	mustExec(t, dr, "ALTER TABLE meta MODIFY v BIGINT")
	run("after the replica's ALTER", true)
	if holds != gmysql.MYSQL_TYPE_LONGLONG {
		t.Fatalf("client holds type %d after the replica's ALTER, want BIGINT", holds)
	}
	// In a transaction the statement runs on the master, which believes the
	// client holds its INT definitions and leaves them out: put in.
	r.query("BEGIN")
	run("on the master in a transaction", true)
	if holds != gmysql.MYSQL_TYPE_LONG {
		t.Fatalf("client holds type %d after the master's execution, want INT", holds)
	}
	r.query("COMMIT")
	// Back on the replica: its BIGINT definitions are put in, once.
	run("back on the replica", true)
	if holds != gmysql.MYSQL_TYPE_LONGLONG {
		t.Fatalf("client holds type %d back on the replica, want BIGINT", holds)
	}
	run("replica again", false)
	if n := e.srv.Metrics().MetadataInjected - injectedBefore; n != 2 {
		t.Errorf("definitions put in %d times, want 2", n)
	}
}

// TestMetadataCachingBridged: behind backends that do not negotiate
// metadata caching (over TLS the proxy cannot ask for it), a client that
// negotiated it with the proxy still gets well-formed answers: every column
// count carries the flag, set, and the definitions follow.
func TestMetadataCachingBridged(t *testing.T) {
	e := startTLSBackendEnv(t)
	r, granted := cmLogin(t, e.addr, "app", "app-secret", "test")
	if granted != wire.MariaDBCacheMetadata {
		t.Fatalf("the proxy does not offer metadata caching (granted %#x)", granted)
	}
	if resp := r.query("SELECT 1, 'a'"); len(resp[0]) != 2 || resp[0][1] != 1 || len(resp) != 1+2+1+1+1 {
		t.Fatalf("text result % x (%d packets)", resp[0], len(resp))
	}
	id, _, _ := r.prepare("SELECT CAST(? AS SIGNED) + 1")
	for i := range 3 {
		res := r.cmExecute(id, int64(i))
		if !res.follows || len(res.defs) != 1 || len(res.rows) != 1 {
			t.Fatalf("execution %d: follows %v, %d definitions, %d rows", i, res.follows, len(res.defs), len(res.rows))
		}
		if v := res.rows[0][2]; int(v) != i+1 {
			t.Fatalf("execution %d: value %d", i, v)
		}
	}
}
