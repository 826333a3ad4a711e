// Package wire is the MySQL packet layer Switchyard relays with: buffered
// framing over a net.Conn, frame-at-a-time copying for flat memory on large
// results, and the few packets (OK, ERR, EOF) the proxy reads or writes itself.
package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// MaxPayload is the largest payload of one frame; a logical packet of this
// size or more continues in the next frame.
const MaxPayload = 1<<24 - 1

// ErrPacketTooLarge is returned when a logical packet exceeds the reader's limit.
var ErrPacketTooLarge = errors.New("packet too large")

// Conn frames MySQL packets over a net.Conn with buffered reads and writes.
// It is not safe for concurrent use; one goroutine owns each direction.
type Conn struct {
	net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	hdr  [4]byte
	whdr [4]byte // header of the frame being written (a field: a local escapes through bufio)
	// Seq is the sequence number of the next packet to write.
	Seq uint8
	buf []byte // reusable payload buffer for small packets
	// sock is the raw socket path under br and bw, nil for other conns.
	sock *sockIO
	rw   io.ReadWriter // under br and bw: sock, or the conn itself
}

// NewConn wraps c with buffers of the given size (64 KiB when zero).
func NewConn(c net.Conn, bufSize int) *Conn {
	if bufSize <= 0 {
		bufSize = 64 << 10
	}
	var rw io.ReadWriter = c
	s := newSockIO(c)
	if s != nil {
		rw = s
	}
	return &Conn{Conn: c, sock: s, rw: rw, br: bufio.NewReaderSize(rw, bufSize), bw: bufio.NewWriterSize(rw, bufSize)}
}

// frameLen is the payload length in the frame header at the start of b
// (at least 3 bytes).
func frameLen(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }

// FrameLen is the payload length in a frame header b (at least 3 bytes).
func FrameLen(b []byte) int { return frameLen(b) }

// ReadHeader reads one frame header and returns the payload length and sequence.
func (c *Conn) ReadHeader() (int, uint8, error) {
	if c.br.Buffered() >= len(c.hdr) {
		_, _ = c.br.Read(c.hdr[:]) // all of it, from the buffer
	} else if _, err := io.ReadFull(c.br, c.hdr[:]); err != nil {
		return 0, 0, err
	}
	n := frameLen(c.hdr[:])
	return n, c.hdr[3], nil
}

// ReadPacket reads one logical packet (joining continuation frames), refusing
// packets larger than limit bytes (no limit when limit <= 0). The returned
// slice is owned by the caller only until the next read on c.
func (c *Conn) ReadPacket(limit int) ([]byte, error) {
	c.buf = c.buf[:0]
	for {
		n, seq, err := c.ReadHeader()
		if err != nil {
			return nil, err
		}
		c.Seq = seq + 1
		if limit > 0 && len(c.buf)+n > limit {
			// Drain what the peer sent so the error can still be reported
			// in step, without holding it in memory.
			if _, err := io.CopyN(io.Discard, c.br, int64(n)); err != nil {
				return nil, err
			}
			for n == MaxPayload {
				if n, _, err = c.ReadHeader(); err != nil {
					return nil, err
				}
				if _, err := io.CopyN(io.Discard, c.br, int64(n)); err != nil {
					return nil, err
				}
			}
			return nil, fmt.Errorf("%w: more than %d bytes", ErrPacketTooLarge, limit)
		}
		start := len(c.buf)
		if cap(c.buf)-start < n {
			nb := make([]byte, start, start+n)
			copy(nb, c.buf)
			c.buf = nb
		}
		c.buf = c.buf[:start+n]
		if n > 0 && c.br.Buffered() >= n {
			_, _ = c.br.Read(c.buf[start:]) // all of it, from the buffer
		} else if _, err := io.ReadFull(c.br, c.buf[start:]); err != nil {
			return nil, err
		}
		if n < MaxPayload {
			break
		}
	}
	p := c.buf
	if cap(c.buf) > 1<<20 {
		// Do not keep a huge buffer alive for the life of the connection.
		c.buf = nil
	}
	return p, nil
}

// errWouldBlock is what a read of the client inside Commands' handler gets
// when the socket is empty (that read cannot wait: see Commands).
var errWouldBlock = errors.New("wire: read of the client inside the command loop would block")

// Commands reads the commands a client sends and passes each to handle
// until handle returns false (big false), the next command is one to read
// with ReadPacket instead (more than the read buffer holds, or continued in
// another frame: big true, nothing of it consumed), or a read fails. pkt is
// valid until the next read.
//
// Why: on a plain socket the whole loop runs inside one registration with
// Go's netpoller. Go forgets a socket's readiness whenever a read call
// starts, so a loop of separate reads must try each one first, and a
// client's next command is almost never there yet when the answer to the
// last one has just been written: one read failing with EAGAIN per
// command. Here readiness that arrives while a command runs is kept, so
// after a read that emptied the socket, once the answer is written, the
// loop waits without reading (a command without an answer, or part of
// one, is followed by a read that may fail, as before).
//
// handle may write to c and use other conns; it must not read from c (such
// a read fails rather than wait): commands that read more of the client
// (LOAD DATA LOCAL, change user) belong outside, by returning false.
func (c *Conn) Commands(limit int, handle func(pkt []byte) bool) (big bool, err error) {
	if c.sock == nil {
		// TLS and the like: plain blocking reads, and handle may read too.
		for {
			pkt, err := c.ReadPacket(limit)
			if err != nil {
				return false, err
			}
			if !handle(pkt) {
				return false, nil
			}
		}
	}
	var loopErr error
	serr := c.sock.serve(func() bool {
		for {
			switch c.wholePacket(limit) {
			case 1:
				pkt, err := c.ReadPacket(limit) // from the buffer: no system call
				if err != nil {
					loopErr = err
					return true
				}
				if !handle(pkt) {
					return true
				}
				continue
			case -1:
				big = true
				return true
			}
			if c.sock.mayWait() {
				return false // readiness from now on is not lost
			}
			// Read once, whatever arrived (Peek of one byte more than is
			// buffered fills at most until it has that).
			if _, err := c.br.Peek(c.br.Buffered() + 1); err != nil {
				if errors.Is(err, errWouldBlock) {
					return false
				}
				if errors.Is(err, bufio.ErrBufferFull) {
					big = true
				} else {
					loopErr = err
				}
				return true
			}
		}
	})
	if serr != nil {
		return big, serr
	}
	return big, loopErr
}

// wholePacket reports whether the read buffer holds a whole logical packet
// that ReadPacket can return without reading (1), whether the next packet
// is one the buffer cannot hold whole, that continues in another frame or
// that exceeds limit (-1: leave it to ReadPacket), or neither yet (0).
func (c *Conn) wholePacket(limit int) int {
	b, _ := c.br.Peek(min(4, c.br.Buffered())) // never reads
	if len(b) < 4 {
		return 0
	}
	n := frameLen(b)
	if n >= MaxPayload || n+4 > c.br.Size() || (limit > 0 && n > limit) {
		return -1
	}
	if n+4 <= c.br.Buffered() {
		return 1
	}
	return 0
}

// WritePacket writes payload as one logical packet (splitting frames as needed)
// into the write buffer, using and advancing c.Seq. Call Flush to send.
func (c *Conn) WritePacket(payload []byte) error {
	for {
		n := len(payload)
		if n > MaxPayload {
			n = MaxPayload
		}
		c.whdr = [4]byte{byte(n), byte(n >> 8), byte(n >> 16), c.Seq}
		if _, err := c.bw.Write(c.whdr[:]); err != nil {
			return err
		}
		if _, err := c.bw.Write(payload[:n]); err != nil {
			return err
		}
		c.Seq++
		payload = payload[n:]
		if n < MaxPayload {
			return nil
		}
	}
}

// WriteFrame writes a raw frame (header included) unchanged.
func (c *Conn) WriteFrame(frame []byte) error {
	_, err := c.bw.Write(frame)
	return err
}

// Flush sends buffered writes.
func (c *Conn) Flush() error { return c.bw.Flush() }

// WriteDirect sends what is buffered, then p, without copying p into the
// write buffer (p may be another Conn's read buffer: an answer relayed
// whole goes out from where it came in).
func (c *Conn) WriteDirect(p []byte) error {
	if err := c.bw.Flush(); err != nil {
		return err
	}
	_, err := c.rw.Write(p)
	return err
}

// FlushRequest sends buffered writes that end a request to a server, whose
// answer the caller reads next. On a plain socket with nothing left to
// read, it also waits for the answer to arrive (see sockIO.awaitAnswer),
// which saves a read system call. Never use it for a command without an
// answer, nor toward a client.
func (c *Conn) FlushRequest() error {
	if c.sock != nil && c.br.Buffered() == 0 && c.bw.Buffered() > 0 {
		c.sock.awaitNext = true
		defer func() { c.sock.awaitNext = false }()
	}
	return c.bw.Flush()
}

// Buffered reports whether unread bytes are waiting in the read buffer.
func (c *Conn) Buffered() int { return c.br.Buffered() }

// Peeked returns what the read buffer holds, reading once (whatever
// arrives) when it is empty. The bytes stay buffered (Discard drops them)
// and are valid until the next read.
func (c *Conn) Peeked() ([]byte, error) {
	if c.br.Buffered() == 0 {
		if _, err := c.br.Peek(1); err != nil {
			return nil, err
		}
	}
	b, _ := c.br.Peek(c.br.Buffered())
	return b, nil
}

// PeekMore reads once more (whatever arrives) after what is buffered and
// returns it all, as Peeked does; it fails with bufio.ErrBufferFull when
// the buffer is full.
func (c *Conn) PeekMore() ([]byte, error) {
	n := c.br.Buffered()
	if n >= c.br.Size() {
		return nil, bufio.ErrBufferFull
	}
	if _, err := c.br.Peek(n + 1); err != nil {
		return nil, err
	}
	b, _ := c.br.Peek(c.br.Buffered())
	return b, nil
}

// Discard drops n buffered bytes (at most Buffered()).
func (c *Conn) Discard(n int) { _, _ = c.br.Discard(n) }

// Frame is one frame relayed by Relay: its header facts and, when the payload
// is small, the payload itself (valid until the next read).
type Frame struct {
	Len     int
	Seq     uint8
	Payload []byte // nil when the frame was streamed (larger than the peek limit)
	Raw     []byte // header + payload of a small frame read by NextFrame
	First   byte   // first payload byte (0 for an empty frame)
}

// peekLimit bounds the payload kept in memory per relayed frame; larger
// frames are streamed through.
const peekLimit = 64 << 10

// Frame is also what NextFrame returns: Raw holds header and payload of a
// small frame; a large one must be passed on with ForwardFrame (or dropped
// with SkipFrame) before the next read.

// NextFrame reads the next frame without passing it on. A small frame is
// read whole (Payload and Raw set, valid until the next read); of a large one
// only the header is read and Payload is nil.
func (c *Conn) NextFrame() (Frame, error) {
	// A small frame already wholly in the read buffer is returned in place,
	// without copying it out (the common case: a whole answer arrives in one
	// segment, and the first read, here, takes all of it). The buffer is not
	// refilled, so it stays valid until the next read, as the copy did.
	b, err := c.Peeked()
	if err != nil {
		return Frame{}, err
	}
	if len(b) >= 4 {
		n := frameLen(b)
		if n <= peekLimit && n+4 <= len(b) {
			p := b[: n+4 : n+4]
			_, _ = c.br.Discard(n + 4)
			f := Frame{Len: n, Seq: p[3], Raw: p, Payload: p[4:]}
			if n > 0 {
				f.First = p[4]
			}
			return f, nil
		}
	}
	n, seq, err := c.ReadHeader()
	if err != nil {
		return Frame{}, err
	}
	f := Frame{Len: n, Seq: seq}
	if n <= peekLimit {
		if cap(c.buf) < n+4 {
			c.buf = make([]byte, n+4, max(n+4, 4096))
		}
		p := c.buf[:n+4]
		copy(p, c.hdr[:])
		if _, err := io.ReadFull(c.br, p[4:]); err != nil {
			return f, err
		}
		f.Raw = p
		f.Payload = p[4:]
		if n > 0 {
			f.First = p[4]
		}
		return f, nil
	}
	b, err = c.br.Peek(1)
	if err != nil {
		return f, err
	}
	f.First = b[0]
	return f, nil
}

// ForwardFrame writes f, read by NextFrame, to dst unchanged; for a large
// frame it streams the payload still unread.
func (c *Conn) ForwardFrame(f Frame, dst *Conn) error {
	if f.Raw != nil {
		if err := dst.WriteFrame(f.Raw); err != nil {
			return &DstError{err}
		}
		return nil
	}
	h := [4]byte{byte(f.Len), byte(f.Len >> 8), byte(f.Len >> 16), f.Seq}
	if err := dst.WriteFrame(h[:]); err != nil {
		return &DstError{err}
	}
	return c.copyN(dst, f.Len)
}

// SkipFrame discards the unread payload of a large frame read by NextFrame.
func (c *Conn) SkipFrame(f Frame) error {
	if f.Raw != nil {
		return nil
	}
	_, err := io.CopyN(io.Discard, c.br, int64(f.Len))
	return err
}

// RelayFrame copies one frame from c to dst unchanged and reports it. Small
// payloads are returned for inspection; large ones are streamed with only the
// first byte kept, so memory stays flat whatever the result size. A small
// frame is read whole before anything is written, so a failure leaves the
// destination's stream at a frame boundary.
func (c *Conn) RelayFrame(dst *Conn) (Frame, error) {
	f, err := c.NextFrame()
	if err != nil {
		return f, err
	}
	return f, c.ForwardFrame(f, dst)
}

// ForwardRows passes on, in one copy, the complete row frames already in
// the read buffer, stopping before anything that is not a plain row: an EOF
// or ERR packet (the end of the rows), a frame continued in the next one, or
// a frame not yet wholly received. It never reads from the socket; rows is 0
// when the next frame needs NextFrame. seq is the last forwarded frame's.
// Per-row parsing and copying was most of the proxy's own cost on results of
// many rows.
func (c *Conn) ForwardRows(dst *Conn) (rows int, seq uint8, err error) {
	return c.forwardBuffered(dst, -1, true)
}

// ForwardFrames is ForwardRows for at most limit frames of any kind: it does
// not look inside them, and is for frames nobody inspects (column
// definitions).
func (c *Conn) ForwardFrames(dst *Conn, limit int) (n int, seq uint8, err error) {
	return c.forwardBuffered(dst, limit, false)
}

// forwardBuffered passes on whole frames from the read buffer in one copy:
// at most limit of them (no limit when negative), and with rows set only
// plain rows.
func (c *Conn) forwardBuffered(dst *Conn, limit int, rows bool) (n int, seq uint8, err error) {
	b, _ := c.br.Peek(c.br.Buffered()) // never blocks: at most what is buffered
	off := 0
	for n != limit && len(b)-off >= 4 {
		k := frameLen(b[off:])
		if k >= MaxPayload || off+4+k > len(b) {
			break
		}
		if rows {
			if k == 0 {
				break
			}
			if p := b[off+4 : off+4+k]; p[0] == ErrHeader || eofPayload(p) {
				break
			}
		}
		seq = b[off+3]
		off += 4 + k
		n++
	}
	if n == 0 {
		return 0, 0, nil
	}
	if _, err := dst.bw.Write(b[:off]); err != nil {
		return 0, 0, &DstError{err}
	}
	_, _ = c.br.Discard(off)
	return n, seq, nil
}

// copyN streams n payload bytes to dst through a fixed chunk, telling a read
// failure (ours) from a write failure (the destination's).
func (c *Conn) copyN(dst *Conn, n int) error {
	var chunk [16 << 10]byte
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := io.ReadFull(c.br, chunk[:k]); err != nil {
			return err
		}
		if _, err := dst.bw.Write(chunk[:k]); err != nil {
			return &DstError{err}
		}
		n -= k
	}
	return nil
}

// ReadFrameInto reads one frame's payload (no reassembly) for the proxy's own
// use, e.g. consuming a response nobody relays. Large payloads are discarded
// except for their first byte.
func (c *Conn) ReadFrameInto() (Frame, error) {
	n, seq, err := c.ReadHeader()
	if err != nil {
		return Frame{}, err
	}
	f := Frame{Len: n, Seq: seq}
	if n <= peekLimit {
		if cap(c.buf) < n {
			c.buf = make([]byte, n, max(n, 4096))
		}
		p := c.buf[:n]
		if _, err := io.ReadFull(c.br, p); err != nil {
			return f, err
		}
		f.Payload = p
		if n > 0 {
			f.First = p[0]
		}
		return f, nil
	}
	b, err := c.br.Peek(1)
	if err != nil {
		return f, err
	}
	f.First = b[0]
	_, err = io.CopyN(io.Discard, c.br, int64(n))
	return f, err
}

// DstError marks a failure to write to the relay destination, so callers can
// tell a broken client from a broken backend.
type DstError struct{ Err error }

func (e *DstError) Error() string { return "write to peer: " + e.Err.Error() }
func (e *DstError) Unwrap() error { return e.Err }

// SetDeadlines sets the read deadline to now+d (no deadline when d <= 0).
func (c *Conn) SetReadTimeout(d time.Duration) error {
	if d <= 0 {
		return c.SetReadDeadline(time.Time{})
	}
	return c.SetReadDeadline(time.Now().Add(d))
}
