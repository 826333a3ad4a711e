// Package asynclog is a log output that never blocks the code that logs.
//
// Why: sessions on an event loop share one thread, so a log write that
// blocks (a full pipe to a stalled journald or terminal) would stall every
// session of that loop, and a goroutine that logs while holding a lock
// stalls everyone waiting for it. Writes are queued in a bounded buffer and
// written out by one goroutine; when the buffer is full, whole writes (one
// slog record each) are dropped and counted, and the count is written once
// the output moves again.
package asynclog

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Writer queues writes for an underlying io.Writer.
type Writer struct {
	out  io.Writer
	max  int
	wake chan struct{}
	done chan struct{}

	mu      sync.Mutex
	buf     []byte // queued, not yet written
	dropped int    // writes dropped since the last report
	closed  bool   // Close called: no more wake-ups
	exited  bool   // the goroutine wrote its last: writes go straight out
}

// New returns a Writer that queues up to max bytes for out. Close stops it.
func New(out io.Writer, max int) *Writer {
	w := &Writer{out: out, max: max, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go w.run()
	return w
}

// Write queues p (a copy) and returns at once. When the queue is full, p is
// dropped; Write still reports success, as a logger has nothing better to
// do with an error. Once Close has written out the queue, writes go
// straight to the output (in order, never two at once).
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.exited {
		w.mu.Unlock()
		return w.out.Write(p)
	}
	if len(w.buf)+len(p) > w.max {
		w.dropped++
	} else {
		w.buf = append(w.buf, p...)
	}
	if !w.closed { // (after Close the goroutine drains until the queue is empty)
		select { // under mu: Close closes wake under it
		case w.wake <- struct{}{}:
		default:
		}
	}
	w.mu.Unlock()
	return len(p), nil
}

// Dropped returns how many writes were dropped and not yet reported.
func (w *Writer) Dropped() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

func (w *Writer) run() {
	defer close(w.done)
	var spare []byte
	for {
		_, open := <-w.wake
		for {
			w.mu.Lock()
			chunk, dropped := w.buf, w.dropped
			if len(chunk) == 0 && dropped == 0 {
				// Set under mu with the queue seen empty: a write
				// either got in before (and was written) or goes
				// straight out.
				w.exited = !open
				w.mu.Unlock()
				break
			}
			w.buf, w.dropped = spare[:0], 0 // the two buffers take turns
			w.mu.Unlock()
			if len(chunk) > 0 {
				_, _ = w.out.Write(chunk)
			}
			if dropped > 0 {
				fmt.Fprintf(w.out, "switchyard: %d log records dropped: the log output did not keep up\n", dropped)
			}
			spare = nil
			if cap(chunk) <= 2*w.max {
				spare = chunk
			}
		}
		if !open {
			return
		}
	}
}

// Close writes out what is queued, waiting at most timeout for a blocked
// output, and stops the writer's goroutine (once the output moves, if it is
// blocked; until then later writes still queue). Records still queued when
// the process dies are lost: a crash's own report goes to stderr directly.
func (w *Writer) Close(timeout time.Duration) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	close(w.wake)
	w.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.done:
	case <-t.C:
	}
}
