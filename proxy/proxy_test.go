package proxy

import (
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
