//go:build linux

package evloop

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runLoop starts a loop; cancel stops it and done gets Run's result.
func runLoop(t *testing.T, o Options) (l *Loop, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	l, err := NewWithOptions(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := make(chan error, 1)
	go func() { d <- l.Run(ctx) }()
	return l, cancel, d
}

// startLoop runs a loop until the test ends and waits for Run to return.
func startLoop(t *testing.T) *Loop {
	t.Helper()
	l, cancel, done := runLoop(t, Options{})
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return l
}

// pair returns a non-blocking socket for the loop and a net.Conn for the
// test's side of it.
func pair(t *testing.T) (int, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[1]), "peer")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return fds[0], c
}

// echo registers fd and echoes what it reads until an error, which it
// sends on errc.
func echo(fd int, errc chan<- error) func(*Task) {
	return func(t *Task) {
		f, err := t.Loop().Register(fd)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(t, buf)
			if err != nil {
				errc <- err
				return
			}
			if _, err := f.Write(t, buf[:n]); err != nil {
				errc <- err
				return
			}
		}
	}
}

func TestEchoAndEOF(t *testing.T) {
	l := startLoop(t)
	fd, c := pair(t)
	// Written before the socket is registered: the first edge must come
	// from the registration itself.
	if _, err := c.Write([]byte("early")); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	l.Go(echo(fd, errc))
	got := make([]byte, 5)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "early" {
		t.Fatalf("echo of data sent before registration: %q, %v", got, err)
	}
	for i := range 100 {
		msg := bytes.Repeat([]byte{byte(i)}, 1+i*37)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		back := make([]byte, len(msg))
		if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, msg) {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	c.(interface{ CloseWrite() error }).CloseWrite()
	select {
	case err := <-errc:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("after the peer's shutdown: %v, want io.EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the task did not see the end of the stream")
	}
}

func TestReadDeadline(t *testing.T) {
	l := startLoop(t)
	fd, _ := pair(t)
	res := make(chan error, 1)
	var took time.Duration
	l.Go(func(tk *Task) {
		f, err := tk.Loop().Register(fd)
		if err != nil {
			res <- err
			return
		}
		defer f.Close()
		start := time.Now()
		f.SetReadDeadline(start.Add(50 * time.Millisecond))
		_, err = f.Read(tk, make([]byte, 10))
		took = time.Since(start)
		res <- err
	})
	select {
	case err := <-res:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read past its deadline: %v", err)
		}
		if took < 50*time.Millisecond {
			t.Fatalf("deadline fired after %v, before the 50ms set", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the deadline did not end the read")
	}
}

// A deadline set from another goroutine (through Post) wakes a waiting
// read, as KILL does to a session; Close does too, with net.ErrClosed.
func TestWakeFromOutside(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(f *FD)
		want error
	}{
		{"deadline", func(f *FD) { f.SetReadDeadline(time.Now()) }, os.ErrDeadlineExceeded},
		{"close", func(f *FD) { f.Close() }, net.ErrClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startLoop(t)
			fd, _ := pair(t)
			reg := make(chan *FD, 1)
			res := make(chan error, 1)
			l.Go(func(tk *Task) {
				f, err := tk.Loop().Register(fd)
				if err != nil {
					res <- err
					return
				}
				defer f.Close()
				f.SetReadDeadline(time.Now().Add(time.Hour))
				reg <- f
				_, err = f.Read(tk, make([]byte, 10))
				res <- err
			})
			f := <-reg
			time.Sleep(20 * time.Millisecond) // let the read wait
			l.Post(func() { tc.do(f) })
			select {
			case err := <-res:
				if !errors.Is(err, tc.want) {
					t.Fatalf("woken read: %v, want %v", err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the read was not woken")
			}
		})
	}
}

// Block runs its work off the loop: the loop's other tasks go on meanwhile.
func TestBlockDoesNotStallTheLoop(t *testing.T) {
	l := startLoop(t)
	fd, c := pair(t)
	errc := make(chan error, 1)
	l.Go(echo(fd, errc))
	release := make(chan struct{})
	blocked := make(chan time.Duration, 1)
	l.Go(func(tk *Task) {
		start := time.Now()
		_ = tk.Block(func() { <-release })
		blocked <- time.Since(start)
	})
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	for range 10 {
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 4)
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("echo while another task is inside Block: %v", err)
		}
	}
	select {
	case <-blocked:
		t.Fatal("Block returned before its work finished")
	default:
	}
	close(release)
	select {
	case <-blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("the task was not resumed after its Block work finished")
	}
}

// Writes bigger than the socket buffer wait for the reader; the bytes
// arrive whole and in order.
func TestLargeWrite(t *testing.T) {
	l := startLoop(t)
	fd, c := pair(t)
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	res := make(chan error, 1)
	l.Go(func(tk *Task) {
		f, err := tk.Loop().Register(fd)
		if err != nil {
			res <- err
			return
		}
		defer f.Close()
		n, err := f.Write(tk, data)
		if err == nil && n != len(data) {
			err = errors.New("short write")
		}
		res <- err
	})
	got := make([]byte, 0, len(data))
	buf := make([]byte, 1000) // a slow reader: the writer must wait often
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for len(got) < len(data) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("bytes changed on the way")
	}
}

// Many sockets on one loop, all talking at once.
func TestManyTasks(t *testing.T) {
	l := startLoop(t)
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		fd, c := pair(t)
		errc := make(chan error, 1)
		l.Go(echo(fd, errc))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			for j := range 200 {
				msg := bytes.Repeat([]byte{byte(i), byte(j)}, 1+j%50)
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
				back := make([]byte, len(msg))
				if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, msg) {
					errs <- errors.New("echo mismatch")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Shutting a loop down closes its sockets; the tasks see net.ErrClosed and
// Run returns once they have.
func TestShutdown(t *testing.T) {
	l, cancel, done := runLoop(t, Options{})
	errc := make(chan error, 3)
	for range 3 {
		fd, _ := pair(t)
		l.Go(echo(fd, errc))
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	for range 3 {
		select {
		case err := <-errc:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("task after shutdown: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a task did not end at shutdown")
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if l.Go(func(*Task) {}) {
		t.Fatal("Go accepted a task after the loop stopped")
	}
}

// Detach moves a TCP connection from Go's netpoller to a loop.
func TestDetachTCP(t *testing.T) {
	l := startLoop(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc := <-accepted
	fd, err := Detach(sc.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("the detached net.Conn still writes: %v", err)
	}
	errc := make(chan error, 1)
	l.Go(echo(fd, errc))
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
		t.Fatalf("echo over the detached socket: %q, %v", got, err)
	}
}

// A peer that writes and closes at once: the end of stream may come with
// the data's edge, and a read that skips its system call after a short read
// must still see it (the hang this guards against was found in wire's
// command loop).
func TestCloseBehindData(t *testing.T) {
	l := startLoop(t)
	for i := range 300 {
		fd, c := pair(t)
		res := make(chan error, 1)
		got := make(chan int, 1)
		l.Go(func(tk *Task) {
			f, err := tk.Loop().Register(fd)
			if err != nil {
				res <- err
				return
			}
			defer f.Close()
			total := 0
			buf := make([]byte, 1+i%64)
			for {
				n, err := f.Read(tk, buf)
				total += n
				if err != nil {
					got <- total
					res <- err
					return
				}
			}
		})
		msg := bytes.Repeat([]byte("x"), 1+i%200)
		if i%3 == 0 {
			time.Sleep(time.Millisecond) // sometimes registered (and waiting) first
		}
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		c.Close()
		select {
		case err := <-res:
			if !errors.Is(err, io.EOF) {
				t.Fatalf("round %d: %v, want io.EOF", i, err)
			}
			if n := <-got; n != len(msg) {
				t.Fatalf("round %d: read %d bytes, want %d", i, n, len(msg))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: the reader missed the end of stream behind the data", i)
		}
	}
}

// A raw-wait loop keeps its P while it waits; the runtime must still be able
// to stop it (GC stops the world through a signal that ends the wait), and
// its tasks work as on any loop.
func TestRawWaitStopsForGC(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	l, cancel, done := runLoop(t, Options{RawWait: true})
	time.Sleep(20 * time.Millisecond) // let it block in its wait
	gcs := make(chan struct{})
	go func() {
		for range 5 {
			runtime.GC()
		}
		close(gcs)
	}()
	select {
	case <-gcs:
	case <-time.After(20 * time.Second):
		t.Fatal("GC did not complete while a raw-wait loop was idle")
	}
	fd, c := pair(t)
	errc := make(chan error, 1)
	l.Go(echo(fd, errc))
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	for range 20 {
		if _, err := c.Write([]byte("raw")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 3)
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "raw" {
			t.Fatalf("echo on a raw-wait loop: %q, %v", got, err)
		}
		runtime.GC()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a raw-wait loop did not stop")
	}
}

// A Go that reports true runs its task even when the loop is shutting down
// at that moment (it used to be dropped now and then, and a caller waiting
// for the task hung).
func TestGoDuringShutdownIsNotLost(t *testing.T) {
	for i := range 3000 {
		l, cancel, done := runLoop(t, Options{})
		if i%2 == 0 {
			time.Sleep(time.Duration(i%5) * 10 * time.Microsecond)
		}
		ran := make(chan struct{})
		go cancel()
		if l.Go(func(*Task) { close(ran) }) {
			select {
			case <-ran:
			case <-time.After(5 * time.Second):
				t.Fatalf("round %d: Go reported true but its task never ran", i)
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// Attaching to a loop that is closing fails and leaves the descriptor to the
// Conn, which closes it once.
func TestAttachToClosingLoop(t *testing.T) {
	l, cancel, done := runLoop(t, Options{})
	fd, _ := pair(t)
	c := &Conn{fd: fd}
	res := make(chan error, 1)
	l.Go(func(tk *Task) {
		_ = tk.Block(func() {
			cancel()
			time.Sleep(20 * time.Millisecond) // the loop starts closing meanwhile
		})
		res <- c.Attach(tk)
	})
	if err := <-res; !errors.Is(err, ErrLoopClosed) {
		t.Fatalf("attach to a closing loop: %v", err)
	}
	if _, err := unixFcntl(fd); err != nil {
		t.Fatalf("the descriptor was closed by the failed attach: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close after the failed attach: %v", err)
	}
	if _, err := unixFcntl(fd); err == nil {
		t.Fatal("the descriptor is still open after Close")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func unixFcntl(fd int) (uintptr, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	if e != 0 {
		return 0, e
	}
	return r, nil
}

// A loop whose epoll set breaks ends its tasks (their sockets close) and
// returns the error, instead of leaving them suspended for ever.
func TestBrokenEpollEndsTasks(t *testing.T) {
	for _, raw := range []bool{false, true} {
		l, cancel, done := runLoop(t, Options{RawWait: raw})
		defer cancel()
		fd, _ := pair(t)
		readErr := make(chan error, 1)
		blocked := make(chan struct{})
		l.Go(func(tk *Task) {
			f, err := tk.Loop().Register(fd)
			if err != nil {
				readErr <- err
				return
			}
			close(blocked)
			_, err = f.Read(tk, make([]byte, 16))
			readErr <- err
		})
		blockDone := make(chan error, 1)
		l.Go(func(tk *Task) {
			blockDone <- tk.Block(func() { time.Sleep(50 * time.Millisecond) })
		})
		<-blocked
		var p [2]int
		if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(p[0])
		defer syscall.Close(p[1])
		// The loop's epoll descriptor becomes a pipe: the next wait fails.
		l.Post(func() {
			if err := syscall.Dup3(p[0], l.epfd, syscall.O_CLOEXEC); err != nil {
				panic(err)
			}
		})
		select {
		case err := <-readErr:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("raw=%v: read on a broken loop: %v, want net.ErrClosed", raw, err)
			}
			// Still draining (the Block sleeps on): already refusing.
			if !l.Stopped() || l.Go(func(*Task) {}) {
				t.Fatalf("raw=%v: a draining broken loop takes new tasks", raw)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("raw=%v: the reading task hangs on a broken loop", raw)
		}
		if err := <-blockDone; err != nil {
			t.Fatalf("raw=%v: Block on a broken loop: %v", raw, err)
		}
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "epoll_pwait") {
				t.Fatalf("raw=%v: Run returned %v, want the epoll_pwait error", raw, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("raw=%v: Run did not return after its tasks ended", raw)
		}
		if l.Go(func(*Task) {}) {
			t.Fatalf("raw=%v: a broken loop took a new task", raw)
		}
	}
}

// Tasks hand a turn on: each parks until the one before it wakes it, in
// order, and a parked task costs the loop nothing meanwhile (another task
// runs).
func TestParkWake(t *testing.T) {
	l := startLoop(t)
	const n = 5
	order := make(chan int, n)
	var tasks [n]*Task
	ready := make(chan struct{})
	l.Go(func(first *Task) {
		for i := range n {
			first.Go(func(t *Task) {
				tasks[i] = t
				if i == n-1 {
					close(ready)
				}
				if err := t.Park(); err != nil {
					order <- -1
					return
				}
				order <- i
				if i+1 < n {
					tasks[i+1].Wake()
				}
			})
		}
	})
	<-ready
	other := make(chan struct{})
	l.Go(func(*Task) { close(other) })
	select {
	case <-other:
	case <-time.After(5 * time.Second):
		t.Fatal("a task did not run while others were parked")
	}
	l.Post(func() { l.ready(tasks[0], wakeReady) })
	for i := range n {
		select {
		case got := <-order:
			if got != i {
				t.Fatalf("turn %d went to task %d", i, got)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("turn %d never came", i)
		}
	}
}

// A parked task that nobody wakes ends with the loop: Park fails.
func TestParkEndsWithLoop(t *testing.T) {
	l, cancel, done := runLoop(t, Options{})
	parked := make(chan error, 1)
	l.Go(func(t *Task) { parked <- t.Park() })
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-parked:
		if !errors.Is(err, ErrLoopClosed) {
			t.Fatalf("Park at shutdown: %v, want ErrLoopClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a parked task kept the loop from shutting down")
	}
	<-done
}

// WriteNow sends without taking the connection from the task reading it,
// and fails (rather than waits) when the socket cannot take the bytes.
func TestWriteNow(t *testing.T) {
	l := startLoop(t)
	fd, peer := pair(t)
	c := &Conn{fd: fd}
	read := make(chan string, 1)
	var reader *Task
	attached := make(chan struct{})
	l.Go(func(t *Task) {
		reader = t
		if err := c.Attach(t); err != nil {
			read <- err.Error()
			return
		}
		close(attached)
		buf := make([]byte, 16)
		n, err := c.Read(buf)
		if err != nil {
			read <- err.Error()
			return
		}
		read <- string(buf[:n])
	})
	<-attached
	wrote := make(chan error, 1)
	l.Go(func(t *Task) {
		err := c.WriteNow([]byte("ping"))
		if err == nil && c.t != reader {
			err = errors.New("WriteNow changed the task the connection is attached to")
		}
		wrote <- err
	})
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	_ = peer.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != "ping" {
		t.Fatalf("peer read %q, %v", got, err)
	}
	if _, err := peer.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if s := <-read; s != "pong" {
		t.Fatalf("the reading task got %q", s)
	}
	// Nobody reads the peer: the socket fills and WriteNow fails at once.
	l.Go(func(t *Task) {
		big := make([]byte, 1<<20)
		var err error
		for i := 0; i < 64 && err == nil; i++ {
			err = c.WriteNow(big)
		}
		wrote <- err
	})
	select {
	case err := <-wrote:
		if err == nil {
			t.Fatal("64 MiB went into an unread socket without an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WriteNow waited on a full socket")
	}
	l.Post(func() { _ = c.Close() })
}
