//go:build linux

package wire

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func cmdFrame(seq uint8, payload string) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

// commandsPair is a client socket and the server's Conn over it, plain TCP
// (the raw command loop) or net.Pipe (the blocking fallback).
func commandsPair(t *testing.T, plain bool) (client net.Conn, server *Conn) {
	t.Helper()
	if plain {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		return a, NewConn(b, 64)
	}
	c, s := tcpPair(t)
	return c, NewConn(s, 64)
}

// Every way commands can arrive is served, in order, by one loop: several
// in one segment, one split over two writes, one sent only after the
// answer, and one sent while the previous command is still running (the
// pipelining case a wait without a read first would lose), then the client
// closes.
func TestCommandsArrivals(t *testing.T) {
	for _, plain := range []bool{false, true} {
		name := "socket"
		if plain {
			name = "pipe"
		}
		t.Run(name, func(t *testing.T) {
			cl, srv := commandsPair(t, plain)
			answers := make(chan string, 16)
			go func() {
				defer cl.Close()
				w := func(b []byte) bool { _, err := cl.Write(b); return err == nil }
				read := func() string {
					var h [4]byte
					if _, err := io.ReadFull(cl, h[:]); err != nil {
						return "read: " + err.Error()
					}
					p := make([]byte, int(h[0]))
					if _, err := io.ReadFull(cl, p); err != nil {
						return "read: " + err.Error()
					}
					return string(p)
				}
				// Two commands in one write.
				if !w(append(cmdFrame(0, "a"), cmdFrame(0, "b")...)) {
					return
				}
				answers <- read()
				answers <- read()
				// One split over two writes.
				f := cmdFrame(0, "split")
				if !w(f[:3]) {
					return
				}
				time.Sleep(20 * time.Millisecond)
				if !w(f[3:]) {
					return
				}
				answers <- read()
				// "slow" runs for a while; "next" arrives meanwhile (not
				// over net.Pipe, whose writes wait for the reader).
				if !w(cmdFrame(0, "slow")) {
					return
				}
				if plain {
					answers <- read()
					if !w(cmdFrame(0, "next")) {
						return
					}
					answers <- read()
					return
				}
				time.Sleep(20 * time.Millisecond)
				if !w(cmdFrame(0, "next")) {
					return
				}
				answers <- read()
				answers <- read()
			}()
			var got []string
			big, err := srv.Commands(0, func(pkt []byte) bool {
				got = append(got, string(pkt))
				if string(pkt) == "slow" {
					time.Sleep(80 * time.Millisecond)
				}
				srv.Seq = 1
				if err := srv.WritePacket(append([]byte("re:"), pkt...)); err != nil {
					t.Errorf("write: %v", err)
					return false
				}
				if err := srv.Flush(); err != nil {
					t.Errorf("flush: %v", err)
					return false
				}
				return true
			})
			if big || !errors.Is(err, io.EOF) {
				t.Fatalf("Commands ended with big=%v err=%v, want io.EOF", big, err)
			}
			want := []string{"a", "b", "split", "slow", "next"}
			if len(got) != len(want) {
				t.Fatalf("served %q, want %q", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("served %q, want %q", got, want)
				}
				if a := <-answers; a != "re:"+want[i] {
					t.Fatalf("answer %d: %q", i, a)
				}
			}
		})
	}
}

// A command larger than the read buffer is left to ReadPacket untouched; so
// is one over the limit, which ReadPacket then refuses. handle returning
// false ends the loop with the command consumed.
func TestCommandsBigAndDecline(t *testing.T) {
	cl, srv := commandsPair(t, false)
	large := string(make([]byte, 200)) // the buffer holds 64
	go func() {
		_, _ = cl.Write(cmdFrame(0, "x"))
		_, _ = cl.Write(cmdFrame(0, large))
		_, _ = cl.Write(cmdFrame(0, "stop"))
		_, _ = cl.Write(cmdFrame(0, "0123456789"))
	}()
	var got []string
	handle := func(pkt []byte) bool { got = append(got, string(pkt)); return string(pkt) != "stop" }
	big, err := srv.Commands(0, handle)
	if err != nil || !big || len(got) != 1 || got[0] != "x" {
		t.Fatalf("first loop: big=%v err=%v served %q", big, err, got)
	}
	p, err := srv.ReadPacket(0)
	if err != nil || string(p) != large {
		t.Fatalf("big command: %d bytes, %v", len(p), err)
	}
	big, err = srv.Commands(0, handle)
	if err != nil || big || len(got) != 2 || got[1] != "stop" {
		t.Fatalf("second loop: big=%v err=%v served %q", big, err, got)
	}
	big, err = srv.Commands(5, handle)
	if err != nil || !big {
		t.Fatalf("over the limit: big=%v err=%v", big, err)
	}
	if _, err := srv.ReadPacket(5); !errors.Is(err, ErrPacketTooLarge) {
		t.Fatalf("ReadPacket over the limit: %v", err)
	}
}

// Waiting for a command ends on the read deadline, and on Close from
// another goroutine, with the errors a plain read gives.
func TestCommandsDeadlineAndClose(t *testing.T) {
	_, srv := commandsPair(t, false)
	_ = srv.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	never := func([]byte) bool { t.Error("no command was sent"); return false }
	if _, err := srv.Commands(0, never); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	_ = srv.SetReadDeadline(time.Time{})
	go func() {
		time.Sleep(30 * time.Millisecond)
		_ = srv.Close()
	}()
	if _, err := srv.Commands(0, never); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("close: %v", err)
	}
}

// A handler that reads the client, which it must not, gets an error at
// once when nothing is there instead of blocking the loop.
func TestCommandsReadInsideFails(t *testing.T) {
	cl, srv := commandsPair(t, false)
	_, _ = cl.Write(cmdFrame(0, "q"))
	var readErr error
	_, err := srv.Commands(0, func([]byte) bool {
		_, readErr = srv.ReadPacket(0)
		return false
	})
	if err != nil || !errors.Is(readErr, errWouldBlock) {
		t.Fatalf("loop err %v, read inside: %v", err, readErr)
	}
}

// FuzzCommandLoop: whatever bytes a client sends, in whatever pieces, the
// command loop (with ReadPacket for what it leaves, as Session.run does)
// yields exactly the packets the framing defines, in order, and ends on
// EOF. The read buffer is 64 bytes, so big packets take the other path.
func FuzzCommandLoop(f *testing.F) {
	f.Add(append(cmdFrame(0, "select 1"), cmdFrame(0, "x")...), []byte{3, 1, 200})
	f.Add(cmdFrame(0, string(make([]byte, 100))), []byte{5})
	f.Add([]byte{0, 0, 0, 0, 2, 0, 0, 0, 'h'}, []byte{1, 1, 1})
	f.Add([]byte{1, 0}, []byte{})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		if len(data) > 4096 {
			return
		}
		// The packets the framing defines (frames of MaxPayload cannot
		// occur in 4 KB), and whether data ends inside one.
		var want [][]byte
		for rest := data; ; {
			if len(rest) < 4 {
				break
			}
			n := int(rest[0]) | int(rest[1])<<8 | int(rest[2])<<16
			if len(rest) < 4+n {
				break
			}
			want = append(want, rest[4:4+n])
			rest = rest[4+n:]
		}
		cl, srv := commandsPair(t, false)
		go func() {
			defer cl.Close()
			rest := data
			for _, c := range cuts {
				if len(rest) == 0 {
					break
				}
				k := min(int(c)+1, len(rest))
				if _, err := cl.Write(rest[:k]); err != nil {
					return
				}
				rest = rest[k:]
			}
			_, _ = cl.Write(rest)
		}()
		var got [][]byte
		keep := func(p []byte) bool { got = append(got, append([]byte(nil), p...)); return true }
		var err error
		for {
			var big bool
			big, err = srv.Commands(0, keep)
			if err != nil || !big {
				break
			}
			var p []byte
			if p, err = srv.ReadPacket(0); err != nil {
				break
			}
			keep(p)
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("loop ended with %v, want EOF", err)
		}
		if len(got) != len(want) {
			t.Fatalf("got %d packets, want %d", len(got), len(want))
		}
		for i := range want {
			if string(got[i]) != string(want[i]) {
				t.Fatalf("packet %d: %q, want %q", i, got[i], want[i])
			}
		}
	})
}

// A client that sends a command without an answer (or half a command) and
// closes at once, so the end of the stream comes with the data: the loop
// still sees the end, though no answer provokes a reset.
func TestCommandsCloseBehindData(t *testing.T) {
	for _, tail := range [][]byte{cmdFrame(0, "close-stmt"), {9, 0, 0, 0, 'h', 'a'}} {
		cl, srv := commandsPair(t, false)
		_, _ = cl.Write(append(cmdFrame(0, "a"), tail...))
		_ = cl.Close()
		time.Sleep(20 * time.Millisecond) // data and FIN are queued before the loop starts
		done := make(chan error, 1)
		go func() {
			_, err := srv.Commands(0, func([]byte) bool { return true })
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, io.EOF) {
				t.Fatalf("tail %q: %v, want EOF", tail, err)
			}
		case <-time.After(5 * time.Second):
			_ = srv.Close()
			t.Fatalf("tail %q: the loop did not see the end of the stream", tail)
		}
	}
}
