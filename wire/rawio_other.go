//go:build !linux

package wire

import "net"

type sockIO struct {
	net.Conn
	awaitNext bool
}

// newSockIO never returns one here, so Commands never calls these.
func (s *sockIO) serve(func() bool) error { panic("unreachable: no sockIO off Linux") }
func (s *sockIO) mayWait() bool           { panic("unreachable: no sockIO off Linux") }

// newSockIO is Linux-only; elsewhere the net.Conn's own methods are used.
func newSockIO(net.Conn) *sockIO { return nil }
