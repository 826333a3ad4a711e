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
}

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
	s.wf = s.writeOnce
	return s
}

func (s *sockIO) readOnce(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&s.buf[0])), uintptr(len(s.buf)))
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

func (s *sockIO) writeOnce(fd uintptr) bool {
	for len(s.buf) > 0 {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&s.buf[0])), uintptr(len(s.buf)))
		if e == syscall.EINTR {
			continue
		}
		if e == syscall.EAGAIN {
			return false // socket buffer full: wait for writability
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
	err := s.rc.Read(s.rf)
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
