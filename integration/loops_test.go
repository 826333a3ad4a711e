package integration

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/proxy"
)

// Sessions on event loops (runtime.event_loops): several at once, each with
// a transaction, a session variable and a prepared statement, really on the
// loops; a KILL from another session reaches one waiting on its backend
// (the kill's own connection is made off the loop, the wake-up is posted to
// it) and the others go on.
func TestEventLoops(t *testing.T) {
	if os.Getenv("SWITCHYARD_LOOPS") == "0" {
		t.Skip("SWITCHYARD_LOOPS=0 turns the loops off for this run")
	}
	e := startEnv(t, envOptions{proxy: func(o *proxy.Options) { o.Loops = 2 }})
	ensureTestDB(t, e.c)
	ctx := t.Context()
	const n = 6
	conns := make([]*sql.Conn, n)
	for i := range conns {
		conns[i], _ = oneConn(t, e.dsn(""))
	}
	for _, q := range []string{"CREATE TABLE IF NOT EXISTS loops (id INT PRIMARY KEY, v INT)", "DELETE FROM loops"} {
		if _, err := conns[0].ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				if _, err := c.ExecContext(ctx, fmt.Sprintf("SET @mine = %d", i)); err != nil {
					return err
				}
				tx, err := c.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, "INSERT INTO loops VALUES (?, ?)", i, i*10); err != nil {
					return err
				}
				var v int
				if err := tx.QueryRowContext(ctx, "SELECT v FROM loops WHERE id = ?", i).Scan(&v); err != nil || v != i*10 {
					return fmt.Errorf("session %d reads its own write in the transaction: %d, %v", i, v, err)
				}
				if err := tx.Commit(); err != nil {
					return err
				}
				st, err := c.PrepareContext(ctx, "SELECT ? + @mine")
				if err != nil {
					return err
				}
				defer st.Close()
				for k := range 50 {
					var got int
					if err := st.QueryRowContext(ctx, k).Scan(&got); err != nil || got != k+i {
						return fmt.Errorf("session %d, execute %d: %d, %v", i, k, got, err)
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	infos := e.srv.Sessions()
	if len(infos) != n {
		t.Fatalf("%d sessions, want %d", len(infos), n)
	}
	for _, in := range infos {
		if !in.OnLoop {
			t.Fatalf("session %d is not on an event loop", in.ID)
		}
	}
	var rows int
	if err := conns[0].QueryRowContext(ctx, "SELECT COUNT(*) FROM loops").Scan(&rows); err != nil || rows != n {
		t.Fatalf("rows after the sessions: %d, %v", rows, err)
	}

	// KILL CONNECTION of a session waiting on a long statement.
	victim := conns[1]
	done := make(chan error, 1)
	go func() {
		var x int
		done <- victim.QueryRowContext(ctx, "SELECT SLEEP(30)").Scan(&x)
	}()
	var id uint32
	waitFor(t, 10*time.Second, "the sleeping statement", func() bool {
		for _, in := range e.srv.Sessions() {
			if strings.Contains(in.Statement, "SLEEP(30)") {
				id = in.ID
				return true
			}
		}
		return false
	})
	start := time.Now()
	if _, err := conns[0].ExecContext(ctx, fmt.Sprintf("KILL %d", id)); err != nil {
		t.Fatalf("KILL %d: %v", id, err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the killed session's statement succeeded")
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("the kill took %v", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the killed session's statement did not end")
	}
	waitFor(t, 10*time.Second, "the killed session to end", func() bool { return e.sessionCount() == n-1 })
	for i, c := range conns {
		if i == 1 {
			continue
		}
		var one int
		if err := c.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatalf("session %d after the kill: %v", i, err)
		}
	}
}

// Without event loops sessions are goroutines.
func TestEventLoopsOff(t *testing.T) {
	if v := os.Getenv("SWITCHYARD_LOOPS"); v != "" && v != "0" {
		t.Skip("SWITCHYARD_LOOPS turns the loops on for this run")
	}
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	c, _ := oneConn(t, e.dsn(""))
	connID(t, c)
	for _, in := range e.srv.Sessions() {
		if in.OnLoop {
			t.Fatalf("session %d is on an event loop with loops off", in.ID)
		}
	}
}
