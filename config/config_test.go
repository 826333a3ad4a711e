package config

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// base is a minimal valid config of 11 lines; cases append from line 12.
const base = `users:
  - user: app
    password: app-secret
nodes:
  - name: db1
    address: 127.0.0.1:3306
monitor:
  user: monitor
  password: mon-secret
admin:
  password: admin-secret
`

func noEnv(string) (string, bool) { return "", false }

func parseTest(t *testing.T, y string) (*Config, error) {
	t.Helper()
	return parse([]byte(y), "cfg.yaml", "", noEnv)
}

func TestParseMinimalGetsDefaults(t *testing.T) {
	c, err := parseTest(t, base)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Users = []User{{User: "app", Password: "app-secret", Auth: AuthNative}}
	want.Nodes = []Node{DefaultNode("db1", "127.0.0.1:3306")}
	want.Monitor.User, want.Monitor.Password = "monitor", "mon-secret"
	want.Replication = Credentials{User: "monitor", Password: "mon-secret"}
	want.Admin.Password = "admin-secret"
	want.Path = "cfg.yaml"
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got\n%#v\nwant\n%#v", c, want)
	}
}

func TestParseGood(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		check func(t *testing.T, c *Config)
	}{
		{"listen port 0", "listen: 127.0.0.1:0\n", func(t *testing.T, c *Config) {
			if c.Listen != "127.0.0.1:0" {
				t.Error(c.Listen)
			}
		}},
		{"listen all interfaces", "listen: :6033\n", func(t *testing.T, c *Config) {
			if c.Listen != ":6033" {
				t.Error(c.Listen)
			}
		}},
		{"ipv6 listen", "listen: \"[::1]:6033\"\n", func(t *testing.T, c *Config) {
			if c.Listen != "[::1]:6033" {
				t.Error(c.Listen)
			}
		}},
		{"sizes", "limits:\n  max_packet_size: 16MB\n", func(t *testing.T, c *Config) {
			if c.Limits.MaxPacketSize != 16<<20 {
				t.Error(c.Limits.MaxPacketSize)
			}
		}},
		{"size as integer", "limits:\n  max_packet_size: 4096\n", func(t *testing.T, c *Config) {
			if c.Limits.MaxPacketSize != 4096 {
				t.Error(c.Limits.MaxPacketSize)
			}
		}},
		{"limits", "limits:\n  max_client_connections: 10\n  max_backend_connections_per_node: 5\n  max_idle_backend_connections_per_node: 0\n  shutdown_timeout: 0s\n  client_idle_timeout: 1h30m\n",
			func(t *testing.T, c *Config) {
				l := c.Limits
				if l.MaxClientConnections != 10 || l.MaxBackendConnectionsPerNode != 5 || l.MaxIdleBackendConnectionsPerNode != 0 ||
					l.ShutdownTimeout != 0 || l.ClientIdleTimeout != 90*time.Minute {
					t.Errorf("%+v", l)
				}
			}},
		{"routing and failover", "routing:\n  consistency: strong\n  no_replica: error\n  max_replica_lag: 0\n  pipeline_reads: true\nfailover:\n  automatic: false\n  semi_sync: true\n  hooks:\n    pre_failover: /bin/true {failed_host}\n    timeout: 5s\n  promote_command: promote.sh\n",
			func(t *testing.T, c *Config) {
				if c.Routing.Consistency != ConsistencyStrong || c.Routing.NoReplica != NoReplicaError || c.Routing.MaxReplicaLag != 0 || !c.Routing.PipelineReads {
					t.Errorf("%+v", c.Routing)
				}
				f := c.Failover
				if f.Automatic || !f.SemiSync || f.Hooks.PreFailover != "/bin/true {failed_host}" || f.Hooks.Timeout != 5*time.Second ||
					f.PromoteCommand != "promote.sh" || f.WriteHold != 10*time.Second {
					t.Errorf("%+v", f)
				}
			}},
		{"log", "log:\n  level: debug\n  format: json\n", func(t *testing.T, c *Config) {
			if c.Log.Level != slog.LevelDebug || c.Log.Format != LogJSON {
				t.Errorf("%+v", c.Log)
			}
		}},
		{"replication section", "replication:\n  user: repl\n  password: r\n", func(t *testing.T, c *Config) {
			if c.Replication.User != "repl" || c.Replication.Password.Reveal() != "r" {
				t.Errorf("%+v", c.Replication)
			}
		}},
		{"http listen", "http:\n  listen: 127.0.0.1:9090\n", func(t *testing.T, c *Config) {
			if c.HTTP.Listen != "127.0.0.1:9090" {
				t.Error(c.HTTP.Listen)
			}
		}},
		{"null sections keep defaults", "routing:\nfailover:\n  hooks:\ntls:\nbackend_tls:\n", func(t *testing.T, c *Config) {
			if c.TLS != nil || c.BackendTLS != nil || c.Routing.Consistency != ConsistencySession {
				t.Errorf("%+v %+v %+v", c.TLS, c.BackendTLS, c.Routing)
			}
		}},
		{"numeric password stays text", "replication:\n  user: repl\n  password: 007\n", func(t *testing.T, c *Config) {
			if c.Replication.Password.Reveal() != "007" {
				t.Errorf("%q", c.Replication.Password.Reveal())
			}
		}},
		{"empty literal password allowed", "replication:\n  user: repl\n  password: \"\"\n", func(t *testing.T, c *Config) {
			if !c.Replication.Password.IsEmpty() {
				t.Error("want empty")
			}
		}},
		{"event loops", "runtime:\n  event_loops: 2\n", func(t *testing.T, c *Config) {
			if c.Runtime.EventLoops != 2 {
				t.Error(c.Runtime.EventLoops)
			}
		}},
		{"event loops off", "runtime:\n  event_loops: 0\n", func(t *testing.T, c *Config) {
			if c.Runtime.EventLoops != 0 {
				t.Error(c.Runtime.EventLoops)
			}
		}},
		{"event loops auto", "runtime:\n  event_loops: Auto\n", func(t *testing.T, c *Config) {
			if c.Runtime.EventLoops != EventLoopsAuto {
				t.Error(c.Runtime.EventLoops)
			}
		}},
		{"event loops auto by default", "log:\n  level: warn\n", func(t *testing.T, c *Config) {
			if c.Runtime.EventLoops != EventLoopsAuto {
				t.Error(c.Runtime.EventLoops)
			}
		}},
		{"aliases", "limits:\n  connect_timeout: &t 7s\n  handshake_timeout: *t\n", func(t *testing.T, c *Config) {
			if c.Limits.HandshakeTimeout != 7*time.Second {
				t.Error(c.Limits.HandshakeTimeout)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseTest(t, base+tt.extra)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestAdminDisabledNeedsNoPassword(t *testing.T) {
	y := strings.Replace(base, "admin:\n  password: admin-secret\n", "admin:\n  listen: \"\"\n", 1)
	c, err := parseTest(t, y)
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Listen != "" || !c.Admin.Password.IsEmpty() {
		t.Errorf("%+v", c.Admin)
	}
}

func TestParseNodes(t *testing.T) {
	y := `users: [{user: app, password: x}]
nodes:
  - {name: db1, address: "127.0.0.1:3306", weight: 0, promotion: prefer}
  - {name: db2, address: "localhost:3307", local: true, promotion: never}
  - {name: db3.example, address: "[::1]:3308", weight: 5}
monitor: {user: m, password: p}
admin: {password: a}
`
	c, err := parseTest(t, y)
	if err != nil {
		t.Fatal(err)
	}
	want := []Node{
		{Name: "db1", Address: "127.0.0.1:3306", Weight: 0, Promotion: PromotionPrefer},
		{Name: "db2", Address: "localhost:3307", Weight: 1, Promotion: PromotionNever, Local: true},
		{Name: "db3.example", Address: "[::1]:3308", Weight: 5, Promotion: PromotionNeutral},
	}
	if !reflect.DeepEqual(c.Nodes, want) {
		t.Fatalf("got %+v", c.Nodes)
	}
}

func TestParseBad(t *testing.T) {
	// Each want is a complete message line: file, line, key path, message.
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"negative limit", base + "limits:\n  max_client_connections: -5\n",
			[]string{"cfg.yaml:13: limits.max_client_connections: must be a positive integer, got -5"}},
		{"event loops out of range", base + "runtime:\n  event_loops: 300\n",
			[]string{"cfg.yaml:13: runtime.event_loops: must be auto, or between 0 (off) and 256, got 300"}},
		{"event loops not a number", base + "runtime:\n  event_loops: many\n",
			[]string{"cfg.yaml:13: runtime.event_loops: must be auto, or between 0 (off) and 256, got \"many\""}},
		{"unknown top key", base + "lisen: 127.0.0.1:1\n",
			[]string{"cfg.yaml:12: lisen: unknown key; did you mean listen?"}},
		{"unknown nested key", base + "limits:\n  max_clients: 5\n",
			[]string{"cfg.yaml:13: limits.max_clients: unknown key"}},
		{"duplicate key", base + "listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n",
			[]string{"cfg.yaml:13: listen: duplicate key (first given on line 12)"}},
		{"bad listen", base + "listen: localhost\n",
			[]string{`cfg.yaml:12: listen: must be host:port, got "localhost"`}},
		{"listen port out of range", base + "listen: 127.0.0.1:70000\n",
			[]string{`cfg.yaml:12: listen: port must be between 0 and 65535, got "127.0.0.1:70000"`}},
		{"listen named port", base + "listen: 127.0.0.1:mysql\n",
			[]string{`cfg.yaml:12: listen: must be host:port, got "127.0.0.1:mysql"`}},
		{"listen clash", base + "listen: 127.0.0.1:6032\n",
			[]string{"cfg.yaml: admin.listen: same address as listen (127.0.0.1:6032)"}},
		{"http clash", base + "listen: 127.0.0.1:7000\nhttp:\n  listen: 127.0.0.1:7000\n",
			[]string{"cfg.yaml:14: http.listen: same address as listen (127.0.0.1:7000)"}},
		{"bad duration", base + "monitor2: x\n",
			[]string{"cfg.yaml:12: monitor2: unknown key; did you mean monitor?"}},
		{"duration without unit", base + "limits:\n  connect_timeout: 10\n",
			[]string{`cfg.yaml:13: limits.connect_timeout: must be a duration such as "500ms" or "10s", got "10"`}},
		{"zero duration", base + "limits:\n  handshake_timeout: 0s\n",
			[]string{"cfg.yaml:13: limits.handshake_timeout: must be a positive duration, got 0s"}},
		{"negative duration", base + "failover:\n  write_hold: -1s\n",
			[]string{"cfg.yaml:13: failover.write_hold: must not be negative, got -1s"}},
		{"bad size", base + "limits:\n  max_packet_size: 1.5GB\n",
			[]string{`cfg.yaml:13: limits.max_packet_size: must be a size such as 16777216 or "16MB" (a whole number, units are powers of 1024), got "1.5GB"`}},
		{"size too big", base + "limits:\n  max_packet_size: 2GB\n",
			[]string{"cfg.yaml:13: limits.max_packet_size: must be between 1KiB and 1GiB, got 2GB"}},
		{"idle above max", base + "limits:\n  max_backend_connections_per_node: 10\n  max_idle_backend_connections_per_node: 20\n",
			[]string{"cfg.yaml:14: limits.max_idle_backend_connections_per_node: max_idle_backend_connections_per_node (20) must not exceed max_backend_connections_per_node (10)"}},
		{"idle default above max", base + "limits:\n  max_backend_connections_per_node: 10\n",
			[]string{"cfg.yaml:13: limits.max_backend_connections_per_node: max_idle_backend_connections_per_node (64) must not exceed max_backend_connections_per_node (10)"}},
		{"not an integer", base + "limits:\n  max_client_connections: many\n",
			[]string{`cfg.yaml:13: limits.max_client_connections: must be an integer, got "many"`}},
		{"float integer", base + "limits:\n  max_client_connections: 1.5\n",
			[]string{`cfg.yaml:13: limits.max_client_connections: must be an integer, got "1.5"`}},
		{"not a bool", base + "failover:\n  automatic: yes\n",
			[]string{`cfg.yaml:13: failover.automatic: must be true or false, got "yes"`}},
		{"bad enum", base + "routing:\n  consistency: causal\n",
			[]string{`cfg.yaml:13: routing.consistency: must be one of eventual | session | strong, got "causal"`}},
		{"bad log level", base + "log:\n  level: trace\n  format: xml\n",
			[]string{`cfg.yaml:13: log.level: must be one of debug | info | warn | error, got "trace"`,
				`cfg.yaml:14: log.format: must be one of text | json, got "xml"`}},
		{"section not a mapping", base + "limits: 5\n",
			[]string{"cfg.yaml:12: limits: must be a mapping of keys to values, got a scalar"}},
		{"string given a list", base + "listen: [a, b]\n",
			[]string{"cfg.yaml:12: listen: must be a string, got a list"}},
		{"null scalar", base + "listen:\n",
			[]string{`cfg.yaml:12: listen: has no value, must be a string; write "" for an empty string`}},
		{"merge key", base + "routing:\n  <<: {consistency: strong}\n",
			[]string{"cfg.yaml:13: routing.<<: YAML merge keys (<<) are not supported"}},
		{"two passwords", base + "replication:\n  user: r\n  password: a\n  password_file: /x\n",
			[]string{"cfg.yaml:15: replication.password_file: give only one of password, password_env, password_file (also got password)"}},
		{"no password", base + "replication:\n  user: r\n",
			[]string{"cfg.yaml:12: replication.password: is required (or password_env / password_file)"}},
		{"replication without user", base + "replication:\n  password: x\n",
			[]string{"cfg.yaml:12: replication.user: is required"}},
		{"missing env", base + "replication:\n  user: r\n  password_env: NOPE_NOT_SET\n",
			[]string{"cfg.yaml:14: replication.password_env: environment variable NOPE_NOT_SET is not set"}},
		{"unreadable file", base + "replication:\n  user: r\n  password_file: /nonexistent/pw\n",
			[]string{"cfg.yaml:14: replication.password_file: cannot read password file: stat /nonexistent/pw: no such file or directory"}},
		{"device as password file", base + "replication:\n  user: r\n  password_file: /dev/zero\n",
			[]string{"cfg.yaml:14: replication.password_file: cannot read password file: /dev/zero is not a regular file"}},
		{"admin without password", strings.Replace(base, "admin:\n  password: admin-secret\n", "", 1),
			[]string{`cfg.yaml: admin.password: is required while the admin port is enabled`}},
		{"tls missing key", base + "tls:\n  cert: /nonexistent.pem\n",
			[]string{"cfg.yaml:12: tls.key: is required when tls is configured"}},
		{"tls unreadable", base + "tls:\n  cert: /nonexistent.pem\n  key: /nonexistent-key.pem\n",
			[]string{"cfg.yaml:13: tls.cert: cannot read certificate: stat /nonexistent.pem: no such file or directory"}},
		{"backend cert without key", base + "backend_tls:\n  enabled: true\n  cert: /x.pem\n",
			[]string{"cfg.yaml:14: backend_tls.key: is required when backend_tls.cert is given"}},
		{"yaml syntax", base + "limits:\n  a: [\n",
			[]string{"cfg.yaml:13: invalid YAML: did not find expected node content"}},
		{"tab indentation", "users:\n\t- user: a\n",
			[]string{"cfg.yaml:2: invalid YAML: found character that cannot start any token"}},
		{"two documents", base + "---\nlisten: 1\n",
			[]string{"cfg.yaml:12: only one YAML document is allowed"}},
		{"empty", "", []string{"cfg.yaml: the config is empty"}},
		{"comment only", "# nothing\n", []string{"cfg.yaml: the config is empty"}},
		{"top level list", "- a\n", []string{"cfg.yaml:1: must be a mapping of keys to values, got a list"}},
		{"no monitor", "users: [{user: a, password: b}]\nnodes: [{name: n, address: 'h:1'}]\nadmin: {password: x}\n",
			[]string{"cfg.yaml: monitor: is required"}},
		{"no users no nodes", "monitor: {user: m, password: p}\nadmin: {password: x}\n",
			[]string{"cfg.yaml: users: at least one user is required", "cfg.yaml: nodes: at least one node is required"}},
		{"empty users", strings.Replace(base, "users:\n  - user: app\n    password: app-secret\n", "users: []\n", 1),
			[]string{"cfg.yaml:1: users: at least one user is required"}},
		{"users absent", strings.Replace(base, "users:\n  - user: app\n    password: app-secret\n", "", 1),
			[]string{"cfg.yaml: users: at least one user is required"}},
		{"users not a list", strings.Replace(base, "users:\n  - user: app\n    password: app-secret\n", "users: app\n", 1),
			[]string{"cfg.yaml:1: users: must be a list"}},
		{"monitor bad", strings.Replace(base, "monitor:\n  user: monitor\n  password: mon-secret\n", "monitor:\n  interval: 5ms\n  failcount: 0\n", 1),
			[]string{"cfg.yaml:7: monitor.user: is required", "cfg.yaml:7: monitor.password: is required",
				"cfg.yaml:8: monitor.interval: must be at least 10ms, got 5ms", "cfg.yaml:9: monitor.failcount: must be a positive integer, got 0"}},
	}
	tests = append(tests, nodeBad()...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseTest(t, tt.yaml)
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if c != nil {
				t.Fatal("partial config returned with an error")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("missing %q in:\n%s", w, msg)
				}
			}
			if len(es) != len(tt.want) {
				t.Errorf("got %d errors, want %d:\n%s", len(es), len(tt.want), msg)
			}
		})
	}
}

func nodeBad() []struct {
	name string
	yaml string
	want []string
} {
	head := "users: [{user: app, password: x}]\nmonitor: {user: m, password: p}\nadmin: {password: a}\nnodes:\n" // nodes items from line 5
	return []struct {
		name string
		yaml string
		want []string
	}{
		{"node address without host", head + "  - name: db1\n    address: :3306\n",
			[]string{`cfg.yaml:6: nodes[0].address: must be host:port with a host, got ":3306"`}},
		{"node port 0", head + "  - name: db1\n    address: h:0\n",
			[]string{`cfg.yaml:6: nodes[0].address: port must be between 1 and 65535, got "h:0"`}},
		{"duplicate node name and address", head + "  - name: db1\n    address: h:1\n  - name: db1\n    address: H:1\n",
			[]string{`cfg.yaml:7: nodes[1].name: duplicate node name "db1" (also nodes[0])`,
				`cfg.yaml:8: nodes[1].address: duplicate address H:1 (also nodes[0])`}},
		{"node missing fields", head + "  - weight: -1\n    promotion: always\n",
			[]string{"cfg.yaml:5: nodes[0].name: is required", "cfg.yaml:5: nodes[0].address: is required",
				"cfg.yaml:5: nodes[0].weight: must be >= 0, got -1", `cfg.yaml:6: nodes[0].promotion: must be one of prefer | neutral | never, got "always"`}},
		{"bad node name", head + "  - name: \"db 1\"\n    address: h:1\n",
			[]string{`cfg.yaml:5: nodes[0].name: must be 1-64 letters, digits or _ . : - (not starting with . : -), got "db 1"`}},
		{"node not a mapping", head + "  - db1\n",
			[]string{"cfg.yaml:5: nodes[0]: must be a mapping of keys to values, got a scalar"}},
		{"second node bad", head + "  - {name: a, address: 'h:1'}\n  - {name: b, address: 'h:2', local: 1}\n",
			[]string{`cfg.yaml:6: nodes[1].local: must be true or false, got "1"`}},
		{"bad auth plugin", "users:\n  - {user: app, password: x, auth: old_password}\nmonitor: {user: m, password: p}\nadmin: {password: a}\nnodes: [{name: n, address: 'h:1'}]\n",
			[]string{`cfg.yaml:2: users[0].auth: must be one of mysql_native_password | caching_sha2_password, got "old_password"`}},
		{"bad routing rule", "users: [{user: app, password: x}]\nmonitor: {user: m, password: p}\nadmin: {password: a}\nnodes: [{name: n, address: 'h:1'}]\nrouting:\n  rules:\n    - {match: '(', route: master}\n    - {digest: xyz, route: replica}\n    - {match: 'a', route: sideways}\n",
			[]string{
				"cfg.yaml:7: routing.rules[0].match: not a valid regular expression: error parsing regexp: missing closing ): `(`",
				`cfg.yaml:8: routing.rules[1].digest: must be a hexadecimal digest, got "xyz"`,
				`cfg.yaml:9: routing.rules[2].route: must be one of master | replica, got "sideways"`,
			}},
		{"duplicate user", "users:\n  - {user: app, password: x}\n  - {user: app, password: y}\nmonitor: {user: m, password: p}\nadmin: {password: a}\nnodes: [{name: n, address: 'h:1'}]\n",
			[]string{`cfg.yaml:3: users[1].user: duplicate user "app" (also users[0])`}},
	}
}

func TestAllErrorsCollectedInLineOrder(t *testing.T) {
	y := base + "limits:\n  max_client_connections: 0\n  connect_timeout: soon\nrouting:\n  no_replica: maybe\nbogus: 1\n"
	_, err := parseTest(t, y)
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("want Errors, got %v", err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Key)
	}
	want := []string{"limits.max_client_connections", "limits.connect_timeout", "routing.no_replica", "bogus"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("keys %v, want %v\n%v", got, want, err)
	}
	for i := 1; i < len(es); i++ {
		if es[i].Line < es[i-1].Line {
			t.Fatalf("not in line order: %v", err)
		}
	}
	if es[0].Line != 13 || es[0].File != "cfg.yaml" {
		t.Fatalf("first error %+v", es[0])
	}
}

func TestSecretsFromEnvAndFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mon.pw"), []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "crlf.pw"), []byte("crlf-pw\r\n\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty.pw"), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SWITCHYARD_TEST_APP_PW", "from-env")
	t.Setenv("SWITCHYARD_TEST_EMPTY", "")
	y := `users:
  - user: app
    password_env: SWITCHYARD_TEST_APP_PW
  - user: other
    password_file: crlf.pw
nodes: [{name: db1, address: "127.0.0.1:3306"}]
monitor:
  user: monitor
  password_file: ` + filepath.Join(dir, "mon.pw") + `
admin:
  password: a
`
	path := filepath.Join(dir, "switchyard.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	// Load resolves the relative crlf.pw against the config's directory.
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Users[0].Password.Reveal(); got != "from-env" {
		t.Errorf("env password %q", got)
	}
	if got := c.Users[1].Password.Reveal(); got != "crlf-pw" {
		t.Errorf("file password %q", got)
	}
	if got := c.Monitor.Password.Reveal(); got != "from-file" {
		t.Errorf("monitor password %q", got)
	}
	if c.Path != path {
		t.Errorf("Path %q", c.Path)
	}

	bad := strings.Replace(y, "SWITCHYARD_TEST_APP_PW", "SWITCHYARD_TEST_EMPTY", 1)
	bad = strings.Replace(bad, "password_file: crlf.pw", "password_file: empty.pw", 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	for _, w := range []string{
		"switchyard.yaml:3: users[0].password_env: environment variable SWITCHYARD_TEST_EMPTY is empty",
		"switchyard.yaml:5: users[1].password_file: password file " + filepath.Join(dir, "empty.pw") + " is empty",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("want %q in %v", w, err)
		}
	}

	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestExampleFile(t *testing.T) {
	for _, v := range []string{"SWITCHYARD_APP_PASSWORD", "SWITCHYARD_MONITOR_PASSWORD", "SWITCHYARD_REPL_PASSWORD", "SWITCHYARD_ADMIN_PASSWORD"} {
		t.Setenv(v, "pw-"+v)
	}
	c, err := Load("../switchyard.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Users) != 2 || len(c.Nodes) != 3 || c.Users[0].Password.Reveal() != "pw-SWITCHYARD_APP_PASSWORD" {
		t.Fatalf("%+v", c)
	}
	// The example documents the defaults: its sections must equal Default().
	d := Default()
	if c.Limits != d.Limits || !reflect.DeepEqual(c.Routing, d.Routing) || c.Failover != d.Failover || c.Log != d.Log ||
		c.Listen != d.Listen || c.Admin.Listen != d.Admin.Listen || c.HTTP != d.HTTP ||
		c.Monitor.Interval != d.Monitor.Interval || c.Monitor.Timeout != d.Monitor.Timeout || c.Monitor.FailCount != d.Monitor.FailCount {
		t.Errorf("example differs from defaults:\n%+v\n%+v", c, d)
	}
	if c.Nodes[2].Weight != 1 || c.Nodes[0] != DefaultNode("db1", "127.0.0.1:3306") {
		t.Errorf("node defaults: %+v", c.Nodes)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1024", 1024, true}, {"16MB", 16 << 20, true}, {"16MiB", 16 << 20, true},
		{"16 mb", 16 << 20, true}, {"64M", 64 << 20, true}, {"1GB", 1 << 30, true}, {"2KiB", 2048, true},
		{"1T", 1 << 40, true}, {"7B", 7, true}, {" 5 ", 5, true},
		{"", 0, false}, {"MB", 0, false}, {"1.5GB", 0, false}, {"-1", 0, false}, {"10 XB", 0, false},
		{"9223372036854775807", 1<<63 - 1, true}, {"9223372036854775808", 0, false}, {"8388608TB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok {
			if back, err := ParseSize(FormatSize(got)); err != nil || back != got {
				t.Errorf("FormatSize(%d) = %q does not round-trip", got, FormatSize(got))
			}
		}
	}
}

func TestFormatDurationRoundTrips(t *testing.T) {
	for _, d := range []time.Duration{0, time.Millisecond, 250 * time.Millisecond, time.Second, 90 * time.Second,
		5 * time.Minute, time.Hour, 8 * time.Hour, time.Hour + time.Second, 36 * time.Hour} {
		s := formatDuration(d)
		back, err := time.ParseDuration(s)
		if err != nil || back != d {
			t.Errorf("formatDuration(%v) = %q", d, s)
		}
	}
	if got := formatDuration(5 * time.Minute); got != "5m" {
		t.Errorf("got %q", got)
	}
	if got := formatDuration(time.Hour); got != "1h" {
		t.Errorf("got %q", got)
	}
}
