//go:build linux

package main

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/switchyard/switchyard/bench/internal/relayrun"
)

// The relay passes bytes both ways over a loop and closes the backend side
// when the client goes.
func TestRelay(t *testing.T) {
	beAddr, closed := relayrun.EchoBackend(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	loops, err := startLoops(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close()
	go func() { _ = serve(front, []string{beAddr}, loops) }()
	cl, err := net.Dial("tcp", front.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = cl.SetDeadline(time.Now().Add(5 * time.Second))
	for i := range 50 {
		msg := make([]byte, 1+i*997)
		for j := range msg {
			msg[j] = byte(i + j)
		}
		if _, err := cl.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(cl, got); err != nil || string(got) != string(msg) {
			t.Fatalf("round %d through the relay: %v", i, err)
		}
	}
	cl.Close()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("backend connection still open after the client left")
	}
}
