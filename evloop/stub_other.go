//go:build !linux

// Package evloop runs tasks on event loops (epoll, Linux only). Elsewhere
// New fails, so a proxy configured with event loops says so at start.
package evloop

import (
	"context"
	"errors"
	"net"
	"time"
)

// Supported reports whether loops can run here (Linux only).
const Supported = false

var (
	errNotLinux = errors.New("evloop: event loops need Linux (epoll)")
	// ErrLoopClosed is returned by a task's waits once its loop shuts down.
	ErrLoopClosed = errors.New("evloop: loop closed")
	// ErrNotAttached is what a read of an unattached Conn returns.
	ErrNotAttached = errors.New("evloop: connection not attached to a task")
)

// Options tune a loop.
type Options struct{ RawWait bool }

// Loop is an event loop; none can be made off Linux.
type Loop struct{}

// Task is a coroutine on a loop.
type Task struct{}

// Conn is a socket for tasks.
type Conn struct{}

func New() (*Loop, error)                        { return nil, errNotLinux }
func NewWithOptions(Options) (*Loop, error)      { return nil, errNotLinux }
func DetachConn(net.Conn) (*Conn, error)         { return nil, errNotLinux }
func (l *Loop) Run(context.Context) error        { return errNotLinux }
func (l *Loop) Post(func()) bool                 { return false }
func (l *Loop) Go(func(*Task)) bool              { return false }
func (l *Loop) Stopped() bool                    { return true }
func (t *Task) Loop() *Loop                      { return nil }
func (t *Task) Go(func(*Task))                   {}
func (t *Task) Block(fn func()) error            { fn(); return nil }
func (t *Task) Park() error                      { return errNotLinux }
func (t *Task) Wake()                            {}
func (c *Conn) WriteNow([]byte) error            { return errNotLinux }
func (c *Conn) Attach(*Task) error               { return errNotLinux }
func (c *Conn) Release()                         {}
func (c *Conn) Read([]byte) (int, error)         { return 0, errNotLinux }
func (c *Conn) Write([]byte) (int, error)        { return 0, errNotLinux }
func (c *Conn) Close() error                     { return errNotLinux }
func (c *Conn) LocalAddr() net.Addr              { return nil }
func (c *Conn) RemoteAddr() net.Addr             { return nil }
func (c *Conn) SetDeadline(time.Time) error      { return errNotLinux }
func (c *Conn) SetReadDeadline(time.Time) error  { return errNotLinux }
func (c *Conn) SetWriteDeadline(time.Time) error { return errNotLinux }
