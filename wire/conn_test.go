package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// memConn is a net.Conn over byte buffers, for framing tests.
type memConn struct {
	r io.Reader
	w bytes.Buffer
}

func (m *memConn) Read(p []byte) (int, error)       { return m.r.Read(p) }
func (m *memConn) Write(p []byte) (int, error)      { return m.w.Write(p) }
func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

func frame(seq uint8, payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

func TestWriteReadRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 100, MaxPayload - 1, MaxPayload, MaxPayload + 1, 2*MaxPayload + 7} {
		payload := bytes.Repeat([]byte{0xab}, size)
		out := &memConn{}
		w := NewConn(out, 0)
		w.Seq = 3
		if err := w.WritePacket(payload); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		frames := size/MaxPayload + 1
		if want := uint8(3 + frames); w.Seq != want {
			t.Errorf("size %d: seq after write = %d, want %d", size, w.Seq, want)
		}
		r := NewConn(&memConn{r: bytes.NewReader(out.w.Bytes())}, 0)
		got, err := r.ReadPacket(0)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("size %d: payload differs (got %d bytes)", size, len(got))
		}
		if r.Seq != w.Seq {
			t.Errorf("size %d: reader seq %d, writer seq %d", size, r.Seq, w.Seq)
		}
	}
}

func TestReadPacketLimit(t *testing.T) {
	var in []byte
	in = append(in, frame(0, bytes.Repeat([]byte{1}, 100))...)
	in = append(in, frame(0, []byte{2, 3})...)
	r := NewConn(&memConn{r: bytes.NewReader(in)}, 0)
	if _, err := r.ReadPacket(50); !errors.Is(err, ErrPacketTooLarge) {
		t.Fatalf("want ErrPacketTooLarge, got %v", err)
	}
	// The oversized packet was drained: the next one reads cleanly.
	p, err := r.ReadPacket(50)
	if err != nil || !bytes.Equal(p, []byte{2, 3}) {
		t.Fatalf("next packet = %v, %v", p, err)
	}
}

func TestRelayFrame(t *testing.T) {
	big := bytes.Repeat([]byte{0xfe, 1, 2}, 40000) // streamed (over the peek limit)
	var in []byte
	in = append(in, frame(1, []byte{0xfe, 0, 0, 2, 0})...) // EOF
	in = append(in, frame(2, big)...)
	in = append(in, frame(3, []byte{0xff, 0x15, 0x04, '#', '2', '8', '0', '0', '0', 'x'})...)
	src := NewConn(&memConn{r: bytes.NewReader(in)}, 0)
	out := &memConn{}
	dst := NewConn(out, 0)
	f, err := src.RelayFrame(dst)
	if err != nil || !IsEOF(f) || EOFStatus(f.Payload) != StatusAutocommit {
		t.Fatalf("eof frame: %+v %v", f, err)
	}
	f, err = src.RelayFrame(dst)
	if err != nil || f.Payload != nil || f.First != 0xfe || IsEOF(f) || f.Len != len(big) {
		t.Fatalf("big frame: len=%d first=%x payload=%v err=%v", f.Len, f.First, f.Payload != nil, err)
	}
	f, err = src.RelayFrame(dst)
	if err != nil || f.First != ErrHeader {
		t.Fatalf("err frame: %+v %v", f, err)
	}
	e := ParseErr(f.Payload)
	if e.Code != 1045 || e.State != "28000" || e.Message != "x" {
		t.Fatalf("ParseErr = %+v", e)
	}
	_ = dst.Flush()
	if !bytes.Equal(out.w.Bytes(), in) {
		t.Fatal("relayed bytes differ from input")
	}
	if _, err := src.RelayFrame(dst); !errors.Is(err, io.EOF) {
		t.Fatalf("at end: %v", err)
	}
}

func TestOKRoundTrip(t *testing.T) {
	for _, c := range []struct {
		aff, id uint64
		st, w   uint16
	}{{0, 0, 2, 0}, {250, 251, 3, 1}, {1 << 16, 1 << 24, 0x4002, 7}, {1 << 40, 5, 0, 0}} {
		p := AppendOK(nil, c.aff, c.id, c.st, c.w)
		ok, err := ParseOK(p)
		if err != nil || ok.AffectedRows != c.aff || ok.LastInsertID != c.id || ok.Status != c.st || ok.Warnings != c.w {
			t.Errorf("%+v -> %+v %v", c, ok, err)
		}
	}
	if _, err := ParseOK([]byte{0, 0xfc}); err == nil {
		t.Error("short OK parsed")
	}
}

func FuzzReadPacket(f *testing.F) {
	f.Add(frame(0, []byte{3, 'S', 'E', 'L'}), 100)
	f.Add([]byte{0xff, 0xff, 0xff, 0, 1, 2}, 10)
	f.Add([]byte{1, 0}, 0)
	f.Fuzz(func(t *testing.T, in []byte, limit int) {
		if limit > 1<<20 || limit < 0 {
			limit = 1 << 20
		}
		r := NewConn(&memConn{r: bytes.NewReader(in)}, 0)
		for i := 0; i < 10; i++ {
			p, err := r.ReadPacket(limit)
			if err != nil {
				return
			}
			if limit > 0 && len(p) > limit {
				t.Fatalf("packet of %d bytes passed limit %d", len(p), limit)
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{0, 1, 2, 2, 0, 0, 0})
	f.Add([]byte{0xff, 0x15, 0x04, '#', '2', '8', '0', '0', '0'})
	f.Add([]byte{0, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, p []byte) {
		_, _ = ParseOK(p)
		_ = OKStatus(p)
		_ = ParseErr(p)
		_ = EOFStatus(p)
		_, _ = LenEnc(p)
	})
}

// WriteDirect sends what is buffered first, then its bytes, and leaves
// nothing buffered; over a real socket too.
func TestWriteDirect(t *testing.T) {
	m := &memConn{r: bytes.NewReader(nil)}
	c := NewConn(m, 0)
	if err := c.WriteFrame(frame(1, []byte("first"))); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteDirect(frame(2, []byte("second"))); err != nil {
		t.Fatal(err)
	}
	want := append(frame(1, []byte("first")), frame(2, []byte("second"))...)
	if !bytes.Equal(m.w.Bytes(), want) || c.bw.Buffered() != 0 {
		t.Fatalf("peer got % x (buffered %d), want % x", m.w.Bytes(), c.bw.Buffered(), want)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer s.Close()
		b, _ := io.ReadAll(s)
		got <- b
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc := NewConn(nc, 0)
	big := bytes.Repeat([]byte("x"), 200<<10) // more than the socket takes at once
	if err := tc.WriteFrame(frame(1, []byte("head"))); err != nil {
		t.Fatal(err)
	}
	if err := tc.WriteDirect(big); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	if b := <-got; !bytes.Equal(b, append(frame(1, []byte("head")), big...)) {
		t.Fatalf("peer got %d bytes, want %d", len(b), len(frame(1, []byte("head")))+len(big))
	}
}

// PeekMore waits for more bytes after the buffered ones and keeps them all
// buffered; a full buffer is an error, not a wait.
func TestPeekMore(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := NewConn(a, 16)
	go func() {
		_, _ = b.Write([]byte("abc"))
		_, _ = b.Write([]byte("de"))
		_, _ = b.Write(bytes.Repeat([]byte("x"), 11))
	}()
	p, err := c.Peeked()
	if err != nil || string(p) != "abc" {
		t.Fatalf("Peeked: %q, %v", p, err)
	}
	p, err = c.PeekMore()
	if err != nil || string(p) != "abcde" {
		t.Fatalf("PeekMore: %q, %v", p, err)
	}
	for len(p) < 16 {
		if p, err = c.PeekMore(); err != nil {
			t.Fatalf("PeekMore up to the buffer's size: %v", err)
		}
	}
	if _, err := c.PeekMore(); !errors.Is(err, bufio.ErrBufferFull) {
		t.Fatalf("PeekMore on a full buffer: %v, want bufio.ErrBufferFull", err)
	}
	c.Discard(3)
	if p, _ := c.Peeked(); string(p[:2]) != "de" || len(p) != 13 {
		t.Fatalf("after Discard(3): %q", p)
	}
}
