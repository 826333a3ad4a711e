package asynclog

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// gate is an output that blocks until opened, like a full pipe.
type gate struct {
	open chan struct{}
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (g *gate) Write(p []byte) (int, error) {
	<-g.open
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.Write(p)
}

func (g *gate) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.String()
}

func TestWriteNeverBlocks(t *testing.T) {
	g := &gate{open: make(chan struct{})}
	w := New(g, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100 {
			fmt.Fprintf(w, "line %02d\n", i) // 8 bytes each
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Write blocked on a blocked output")
	}
	close(g.open)
	w.Close(5 * time.Second)
	// What was kept came out whole and in order, and the reports count
	// the rest.
	out := g.String()
	kept, dropped, next := 0, 0, 0
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var n, i int
		if _, err := fmt.Sscanf(l, "switchyard: %d log records dropped", &n); err == nil {
			dropped += n
			continue
		}
		if _, err := fmt.Sscanf(l, "line %d", &i); err != nil || i < next {
			t.Fatalf("line %q out of order or mangled; output %q", l, out)
		}
		next = i + 1
		kept++
	}
	if kept+dropped != 100 {
		t.Fatalf("kept %d + dropped %d != 100: %q", kept, dropped, out)
	}
	// The goroutine holds at most one chunk in the blocked write, and 64
	// bytes more fit the queue.
	if kept < 8 || kept > 16 || dropped == 0 {
		t.Fatalf("kept %d, dropped %d: want 8-16 kept and some dropped", kept, dropped)
	}
}

func TestCloseDrains(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	w := New(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), 1<<20)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				fmt.Fprintf(w, "g%d %d\n", g, i)
			}
		}()
	}
	wg.Wait()
	w.Close(5 * time.Second)
	fmt.Fprintf(w, "after close\n") // straight through
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if n := strings.Count(out, "\n"); n != 8*200+1 {
		t.Fatalf("%d lines out, want %d", n, 8*200+1)
	}
	if !strings.HasSuffix(out, "after close\n") {
		t.Fatalf("write after Close missing: %q", out[len(out)-40:])
	}
	w.Close(time.Second) // twice is fine
}

func TestCloseGivesUpOnABlockedOutput(t *testing.T) {
	g := &gate{open: make(chan struct{})}
	w := New(g, 1<<10)
	_, _ = io.WriteString(w, "stuck\n")
	start := time.Now()
	w.Close(50 * time.Millisecond)
	if time.Since(start) > 5*time.Second {
		t.Fatal("Close waited for a blocked output")
	}
	// The goroutine still holds the output: a later write queues behind
	// it (no blocking, no second writer, no reordering).
	wrote := make(chan struct{})
	go func() {
		_, _ = io.WriteString(w, "later\n")
		close(wrote)
	}()
	select {
	case <-wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("a write after Close blocked on the stuck output")
	}
	close(g.open) // the goroutine finishes once the output moves
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		t.Fatal("writer goroutine did not stop")
	}
	_, _ = io.WriteString(w, "last\n") // straight through now
	if got := g.String(); got != "stuck\nlater\nlast\n" {
		t.Fatalf("output %q", got)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
