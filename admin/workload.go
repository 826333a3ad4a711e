package admin

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// opTimeout bounds one workload statement: longer than any write hold.
const opTimeout = 30 * time.Second

// workload is a drill's verification load: each session inserts numbered
// rows through the proxy and reads each one back right away (the
// read-your-writes promise), recording what it was told.
type workload struct {
	run    string
	o      DrillOptions
	dbs    []*sql.DB
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	acks  []ack
	errs  []opErr
	reads int
	stale int
	// longestRead: slowest read-back
	longestRead time.Duration
	stopped     time.Time
}

type ack struct {
	writer, seq int
	start, end  time.Time
}

type opErr struct {
	at    time.Time
	write bool
	msg   string
}

func startWorkload(ctx context.Context, o DrillOptions, say func(string, ...any)) (*workload, error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	wl := &workload{run: time.Now().Format("20060102T150405") + "-" + hex.EncodeToString(b), o: o}
	setup, err := openDirect(o.ProxyAddr, o.User, o.Password, "")
	if err != nil {
		return nil, err
	}
	defer setup.Close()
	sctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS `" + o.Database + "`",
		"CREATE TABLE IF NOT EXISTS `" + o.Database + "`.drill_writes (run VARCHAR(40) NOT NULL, writer INT NOT NULL, " +
			"seq INT NOT NULL, at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (run, writer, seq))",
	} {
		if _, err := setup.ExecContext(sctx, q); err != nil {
			return nil, fmt.Errorf("through the proxy: %s: %w", q, err)
		}
	}
	wctx, wcancel := context.WithCancel(ctx)
	wl.cancel = wcancel
	for i := range o.Writers {
		db, err := openDirect(o.ProxyAddr, o.User, o.Password, o.Database)
		if err != nil {
			wcancel()
			wl.closeAll()
			return nil, err
		}
		db.SetMaxOpenConns(1) // one session: read-your-writes is per session
		db.SetMaxIdleConns(1)
		wl.dbs = append(wl.dbs, db)
		wl.wg.Add(1)
		go func() {
			defer wl.wg.Done()
			wl.writer(wctx, i, db)
		}()
	}
	return wl, nil
}

func (wl *workload) writer(ctx context.Context, id int, db *sql.DB) {
	for seq := 1; ctx.Err() == nil; seq++ {
		start := time.Now()
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		_, err := db.ExecContext(octx, "INSERT INTO drill_writes (run, writer, seq) VALUES (?, ?, ?)", wl.run, id, seq)
		end := time.Now()
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return // stopping: not an error the application would see
			}
			wl.fail(true, err)
			_ = sleepCtx(ctx, 20*time.Millisecond)
			continue
		}
		var n int
		rstart := time.Now()
		err = db.QueryRowContext(octx, "SELECT COUNT(*) FROM drill_writes WHERE run = ? AND writer = ? AND seq = ?", wl.run, id, seq).Scan(&n)
		cancel()
		rdur := time.Since(rstart)
		wl.mu.Lock()
		wl.acks = append(wl.acks, ack{writer: id, seq: seq, start: start, end: end})
		wl.longestRead = max(wl.longestRead, rdur)
		switch {
		case err != nil && ctx.Err() != nil:
		case err != nil:
			wl.errs = append(wl.errs, opErr{at: time.Now(), msg: cleanErr(err)})
		case n == 0:
			wl.reads++
			wl.stale++
		default:
			wl.reads++
		}
		wl.mu.Unlock()
		_ = sleepCtx(ctx, 2*time.Millisecond)
	}
}

func (wl *workload) fail(write bool, err error) {
	wl.mu.Lock()
	wl.errs = append(wl.errs, opErr{at: time.Now(), write: write, msg: cleanErr(err)})
	wl.mu.Unlock()
}

// cleanErr keeps an error's kind, not its particulars, so equal errors
// group in the report.
func cleanErr(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "statement timed out after " + opTimeout.String()
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return strings.TrimSpace(msg)
}

func (wl *workload) firstAckAfter(t time.Time) (time.Time, bool) {
	wl.mu.Lock()
	defer wl.mu.Unlock()
	var first time.Time
	for _, a := range wl.acks {
		if a.end.After(t) && (first.IsZero() || a.end.Before(first)) {
			first = a.end
		}
	}
	return first, !first.IsZero()
}

// stop ends the sessions and waits for them.
func (wl *workload) stop() {
	if wl.cancel == nil {
		return
	}
	wl.mu.Lock()
	wl.stopped = time.Now()
	wl.mu.Unlock()
	wl.cancel()
	wl.wg.Wait()
	wl.closeAll()
	wl.cancel = nil
}

func (wl *workload) closeAll() {
	for _, db := range wl.dbs {
		_ = db.Close()
	}
	wl.dbs = nil
}

// cleanup removes the run's rows (best effort, through the proxy).
func (wl *workload) cleanup(ctx context.Context) {
	db, err := openDirect(wl.o.ProxyAddr, wl.o.User, wl.o.Password, wl.o.Database)
	if err != nil {
		return
	}
	defer db.Close()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, _ = db.ExecContext(cctx, "DELETE FROM drill_writes WHERE run = ?", wl.run)
}
