//go:build linux

package evloop

import (
	"container/heap"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// FD is a non-blocking socket registered with a loop, edge-triggered. Its
// methods run on the loop goroutine (from a task, or a function given to
// Post). One task may read while another writes.
type FD struct {
	l      *Loop
	fd     int
	r, w   side // reading, writing
	closed bool
	// drained: the last read got less than it asked for, so the socket is
	// empty and the next read can wait at once instead of failing with
	// EAGAIN first. Not after a hang-up was reported (hup): an end of
	// stream that came with the data's edge gets no edge of its own.
	drained, hup bool
}

// side is one direction of an FD.
type side struct {
	ready bool      // an edge came while nobody waited
	wait  *Task     // the task waiting
	dl    time.Time // deadline, zero for none
	tm    timer     // deadline timer, in the heap while armed
}

func (f *FD) side(write bool) *side {
	if write {
		return &f.w
	}
	return &f.r
}

// edge wakes the side's waiter, or keeps the edge for the next wait.
func (sd *side) edge(l *Loop) {
	if t := sd.wait; t != nil {
		sd.wait = nil
		l.ready(t, wakeReady)
	} else {
		sd.ready = true
	}
}

// Register adds fd, a non-blocking socket, to the loop; the FD owns it from
// then on (Close closes it). On an error the caller still owns fd. Loop
// goroutine only.
func (l *Loop) Register(fd int) (*FD, error) {
	if l.closing {
		return nil, ErrLoopClosed
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | -syscall.EPOLLET, Fd: int32(fd)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return nil, fmt.Errorf("epoll_ctl add %d: %w", fd, err)
	}
	// A new registration reports the current state as one edge, so
	// readiness from before is not lost.
	f := &FD{l: l, fd: fd}
	f.r.tm = timer{f: f, idx: -1}
	f.w.tm = timer{f: f, idx: -1, write: true}
	l.setFD(fd, f)
	return f, nil
}

func (f *FD) ready(ev uint32) {
	if ev&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		f.hup = true
	}
	if ev&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		f.r.edge(f.l)
	}
	if ev&(syscall.EPOLLOUT|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		f.w.edge(f.l)
	}
}

// wait suspends t until the socket is ready in one direction, its deadline
// passes, or it is closed. An edge that came while nobody waited is used up
// at once (the caller retries its system call).
func (f *FD) wait(t *Task, write bool) error {
	if f.closed {
		return net.ErrClosed
	}
	sd := f.side(write)
	if sd.ready {
		sd.ready = false
		return nil
	}
	if !sd.dl.IsZero() && time.Until(sd.dl) <= 0 { // (monotonic only, for a deadline from time.Now)
		return os.ErrDeadlineExceeded
	}
	sd.wait = t
	f.armTimer(sd)
	why, err := t.suspend()
	if err != nil {
		sd.wait = nil
		return err
	}
	switch why {
	case wakeDeadline:
		return os.ErrDeadlineExceeded
	case wakeClosed:
		return net.ErrClosed
	}
	return nil
}

// armTimer makes sure the deadline timer of a side's wait fires no later
// than the deadline. Timers are lazy: a wait that ends otherwise leaves its
// timer in the heap, and a timer that fires early (the deadline moved on)
// is pushed again, so the common wait costs no heap operation.
func (f *FD) armTimer(sd *side) {
	tm := &sd.tm
	switch {
	case sd.dl.IsZero():
	case tm.idx < 0:
		tm.when = sd.dl
		heap.Push(&f.l.timers, tm)
	case sd.dl.Before(tm.when):
		tm.when = sd.dl
		heap.Fix(&f.l.timers, tm.idx)
	}
}

// timerFired handles a side's deadline timer, popped or due.
func (f *FD) timerFired(sd *side, now time.Time) {
	if f.closed || sd.wait == nil || sd.dl.IsZero() {
		return // nobody waits, or no deadline any more: the next wait re-arms
	}
	if sd.dl.After(now) {
		f.armTimer(sd) // fired early: the deadline moved on
		return
	}
	t := sd.wait
	sd.wait = nil
	f.l.ready(t, wakeDeadline)
}

// SetReadDeadline sets when reads (and a read waiting now) fail with
// os.ErrDeadlineExceeded; zero means never.
func (f *FD) SetReadDeadline(d time.Time) { f.setDeadline(&f.r, d) }

// SetWriteDeadline is SetReadDeadline for writes.
func (f *FD) SetWriteDeadline(d time.Time) { f.setDeadline(&f.w, d) }

// setDeadline applies a new deadline, to a wait in progress too.
func (f *FD) setDeadline(sd *side, d time.Time) {
	sd.dl = d
	if sd.wait == nil || f.closed {
		return
	}
	if now := time.Now(); !d.IsZero() && !d.After(now) {
		f.timerFired(sd, now)
		return
	}
	f.armTimer(sd)
}

// SetDeadline sets both deadlines.
func (f *FD) SetDeadline(d time.Time) {
	f.SetReadDeadline(d)
	f.SetWriteDeadline(d)
}

// Read reads what the socket has, waiting until it has something. It
// returns io.EOF at the end of the stream.
func (f *FD) Read(t *Task, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if f.drained {
		// Any edge since the short read was kept (side.ready), so waiting
		// first loses nothing.
		f.drained = false
		if err := f.wait(t, false); err != nil {
			return 0, err
		}
	}
	for {
		// Deadlines are checked when a read would wait (as in wait), not
		// before each call: data already there is returned.
		if f.closed {
			return 0, net.ErrClosed
		}
		r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(f.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
		switch e {
		case 0:
			if r == 0 {
				return 0, io.EOF
			}
			f.drained = int(r) < len(p) && !f.hup
			return int(r), nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if err := f.wait(t, false); err != nil {
				return 0, err
			}
		default:
			return 0, os.NewSyscallError("recvfrom", e)
		}
	}
}

// Write writes all of p, waiting while the socket is full.
func (f *FD) Write(t *Task, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if f.closed {
			return n, net.ErrClosed
		}
		r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(f.fd), uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n), syscall.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			n += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			if err := f.wait(t, true); err != nil {
				return n, err
			}
		default:
			return n, os.NewSyscallError("sendto", e)
		}
	}
	return n, nil
}

// Close removes the socket from the loop and closes it; tasks waiting on it
// get net.ErrClosed.
func (f *FD) Close() {
	if f.closed {
		return
	}
	f.unregister()
	syscall.Close(f.fd)
}

// unregister removes the socket from the loop without closing it; the FD
// is then closed (waiters get net.ErrClosed), the descriptor is not.
func (f *FD) unregister() {
	if f.closed {
		return
	}
	f.closed = true
	_ = syscall.EpollCtl(f.l.epfd, syscall.EPOLL_CTL_DEL, f.fd, nil)
	f.l.setFD(f.fd, nil)
	for _, sd := range []*side{&f.r, &f.w} {
		if sd.tm.idx >= 0 {
			heap.Remove(&f.l.timers, sd.tm.idx)
		}
		if t := sd.wait; t != nil {
			sd.wait = nil
			f.l.ready(t, wakeClosed)
		}
	}
}

// Detach takes the descriptor of a net.Conn out of Go's netpoller: it
// returns a duplicate (non-blocking, close-on-exec) and closes c, whose
// close removes the original from the netpoller's epoll set.
func Detach(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = dupCloexec(int(fd))
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	if cl, ok := c.(io.Closer); ok {
		_ = cl.Close()
	}
	if err := syscall.SetNonblock(nfd, true); err != nil {
		syscall.Close(nfd)
		return -1, err
	}
	return nfd, nil
}

func dupCloexec(fd int) (int, error) {
	r, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if e != 0 {
		return -1, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", e)
	}
	return int(r), nil
}
