package router

import (
	"fmt"
	"testing"
)

func TestRules(t *testing.T) {
	free := Session{Autocommit: true}
	rep := "SELECT LAST_INSERT_ID() FROM dual"
	rules, err := CompileRules([]RuleSpec{
		{Match: `(?i)FROM\s+accounts`, Route: "master"},
		{Digest: fmt.Sprintf("%x", Digest(rep)), Route: "replica"},
		{Match: `(?i)^INSERT`, Route: "replica"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		sql  string
		want Route
	}{
		{"SELECT * FROM accounts WHERE id = 1", RouteMaster},
		{"SELECT * FROM other", RouteReplica},
		{rep, RouteReplica},                                 // soft master reason relaxed by the rule
		{"INSERT INTO t VALUES (1)", RouteMaster},           // never a write to a replica
		{"select last_insert_id() from DUAL", RouteReplica}, // same digest
	}
	for _, c := range cases {
		got := Decide(rules.Apply(c.sql, Classify(c.sql)), free)
		if got != c.want {
			t.Errorf("%q: %v, want %v", c.sql, got, c.want)
		}
	}
	var none *Rules
	if c := none.Apply("SELECT 1", Classify("SELECT 1")); c.Kind != KindRead {
		t.Error("nil rules changed the class")
	}
	for _, bad := range [][]RuleSpec{{{Match: "(", Route: "master"}}, {{Match: "a", Route: "x"}}, {{Digest: "zz", Route: "master"}}, {{Route: "master"}}} {
		if _, err := CompileRules(bad); err == nil {
			t.Errorf("%+v compiled", bad)
		}
	}
}
