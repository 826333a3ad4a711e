package admin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-sql-driver/mysql"
)

// DrillClient runs DRILL on an admin port, as `switchyard drill` does: one
// connection runs the drill (the statement returns when it is over, with
// the report), a second one polls drill_progress meanwhile and prints each
// new step. The report is printed at the end; a failed drill is an error.
func DrillClient(ctx context.Context, addr, user, password, scenario string, confirm bool, out io.Writer) error {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = user, password, "tcp", addr
	cfg.Timeout = 5 * time.Second
	cfg.InterpolateParams = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(2)
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("admin port %s: %w", addr, err)
	}
	var startSeq int64
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM drill_progress").Scan(&startSeq); err != nil {
		return fmt.Errorf("admin port %s: %w", addr, err)
	}
	stmt := "DRILL '" + scenario + "'"
	if confirm {
		stmt += " CONFIRM"
	}
	type result struct {
		rows [][2]sql.NullString
		err  error
	}
	done := make(chan result, 1)
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		var r result
		rows, err := db.QueryContext(dctx, stmt)
		if err != nil {
			r.err = err
			done <- r
			return
		}
		defer rows.Close()
		for rows.Next() {
			var kv [2]sql.NullString
			if err := rows.Scan(&kv[0], &kv[1]); err != nil {
				r.err = err
				break
			}
			r.rows = append(r.rows, kv)
		}
		if r.err == nil {
			r.err = rows.Err()
		}
		done <- r
	}()
	last := startSeq
	poll := func() {
		rows, err := db.QueryContext(ctx, "SELECT seq, elapsed_ms, message FROM drill_progress WHERE seq > ? ORDER BY seq", last)
		if err != nil {
			return
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			var el sql.NullFloat64
			var msg string
			if rows.Scan(&seq, &el, &msg) == nil {
				fmt.Fprintf(out, "[%7.1fs] %s\n", el.Float64/1000, msg)
				last = seq
			}
		}
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-done:
			poll()
			if r.err != nil {
				return r.err
			}
			fmt.Fprintln(out, "\ndrill report:")
			outcome := ""
			for _, kv := range r.rows {
				v := kv[1].String
				if !kv[1].Valid {
					v = "-"
				}
				fmt.Fprintf(out, "  %-22s %s\n", kv[0].String, v)
				if kv[0].String == "outcome" {
					outcome = v
				}
			}
			if outcome != "ok" {
				return errors.New("drill outcome: " + outcome)
			}
			return nil
		case <-t.C:
			poll()
		}
	}
}
