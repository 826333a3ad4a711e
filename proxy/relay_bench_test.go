package proxy

import (
	"io"
	"net"
	"testing"

	"github.com/switchyard/switchyard/wire"
)

// pointSelectAnswer is a backend's answer to a point select: one column,
// one row of 120 bytes, EOF-terminated (no CLIENT_DEPRECATE_EOF).
func pointSelectAnswer() []byte {
	var out []byte
	seq := byte(1)
	add := func(p []byte) {
		out = append(out, byte(len(p)), byte(len(p)>>8), byte(len(p)>>16), seq)
		out = append(out, p...)
		seq++
	}
	eof := []byte{wire.EOFHeader, 0, 0, byte(wire.StatusAutocommit), 0}
	add([]byte{1})
	add(append([]byte("\x03def\x06sbtest\x07sbtest1\x07sbtest1\x01c\x01c\x0c\x08\x00"), 0xf0, 0, 0, 0, 0xfe, 0, 0, 0, 0, 0))
	add(eof)
	row := append([]byte{120}, make([]byte, 120)...)
	add(row)
	add(eof)
	return out
}

// BenchmarkRelayPointSelect relays a point select's answer from a backend
// to a client over in-memory pipes: the cost of the relay loop alone.
func BenchmarkRelayPointSelect(b *testing.B) {
	answer := pointSelectAnswer()
	beSide, beProxy := net.Pipe()
	clProxy, clSide := net.Pipe()
	defer beSide.Close()
	defer clSide.Close()
	s := &Session{cw: wire.NewConn(clProxy, 16<<10), status: wire.StatusAutocommit}
	be := &Backend{node: "db2", w: wire.NewConn(beProxy, 0)}
	go func() { _, _ = io.Copy(io.Discard, clSide) }()
	n := b.N
	go func() {
		for range n {
			if _, err := beSide.Write(answer); err != nil {
				return
			}
		}
	}()
	b.SetBytes(int64(len(answer)))
	b.ReportAllocs()
	b.ResetTimer()
	for range n {
		st, err := s.relay(be, modeQuery)
		if err != nil {
			b.Fatal(err)
		}
		if st&wire.StatusAutocommit == 0 {
			b.Fatalf("status %#x", st)
		}
	}
}
