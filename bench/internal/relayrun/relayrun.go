// Package relayrun is what the bench's plain L4 relays (cmd/gorelay,
// cmd/looprelay) share: the harness's invocation, and an echo backend for
// their tests.
package relayrun

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/switchyard/switchyard/config"
)

// ErrUsage is Config's error for an invocation that is not run --config.
var ErrUsage = errors.New("usage: run --config FILE")

// Config reads the harness's invocation (args: run --config FILE): the
// address to listen on and the backends, every node but the first (the
// harness lists the master first, so only read-only workloads fit).
func Config(prog string, args []string) (listen string, backends []string, err error) {
	if len(args) < 1 || args[0] != "run" {
		return "", nil, fmt.Errorf("%s: %w", prog, ErrUsage)
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	path := fs.String("config", "switchyard.yaml", "Switchyard configuration (listen and nodes are used)")
	if err := fs.Parse(args[1:]); err != nil {
		return "", nil, err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return "", nil, err
	}
	for _, n := range cfg.Nodes[1:] {
		backends = append(backends, n.Address)
	}
	if len(backends) == 0 {
		return "", nil, fmt.Errorf("the config needs a second node")
	}
	return cfg.Listen, backends, nil
}

// EchoBackend listens on loopback and echoes what its one connection sends;
// closed is closed once that connection has ended (the relay closed it).
// The listener closes with the test.
func EchoBackend(t testing.TB) (addr string, closed <-chan struct{}) {
	t.Helper()
	be, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	done := make(chan struct{})
	go func() {
		c, err := be.Accept()
		if err != nil {
			return
		}
		_, _ = io.Copy(c, c) // echo until the relay closes us
		c.Close()
		close(done)
	}()
	return be.Addr().String(), done
}
