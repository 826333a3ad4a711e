//go:build linux

package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
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
