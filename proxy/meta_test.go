package proxy

import (
	"bytes"
	"testing"

	"github.com/switchyard/switchyard/wire"
)

// frames frames payloads with sequence numbers from seq.
func frames(seq byte, payloads ...[]byte) []byte {
	var out []byte
	for _, p := range payloads {
		out = append(out, byte(len(p)), byte(len(p)>>8), byte(len(p)>>16), seq)
		out = append(out, p...)
		seq++
	}
	return out
}

var (
	defInt    = []byte("\x03def\x04test\x01t\x01t\x01v\x01v\x0c\x3f\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00")
	defBigint = []byte("\x03def\x04test\x01t\x01t\x01v\x01v\x0c\x3f\x00\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00")
	eofMore   = []byte{wire.EOFHeader, 0, 0, byte(wire.StatusAutocommit | wire.StatusMoreResultsExists), 0}
	eofPkt    = []byte{wire.EOFHeader, 0, 0, byte(wire.StatusAutocommit), 0}
	rowInt    = []byte{0, 0, 7, 0, 0, 0}
)

func metaOf(defs ...[]byte) *colMeta {
	m := &colMeta{}
	for _, d := range defs {
		m.add(d)
	}
	return m
}

// relayAnswer relays answer from a backend to a client session over pipes
// (the backend closes after it) and returns what the client got.
func relayAnswer(s *Session, be *Backend, answer []byte) ([]byte, error) {
	got, _, err := relayChunked(s, be, modeExecute, answer, 0)
	return got, err
}

// relayOnce relays a complete answer and returns what the client got.
func relayOnce(t *testing.T, s *Session, be *Backend, answer []byte) []byte {
	t.Helper()
	got, err := relayAnswer(s, be, answer)
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	return got
}

// The relay's handling of MariaDB metadata caching: a column count packet
// gets its "metadata follows" byte from a backend without caching; an
// execution without definitions gets the backend's put in (and later
// frames renumbered) when the client holds others; definitions that come
// are recorded for both sides; without caching nothing changes.
func TestRelayMetadataCaching(t *testing.T) {
	cm := wire.MariaDBCacheMetadata
	intMeta, bigMeta := metaOf(defInt), metaOf(defBigint)
	cases := []struct {
		name             string
		sessExt, beExt   uint32
		clientHas, beHas *colMeta // stmtInfo.meta, backendStmt.meta
		answer, want     []byte
		wantMeta         *colMeta // the client's afterwards (nil: not checked)
		injected         uint64
	}{
		{name: "no caching: untouched", answer: frames(1, []byte{1}, defInt, eofPkt, rowInt, eofPkt),
			want: frames(1, []byte{1}, defInt, eofPkt, rowInt, eofPkt)},
		{name: "backend without caching: flag added", sessExt: cm, clientHas: intMeta, beHas: intMeta,
			answer: frames(1, []byte{1}, defInt, eofPkt, rowInt, eofPkt),
			want:   frames(1, []byte{1, 1}, defInt, eofPkt, rowInt, eofPkt)},
		{name: "left out, client holds the same", sessExt: cm, beExt: cm, clientHas: intMeta, beHas: intMeta,
			answer: frames(1, []byte{1, 0}, eofPkt, rowInt, eofPkt),
			want:   frames(1, []byte{1, 0}, eofPkt, rowInt, eofPkt), wantMeta: intMeta},
		{name: "left out, client holds others: put in", sessExt: cm, beExt: cm, clientHas: intMeta, beHas: bigMeta,
			answer:   frames(1, []byte{1, 0}, eofPkt, append([]byte{0, 0}, 7, 0, 0, 0, 0, 0, 0, 0), eofPkt),
			want:     frames(1, []byte{1, 1}, defBigint, eofPkt, append([]byte{0, 0}, 7, 0, 0, 0, 0, 0, 0, 0), eofPkt),
			wantMeta: bigMeta, injected: 1},
		{name: "put in, then a second result renumbered too", sessExt: cm, beExt: cm, clientHas: intMeta, beHas: bigMeta,
			answer:   frames(1, []byte{1, 0}, eofPkt, rowInt, eofMore, []byte{1, 1}, defInt, eofPkt, rowInt, eofPkt),
			want:     frames(1, []byte{1, 1}, defBigint, eofPkt, rowInt, eofMore, []byte{1, 1}, defInt, eofPkt, rowInt, eofPkt),
			wantMeta: bigMeta, injected: 1},
		{name: "sent: recorded", sessExt: cm, beExt: cm, clientHas: intMeta, beHas: intMeta,
			answer: frames(1, []byte{1, 1}, defBigint, eofPkt, rowInt, eofPkt),
			want:   frames(1, []byte{1, 1}, defBigint, eofPkt, rowInt, eofPkt), wantMeta: bigMeta},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Session{srv: &Server{}, ext: c.sessExt, status: wire.StatusAutocommit}
			be := &Backend{node: "db2", ext: c.beExt}
			st := &stmtInfo{id: 1, meta: c.clientHas}
			bs := &backendStmt{id: 9, meta: c.beHas}
			if c.sessExt != 0 {
				s.execStmt, s.execBS = st, bs
			}
			got := relayOnce(t, s, be, c.answer)
			if !bytes.Equal(got, c.want) {
				t.Fatalf("client got\n% x\nwant\n% x", got, c.want)
			}
			if c.wantMeta != nil && !sameMeta(st.meta, c.wantMeta) {
				t.Errorf("client's definitions afterwards: %v, want %v", st.meta, c.wantMeta)
			}
			if c.wantMeta != nil && c.beHas != nil && st.meta != bs.meta {
				t.Error("client and backend definitions not shared after the execution")
			}
			if n := s.srv.metrics.metaInjected.Load(); n != c.injected {
				t.Errorf("injected %d, want %d", n, c.injected)
			}
		})
	}
}

// A backend without metadata caching under a client with it: the bridge
// marks the client's definitions unknown, so a caching backend that leaves
// them out next gets its own put in.
func TestRelayMetadataBridgeForgets(t *testing.T) {
	cm := wire.MariaDBCacheMetadata
	s := &Session{srv: &Server{}, ext: cm, status: wire.StatusAutocommit}
	st := &stmtInfo{id: 1, meta: metaOf(defInt)}
	s.execStmt, s.execBS = st, &backendStmt{id: 3}
	relayOnce(t, s, &Backend{node: "old"}, frames(1, []byte{1}, defBigint, eofPkt, rowInt, eofPkt))
	if st.meta != nil {
		t.Fatalf("client's definitions still known after a bridged execution: %v", st.meta)
	}
	bs := &backendStmt{id: 4, meta: metaOf(defInt)}
	s.execStmt, s.execBS = st, bs
	got := relayOnce(t, s, &Backend{node: "new", ext: cm}, frames(1, []byte{1, 0}, eofPkt, rowInt, eofPkt))
	if want := frames(1, []byte{1, 1}, defInt, eofPkt, rowInt, eofPkt); !bytes.Equal(got, want) {
		t.Fatalf("client got\n% x\nwant\n% x", got, want)
	}
}

func TestSameMeta(t *testing.T) {
	a, b, c := metaOf(defInt), metaOf(defInt), metaOf(defBigint)
	if !sameMeta(a, b) || sameMeta(a, c) || sameMeta(a, nil) || !sameMeta(nil, nil) {
		t.Fatal("sameMeta")
	}
	if internMeta(b, a) != a || internMeta(c, a) != c || internMeta(nil, a) != nil {
		t.Fatal("internMeta")
	}
}

// relayFails relays an answer that ends before it is complete and returns
// the relay's error and what the client got.
func relayFails(t *testing.T, s *Session, be *Backend, answer []byte) (*relayErr, []byte) {
	t.Helper()
	got, err := relayAnswer(s, be, answer)
	re, ok := err.(*relayErr)
	if !ok {
		t.Fatalf("relay: %v, want a relayErr", err)
	}
	return re, got
}

// Answers the relay must not pass on, and failures it must describe
// right: an execution without definitions the proxy cannot supply fails
// before anything reaches the client; a backend failing after the
// sequence numbers wrapped to 0 is not taken for one that sent nothing
// (it would be retried on the master after the client got rows); one
// failing amid new definitions leaves the client's unknown.
func TestRelayMetadataFailures(t *testing.T) {
	cm := wire.MariaDBCacheMetadata
	t.Run("left out, backend's unknown", func(t *testing.T) {
		s := &Session{srv: &Server{}, ext: cm, status: wire.StatusAutocommit}
		s.execStmt, s.execBS = &stmtInfo{id: 1, meta: metaOf(defInt)}, &backendStmt{id: 2}
		re, got := relayFails(t, s, &Backend{node: "db2", ext: cm}, frames(1, []byte{1, 0}, eofPkt, rowInt, eofPkt))
		if len(got) != 0 || re.client || !re.inStep || re.sent || re.nextSeq != 1 {
			t.Fatalf("client got % x; err %+v", got, re)
		}
	})
	t.Run("failure after the sequence wrapped", func(t *testing.T) {
		s := &Session{srv: &Server{}, status: wire.StatusAutocommit}
		rows := [][]byte{{1}, defInt, eofPkt}
		for len(rows) < 256 { // sequences 1..255, then 0
			rows = append(rows, rowInt)
		}
		re, _ := relayFails(t, s, &Backend{node: "db2"}, frames(1, rows...))
		if !re.sent || re.nextSeq != 1 {
			t.Fatalf("err %+v: want sent with next sequence 1", re)
		}
	})
	t.Run("failure amid new definitions", func(t *testing.T) {
		s := &Session{srv: &Server{}, ext: cm, status: wire.StatusAutocommit}
		st, bs := &stmtInfo{id: 1, meta: metaOf(defInt, defInt)}, &backendStmt{id: 2}
		bs.meta = st.meta
		s.execStmt, s.execBS = st, bs
		relayFails(t, s, &Backend{node: "db2", ext: cm}, frames(1, []byte{2, 1}, defBigint))
		if st.meta != nil || bs.meta != nil {
			t.Fatalf("definitions still known after a failure amid new ones: %v %v", st.meta, bs.meta)
		}
	})
}
