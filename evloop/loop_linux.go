//go:build linux

// Package evloop runs tasks on event loops: one locked OS thread and one
// epoll instance per loop, each task a coroutine (iter.Pull) resumed by its
// loop when the socket it waits on is ready. Code in a task reads like
// blocking code; the loop thread runs it directly, without Go's scheduler
// or netpoller in between.
//
// Why: on the 2-core bench machine, a Go proxy whose sessions are
// goroutines leaves the machine 7–10% idle under load (sessions wait behind
// a preempted thread holding a P while the other CPU idles), where two
// single-threaded processes splitting the same clients idle 1% and match
// HAProxy, whose threads each poll their own connections. A loop per CPU
// gives one process that shape. See bench/README.md ("Fourth look").
//
// A task must not block in any other way than through its loop (FD reads
// and writes, Task.Block): a task that parks on a channel or mutex for long
// stalls every other task of its loop. Work that may wait goes through
// Task.Block, which runs it on a goroutine and resumes the task after. A
// task that panics takes the process down, as a goroutine's panic does.
package evloop

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Supported reports whether loops can run here (Linux: yes).
const Supported = true

// ErrLoopClosed is returned by a task's waits once its loop shuts down.
var ErrLoopClosed = errors.New("evloop: loop closed")

// Loop is one event loop. Create it with New and run it with Run on a
// goroutine of its own; the other methods are safe from any goroutine
// unless they say otherwise.
type Loop struct {
	epfd int
	efd  int // eventfd: Post wakes a blocked epoll_wait

	mu       sync.Mutex
	posted   []func()
	hasPosts atomic.Bool // posted is not empty: the loop looks without locking
	notified bool        // efd written and not yet read
	stopped  bool
	failed   bool // the epoll set broke (fail): Go refuses

	// Only the loop goroutine touches these.
	runq    []*Task
	parked  []*Task  // tasks in Park
	spare   []func() // posted's previous backing array, reused
	fds     []*FD    // by descriptor
	timers  timerHeap
	tasks   int
	closing bool
	raw     bool // Options.RawWait
	dozing  bool // raw, but idle: waits go through the runtime until events come
}

// Options tune a loop.
type Options struct {
	// RawWait makes even a blocking epoll_pwait a raw system call: the
	// loop keeps its P while it waits, so the runtime never hands the P
	// to another thread (sysmon does that to a P in a system call after
	// 20 µs, waking a thread that finds nothing to do, and keeps ticking
	// every 20 µs while one is). The P is lost to other goroutines: give
	// the process one more P than raw loops (GOMAXPROCS). The runtime
	// still stops the loop for GC and preemption: its signal ends the wait
	// (EINTR) and the loop goes back through Go code.
	RawWait bool
}

// New creates a loop with default options; Run starts it.
func New() (*Loop, error) { return NewWithOptions(Options{}) }

// NewWithOptions creates a loop; Run starts it.
func NewWithOptions(o Options) (*Loop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	r, _, e := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if e != 0 {
		syscall.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", e)
	}
	l := &Loop{epfd: epfd, efd: int(r), raw: o.RawWait}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(l.efd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, l.efd, &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(l.efd)
		return nil, fmt.Errorf("epoll_ctl eventfd: %w", err)
	}
	return l, nil
}

// Post runs fn on the loop goroutine. It reports false (and drops fn) once
// the loop has stopped.
func (l *Loop) Post(fn func()) bool {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return false
	}
	l.posted = append(l.posted, fn)
	l.hasPosts.Store(true)
	wake := !l.notified
	l.notified = true
	l.mu.Unlock()
	if wake {
		one := uint64(1)
		for {
			_, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(l.efd), uintptr(unsafe.Pointer(&one)), 8)
			if e != syscall.EINTR {
				break
			}
		}
	}
	return true
}

// Stopped reports whether the loop has stopped taking tasks and posts (it
// shut down, or its epoll set broke).
func (l *Loop) Stopped() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopped || l.failed
}

// Go starts fn as a task on the loop. It reports false once the loop has
// stopped.
func (l *Loop) Go(fn func(t *Task)) bool {
	if l.Stopped() {
		return false
	}
	return l.Post(func() { l.spawn(fn) })
}

// Run runs the loop on the calling goroutine, locked to its thread, until
// ctx is done and every task has returned. When ctx is done, every
// registered FD is closed (their waiters get net.ErrClosed) so the tasks
// can finish; tasks inside Task.Block finish when their work does.
func (l *Loop) Run(ctx context.Context) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer l.shutdown()
	stop := context.AfterFunc(ctx, func() { l.Post(func() {}) })
	defer stop()
	events := make([]syscall.EpollEvent, 256)
	for {
		if ctx.Err() != nil && !l.closing {
			l.closing = true
			l.closeAll()
			l.wakeParked()
		}
		l.runPosted()
		l.runReady()
		if l.closing && l.tasks == 0 && len(l.runq) == 0 && l.stopIfIdle() {
			return nil
		}
		timeout := -1
		if len(l.runq) > 0 || l.hasPosted() {
			timeout = 0
		} else if len(l.timers) > 0 {
			d := time.Until(l.timers[0].when)
			if d <= 0 {
				timeout = 0
			} else {
				// Rounded up, and at most an hour: the kernel takes an int.
				timeout = int((min(d, time.Hour) + time.Millisecond - 1) / time.Millisecond)
			}
		}
		n, err := l.wait(events, timeout)
		if err != nil {
			return l.fail(err)
		}
		for i := range n {
			ev := &events[i]
			fd := int(ev.Fd)
			if fd == l.efd {
				l.drainEventfd()
				continue
			}
			if fd < len(l.fds) {
				if f := l.fds[fd]; f != nil {
					f.ready(ev.Events)
				}
			}
		}
		// time.Until of a deadline from time.Now (which carries the
		// monotonic reading) reads only the monotonic clock: the full
		// reading is taken when a timer is due.
		if len(l.timers) > 0 && time.Until(l.timers[0].when) <= 0 {
			l.expire(time.Now())
		}
	}
}

// fail ends a loop whose epoll set broke (it should not happen: only a bad
// descriptor or argument fails epoll_pwait): every FD is closed, so the
// tasks waiting on sockets get net.ErrClosed, and the loop goes on running
// tasks and posts, polling every millisecond, until all tasks are done.
// Sessions end instead of hanging.
func (l *Loop) fail(err error) error {
	err = fmt.Errorf("epoll_pwait: %w", err)
	l.mu.Lock()
	l.failed = true // no new tasks; posts still run (Block resumes through them)
	l.mu.Unlock()
	l.closing = true
	l.closeAll()
	l.wakeParked()
	for {
		l.runPosted()
		l.runReady()
		if l.tasks == 0 && len(l.runq) == 0 && l.stopIfIdle() {
			return err
		}
		if len(l.runq) == 0 && !l.hasPosted() {
			time.Sleep(time.Millisecond)
		}
	}
}

// wait is epoll_pwait. A wait that may block goes through the runtime's
// syscall path, so the P is handed to other goroutines meanwhile, unless
// RawWait; a poll with no timeout stays raw (it returns at once).
func (l *Loop) wait(events []syscall.EpollEvent, timeout int) (int, error) {
	for {
		var r uintptr
		var e syscall.Errno
		p := uintptr(unsafe.Pointer(&events[0]))
		raw := timeout == 0 || (l.raw && !l.dozing)
		if raw {
			r, _, e = syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.epfd), p, uintptr(len(events)), uintptr(timeout), 0, 0)
		} else {
			r, _, e = syscall.Syscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.epfd), p, uintptr(len(events)), uintptr(timeout), 0, 0)
		}
		if e == syscall.EINTR {
			if raw && timeout != 0 {
				// Likely the runtime's preemption signal: back through
				// Run's loop, whose calls let it stop this goroutine. The
				// runtime preempts a goroutine after 10 ms, so the loop has
				// most likely been idle that long: it dozes, waiting
				// through the runtime (no signal every 10 ms, the P free)
				// until a wait returns events.
				l.dozing = true
			}
			if timeout != 0 {
				// Back to Run, which recomputes the timeout: a retry
				// with the old one would push deadlines back.
				return 0, nil
			}
			continue
		}
		if e != 0 {
			return 0, e
		}
		if r > 0 {
			l.dozing = false
		}
		return int(r), nil
	}
}

func (l *Loop) drainEventfd() {
	var v uint64
	syscall.RawSyscall(syscall.SYS_READ, uintptr(l.efd), uintptr(unsafe.Pointer(&v)), 8)
	l.mu.Lock()
	l.notified = false
	l.mu.Unlock()
}

// stopIfIdle stops taking posts unless some came in meanwhile (they run
// first: a Go or Post that reported true is never dropped).
func (l *Loop) stopIfIdle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.posted) > 0 {
		return false
	}
	l.stopped = true
	return true
}

// hasPosted may miss a post under way; the wait then ends at once all the
// same: the post writes the eventfd, or finds it written and not yet read.
func (l *Loop) hasPosted() bool { return l.hasPosts.Load() }

func (l *Loop) runPosted() {
	if !l.hasPosts.Load() {
		return // the common round: no lock
	}
	l.mu.Lock()
	fns := l.posted
	l.posted = l.spare[:0]
	l.hasPosts.Store(false)
	l.mu.Unlock()
	for i, fn := range fns {
		fn()
		fns[i] = nil
	}
	l.spare = fns
}

// runReady resumes the tasks that are ready, including any that become
// ready while it runs. The queue keeps its array (no allocation per round).
func (l *Loop) runReady() {
	for i := 0; i < len(l.runq); i++ {
		t := l.runq[i]
		l.runq[i] = nil
		t.queued = false
		l.resume(t)
	}
	l.runq = l.runq[:0]
}

func (l *Loop) resume(t *Task) {
	if t.done {
		return
	}
	if _, ok := t.next(); !ok {
		t.done = true
		t.stop()
		l.tasks--
	}
}

func (l *Loop) spawn(fn func(t *Task)) {
	t := &Task{l: l, parkAt: -1}
	t.next, t.stop = iter.Pull(func(yield func(struct{}) bool) {
		t.yield = yield
		fn(t)
	})
	l.tasks++
	l.ready(t, wakeReady)
}

// ready queues t to be resumed with reason why.
func (l *Loop) ready(t *Task, why wakeReason) {
	if t.queued || t.done {
		return
	}
	t.why = why
	t.queued = true
	l.runq = append(l.runq, t)
}

func (l *Loop) expire(now time.Time) {
	for len(l.timers) > 0 && !l.timers[0].when.After(now) {
		tm := heap.Pop(&l.timers).(*timer)
		tm.f.timerFired(tm.f.side(tm.write), now)
	}
}

func (l *Loop) setFD(fd int, f *FD) {
	for fd >= len(l.fds) {
		l.fds = append(l.fds, nil)
	}
	l.fds[fd] = f
}

func (l *Loop) closeAll() {
	for _, f := range l.fds {
		if f != nil {
			f.Close()
		}
	}
}

// wakeParked ends every Park (the loop is closing).
func (l *Loop) wakeParked() {
	for _, t := range l.parked {
		l.ready(t, wakeClosed)
	}
}

func (l *Loop) shutdown() {
	l.mu.Lock()
	l.stopped = true
	l.posted = nil
	l.mu.Unlock()
	l.closeAll()
	syscall.Close(l.epfd)
	syscall.Close(l.efd)
}

type wakeReason uint8

const (
	wakeReady    wakeReason = iota // readiness, or a Block finished
	wakeDeadline                   // the wait's deadline passed
	wakeClosed                     // the FD was closed
)

// Task is a coroutine on a loop. Its methods are for the task itself.
type Task struct {
	l      *Loop
	next   func() (struct{}, bool)
	stop   func()
	yield  func(struct{}) bool
	why    wakeReason
	queued bool
	done   bool
	parkAt int // index in the loop's parked tasks, -1 when not parked
}

// Loop returns the task's loop.
func (t *Task) Loop() *Loop { return t.l }

// Go starts another task on the same loop (from a task of that loop).
func (t *Task) Go(fn func(t *Task)) { t.l.spawn(fn) }

// suspend gives the loop back until the task is made ready.
func (t *Task) suspend() (wakeReason, error) {
	if !t.yield(struct{}{}) {
		return 0, ErrLoopClosed
	}
	return t.why, nil
}

// Park suspends the task until another task of its loop calls Wake: a
// hand-off between tasks (a queue of tasks sharing a connection) without a
// channel, which would stall the loop. It fails with ErrLoopClosed once the
// loop shuts down (which wakes every parked task).
func (t *Task) Park() error {
	l := t.l
	if l.closing {
		return ErrLoopClosed
	}
	t.parkAt = len(l.parked)
	l.parked = append(l.parked, t)
	why, err := t.suspend()
	if i := t.parkAt; i >= 0 {
		last := len(l.parked) - 1
		l.parked[i] = l.parked[last]
		l.parked[i].parkAt = i
		l.parked[last] = nil
		l.parked = l.parked[:last]
		t.parkAt = -1
	}
	if err == nil && why == wakeClosed {
		err = ErrLoopClosed
	}
	return err
}

// Wake makes a task that parked (Park) ready. Only a task of the same loop
// may call it, and only for a task that is parked.
func (t *Task) Wake() { t.l.ready(t, wakeReady) }

// Block runs fn on a goroutine of its own and resumes the task when fn
// returns: for work that waits in ways the loop cannot see (a dial, a
// channel, a lock held long), without stalling the loop's other tasks.
func (t *Task) Block(fn func()) error {
	go func() {
		fn()
		// Run does not return while a task is inside Block, so this
		// Post is not refused.
		t.l.Post(func() { t.l.ready(t, wakeReady) })
	}()
	_, err := t.suspend()
	return err
}

// timer is an FD's deadline timer for one direction.
type timer struct {
	when  time.Time
	idx   int // in the heap; -1 when not
	f     *FD
	write bool
}

type timerHeap []*timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when.Before(h[j].when) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *timerHeap) Push(x any) {
	tm := x.(*timer)
	tm.idx = len(*h)
	*h = append(*h, tm)
}
func (h *timerHeap) Pop() any {
	old := *h
	tm := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	tm.idx = -1
	return tm
}
