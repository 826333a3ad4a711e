package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/switchyard/switchyard/failover"
	"github.com/switchyard/switchyard/proxy"
	"github.com/switchyard/switchyard/topology"
)

// Error codes the admin port uses beyond the server's usual ones.
const (
	// erCommandFailed: a command ran and failed (switchover refused, ...).
	erCommandFailed = mysql.ER_UNKNOWN_ERROR
	// erNoSuchThread: KILL SESSION of an unknown id, as the server says it.
	erNoSuchThread = mysql.ER_NO_SUCH_THREAD
)

// queryTimeout bounds one SELECT on the virtual tables.
const queryTimeout = 10 * time.Second

// Exec runs one admin statement (what a client sends as COM_QUERY).
func (s *Server) Exec(ctx context.Context, q string) (*mysql.Result, error) {
	cmd, err := Parse(q)
	if err != nil {
		return nil, mysql.NewError(mysql.ER_PARSE_ERROR, err.Error())
	}
	switch cmd.Kind {
	case KindEmpty:
		return nil, mysql.NewError(mysql.ER_EMPTY_QUERY, "Query was empty")
	case KindSession:
		return nil, nil // OK: SET NAMES and friends have nothing to change here
	case KindVariable:
		return s.variable(cmd.SQL), nil
	case KindQuery:
		qctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		return s.eng.query(qctx, s, cmd.SQL)
	case KindShowTopology:
		qctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		return s.eng.query(qctx, s, "SELECT name, address, role, state, read_only, lag_seconds, gtid_position, "+
			"server_id, version, connections, last_checked, last_error FROM nodes")
	case KindShowTables:
		rows := make([][]any, len(tables))
		for i, t := range tables {
			rows[i] = []any{t.name, t.doc}
		}
		return textResult([]string{"Tables_in_switchyard", "Comment"}, rows), nil
	case KindSwitchover, KindFailover:
		return s.switchover(ctx, cmd)
	case KindSetNode:
		return s.setNode(cmd)
	case KindAcknowledge:
		if s.o.Manager == nil {
			return nil, notWired("ACKNOWLEDGE FAILOVER", "the failover manager")
		}
		blocked, until := s.o.Manager.Blocked()
		s.o.Manager.Acknowledge()
		msg := "no automatic failover was blocked"
		if blocked {
			msg = "anti-flapping block lifted (it ran until " + until.Format(timeFormat) + ")"
		}
		return textResult([]string{"result"}, [][]any{{msg}}), nil
	case KindReload:
		if s.o.Reload == nil {
			return nil, notWired("RELOAD CONFIG", "a reload function")
		}
		if err := s.o.Reload(ctx); err != nil {
			return nil, mysql.NewError(erCommandFailed, "RELOAD CONFIG failed, the running configuration is unchanged: "+err.Error())
		}
		return textResult([]string{"result"}, [][]any{{"configuration reloaded"}}), nil
	case KindKill:
		if s.o.Proxy == nil {
			return nil, notWired("KILL SESSION", "the proxy")
		}
		kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := s.o.Proxy.KillSession(kctx, cmd.ID); err != nil {
			if errors.Is(err, proxy.ErrNoSession) {
				return nil, mysql.NewError(erNoSuchThread, fmt.Sprintf("Unknown session id: %d (see the sessions table)", cmd.ID))
			}
			// The session is marked killed either way; say what failed.
			return textResult([]string{"result"}, [][]any{{fmt.Sprintf("session %d killed; %v", cmd.ID, err)}}), nil
		}
		return nil, nil
	case KindDrill:
		return s.drillCommand(ctx, cmd)
	}
	return nil, mysql.NewError(mysql.ER_PARSE_ERROR, Usage)
}

func notWired(cmd, what string) error {
	return mysql.NewError(mysql.ER_NOT_SUPPORTED_YET, cmd+" is not available: this admin port has no "+what)
}

// variable answers SELECT @@var for the few variables client libraries ask.
func (s *Server) variable(v string) *mysql.Result {
	var val any
	switch v {
	case "version_comment":
		val = "Switchyard admin"
	case "version":
		val = s.o.ServerVersion
	case "max_allowed_packet":
		val = int64(16 << 20)
	case "autocommit":
		val = int64(1)
	case "tx_isolation", "transaction_isolation":
		val = "REPEATABLE-READ"
	case "sql_mode":
		val = ""
	case "character_set_client", "character_set_connection", "character_set_results":
		val = "utf8mb4"
	}
	return textResult([]string{"@@" + v}, [][]any{{val}})
}

// switchover runs SWITCHOVER or FAILOVER and returns its report as one row.
func (s *Server) switchover(ctx context.Context, cmd Command) (*mysql.Result, error) {
	name := "SWITCHOVER"
	if cmd.Kind == KindFailover {
		name = "FAILOVER"
	}
	if s.o.Manager == nil {
		return nil, notWired(name, "the failover manager")
	}
	if cmd.Node != "" {
		if err := s.checkNode(cmd.Node); err != nil {
			return nil, err
		}
	}
	var rep failover.Report
	var err error
	if cmd.Kind == KindFailover {
		rep, err = s.o.Manager.Failover(ctx, cmd.Node)
	} else {
		rep, err = s.o.Manager.Switchover(ctx, cmd.Node)
	}
	if err != nil {
		msg := name + " failed: " + err.Error()
		if rep.Error != "" && !strings.Contains(msg, rep.Error) {
			msg += " (" + rep.Error + ")"
		}
		return nil, mysql.NewError(erCommandFailed, msg)
	}
	return reportResult(rep), nil
}

func reportResult(rep failover.Report) *mysql.Result {
	return textResult(
		[]string{"kind", "old_master", "winner", "outcome", "pause_ms", "promotion_ms", "detection_ms", "epoch", "lost_gtids", "phases", "warnings", "choice"},
		[][]any{{string(rep.Kind), rep.OldMaster, rep.Winner, failover.OutcomeOK, msOrZero(rep.Pause), msOrZero(rep.Promotion),
			ms(rep.Detection), int64(rep.Epoch), rep.LostGTIDs, phases(rep.Phases), strings.Join(rep.Warnings, "; "), rep.Choice}})
}

func msOrZero(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func phases(ps []failover.Phase) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%s %.1fms", p.Name, float64(p.Took.Microseconds())/1000)
	}
	return strings.Join(parts, ", ")
}

func (s *Server) checkNode(name string) error {
	snap := s.snapshot()
	if _, ok := snap.Node(name); ok {
		return nil
	}
	var names []string
	if snap != nil {
		for _, n := range snap.Nodes {
			names = append(names, n.Name)
		}
	}
	return mysql.NewError(erCommandFailed, fmt.Sprintf("unknown node %q; nodes: %s", name, strings.Join(names, ", ")))
}

func (s *Server) setNode(cmd Command) (*mysql.Result, error) {
	if s.o.Manager == nil {
		return nil, notWired("SET NODE", "the failover manager")
	}
	if err := s.checkNode(cmd.Node); err != nil {
		return nil, err
	}
	st := topology.StateUp
	switch cmd.State {
	case "offline":
		st = topology.StateOffline
	case "maintenance":
		st = topology.StateMaintenance
	}
	if err := s.o.Manager.SetNodeState(cmd.Node, st); err != nil {
		return nil, mysql.NewError(erCommandFailed, "SET NODE failed: "+err.Error())
	}
	msg := fmt.Sprintf("node %s is %s: no new traffic; running sessions finish their work", cmd.Node, cmd.State)
	if cmd.State == "online" {
		msg = fmt.Sprintf("node %s is back in service", cmd.Node)
	}
	return textResult([]string{"result"}, [][]any{{msg}}), nil
}
