package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/charset"

	"github.com/switchyard/switchyard/evloop"
	"github.com/switchyard/switchyard/gtid"
	"github.com/switchyard/switchyard/wire"
)

// relayCaps are the capability flags that change what goes over the wire
// after the handshake; a backend connection must agree with its client on
// all of them for the relay to be byte-exact, so they are part of the pool key.
const relayCaps = wire.ClientFoundRows | wire.ClientIgnoreSpace | wire.ClientLocalFiles |
	wire.ClientMultiStatements | wire.ClientMultiResults | wire.ClientPSMultiResults |
	wire.ClientSessionTrack

// poolKey identifies interchangeable backend connections of one node.
type poolKey struct {
	user      string
	caps      uint32 // subset of relayCaps
	collation uint8
	// db is the default database: a reset keeps it, so connections are
	// pooled by it and no client inherits another's database.
	db string
	// loop: a connection for sessions on event loops (Options.Loops),
	// out of Go's netpoller (Backend.lconn).
	loop bool
	// ext: the MariaDB extended capabilities the client negotiated (a
	// subset of advertisedExt), asked of the backend too; what the server
	// grants is Backend.ext.
	ext uint32
}

// giveBack returns the connection to the pool that opened it (closed when
// broken, or when that pool was replaced or closed).
func (b *Backend) giveBack(broken bool) {
	if b.pool == nil {
		b.close() // not from a pool (tests)
		return
	}
	b.pool.Put(b, broken)
}

// Backend is one authenticated connection to a database server.
type Backend struct {
	node string
	key  poolKey
	// pool opened it, and it goes back there: a node whose address changed
	// gets a new pool, and a connection to the old address must not land
	// in it (nor count against it).
	pool     *Pool
	w        *wire.Conn
	threadID uint32
	version  string
	db       string // current default database as far as we know
	created  time.Time
	lastUsed time.Time

	// stmts maps a session's virtual statement id to this connection's id.
	stmts map[uint32]*backendStmt
	// dirty is set once the connection carried client traffic; it needs a
	// reset before another client may use it.
	dirty bool
	// applied counts the session's replayed SET statements this connection
	// has run (the session resets it when it takes the connection).
	applied int
	// tracks: session tracking of the write GTID is on; gtidVar names the
	// tracked variable ("last_gtid" on MariaDB, "" for MySQL's GTID tracker).
	tracks  bool
	gtidVar string
	// wasMaster: the session used this connection as its master connection.
	wasMaster bool
	// noReuse: the connection's capabilities were changed (COM_SET_OPTION),
	// which COM_RESET_CONNECTION does not undo: close it instead of pooling.
	noReuse bool
	// inflight is the node's in-flight statement counters (Server.outstanding),
	// looked up once instead of per statement.
	inflight *nodeLoad
	// lconn is the socket of a connection for loop sessions (key.loop;
	// nil otherwise), needPing that it idled long enough to be pinged
	// before use (done by the task it is then attached to).
	lconn    *evloop.Conn
	needPing bool
	// ext: the MariaDB extended capabilities this connection negotiated,
	// key.ext as far as the server offers it.
	ext uint32
}

// cacheMeta reports whether the connection negotiated metadata caching.
func (b *Backend) cacheMeta() bool { return b.ext&wire.MariaDBCacheMetadata != 0 }

// ping checks that a connection that idled is still alive.
func (b *Backend) ping(timeout time.Duration) error {
	_ = b.w.SetDeadline(time.Now().Add(timeout))
	_, err := b.simple([]byte{wire.ComPing})
	_ = b.w.SetDeadline(time.Time{})
	return err
}

// toLoopConn moves the connection out of Go's netpoller, for sessions on
// event loops.
func (b *Backend) toLoopConn() error {
	if b.w.Buffered() > 0 {
		return fmt.Errorf("%s: unread bytes after the handshake", b.node)
	}
	lc, err := evloop.DetachConn(b.w.Conn)
	if err != nil {
		return fmt.Errorf("%s: %w", b.node, err)
	}
	b.lconn = lc
	b.w = wire.NewConn(lc, 0)
	b.key.loop = true
	return nil
}

// flavor is the GTID flavour of the server.
func (b *Backend) flavor() gtid.Flavor {
	if strings.Contains(b.version, "MariaDB") {
		return gtid.MariaDB
	}
	return gtid.MySQL
}

// enableTracking asks the server to report each write's GTID in the OK
// packet (session tracking), for read-your-writes.
func (b *Backend) enableTracking() error {
	b.tracks = false
	if b.key.caps&wire.ClientSessionTrack == 0 {
		return nil
	}
	var q string
	if b.flavor() == gtid.MariaDB {
		q = "SET SESSION session_track_system_variables = CONCAT_WS(',', NULLIF(@@session.session_track_system_variables, ''), 'last_gtid')"
		b.gtidVar = "last_gtid"
	} else {
		q = "SET SESSION session_track_gtids = 'OWN_GTID'"
		b.gtidVar = ""
	}
	if err := b.query(q); err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			return nil // an old server: no tracking, reads after writes go to the master
		}
		return err
	}
	b.tracks = true
	return nil
}

// waitGTID waits until the server has applied pos, at most timeout.
func (b *Backend) waitGTID(pos gtid.Set, timeout time.Duration) (bool, error) {
	secs := fmt.Sprintf("%.3f", timeout.Seconds())
	var q string
	if pos.Flavor() == gtid.MariaDB {
		q = "SELECT MASTER_GTID_WAIT('" + pos.String() + "', " + secs + ")"
	} else {
		q = "SELECT WAIT_FOR_EXECUTED_GTID_SET('" + pos.String() + "', " + secs + ")"
	}
	v, err := b.queryValue(q)
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			return false, nil
		}
		return false, err
	}
	return v == "0", nil
}

// queryValue runs a query returning one row of one column and returns it.
func (b *Backend) queryValue(sql string) (string, error) {
	if err := b.command(append([]byte{wire.ComQuery}, sql...)); err != nil {
		return "", err
	}
	var val string
	row := 0
	eofs := 0
	for {
		p, err := b.w.ReadPacket(0)
		if err != nil {
			return "", err
		}
		switch {
		case len(p) > 0 && p[0] == wire.ErrHeader:
			return "", wire.ParseErr(p)
		case len(p) > 0 && p[0] == wire.OKHeader && eofs == 0 && row == 0:
			return "", nil
		case len(p) > 0 && p[0] == wire.EOFHeader && len(p) < 9:
			eofs++
			if eofs == 2 {
				if wire.EOFStatus(p)&wire.StatusMoreResultsExists != 0 {
					return "", errors.New("unexpected extra result")
				}
				return val, nil
			}
		case eofs == 1:
			if row == 0 && len(p) > 0 && p[0] != 0xfb {
				n, k := wire.LenEnc(p)
				if k > 0 && uint64(len(p)-k) >= n {
					val = string(p[k : k+int(n)])
				}
			}
			row++
		}
	}
}

type backendStmt struct {
	id        uint32
	typesSent bool     // parameter types already bound on this connection
	meta      *colMeta // column definitions the server last sent (metadata caching only)
}

// ThreadID is the backend's connection id (for KILL).
func (b *Backend) ThreadID() uint32 { return b.threadID }

// dialBackend connects and authenticates as key.user.
func dialBackend(ctx context.Context, node, addr string, key poolKey, password string, tlsCfg *tls.Config, timeout time.Duration) (*Backend, error) {
	coll := "utf8mb4_general_ci"
	if c, err := charset.GetCollationByID(int(key.collation)); err == nil && key.collation != 0 {
		coll = c.Name
	}
	opt := func(c *client.Conn) error {
		// The client side never negotiates these (go-mysql's server does not
		// advertise them), so the backend must not either.
		c.UnsetCapability(wire.ClientDeprecateEOF | wire.ClientQueryAttributes)
		for _, f := range []uint32{wire.ClientFoundRows, wire.ClientIgnoreSpace, wire.ClientLocalFiles,
			wire.ClientMultiStatements, wire.ClientMultiResults, wire.ClientPSMultiResults, wire.ClientSessionTrack} {
			if key.caps&f != 0 {
				if err := c.SetCapability(f); err != nil {
					return err
				}
			} else {
				c.UnsetCapability(f)
			}
		}
		if tlsCfg != nil {
			tc := tlsCfg
			if tc.ServerName == "" && !tc.InsecureSkipVerify {
				// Verify each node against its own host name.
				tc = tc.Clone()
				tc.ServerName, _, _ = net.SplitHostPort(addr)
			}
			c.SetTLSConfig(tc)
		}
		if err := c.SetCollation(coll); err != nil {
			return err
		}
		c.SetAttributes(map[string]string{"program_name": "switchyard"})
		return nil
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := &net.Dialer{Timeout: timeout}
	var xc *wire.ExtConn
	// The dial context bounds the TCP connect; the handshake is bounded by a deadline.
	cc, err := client.ConnectWithDialer(dctx, "tcp", addr, key.user, password, key.db, func(ctx context.Context, network, address string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		_ = nc.SetDeadline(time.Now().Add(timeout))
		if key.ext != 0 && tlsCfg == nil {
			// (Over TLS the full response is encrypted: no extended flags.)
			xc = wire.NewExtConn(nc, key.ext)
			return xc, nil
		}
		return nc, nil
	}, opt)
	if err != nil {
		return nil, fmt.Errorf("connect to %s (%s) as %s: %w", node, addr, key.user, unwrapMySQL(err))
	}
	nc := cc.Conn.Conn
	var ext uint32
	if xc != nil {
		nc, ext = xc.Conn, xc.Granted()
	}
	_ = nc.SetDeadline(time.Time{})
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		_ = tc.SetKeepAlive(true)
	}
	now := time.Now()
	b := &Backend{
		node:     node,
		key:      key,
		w:        wire.NewConn(nc, 0),
		threadID: cc.GetConnectionID(),
		db:       key.db,
		version:  cc.GetServerVersion(),
		created:  now,
		lastUsed: now,
		stmts:    make(map[uint32]*backendStmt),
		ext:      ext,
	}
	if err := b.enableTracking(); err != nil {
		b.close()
		return nil, fmt.Errorf("set up %s: %w", node, err)
	}
	return b, nil
}

// unwrapMySQL turns go-mysql's traced errors into the plain MySQL error when
// there is one, so messages stay readable.
func unwrapMySQL(err error) error {
	var me *gmysql.MyError
	if asMyError(err, &me) {
		return &wire.Error{Code: me.Code, State: me.State, Message: me.Message}
	}
	return err
}

// command sends a command packet with sequence 0 and flushes.
func (b *Backend) command(payload []byte) error {
	b.w.Seq = 0
	if err := b.w.WritePacket(payload); err != nil {
		return err
	}
	return b.w.Flush()
}

// request sends a command that has an answer, which the caller reads next
// (FlushRequest: the wait for it is folded into the write).
func (b *Backend) request(payload []byte) error {
	b.w.Seq = 0
	if err := b.w.WritePacket(payload); err != nil {
		return err
	}
	return b.w.FlushRequest()
}

// simple runs a command whose answer is one OK or ERR packet, for the proxy's
// own use (reset, ping, init db). A MySQL error comes back as *wire.Error.
func (b *Backend) simple(payload []byte) (wire.OK, error) {
	if err := b.command(payload); err != nil {
		return wire.OK{}, err
	}
	p, err := b.w.ReadPacket(0)
	if err != nil {
		return wire.OK{}, err
	}
	switch {
	case len(p) > 0 && p[0] == wire.ErrHeader:
		return wire.OK{}, wire.ParseErr(p)
	case len(p) > 0 && (p[0] == wire.OKHeader || p[0] == wire.EOFHeader):
		return wire.ParseOK(p)
	}
	return wire.OK{}, fmt.Errorf("unexpected packet 0x%02x", firstByte(p))
}

// query runs a statement whose result the proxy does not need (SET, USE…),
// draining any result set.
func (b *Backend) query(sql string) error {
	if err := b.command(append([]byte{wire.ComQuery}, sql...)); err != nil {
		return err
	}
	return b.drain()
}

// drain consumes a full COM_QUERY response, returning its first error.
func (b *Backend) drain() error {
	var first error
	for {
		f, err := b.w.ReadFrameInto()
		if err != nil {
			return err
		}
		switch {
		case f.First == wire.ErrHeader:
			if first == nil {
				first = wire.ParseErr(f.Payload)
			}
			return first
		case f.First == wire.OKHeader:
			if wire.OKStatus(f.Payload)&wire.StatusMoreResultsExists == 0 {
				return first
			}
			continue
		}
		// A result set: columns, EOF, rows, EOF.
		eofs := 0
		for eofs < 2 {
			f, err = b.w.ReadFrameInto()
			if err != nil {
				return err
			}
			if f.First == wire.ErrHeader {
				return wire.ParseErr(f.Payload)
			}
			if wire.IsEOF(f) {
				eofs++
				if eofs == 2 && wire.EOFStatus(f.Payload)&wire.StatusMoreResultsExists == 0 {
					return first
				}
			}
		}
	}
}

func (b *Backend) close() {
	if b.w != nil {
		_ = b.w.Close()
	}
}

// quit says goodbye politely, then closes.
func (b *Backend) quit() {
	_ = b.w.SetWriteDeadline(time.Now().Add(time.Second))
	_ = b.command([]byte{wire.ComQuit})
	b.close()
}

func firstByte(p []byte) byte {
	if len(p) == 0 {
		return 0
	}
	return p[0]
}
