package wire

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// handshakeV10 builds an initial handshake payload as MariaDB 10.11 sends
// it: caps low/high, and ext in the last four reserved bytes.
func handshakeV10(caps, ext uint32) []byte {
	p := []byte{10}
	p = append(p, "5.5.5-10.11.19-MariaDB\x00"...)
	p = append(p, 1, 0, 0, 0)
	p = append(p, "12345678"...)
	p = append(p, 0)
	p = binary.LittleEndian.AppendUint16(p, uint16(caps))
	p = append(p, 45, 2, 0)
	p = binary.LittleEndian.AppendUint16(p, uint16(caps>>16))
	p = append(p, 21)
	p = append(p, 0, 0, 0, 0, 0, 0)
	p = binary.LittleEndian.AppendUint32(p, ext)
	p = append(p, "abcdefghijkl\x00mysql_native_password\x00"...)
	return p
}

func capsOf(p []byte) uint32 {
	pos := handshakeCapsAt(p)
	return uint32(binary.LittleEndian.Uint16(p[pos:])) | uint32(binary.LittleEndian.Uint16(p[pos+5:]))<<16
}

func TestServerHandshakeExtCaps(t *testing.T) {
	const base = 0x81fff7fe // MariaDB 10.11's flags: ClientMySQL clear
	if got := ServerExtCaps(handshakeV10(base, 0x1d)); got != 0x1d {
		t.Errorf("MariaDB handshake: ext %#x, want 0x1d", got)
	}
	if got := ServerExtCaps(handshakeV10(base|ClientMySQL, 0x1d)); got != 0 {
		t.Errorf("MySQL-style handshake (ClientMySQL set): ext %#x, want 0", got)
	}
	for _, bad := range [][]byte{nil, {9}, {10, 'x'}, handshakeV10(base, 0x1d)[:40]} {
		if got := ServerExtCaps(bad); got != 0 {
			t.Errorf("ServerExtCaps(%x) = %#x", bad, got)
		}
	}

	// go-mysql's server sets ClientMySQL (as CLIENT_LONG_PASSWORD) and no ext.
	p := handshakeV10(0x000fa20d, 0)
	PatchServerHandshake(p, ClientMultiStatements|ClientFoundRows, MariaDBCacheMetadata)
	caps := capsOf(p)
	for _, f := range []uint32{ClientProtocol41, ClientPluginAuth, ClientMultiStatements, ClientFoundRows} {
		if caps&f == 0 {
			t.Errorf("flag %#x missing in %#x", f, caps)
		}
	}
	if caps&ClientMySQL != 0 {
		t.Error("ClientMySQL still set with extended flags offered")
	}
	if got := ServerExtCaps(p); got != MariaDBCacheMetadata {
		t.Errorf("patched ext %#x", got)
	}
	if !bytes.HasSuffix(p, []byte("abcdefghijkl\x00mysql_native_password\x00")) {
		t.Error("patch touched the scramble or plugin name")
	}
	// No ext: ClientMySQL stays as it was.
	q := handshakeV10(0x000fa20d, 0)
	PatchServerHandshake(q, ClientFoundRows, 0)
	if capsOf(q)&ClientMySQL == 0 || ServerExtCaps(q) != 0 {
		t.Error("patch without ext changed ClientMySQL or ext")
	}
	// Not a handshake, or short: untouched, no panic.
	other := []byte{0xff, 1, 2}
	PatchServerHandshake(other, ClientFoundRows, MariaDBCacheMetadata)
	if !bytes.Equal(other, []byte{0xff, 1, 2}) {
		t.Error("non-handshake packet modified")
	}
	PatchServerHandshake([]byte{10, 'x'}, ClientFoundRows, MariaDBCacheMetadata)
}

func TestClientExtCaps(t *testing.T) {
	resp := make([]byte, 32, 64)
	binary.LittleEndian.PutUint32(resp, 0x000fa20c) // ClientMySQL clear
	binary.LittleEndian.PutUint32(resp[28:], 0x1c)
	resp = append(resp, "app\x00"...)
	if got := ClientExtCaps(resp); got != 0x1c {
		t.Errorf("ext %#x, want 0x1c", got)
	}
	resp[0] |= byte(ClientMySQL)
	if got := ClientExtCaps(resp); got != 0 {
		t.Errorf("MySQL client: ext %#x, want 0", got)
	}
	if ClientExtCaps(resp[:31]) != 0 {
		t.Error("short packet read")
	}
	// go-mysql's client response: ClientMySQL set, zero filler.
	gm := make([]byte, 40)
	binary.LittleEndian.PutUint32(gm, 0x000fa20d)
	SetClientExtCaps(gm, MariaDBCacheMetadata)
	if gm[0]&byte(ClientMySQL) != 0 || ClientExtCaps(gm) != MariaDBCacheMetadata {
		t.Errorf("SetClientExtCaps: caps %#x ext %#x", gm[0], ClientExtCaps(gm))
	}
	before := append([]byte(nil), gm...)
	SetClientExtCaps(gm, 0)
	if !bytes.Equal(gm, before) {
		t.Error("SetClientExtCaps(0) changed the packet")
	}
	SetClientExtCaps(gm[:20], MariaDBCacheMetadata) // short: no panic
}

func TestColumnCount(t *testing.T) {
	cases := []struct {
		p          []byte
		cm         bool
		n          uint64
		follows    bool
		flagAt, ok int
	}{
		{[]byte{1}, false, 1, true, 1, 1},
		{[]byte{1, 1}, true, 1, true, 1, 1},
		{[]byte{1, 0}, true, 1, false, 1, 1},
		{[]byte{0xfc, 0x2c, 0x01, 0}, true, 300, false, 3, 1},
		{[]byte{0xfc, 0x2c, 0x01}, false, 300, true, 3, 1},
		{[]byte{1}, true, 0, false, 0, 0},       // flag missing
		{[]byte{1, 2}, true, 0, false, 0, 0},    // flag not 0/1
		{[]byte{1, 1, 1}, true, 0, false, 0, 0}, // trailing bytes
		{[]byte{0xfc, 1}, false, 0, false, 0, 0},
		{[]byte{0xfb}, false, 0, false, 0, 0},
		{[]byte{0xff, 1}, false, 0, false, 0, 0},
		{nil, true, 0, false, 0, 0},
	}
	for _, c := range cases {
		n, follows, at, ok := ColumnCount(c.p, c.cm)
		if n != c.n || follows != c.follows || (ok && at != c.flagAt) || ok != (c.ok == 1) {
			t.Errorf("ColumnCount(%x, %v) = %d,%v,%d,%v; want %d,%v,%d,%v", c.p, c.cm, n, follows, at, ok, c.n, c.follows, c.flagAt, c.ok == 1)
		}
	}
}

func FuzzMariaDBCaps(f *testing.F) {
	f.Add(handshakeV10(0x81fff7fe, 0x1d), true)
	f.Add([]byte{1, 0}, true)
	f.Add(make([]byte, 36), false)
	f.Fuzz(func(t *testing.T, p []byte, cm bool) {
		_ = ServerExtCaps(p)
		_ = ClientExtCaps(p)
		q := append([]byte(nil), p...)
		PatchServerHandshake(q, ClientFoundRows, MariaDBCacheMetadata)
		if len(q) != len(p) {
			t.Fatal("patch changed the length")
		}
		if handshakeCapsAt(p) >= 0 && ServerExtCaps(q) != MariaDBCacheMetadata {
			t.Fatal("patched handshake does not offer the flag")
		}
		SetClientExtCaps(q, MariaDBCacheMetadata)
		if n, follows, at, ok := ColumnCount(p, cm); ok {
			if n == 0 || at < 1 || at > 9 || (cm && at != len(p)-1) || (!cm && !follows) {
				t.Fatalf("ColumnCount(%x, %v) = %d,%v,%d", p, cm, n, follows, at)
			}
		}
	})
}
