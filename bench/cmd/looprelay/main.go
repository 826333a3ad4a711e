//go:build linux

// Command looprelay is gorelay on event loops (package evloop): the same
// plain L4 relay, but every connection's two directions run as tasks on
// one loop per CPU (a locked thread with its own epoll set) instead of
// goroutines on Go's netpoller. Set against gorelay and HAProxy in one
// rotation, it shows what the loop model gains on the machine before any
// session runs on it:
//
//	go build -o /tmp/looprelay ./bench/cmd/looprelay
//	make bench BENCH_FLAGS="--b /tmp/looprelay --workloads oltp_point_select --skip-extras"
//
// Invocation, backends and spreading are gorelay's (run --config FILE;
// round-robin over every node but the first). LOOPRELAY_LOOPS sets the
// number of loops (default: one per CPU).
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"github.com/switchyard/switchyard/bench/internal/relayrun"
	"github.com/switchyard/switchyard/evloop"
)

func main() {
	listen, backends, err := relayrun.Config("looprelay", os.Args[1:])
	if errors.Is(err, relayrun.ErrUsage) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err != nil {
		fail(err)
	}
	n := runtime.NumCPU()
	if v, err := strconv.Atoi(os.Getenv("LOOPRELAY_LOOPS")); err == nil && v > 0 {
		n = v
	}
	loops, err := startLoops(context.Background(), n)
	if err != nil {
		fail(err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fail(err)
	}
	fail(serve(ln, backends, loops))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "looprelay:", err)
	os.Exit(1)
}

func startLoops(ctx context.Context, n int) ([]*evloop.Loop, error) {
	loops := make([]*evloop.Loop, n)
	for i := range loops {
		l, err := evloop.New()
		if err != nil {
			return nil, err
		}
		loops[i] = l
		go func() { _ = l.Run(ctx) }()
	}
	return loops, nil
}

// serve accepts clients, dials a backend for each (round-robin) and hands
// the pair to the loops in turn.
func serve(ln net.Listener, backends []string, loops []*evloop.Loop) error {
	for i := 0; ; i++ {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			if err := handoff(c, backends[i%len(backends)], loops[i%len(loops)]); err != nil {
				fmt.Fprintln(os.Stderr, "looprelay:", err)
			}
		}()
	}
}

func handoff(c net.Conn, backend string, l *evloop.Loop) error {
	s, err := net.Dial("tcp", backend)
	if err != nil {
		c.Close()
		return err
	}
	cfd, err := evloop.Detach(c.(*net.TCPConn))
	if err != nil {
		c.Close()
		s.Close()
		return err
	}
	sfd, err := evloop.Detach(s.(*net.TCPConn))
	if err != nil {
		syscall.Close(cfd)
		s.Close()
		return err
	}
	if !l.Go(func(t *evloop.Task) { relay(t, cfd, sfd) }) {
		syscall.Close(cfd)
		syscall.Close(sfd)
	}
	return nil
}

// relay copies both ways, one task per direction; either side ending closes
// both.
func relay(t *evloop.Task, cfd, sfd int) {
	l := t.Loop()
	cf, err := l.Register(cfd)
	if err != nil {
		syscall.Close(cfd)
		syscall.Close(sfd)
		return
	}
	sf, err := l.Register(sfd)
	if err != nil {
		cf.Close()
		syscall.Close(sfd)
		return
	}
	t.Go(func(t *evloop.Task) { pipe(t, sf, cf) })
	pipe(t, cf, sf)
}

func pipe(t *evloop.Task, src, dst *evloop.FD) {
	defer src.Close()
	defer dst.Close()
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(t, buf)
		if err != nil {
			return
		}
		if _, err := dst.Write(t, buf[:n]); err != nil {
			return
		}
	}
}
