package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/switchyard/switchyard/wire"
)

// relayChunked relays answer from a backend that writes it chunk bytes at a
// time (0: all at once) and then closes; it returns what the client got,
// the status and the error.
func relayChunked(s *Session, be *Backend, mode relayMode, answer []byte, chunk int) ([]byte, uint16, error) {
	beSide, beProxy := net.Pipe()
	clProxy, clSide := net.Pipe()
	s.cw = wire.NewConn(clProxy, 16<<10)
	be.w = wire.NewConn(beProxy, 0)
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(clSide)
		got <- b
	}()
	go func() {
		defer beSide.Close()
		if chunk <= 0 {
			chunk = len(answer) + 1
		}
		for b := answer; len(b) > 0; {
			k := min(chunk, len(b))
			if _, err := beSide.Write(b[:k]); err != nil {
				return
			}
			b = b[k:]
		}
	}()
	st, err := s.relay(be, mode)
	_ = s.cw.Flush()
	clProxy.Close()
	return <-got, st, err
}

// relaySame checks that an answer relayed whole (where relayWhole may take
// it) and one byte at a time (where it never does: nothing is all there)
// gives the client the same bytes and the session the same facts.
func relaySame(t *testing.T, mk func() (*Session, *Backend), mode relayMode, answer []byte) {
	t.Helper()
	type result struct {
		got            []byte
		st             uint16
		failed         bool
		re             relayErr
		rows           uint64
		lastErr, parts bool
		meta           *colMeta
	}
	run := func(chunk int) result {
		s, be := mk()
		stmt := s.execStmt
		got, st, err := relayChunked(s, be, mode, answer, chunk)
		r := result{got: got, st: st, failed: err != nil, rows: s.rows, lastErr: s.lastErr, parts: s.partialErr}
		var re *relayErr
		if errors.As(err, &re) {
			r.re = relayErr{client: re.client, inStep: re.inStep, nextSeq: re.nextSeq, sent: re.sent}
		}
		if stmt != nil {
			r.meta = stmt.meta
		}
		return r
	}
	whole, bytewise := run(0), run(1)
	if !bytes.Equal(whole.got, bytewise.got) || whole.st != bytewise.st || whole.failed != bytewise.failed ||
		whole.re != bytewise.re || whole.rows != bytewise.rows || whole.lastErr != bytewise.lastErr ||
		whole.parts != bytewise.parts || !sameMeta(whole.meta, bytewise.meta) {
		t.Fatalf("answer % x (mode %d):\nwhole    %+v\nbytewise %+v", answer, mode, whole, bytewise)
	}
}

func plainSession() (*Session, *Backend) {
	return &Session{srv: &Server{}, status: wire.StatusAutocommit}, &Backend{node: "db2"}
}

// cachingSession is a session and backend with metadata caching, executing
// a statement whose definitions both sides hold.
func cachingSession() (*Session, *Backend) {
	cm := wire.MariaDBCacheMetadata
	s := &Session{srv: &Server{}, ext: cm, status: wire.StatusAutocommit}
	m := metaOf(defInt)
	s.execStmt, s.execBS = &stmtInfo{id: 1, meta: m}, &backendStmt{id: 2, meta: m}
	return s, &Backend{node: "db2", ext: cm}
}

var wholeSeeds = [][]byte{
	frames(1, []byte{1}, defInt, eofPkt, rowInt, eofPkt),                                         // one row
	frames(1, []byte{1}, defInt, eofPkt, rowInt, rowInt, rowInt, eofPkt),                         // three
	frames(1, []byte{1}, defInt, eofPkt, eofPkt),                                                 // none
	frames(1, []byte{1}, defInt, eofPkt, rowInt, []byte("\xff\x10\x04#HY000boom")),               // ERR among rows
	frames(1, []byte{1}, defInt, eofPkt, rowInt, eofMore, []byte{0, 0, 0, 2, 0, 0, 0}),           // more results
	frames(1, []byte{1}, defInt, []byte{wire.EOFHeader, 0, 0, byte(wire.StatusCursorExists), 0}), // a cursor
	frames(1, []byte{0, 0, 0, 2, 0, 0, 0}),                                                       // OK
	frames(1, []byte("\xff\x10\x04#HY000boom")),                                                  // ERR
	frames(1, []byte{2}, defInt, defInt, eofPkt, rowInt),                                         // cut short
	frames(1, []byte{1, 0}, eofPkt, rowInt, eofPkt),                                              // caching: left out
	frames(1, []byte{1, 1}, defInt, eofPkt, rowInt, eofPkt),                                      // caching: definitions sent
	frames(1, []byte{1, 0}, eofPkt, rowInt, rowInt, eofPkt)[:20],                                 // caching, cut short
}

// TestRelayWhole: relayWhole takes the common answer, and whether it does
// or the frame by frame relay does, the client and the session see the
// same.
func TestRelayWhole(t *testing.T) {
	for _, a := range wholeSeeds {
		for _, mode := range []relayMode{modeQuery, modeExecute} {
			relaySame(t, plainSession, mode, a)
			relaySame(t, cachingSession, mode, a)
		}
	}
	// It does take the common answers.
	for _, c := range []struct {
		a  []byte
		mk func() (*Session, *Backend)
	}{{wholeSeeds[1], plainSession}, {wholeSeeds[9], cachingSession}} {
		s, be := c.mk()
		beSide, beProxy := net.Pipe()
		clProxy, clSide := net.Pipe()
		s.cw, be.w = wire.NewConn(clProxy, 16<<10), wire.NewConn(beProxy, 0)
		go func() { _, _ = beSide.Write(c.a) }()
		got := make(chan []byte)
		go func() {
			b := make([]byte, len(c.a))
			_, _ = io.ReadFull(clSide, b)
			got <- b
		}()
		var sent bool
		st, ok, err := s.relayWhole(be, &sent)
		if b := <-got; !ok || err != nil || !bytes.Equal(b, c.a) || st != wire.StatusAutocommit || !sent {
			t.Fatalf("relayWhole: ok %v, err %v, status %#x, sent %v; client got % x", ok, err, st, sent, b)
		}
		beSide.Close()
		clSide.Close()
	}
}

func FuzzRelayWhole(f *testing.F) {
	for _, a := range wholeSeeds {
		f.Add(a, false, false)
	}
	f.Fuzz(func(t *testing.T, answer []byte, caching, execute bool) {
		mode := modeQuery
		if execute {
			mode = modeExecute
		} else if bytes.IndexByte(answer, wire.InfileHeader) >= 0 {
			// LOCAL INFILE reads the client's file: not for this harness
			// (and never relayed whole).
			return
		}
		mk := plainSession
		if caching {
			mk = cachingSession
		}
		relaySame(t, mk, mode, answer)
	})
}

func TestWholeResult(t *testing.T) {
	for _, c := range []struct {
		name    string
		b       []byte
		cm      bool
		n       int
		rows    uint64
		follows bool
		ok      bool
		short   bool // (WholeResultShort) b ends before the answer shows its shape
	}{
		{"one row", wholeSeeds[0], false, len(wholeSeeds[0]), 1, true, true, false},
		{"no rows", wholeSeeds[2], false, len(wholeSeeds[2]), 0, true, true, false},
		{"trailing bytes", append(append([]byte(nil), wholeSeeds[0]...), 1, 0, 0, 1), false, len(wholeSeeds[0]), 1, true, true, false},
		{"err among rows", wholeSeeds[3], false, 0, 0, false, false, false},
		{"more results", wholeSeeds[4], false, 0, 0, false, false, false},
		{"cursor", wholeSeeds[5], false, 0, 0, false, false, false},
		{"ok", wholeSeeds[6], false, 0, 0, false, false, false},
		{"cut short", wholeSeeds[8], false, 0, 0, false, false, true},
		{"caching, left out", wholeSeeds[9], true, len(wholeSeeds[9]), 1, false, true, false},
		{"caching, sent", wholeSeeds[10], true, len(wholeSeeds[10]), 1, true, true, false},
		{"caching byte without caching", wholeSeeds[9], false, 0, 0, false, false, false},
		{"empty", nil, false, 0, 0, false, false, true},
	} {
		n, rows, st, follows, ok := wire.WholeResult(c.b, c.cm)
		if n != c.n || rows != c.rows || follows != c.follows || ok != c.ok || (ok && st != wire.StatusAutocommit) {
			t.Errorf("%s: got n %d rows %d status %#x follows %v ok %v; want n %d rows %d follows %v ok %v",
				c.name, n, rows, st, follows, ok, c.n, c.rows, c.follows, c.ok)
		}
		if _, _, _, _, ok2, short := wire.WholeResultShort(c.b, c.cm); ok2 != ok || short != c.short {
			t.Errorf("%s: WholeResultShort ok %v short %v, want %v %v", c.name, ok2, short, ok, c.short)
		}
	}
	// Every cut of a whole answer is short; the shared relay waits for
	// more of it rather than taking it for another shape.
	for _, c := range []struct {
		b  []byte
		cm bool
	}{{wholeSeeds[0], false}, {wholeSeeds[2], false}, {wholeSeeds[9], true}, {wholeSeeds[10], true}} {
		for k := range len(c.b) {
			if _, _, _, _, ok, short := wire.WholeResultShort(c.b[:k], c.cm); ok || !short {
				t.Fatalf("answer cut at %d of %d: ok %v short %v, want short", k, len(c.b), ok, short)
			}
		}
	}
}
