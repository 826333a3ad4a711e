//go:build !linux

package wire

import "net"

type sockIO struct {
	net.Conn
	awaitNext bool
}

// newSockIO is Linux-only; elsewhere the net.Conn's own methods are used.
func newSockIO(net.Conn) *sockIO { return nil }
