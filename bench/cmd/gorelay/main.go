// Command gorelay is the bench's "Go floor": a plain L4 relay written the
// idiomatic Go way (one goroutine per direction, io.Copy, the standard
// netpoller), with none of Switchyard's MySQL logic. Run as the harness's
// second target it shows what Go's goroutine model costs on the machine,
// apart from anything Switchyard does:
//
//	go build -o /tmp/gorelay ./bench/cmd/gorelay
//	make bench BENCH_FLAGS="--b /tmp/gorelay --workloads oltp_point_select --skip-extras"
//
// It accepts the harness's invocation (run --config FILE), listens on the
// config's listen address and spreads clients round-robin over every node
// but the first (the harness lists the master first), so only read-only
// workloads make sense through it.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"

	"github.com/switchyard/switchyard/bench/internal/relayrun"
)

func main() {
	listen, backends, err := relayrun.Config("gorelay", os.Args[1:])
	if errors.Is(err, relayrun.ErrUsage) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gorelay:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gorelay:", err)
		os.Exit(1)
	}
	var next atomic.Uint64
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "gorelay:", err)
			os.Exit(1)
		}
		go relay(c, backends[next.Add(1)%uint64(len(backends))])
	}
}

func relay(c net.Conn, backend string) {
	defer c.Close()
	s, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer s.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(s, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, s); done <- struct{}{} }()
	<-done // either side closing ends both (the deferred Closes)
}
