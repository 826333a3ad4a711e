package cluster

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// StartForTest starts a cluster for a test and stops it in t.Cleanup (which also runs when
// the test fails or panics). Without a backend it skips the test, except under CI=true where
// a missing backend is a failure. It logs the backend and the startup time.
func StartForTest(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	c, err := Start(ctx, opts)
	if err != nil {
		if errors.Is(err, ErrNoBackend) {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI=true requires a database backend: %v", err)
			}
			t.Skipf("skipping: %v", err)
		}
		t.Fatalf("starting cluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping cluster: %v", err)
		}
	})
	t.Logf("cluster backend=%s flavor=%s version=%s nodes=%d master=%s startup=%s",
		c.Backend, c.Flavor, c.Version, len(c.Nodes), c.Master().Addr(), c.StartupTime.Round(time.Millisecond))
	return c
}

// testWriter sends slog output to t.Log. The launcher logs only while one of its calls is
// in progress (never from a goroutine that outlives a call), so this cannot log after the
// test has ended.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
