package wire

import (
	"encoding/binary"
	"net"
)

// MariaDB's extended capabilities: 32 more flags, carried in bytes MySQL
// leaves reserved (the initial handshake's filler, the handshake response's
// last four filler bytes). They are there only when the sender clears
// ClientMySQL: a MariaDB peer does, a MySQL one sets it.
const (
	// ClientMySQL is CLIENT_LONG_PASSWORD to MySQL; to MariaDB, set means
	// "no extended capabilities".
	ClientMySQL uint32 = 0x00000001

	// MariaDBCacheMetadata (MARIADB_CLIENT_CACHE_METADATA, MariaDB 10.6+):
	// a column count packet carries a "metadata follows" byte, and an
	// execution of a prepared statement whose columns did not change since
	// the server last sent them comes without column definitions.
	MariaDBCacheMetadata uint32 = 1 << 4
)

// handshakeCapsAt returns the offset of the lower capability bytes in a
// protocol-10 initial handshake payload (after version, id, scramble part 1
// and its NUL), or -1 when p is not one. The upper two capability bytes are
// at +5, the ten reserved bytes at +8, MariaDB's extended ones at +14.
func handshakeCapsAt(p []byte) int {
	if len(p) < 1 || p[0] != 10 {
		return -1
	}
	i := 1
	for i < len(p) && p[i] != 0 {
		i++
	}
	pos := i + 1 + 4 + 8 + 1
	if pos+18 > len(p) {
		return -1
	}
	return pos
}

// ServerExtCaps returns the MariaDB extended capabilities of a server's
// initial handshake payload (0 for a MySQL server or anything unparsable).
func ServerExtCaps(p []byte) uint32 {
	pos := handshakeCapsAt(p)
	if pos < 0 || uint32(p[pos])&ClientMySQL != 0 {
		return 0
	}
	return binary.LittleEndian.Uint32(p[pos+14:])
}

// PatchServerHandshake makes a server's initial handshake payload offer the
// capability flags add besides its own, and the MariaDB extended flags ext
// (ClientMySQL is then cleared). Anything that is not an initial handshake
// is left alone.
func PatchServerHandshake(p []byte, add, ext uint32) {
	pos := handshakeCapsAt(p)
	if pos < 0 {
		return
	}
	p[pos] |= byte(add)
	p[pos+1] |= byte(add >> 8)
	p[pos+5] |= byte(add >> 16)
	p[pos+6] |= byte(add >> 24)
	if ext != 0 {
		p[pos] &^= byte(ClientMySQL)
		binary.LittleEndian.PutUint32(p[pos+14:], ext)
	}
}

// The handshake response (and the SSL request, its first 32 bytes) holds
// capabilities (4), max packet (4), collation (1), 19 reserved bytes, then
// MariaDB's extended capabilities (4).
const (
	responseExtAt  = 4 + 4 + 1 + 19
	responseMinLen = responseExtAt + 4
)

// ClientExtCaps returns the MariaDB extended capabilities a client asked for
// in its handshake response or SSL request payload (0 if it is MySQL-style).
func ClientExtCaps(p []byte) uint32 {
	if len(p) < responseMinLen || uint32(p[0])&ClientMySQL != 0 {
		return 0
	}
	return binary.LittleEndian.Uint32(p[responseExtAt:])
}

// SetClientExtCaps makes a handshake response payload ask for ext (clearing
// ClientMySQL, as MariaDB's clients do when they send extended flags).
func SetClientExtCaps(p []byte, ext uint32) {
	if len(p) < responseMinLen || ext == 0 {
		return
	}
	p[0] &^= byte(ClientMySQL)
	binary.LittleEndian.PutUint32(p[responseExtAt:], ext)
}

// ColumnCount parses a result set's column count packet. With cacheMeta (the
// connection negotiated MariaDBCacheMetadata) the count is followed by a
// byte saying whether column definitions follow; without it they always
// do. ok is false for a malformed packet. flagAt is the flag's offset (the
// count's length), for a caller that rewrites it.
func ColumnCount(p []byte, cacheMeta bool) (n uint64, defsFollow bool, flagAt int, ok bool) {
	n, k := lenenc(p)
	if k == 0 || n == 0 || (len(p) > 0 && (p[0] == 0xfb || p[0] == 0xff)) {
		return 0, false, 0, false
	}
	if !cacheMeta {
		return n, true, k, true
	}
	if len(p) != k+1 || p[k] > 1 {
		return 0, false, 0, false
	}
	return n, p[k] == 1, k, true
}

// ExtConn asks a MariaDB server for extended capabilities on behalf of a
// client library that does not know them (go-mysql's): it reads the
// server's offer from its initial handshake and writes the flags wanted and
// offered into the handshake response, the first packet the client writes.
// Not for TLS: the response that counts is then encrypted. It is needed
// only during the handshake; the embedded Conn is the socket.
type ExtConn struct {
	net.Conn
	want, granted uint32
	head          [512]byte // the start of the server's initial handshake
	got           int
	wrote         bool
}

// NewExtConn wraps c, a new connection to a server, asking for want.
func NewExtConn(c net.Conn, want uint32) *ExtConn { return &ExtConn{Conn: c, want: want} }

// Granted returns the extended capabilities negotiated (after the handshake).
func (c *ExtConn) Granted() uint32 { return c.granted }

func (c *ExtConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if !c.wrote && c.got < len(c.head) {
		c.got += copy(c.head[c.got:], b[:n])
	}
	return n, err
}

func (c *ExtConn) Write(b []byte) (int, error) {
	if !c.wrote {
		c.wrote = true
		if c.got > 4 && len(b) > 4 {
			end := min(c.got, 4+frameLen(c.head[:]))
			if ext := ServerExtCaps(c.head[4:end]) & c.want; ext != 0 {
				SetClientExtCaps(b[4:], ext)
				c.granted = ext
			}
		}
	}
	return c.Conn.Write(b)
}
