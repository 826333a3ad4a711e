//go:build linux

package wire

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// sockIO reads and writes a socket with raw system calls, waiting in Go's
// netpoller only when the socket is not ready (EAGAIN), so deadlines and
// Close still interrupt it.
//
// Why: the socket is non-blocking, so read and write never block, but on
// loopback a write runs the peer's TCP receive path and wakes the peer,
// which on a small machine often preempts the writing thread inside the
// call. Through syscall.Syscall the runtime sees a P "in a system call" for
// that long; sysmon then hands the P to another thread and keeps itself on
// its 20 µs tick. Measured on 2 cores (sysbench point selects, 16 threads):
// about a third of the proxy's context switches were sysmon's, another third
// those hand-offs. A raw call keeps the P, as an event-loop proxy keeps its
// thread.
//
// The calls are recvfrom and sendto rather than read and write: on a socket
// they skip the VFS layer (fdget_pos, vfs_read/vfs_write; about 3% of the
// proxy's CPU in a perf profile at 64 sysbench threads), as HAProxy's do, and
// MSG_NOSIGNAL turns a write to a reset peer into EPIPE without a SIGPIPE.
type sockIO struct {
	network      string
	laddr, raddr net.Addr
	rc           syscall.RawConn
	// Results of the last raw call, kept here so the closures passed to
	// rc.Read/rc.Write capture only the receiver (no allocation per call).
	buf []byte
	n   int
	err syscall.Errno
	rf  func(fd uintptr) bool
	wf  func(fd uintptr) bool
	af  func(fd uintptr) bool
	// awaitNext makes the next Write a request whose answer is awaited in
	// the same call (see awaitAnswer); phase is that call's progress.
	awaitNext bool
	phase     uint8
	// Inside serve's callback reads go straight to loopFd (the socket's
	// read lock is held by that callback). What the last read there found,
	// for mayWait: empty (EAGAIN), or short (less than it asked for); wrote:
	// something was written since.
	inLoop bool
	loopFd uintptr
	empty  bool
	short  bool
	wrote  bool
}

const (
	awaitStart   = iota // the callback has not run (the wait failed first)
	awaitWritten        // all written; waiting for (or woken by) the answer
	awaitPartial        // the socket took only part: written the plain way
)

// newSockIO returns a raw reader/writer for a TCP or Unix socket, or nil for
// anything else (TLS, pipes), which keeps the net.Conn's own methods.
func newSockIO(c net.Conn) *sockIO {
	var sc syscall.Conn
	switch t := c.(type) {
	case *net.TCPConn:
		sc = t
	case *net.UnixConn:
		sc = t
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	s := &sockIO{rc: rc, laddr: c.LocalAddr(), raddr: c.RemoteAddr(), network: "tcp"}
	if s.laddr != nil {
		s.network = s.laddr.Network()
	}
	s.rf = s.readOnce
	s.wf = s.writeRaw // rc.Write waits for writability on false
	s.af = s.writeAwaitOnce
	return s
}

func (s *sockIO) readOnce(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&s.buf[0])), uintptr(len(s.buf)), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e == syscall.EAGAIN {
			return false // wait for readability in the netpoller
		}
		s.n, s.err = int(r), e
		return true
	}
}

// writeRaw (rc.Write's callback) writes s.buf until it is all written (true), the socket is full
// (false: EAGAIN) or the call fails (true, s.err set).
func (s *sockIO) writeRaw(fd uintptr) bool {
	for len(s.buf) > 0 {
		r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&s.buf[0])), uintptr(len(s.buf)), syscall.MSG_NOSIGNAL, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e == syscall.EAGAIN {
			return false
		}
		if e != 0 {
			s.err = e
			return true
		}
		s.n += int(r)
		s.buf = s.buf[r:]
	}
	return true
}

func (s *sockIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.buf, s.n, s.err = p, 0, 0
	var err error
	if s.inLoop {
		// Inside serve's callback: read the fd it was given, never wait.
		if !s.readOnce(s.loopFd) {
			s.buf = nil
			s.empty, s.short = true, false
			return 0, errWouldBlock
		}
		s.empty, s.short, s.wrote = false, s.n < len(p), false
	} else {
		err = s.rc.Read(s.rf)
	}
	s.buf = nil
	if err != nil {
		return 0, s.opError("read", err)
	}
	if s.err != 0 {
		return 0, s.opError("read", os.NewSyscallError("read", s.err))
	}
	if s.n == 0 {
		return 0, io.EOF
	}
	return s.n, nil
}

func (s *sockIO) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.wrote = true
	if s.awaitNext {
		s.awaitNext = false
		return s.awaitAnswer(p)
	}
	s.buf, s.n, s.err = p, 0, 0
	err := s.rc.Write(s.wf)
	n := s.n
	s.buf = nil
	if err == nil && s.err != 0 {
		err = os.NewSyscallError("write", s.err)
	}
	if err != nil {
		return n, s.opError("write", err)
	}
	return n, nil
}

// awaitAnswer writes a request and waits until the socket is readable, in
// one trip through the netpoller: the read that follows finds the answer
// instead of failing with EAGAIN first (one system call fewer per
// statement).
//
// Why this is safe only for a request to a server: Go resets a socket's
// readiness when a read starts, so readiness that arrived before is
// forgotten. Here the reset (at the start of rc.Read) comes before the
// request is written, and a server sends nothing unasked; the one exception,
// an error packet before it closes the connection (KILL, wait_timeout), is
// followed by the reset our request provokes, which wakes the wait too.
func (s *sockIO) awaitAnswer(p []byte) (int, error) {
	s.buf, s.n, s.err, s.phase = p, 0, 0, awaitStart
	err := s.rc.Read(s.af)
	n := s.n
	switch {
	case s.err != 0:
		s.buf = nil
		return n, s.opError("write", os.NewSyscallError("write", s.err))
	case s.phase == awaitStart:
		s.buf = nil
		if err == nil {
			err = errors.New("no write")
		}
		return 0, s.opError("write", err)
	case s.phase == awaitPartial:
		rest := s.buf
		m, err := s.Write(rest)
		return n + m, err
	}
	// Written. A failed wait (closed, deadline) is for the read to report.
	s.buf = nil
	return n, nil
}

func (s *sockIO) writeAwaitOnce(fd uintptr) bool {
	if s.phase != awaitStart {
		return true // readable: the answer (or an error) is there
	}
	s.phase = awaitWritten
	if !s.writeRaw(fd) {
		s.phase = awaitPartial // socket full: the rest goes the plain way
		return true
	}
	return s.err != 0 // all written: wait for readability
}

// opError shapes an error as net.Conn's methods do, so callers' checks
// (net.ErrClosed, os.ErrDeadlineExceeded, net.Error timeouts) hold.
func (s *sockIO) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		// rc.Read/rc.Write already wrapped it (as "raw-read"/"raw-write").
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: s.network, Source: s.laddr, Addr: s.raddr, Err: err}
}

// serve runs step inside one rc.Read: Go's netpoller resets a socket's
// readiness when a read starts (prepareRead), so readiness that arrives
// during one read call is never lost within it. step is called when the
// socket may be readable (first, and after each wake-up); it returns true
// to end the call, false to wait for readability. While it runs, Read uses
// the raw fd and never waits.
func (s *sockIO) serve(step func() bool) error {
	err := s.rc.Read(func(fd uintptr) bool {
		s.inLoop, s.loopFd, s.empty, s.short = true, fd, false, false
		done := step()
		s.inLoop = false
		return done
	})
	if err != nil {
		return s.opError("read", err)
	}
	return nil
}

// mayWait reports whether, inside serve's callback, the loop may wait for
// readability without reading first: the socket was found empty, or a read
// got less than it asked for and something was written since. A short read
// alone is not enough: an end of stream (FIN, reset) behind the data is only
// reported by the next read, and its readiness may have come with the
// data's. A write makes it safe: a peer that closed answers it with a
// reset, which wakes the wait. (A peer that only shut down its writing side
// and waits for more is then noticed by the idle timeout.)
func (s *sockIO) mayWait() bool { return s.empty || (s.short && s.wrote) }
