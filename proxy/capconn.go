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

// capConn adds advertisedExtra to the capability flags of the first packet
// written on the connection, which is the server's initial handshake.
type capConn struct {
	net.Conn
	done bool
}

func (c *capConn) Write(b []byte) (int, error) {
	if !c.done {
		c.done = true
		addHandshakeCaps(b, advertisedExtra)
	}
	return c.Conn.Write(b)
}

// addHandshakeCaps sets flags in a framed protocol-10 initial handshake;
// anything else is left untouched.
func addHandshakeCaps(b []byte, flags uint32) {
	if len(b) < 5 || b[4] != 10 {
		return
	}
	i := 5
	for i < len(b) && b[i] != 0 {
		i++
	}
	pos := i + 1 + 4 + 8 + 1 // NUL, connection id, scramble part 1, filler
	if pos+7 > len(b) {
		return
	}
	b[pos] |= byte(flags)
	b[pos+1] |= byte(flags >> 8)
	b[pos+5] |= byte(flags >> 16)
	b[pos+6] |= byte(flags >> 24)
}
