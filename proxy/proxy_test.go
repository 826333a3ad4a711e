package proxy

import (
	"encoding/binary"
	"testing"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

func TestParseKill(t *testing.T) {
	cases := []struct {
		in    string
		id    uint32
		query bool
		ok    bool
	}{
		{"KILL 12", 12, false, true},
		{"kill query 7", 7, true, true},
		{"KILL CONNECTION 10001;", 10001, false, true},
		{"  KILL   QUERY   5 ; ", 5, true, true},
		{"KILL HARD QUERY 9", 9, true, true},
		{"KILL SOFT 9", 9, false, true},
		{"KILL USER app", 0, false, false},
		{"KILL QUERY ID 5", 0, false, false},
		{"KILL", 0, false, false},
		{"KILL -1", 0, false, false},
		{"KILL 99999999999", 0, false, false},
		{"SELECT 'KILL 5'", 0, false, false},
		{"KILLER 5", 0, false, false},
	}
	for _, c := range cases {
		id, q, ok := parseKill([]byte(c.in))
		if id != c.id || q != c.query || ok != c.ok {
			t.Errorf("parseKill(%q) = %d,%v,%v; want %d,%v,%v", c.in, id, q, ok, c.id, c.query, c.ok)
		}
	}
}

func TestAddHandshakeCaps(t *testing.T) {
	// A protocol-10 handshake: version, id, scramble, filler, caps low,
	// charset, status, caps high.
	p := []byte{0, 0, 0, 0, 10}
	p = append(p, "10.11.0-MariaDB\x00"...)
	p = append(p, 1, 0, 0, 0)
	p = append(p, "12345678"...)
	p = append(p, 0)
	capPos := len(p)
	p = append(p, 0x00, 0x02) // PROTOCOL_41
	p = append(p, 45, 2, 0)
	p = append(p, 0x08, 0x00) // PLUGIN_AUTH (0x80000 >> 16)
	p = append(p, 21)
	addHandshakeCaps(p, advertisedExtra)
	caps := uint32(binary.LittleEndian.Uint16(p[capPos:])) | uint32(binary.LittleEndian.Uint16(p[capPos+5:]))<<16
	for _, f := range []uint32{gmysql.CLIENT_PROTOCOL_41, gmysql.CLIENT_PLUGIN_AUTH, gmysql.CLIENT_MULTI_STATEMENTS, gmysql.CLIENT_FOUND_ROWS} {
		if caps&f == 0 {
			t.Errorf("flag %#x missing in %#x", f, caps)
		}
	}
	// Not a handshake: untouched.
	other := []byte{1, 0, 0, 0, 0xff, 1, 2}
	addHandshakeCaps(other, advertisedExtra)
	if other[5] != 1 || other[6] != 2 {
		t.Error("non-handshake packet modified")
	}
	addHandshakeCaps([]byte{0, 0, 0, 0, 10, 'x'}, advertisedExtra) // short: no panic
}

func TestCheckNative(t *testing.T) {
	scramble := []byte("abcdefghij0123456789")
	good := gmysql.CalcNativePassword(scramble, []byte("s3cret"))
	if !checkNative("s3cret", scramble, good) {
		t.Fatal("right password refused")
	}
	if checkNative("other", scramble, good) {
		t.Fatal("wrong password accepted")
	}
	if checkNative("s3cret", scramble, nil) || checkNative("s3cret", scramble, good[:10]) {
		t.Fatal("short answer accepted")
	}
	if !checkNative("", scramble, nil) || checkNative("", scramble, good) {
		t.Fatal("empty password handling")
	}
}

func FuzzParseKill(f *testing.F) {
	f.Add("KILL QUERY 5")
	f.Add("kill 1;")
	f.Fuzz(func(t *testing.T, s string) {
		id, _, ok := parseKill([]byte(s))
		if !ok && id != 0 {
			t.Fatal("id without ok")
		}
	})
}

func FuzzAddHandshakeCaps(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 10, 'v', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 2, 45, 2, 0, 8, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		addHandshakeCaps(b, advertisedExtra)
	})
}
