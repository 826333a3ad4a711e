//go:build linux

package evloop

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// A Conn attached to a task reads and writes through the loop; released,
// it keeps its socket (one write without waiting works, a read fails); it
// can be attached again on another loop, and deadlines set while released
// apply once attached.
func TestConnAttachRelease(t *testing.T) {
	l1, l2 := startLoop(t), startLoop(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			acc <- c
		}
	}()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	_ = peer.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := DetachConn(<-acc)
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr().String() != peer.LocalAddr().String() {
		t.Fatalf("remote address %v, want %v", c.RemoteAddr(), peer.LocalAddr())
	}

	// Released from the start: a write goes out, a read refuses.
	if _, err := c.Write([]byte("pre")); err != nil {
		t.Fatalf("write while detached: %v", err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, ErrNotAttached) {
		t.Fatalf("read while detached: %v", err)
	}
	got := make([]byte, 3)
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != "pre" {
		t.Fatalf("peer got %q, %v", got, err)
	}

	step := func(l *Loop, fn func(tk *Task) error) error {
		res := make(chan error, 1)
		l.Go(func(tk *Task) { res <- fn(tk) })
		select {
		case err := <-res:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("task did not finish")
		}
	}
	echoOnce := func(tk *Task) error {
		if err := c.Attach(tk); err != nil {
			return err
		}
		buf := make([]byte, 16)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		_, err = c.Write(buf[:n])
		c.Release()
		return err
	}
	for i, l := range []*Loop{l1, l2, l1} {
		if _, err := peer.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if err := step(l, echoOnce); err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
		back := make([]byte, 4)
		if _, err := io.ReadFull(peer, back); err != nil || string(back) != "ping" {
			t.Fatalf("echo %d: %q, %v", i, back, err)
		}
	}

	// A deadline set while detached holds once attached.
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	err = step(l2, func(tk *Task) error {
		if err := c.Attach(tk); err != nil {
			return err
		}
		_, err := c.Read(make([]byte, 1))
		return err
	})
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after a deadline set while detached: %v", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("deadline error is not a net.Error timeout: %v", err)
	}
	if err := step(l2, func(*Task) error { return c.Close() }); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("peer after Close: %v, want EOF", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}
