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
	l              *Loop
	fd             int
	rready, wready bool  // an edge came while nobody waited
	rwait, wwait   *Task // the task waiting to read, to write
	rdl, wdl       time.Time
	rt, wt         timer // deadline timers, in the heap while armed
	closed         bool
	// drained: the last read got less than it asked for, so the socket is
	// empty and the next read can wait at once instead of failing with
	// EAGAIN first. Not after a hang-up was reported (hup): an end of
	// stream that came with the data's edge gets no edge of its own.
	drained, hup bool
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
	f.rt = timer{f: f, idx: -1}
	f.wt = timer{f: f, idx: -1, write: true}
	l.setFD(fd, f)
	return f, nil
}

// Fd returns the descriptor (for setsockopt and the like).
func (f *FD) Fd() int { return f.fd }

func (f *FD) ready(ev uint32) {
	if ev&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		f.hup = true
	}
	if ev&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		if t := f.rwait; t != nil {
			f.rwait = nil
			f.l.ready(t, wakeReady)
		} else {
			f.rready = true
		}
	}
	if ev&(syscall.EPOLLOUT|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		if t := f.wwait; t != nil {
			f.wwait = nil
			f.l.ready(t, wakeReady)
		} else {
			f.wready = true
		}
	}
}

// wait suspends t until the socket is ready in one direction, its deadline
// passes, or it is closed. An edge that came while nobody waited is used up
// at once (the caller retries its system call).
func (f *FD) wait(t *Task, write bool) error {
	if f.closed {
		return net.ErrClosed
	}
	rdy, waiter := &f.rready, &f.rwait
	if write {
		rdy, waiter = &f.wready, &f.wwait
	}
	if *rdy {
		*rdy = false
		return nil
	}
	if dl := f.deadline(write); !dl.IsZero() && !dl.After(time.Now()) {
		return os.ErrDeadlineExceeded
	}
	*waiter = t
	f.armTimer(write)
	why, err := t.suspend()
	if err != nil {
		*waiter = nil
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

func (f *FD) deadline(write bool) time.Time {
	if write {
		return f.wdl
	}
	return f.rdl
}

// armTimer makes sure the deadline timer of a wait in one direction fires
// no later than the deadline. Timers are lazy: a wait that ends otherwise
// leaves its timer in the heap, and a timer that fires early (the deadline
// moved on) is pushed again, so the common wait costs no heap operation.
func (f *FD) armTimer(write bool) {
	tm := &f.rt
	if write {
		tm = &f.wt
	}
	dl := f.deadline(write)
	if dl.IsZero() {
		return
	}
	switch {
	case tm.idx < 0:
		tm.when = dl
		heap.Push(&f.l.timers, tm)
	case dl.Before(tm.when):
		tm.when = dl
		heap.Fix(&f.l.timers, tm.idx)
	}
}

// timerFired handles a popped deadline timer.
func (f *FD) timerFired(write bool, now time.Time) {
	if f.closed {
		return
	}
	waiter := &f.rwait
	if write {
		waiter = &f.wwait
	}
	dl := f.deadline(write)
	if *waiter == nil || dl.IsZero() {
		return // nobody waits, or no deadline any more: the next wait re-arms
	}
	if dl.After(now) {
		f.armTimer(write) // fired early: the deadline moved on
		return
	}
	t := *waiter
	*waiter = nil
	f.l.ready(t, wakeDeadline)
}

// SetReadDeadline sets when reads (and a read waiting now) fail with
// os.ErrDeadlineExceeded; zero means never.
func (f *FD) SetReadDeadline(d time.Time) {
	f.rdl = d
	f.deadlineChanged(false)
}

// SetWriteDeadline is SetReadDeadline for writes.
func (f *FD) SetWriteDeadline(d time.Time) {
	f.wdl = d
	f.deadlineChanged(true)
}

// deadlineChanged applies a new deadline to a wait in progress.
func (f *FD) deadlineChanged(write bool) {
	waiter := f.rwait
	if write {
		waiter = f.wwait
	}
	if waiter == nil || f.closed {
		return
	}
	if dl := f.deadline(write); !dl.IsZero() && !dl.After(time.Now()) {
		f.timerFired(write, time.Now())
		return
	}
	f.armTimer(write)
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
		// Any edge since the short read was kept (rready), so waiting
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
	for _, tm := range []*timer{&f.rt, &f.wt} {
		if tm.idx >= 0 {
			heap.Remove(&f.l.timers, tm.idx)
		}
	}
	if t := f.rwait; t != nil {
		f.rwait = nil
		f.l.ready(t, wakeClosed)
	}
	if t := f.wwait; t != nil {
		f.wwait = nil
		f.l.ready(t, wakeClosed)
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
