package main

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/switchyard/switchyard/bench/internal/relayrun"
)

// relay passes bytes both ways and closes the backend side when the client
// goes.
func TestRelay(t *testing.T) {
	beAddr, closed := relayrun.EchoBackend(t)
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close()
	go func() {
		c, err := front.Accept()
		if err == nil {
			relay(c, beAddr)
		}
	}()
	cl, err := net.Dial("tcp", front.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("\x05\x00\x00\x00\x03hello")
	if _, err := cl.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	_ = cl.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(cl, got); err != nil || string(got) != string(msg) {
		t.Fatalf("echo through the relay: %q, %v", got, err)
	}
	cl.Close()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("backend connection still open after the client left")
	}
}
