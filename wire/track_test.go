package wire

import (
	"bytes"
	"testing"
)

func lenencStr(s string) []byte { return append(AppendLenEnc(nil, uint64(len(s))), s...) }

func TestTrackedOK(t *testing.T) {
	// A MariaDB OK after an INSERT with last_gtid tracked.
	var entry []byte
	entry = append(entry, lenencStr("last_gtid")...)
	entry = append(entry, lenencStr("0-1-42")...)
	state := append([]byte{TrackSystemVariables}, AppendLenEnc(nil, uint64(len(entry)))...)
	state = append(state, entry...)
	p := AppendOK(nil, 3, 7, StatusAutocommit|StatusSessionStateChanged, 1)
	p = append(p, lenencStr("Records: 3  Duplicates: 0  Warnings: 0")...)
	p = append(p, AppendLenEnc(nil, uint64(len(state)))...)
	p = append(p, state...)

	ok, err := ParseOK(p)
	if err != nil {
		t.Fatal(err)
	}
	info, st, good := TrackedOK(ok)
	if !good || string(info) != "Records: 3  Duplicates: 0  Warnings: 0" {
		t.Fatalf("info=%q good=%v", info, good)
	}
	if v, found := StateVariable(st, "last_gtid"); !found || v != "0-1-42" {
		t.Fatalf("last_gtid=%q found=%v", v, found)
	}
	plain := AppendPlainOK(nil, 0, ok, info)
	want := append(AppendOK(nil, 3, 7, StatusAutocommit, 1), "Records: 3  Duplicates: 0  Warnings: 0"...)
	if !bytes.Equal(plain, want) {
		t.Fatalf("plain OK = %x, want %x", plain, want)
	}
	// MySQL GTID tracker.
	g := append([]byte{0}, lenencStr("3E11FA47-71CA-11E1-9E33-C80AA9429562:23")...)
	st2 := append([]byte{TrackGTIDs}, AppendLenEnc(nil, uint64(len(g)))...)
	st2 = append(st2, g...)
	if v, found := StateVariable(st2, ""); !found || v != "3E11FA47-71CA-11E1-9E33-C80AA9429562:23" {
		t.Fatalf("gtids=%q %v", v, found)
	}
}

func FuzzTracked(f *testing.F) {
	f.Add([]byte{0, 1, 2, 2, 0x40, 0, 0, 0, 5, 0, 3, 1, 'x', 0})
	f.Fuzz(func(t *testing.T, p []byte) {
		ok, err := ParseOK(p)
		if err != nil {
			return
		}
		info, st, _ := TrackedOK(ok)
		_, _ = StateVariable(st, "last_gtid")
		_, _ = StateVariable(st, "")
		_ = AppendPlainOK(nil, 0, ok, info)
	})
}
