package failover

import (
	"reflect"
	"strings"
	"testing"
)

func facts() HookFacts {
	return HookFacts{
		Cluster: "main", Kind: "failover", Auto: true, Reason: DeadMaster,
		FailedNode: "db1", FailedAddress: "127.0.0.1:3306", FailedGTID: "0-1-100",
		Successor: "db2", SuccessorAddress: "[::1]:3307", SuccessorGTID: "0-1-99",
		LostGTIDs: "0-1-100",
	}
}

func TestHookEnv(t *testing.T) {
	got := facts().Env()
	want := []string{
		"SWITCHYARD_CLUSTER=main",
		"SWITCHYARD_KIND=failover",
		"SWITCHYARD_AUTO=1",
		"SWITCHYARD_REASON=DeadMaster",
		"SWITCHYARD_FAILED_NAME=db1",
		"SWITCHYARD_FAILED_HOST=127.0.0.1",
		"SWITCHYARD_FAILED_PORT=3306",
		"SWITCHYARD_FAILED_GTID=0-1-100",
		"SWITCHYARD_SUCCESSOR_NAME=db2",
		"SWITCHYARD_SUCCESSOR_HOST=::1",
		"SWITCHYARD_SUCCESSOR_PORT=3307",
		"SWITCHYARD_SUCCESSOR_GTID=0-1-99",
		"SWITCHYARD_LOST_GTIDS=0-1-100",
		"SWITCHYARD_ERROR=",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Env() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	h := HookFacts{Kind: "switchover", FailedAddress: "db-host", Error: "a\x00b"}
	env := strings.Join(h.Env(), "\n")
	for _, w := range []string{"SWITCHYARD_AUTO=0", "SWITCHYARD_FAILED_HOST=db-host", "SWITCHYARD_FAILED_PORT=\n", "SWITCHYARD_SUCCESSOR_HOST=\n", "SWITCHYARD_ERROR=ab"} {
		if !strings.Contains(env+"\n", w) {
			t.Errorf("env lacks %q:\n%s", w, env)
		}
	}
}

func TestHookExpand(t *testing.T) {
	f := facts()
	tests := []struct{ in, want string }{
		{"", ""},
		{"no placeholders", "no placeholders"},
		{"/bin/notify {failedHost}:{failedPort} -> {successorHost}:{successorPort}", "/bin/notify 127.0.0.1:3306 -> ::1:3307"},
		{"{cluster} {kind} {auto} {reason}", "main failover 1 DeadMaster"},
		{"{failedName}/{successorName} {failedGTID} {successorGTID} lost={lostGTIDs} err={error}", "db1/db2 0-1-100 0-1-99 lost=0-1-100 err="},
		{"{unknown} {failedhost} {{cluster}}", "{unknown} {failedhost} {main}"},
		{"{failedHost}{failedHost}", "127.0.0.1127.0.0.1"},
	}
	for _, tt := range tests {
		if got := f.Expand(tt.in); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHookExpandArgs(t *testing.T) {
	f := facts()
	f.Error = `x'; rm -rf / #"`
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "/usr/local/bin/hook --host {failedHost} --port={failedPort}", want: []string{"/usr/local/bin/hook", "--host", "127.0.0.1", "--port=3306"}},
		{in: `notify "failed over {cluster}: {reason}" {error}`, want: []string{"notify", "failed over main: DeadMaster", `x'; rm -rf / #"`}},
		{in: `sh -c 'echo {successorName}'`, want: []string{"sh", "-c", "echo db2"}},
		{in: "", err: true},
		{in: `unterminated "quote`, err: true},
	}
	for _, tt := range tests {
		got, err := f.ExpandArgs(tt.in)
		if tt.err {
			if err == nil {
				t.Errorf("ExpandArgs(%q) = %q, want error", tt.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ExpandArgs(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
