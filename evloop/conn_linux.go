//go:build linux

package evloop

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// ErrNotAttached is what a read of an unattached Conn returns.
var ErrNotAttached = errors.New("evloop: connection not attached to a task")

// Conn is a socket as a net.Conn for code running in tasks. Attached to a
// task (Attach), its reads and writes wait through that task's loop;
// detached (Release), it can be kept aside (a pooled backend between
// sessions): a read then fails with ErrNotAttached and a write is tried
// once without waiting, enough for a goodbye before Close. Its methods are
// for the goroutine or task that owns it; other goroutines go through the
// loop's Post.
type Conn struct {
	fd           int
	f            *FD
	t            *Task
	laddr, raddr net.Addr
	rdl, wdl     time.Time // kept while detached, applied on Attach
	closed       bool
}

// DetachConn takes c out of Go's netpoller (Detach) into a Conn.
func DetachConn(c net.Conn) (*Conn, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, errors.New("evloop: not a socket")
	}
	laddr, raddr := c.LocalAddr(), c.RemoteAddr()
	fd, err := Detach(sc)
	if err != nil {
		return nil, err
	}
	return &Conn{fd: fd, laddr: laddr, raddr: raddr}, nil
}

// Attach registers the socket with t's loop and makes t the one whose
// reads and writes wait. A Conn attached to another task of the same loop
// just changes hands.
func (c *Conn) Attach(t *Task) error {
	if c.closed {
		return net.ErrClosed
	}
	if c.f != nil && c.f.l == t.l {
		c.t = t
		return nil
	}
	if c.f != nil {
		c.Release()
	}
	f, err := t.l.Register(c.fd)
	if err != nil {
		return err
	}
	c.f, c.t = f, t
	f.SetReadDeadline(c.rdl)
	f.SetWriteDeadline(c.wdl)
	return nil
}

// Release takes the socket off its loop without closing it.
func (c *Conn) Release() {
	if c.f == nil {
		return
	}
	if c.f.closed {
		// Closed under us (the loop shut down): the descriptor is gone.
		c.closed = true
		c.f, c.t = nil, nil
		return
	}
	c.rdl, c.wdl = c.f.r.dl, c.f.w.dl
	c.f.unregister()
	c.f, c.t = nil, nil
}

func (c *Conn) Read(p []byte) (int, error) {
	if c.closed {
		return 0, c.opError("read", net.ErrClosed)
	}
	if c.f == nil {
		return 0, c.opError("read", ErrNotAttached)
	}
	n, err := c.f.Read(c.t, p)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, c.opError("read", err)
	}
	return n, err
}

func (c *Conn) Write(p []byte) (int, error) {
	if c.closed {
		return 0, c.opError("write", net.ErrClosed)
	}
	if c.f != nil {
		n, err := c.f.Write(c.t, p)
		if err != nil {
			return n, c.opError("write", err)
		}
		return n, nil
	}
	// Detached: one try, no wait.
	if len(p) == 0 {
		return 0, nil
	}
	r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(c.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), syscall.MSG_NOSIGNAL|syscall.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return 0, c.opError("write", os.NewSyscallError("sendto", e))
	}
	if int(r) < len(p) {
		return int(r), c.opError("write", errors.New("short write on a detached connection"))
	}
	return int(r), nil
}

// WriteNow writes all of p at once or fails: one send that does not wait,
// whoever the connection is attached to (a task that shares the connection
// writes its request without taking the connection from the task reading
// it). A short write is an error: the stream is then broken.
func (c *Conn) WriteNow(p []byte) error {
	if c.closed {
		return c.opError("write", net.ErrClosed)
	}
	for len(p) > 0 {
		r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(c.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), syscall.MSG_NOSIGNAL|syscall.MSG_DONTWAIT, 0, 0)
		switch {
		case e == syscall.EINTR:
			continue
		case e != 0:
			return c.opError("write", os.NewSyscallError("sendto", e))
		case int(r) < len(p):
			return c.opError("write", errors.New("short write (socket full)"))
		}
		return nil
	}
	return nil
}

// Close closes the socket (through its loop when attached).
func (c *Conn) Close() error {
	if c.closed {
		return c.opError("close", net.ErrClosed)
	}
	c.closed = true
	if c.f != nil {
		c.f.Close()
		c.f, c.t = nil, nil
		return nil
	}
	return syscall.Close(c.fd)
}

func (c *Conn) LocalAddr() net.Addr  { return c.laddr }
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

func (c *Conn) SetDeadline(d time.Time) error {
	_ = c.SetReadDeadline(d)
	return c.SetWriteDeadline(d)
}

func (c *Conn) SetReadDeadline(d time.Time) error {
	if c.f != nil {
		c.f.SetReadDeadline(d)
	} else {
		c.rdl = d
	}
	return nil
}

func (c *Conn) SetWriteDeadline(d time.Time) error {
	if c.f != nil {
		c.f.SetWriteDeadline(d)
	} else {
		c.wdl = d
	}
	return nil
}

// opError shapes errors as net.Conn's do, so callers' checks (net.ErrClosed,
// os.ErrDeadlineExceeded, net.Error timeouts) hold.
func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.laddr, Addr: c.raddr, Err: err}
}
