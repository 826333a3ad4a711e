package admin

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Command
		err  bool
	}{
		{in: "SELECT * FROM nodes", want: Command{Kind: KindQuery, SQL: "SELECT * FROM nodes"}},
		{in: "  select name from nodes where role='replica' order by lag_seconds ; ", want: Command{Kind: KindQuery, SQL: "select name from nodes where role='replica' order by lag_seconds"}},
		{in: "WITH r AS (SELECT 1) SELECT * FROM r", want: Command{Kind: KindQuery, SQL: "WITH r AS (SELECT 1) SELECT * FROM r"}},
		{in: "select @@version_comment limit 1", want: Command{Kind: KindVariable, SQL: "version_comment"}},
		{in: "SELECT @@session.autocommit", want: Command{Kind: KindVariable, SQL: "autocommit"}},
		{in: "SELECT @@version, 1", want: Command{Kind: KindQuery, SQL: "SELECT @@version, 1"}},
		{in: "SHOW TOPOLOGY", want: Command{Kind: KindShowTopology}},
		{in: "show topology;", want: Command{Kind: KindShowTopology}},
		{in: "SHOW TABLES", want: Command{Kind: KindShowTables}},
		{in: "SHOW FULL TABLES", want: Command{Kind: KindShowTables}},
		{in: "SHOW FULL", err: true},
		{in: "SHOW GRANTS", err: true},
		{in: "SWITCHOVER", want: Command{Kind: KindSwitchover}},
		{in: "switchover to 'db2'", want: Command{Kind: KindSwitchover, Node: "db2"}},
		{in: "SWITCHOVER TO `db-2.x`", want: Command{Kind: KindSwitchover, Node: "db-2.x"}},
		{in: "SWITCHOVER TO db2", want: Command{Kind: KindSwitchover, Node: "db2"}},
		{in: "SWITCHOVER TO", err: true},
		{in: "SWITCHOVER TO 'db2' NOW", err: true},
		{in: "SWITCHOVER TO ''", err: true},
		{in: "FAILOVER", want: Command{Kind: KindFailover}},
		{in: "FAILOVER TO \"db3\"", want: Command{Kind: KindFailover, Node: "db3"}},
		{in: "SET NODE 'db2' OFFLINE", want: Command{Kind: KindSetNode, Node: "db2", State: "offline"}},
		{in: "set node db2 maintenance", want: Command{Kind: KindSetNode, Node: "db2", State: "maintenance"}},
		{in: "SET NODE 'db2' ONLINE", want: Command{Kind: KindSetNode, Node: "db2", State: "online"}},
		{in: "SET NODE 'db2' DOWN", err: true},
		{in: "SET NODE", err: true},
		{in: "SET NAMES utf8mb4", want: Command{Kind: KindSession}},
		{in: "SET autocommit=1", want: Command{Kind: KindSession}},
		{in: "ACKNOWLEDGE FAILOVER", want: Command{Kind: KindAcknowledge}},
		{in: "ACKNOWLEDGE", err: true},
		{in: "RELOAD CONFIG", want: Command{Kind: KindReload}},
		{in: "RELOAD", err: true},
		{in: "KILL SESSION 42", want: Command{Kind: KindKill, ID: 42}},
		{in: "KILL 7", want: Command{Kind: KindKill, ID: 7}},
		{in: "KILL CONNECTION 7", want: Command{Kind: KindKill, ID: 7}},
		{in: "KILL SESSION 0", err: true},
		{in: "KILL SESSION -1", err: true},
		{in: "KILL SESSION 99999999999", err: true},
		{in: "KILL SESSION '4'", err: true},
		{in: "KILL SESSION", err: true},
		{in: "DRILL 'kill-master'", want: Command{Kind: KindDrill, Scenario: "kill-master"}},
		{in: "drill 'Kill-Master' confirm", want: Command{Kind: KindDrill, Scenario: "kill-master", Confirm: true}},
		{in: "DRILL", err: true},
		{in: "DRILL 'x' CONFIRM CONFIRM", err: true},
		{in: "USE whatever", want: Command{Kind: KindSession}},
		{in: "", want: Command{Kind: KindEmpty}},
		{in: " ; -- nothing\n", want: Command{Kind: KindEmpty}},
		{in: "/* c */ SHOW TOPOLOGY", want: Command{Kind: KindShowTopology}},
		{in: "/* unterminated", err: true},
		{in: "SWITCHOVER TO 'db2", err: true},
		{in: "'SELECT'", err: true},
		{in: "DELETE FROM nodes", err: true},
		{in: "INSERT INTO nodes VALUES (1)", err: true},
		{in: "SWITCHOVER TO 'it''s'", want: Command{Kind: KindSwitchover, Node: "it's"}},
	}
	for _, tc := range tests {
		got, err := Parse(tc.in)
		if tc.err {
			var pe *ParseError
			if err == nil || !errors.As(err, &pe) {
				t.Errorf("Parse(%q) = %+v, %v; want a ParseError", tc.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestMentioned(t *testing.T) {
	tests := []struct {
		q    string
		want []string
	}{
		{"SELECT * FROM nodes", []string{"nodes"}},
		{"SELECT * FROM sessions s JOIN nodes n ON n.name = s.backend", []string{"nodes", "sessions"}},
		{"SELECT * FROM nodesx", nil},
		{"SELECT * FROM xnodes", nil},
		{"SELECT config.key FROM config", []string{"config"}},
		{"select * from QUERY_DIGEST", []string{"query_digest"}},
	}
	for _, tc := range tests {
		var got []string
		for _, tb := range mentioned(tc.q) {
			got = append(got, tb.name)
		}
		if len(got) != len(tc.want) {
			t.Errorf("mentioned(%q) = %v, want %v", tc.q, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("mentioned(%q) = %v, want %v", tc.q, got, tc.want)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"SELECT * FROM nodes", "SWITCHOVER TO 'db2'", "SET NODE `a` OFFLINE", "KILL SESSION 4",
		"DRILL 'kill-master' CONFIRM", "/* x */ SHOW TOPOLOGY;", "SWITCHOVER TO 'a\\'b'", "select @@x limit 1", "'\"`"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		c, err := Parse(q)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q): error of type %T", q, err)
			}
			return
		}
		switch c.Kind {
		case KindKill:
			if c.ID == 0 {
				t.Fatalf("Parse(%q): KILL of session 0", q)
			}
		case KindSetNode:
			if c.Node == "" || (c.State != "offline" && c.State != "online" && c.State != "maintenance") {
				t.Fatalf("Parse(%q) = %+v", q, c)
			}
		case KindDrill:
			if c.Scenario == "" {
				t.Fatalf("Parse(%q): empty scenario", q)
			}
		}
		// Parsing is deterministic.
		if c2, err2 := Parse(q); err2 != nil || c2 != c {
			t.Fatalf("Parse(%q) not deterministic", q)
		}
	})
}
