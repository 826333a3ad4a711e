package proxy

import (
	"net"

	"github.com/switchyard/switchyard/wire"
)

// advertisedExtra are capability flags every MariaDB/MySQL server offers but
// go-mysql's server (v1.16) does not let us advertise. Clients only use a
// flag the server offers (go-sql-driver ANDs them), so without these
// multiStatements and clientFoundRows would silently be off. Switchyard runs
// the command phase itself and relays these flags to the backend, so it can
// honour them; only the initial handshake needs the bits added.
const advertisedExtra = wire.ClientFoundRows | wire.ClientIgnoreSpace | wire.ClientMultiStatements

// advertisedExt are the MariaDB extended capabilities Switchyard offers its
// clients: metadata caching, which a client on a direct connection to
// MariaDB 10.6+ gets, and which spares each execution of a prepared
// statement its column definitions. A backend without it is bridged (see
// Session.columnCount).
const advertisedExt = wire.MariaDBCacheMetadata

// capConn adds advertisedExtra and advertisedExt to the first packet written
// on the connection, the server's initial handshake, and notes the MariaDB
// extended capabilities of the first packet the client sends back (its
// handshake response, or the SSL request that precedes it, which carries
// the same flags).
type capConn struct {
	net.Conn
	done bool
	head [4 + 32]byte // the start of the client's first packet
	got  int
}

func (c *capConn) Write(b []byte) (int, error) {
	if !c.done {
		c.done = true
		if len(b) > 4 {
			wire.PatchServerHandshake(b[4:], advertisedExtra, advertisedExt)
		}
	}
	return c.Conn.Write(b)
}

func (c *capConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.got < len(c.head) {
		c.got += copy(c.head[c.got:], b[:n])
	}
	return n, err
}

// clientExt returns the MariaDB extended capabilities the client asked for
// that Switchyard offered.
func (c *capConn) clientExt() uint32 {
	if c.got < len(c.head) {
		return 0
	}
	return wire.ClientExtCaps(c.head[4:]) & advertisedExt
}
