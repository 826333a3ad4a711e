//go:build linux

package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- nil
			return
		}
		done <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-done
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestSockIOOnlyForSockets(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if newSockIO(a) != nil {
		t.Fatal("net.Pipe got the raw path")
	}
	c, _ := tcpPair(t)
	if newSockIO(c) == nil {
		t.Fatal("TCP conn did not get the raw path")
	}
}

// A payload far larger than the socket buffers forces partial writes and
// waits for writability on one side and readability on the other.
func TestSockIOLargeTransfer(t *testing.T) {
	c, s := tcpPair(t)
	w, r := newSockIO(c), newSockIO(s)
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	errc := make(chan error, 1)
	go func() {
		n, err := w.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		errc <- err
	}()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("data differs")
	}
}

func TestSockIOEOFAndDeadlineAndClose(t *testing.T) {
	c, s := tcpPair(t)
	r := newSockIO(s)

	// Deadline: a timeout as net.Conn reports it.
	_ = s.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := r.Read(make([]byte, 10))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past deadline: %v", err)
	}
	_ = s.SetReadDeadline(time.Time{})

	// Data then EOF.
	go func() { _, _ = c.Write([]byte("hi")); c.Close() }()
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "hi" {
		t.Fatalf("read %q, %v", b, err)
	}

	// Close from another goroutine wakes a blocked reader with net.ErrClosed.
	c2, s2 := tcpPair(t)
	_ = c2
	r2 := newSockIO(s2)
	go func() { time.Sleep(50 * time.Millisecond); s2.Close() }()
	if _, err := r2.Read(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on a closed conn: %v", err)
	}
	if _, err := r2.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write on a closed conn: %v", err)
	}
}

func TestSockIOWriteToResetPeer(t *testing.T) {
	c, s := tcpPair(t)
	w := newSockIO(c)
	// Closing with unread data makes the peer send RST.
	_, _ = w.Write([]byte("unread"))
	time.Sleep(20 * time.Millisecond)
	s.(*net.TCPConn).SetLinger(0)
	s.Close()
	time.Sleep(20 * time.Millisecond)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = w.Write(make([]byte, 64<<10))
	}
	var oe *net.OpError
	if err == nil || !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("write to a reset peer: %v", err)
	}
}

func TestSockIOUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c) // echo
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rw := newSockIO(c)
	if rw == nil {
		t.Fatal("unix conn did not get the raw path")
	}
	if _, err := rw.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(rw, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo %q, %v", got, err)
	}
}

// FlushRequest returns once the answer can be read: the read that follows
// gets it at once, with no wait.
func TestFlushRequestAwaitsAnswer(t *testing.T) {
	c, s := tcpPair(t)
	conn := NewConn(c, 0)
	go func() {
		req := make([]byte, 9)
		if _, err := io.ReadFull(s, req); err != nil {
			return
		}
		time.Sleep(30 * time.Millisecond)
		_, _ = s.Write([]byte{3, 0, 0, 1, 'o', 'k', '!'})
	}()
	if err := conn.WritePacket([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := conn.FlushRequest(); err != nil {
		t.Fatal(err)
	}
	// The answer is already in the socket: a non-blocking peek finds it.
	var b [16]byte
	n, _, err := syscall.Recvfrom(sysFD(t, c), b[:], syscall.MSG_DONTWAIT|syscall.MSG_PEEK)
	if err != nil || n != 7 {
		t.Fatalf("after FlushRequest the answer is not readable: n=%d err=%v", n, err)
	}
	p, err := conn.ReadPacket(0)
	if err != nil || string(p) != "ok!" {
		t.Fatalf("answer %q, %v", p, err)
	}
}

// A server that said something and closed before the request (KILL,
// wait_timeout) must not leave FlushRequest waiting: the request provokes a
// reset, which wakes it, and the read gets what the server said.
func TestFlushRequestServerClosedBefore(t *testing.T) {
	c, s := tcpPair(t)
	conn := NewConn(c, 0)
	_, _ = s.Write([]byte{4, 0, 0, 0, 0xff, 'b', 'y', 'e'})
	s.Close()
	time.Sleep(50 * time.Millisecond) // both arrive and their readiness is consumed
	done := make(chan error, 1)
	go func() {
		if err := conn.WritePacket([]byte{3}); err != nil {
			done <- err
			return
		}
		done <- conn.FlushRequest()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("FlushRequest hung on a closed server")
	}
	p, err := conn.ReadPacket(0)
	if err != nil || string(p) != "\xffbye" {
		t.Fatalf("read %q, %v", p, err)
	}
}

// A request larger than the socket buffers is written in full (the partial
// write path) and the answer read.
func TestFlushRequestLarge(t *testing.T) {
	c, s := tcpPair(t)
	conn := NewConn(c, 0)
	big := bytes.Repeat([]byte{'x'}, 8<<20)
	go func() {
		sc := NewConn(s, 0)
		p, err := sc.ReadPacket(0)
		if err != nil {
			return
		}
		sc.Seq = 1
		_ = sc.WritePacket([]byte{byte(len(p) >> 20)})
		_ = sc.Flush()
	}()
	if err := conn.WritePacket(big); err != nil {
		t.Fatal(err)
	}
	if err := conn.FlushRequest(); err != nil {
		t.Fatal(err)
	}
	p, err := conn.ReadPacket(0)
	if err != nil || len(p) != 1 || p[0] != 8 {
		t.Fatalf("answer %v, %v", p, err)
	}
}

func sysFD(t *testing.T, c net.Conn) int {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	_ = raw.Control(func(f uintptr) { fd = int(f) })
	return fd
}
