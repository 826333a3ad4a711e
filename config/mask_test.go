package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// secrets used by secretConfig; none may appear in any printed form.
var secretValues = []string{"app-pw-1", "mon-pw-2", "repl-pw-3", "admin-pw-4"}

func secretConfig(t *testing.T) *Config {
	t.Helper()
	y := `users:
  - user: app
    password: app-pw-1
nodes: [{name: db1, address: "127.0.0.1:3306"}, {name: db2, address: "127.0.0.1:3307"}]
monitor: {user: monitor, password: mon-pw-2}
replication: {user: repl, password: repl-pw-3}
admin: {password: admin-pw-4}
`
	c, err := parseTest(t, y)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range secretValues {
		if strings.Contains(out, s) {
			t.Errorf("%s leaks %q:\n%s", what, s, out)
		}
	}
	if !strings.Contains(out, "***") {
		t.Errorf("%s shows no mask:\n%s", what, out)
	}
}

func TestConfigNeverPrintsPasswords(t *testing.T) {
	c := secretConfig(t)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v", "%-8s"} {
		assertNoSecret(t, "fmt "+verb+" *Config", fmt.Sprintf(verb, c))
		assertNoSecret(t, "fmt "+verb+" Config", fmt.Sprintf(verb, *c))
		assertNoSecret(t, "fmt "+verb+" users", fmt.Sprintf(verb, c.Users))
		assertNoSecret(t, "fmt "+verb+" Secret", fmt.Sprintf(verb, c.Monitor.Password))
	}
	assertNoSecret(t, "Sprint", fmt.Sprint(c, *c, c.Admin, c.Replication.Password))
	assertNoSecret(t, "Sprintf %v %+v", fmt.Sprintf("%v %+v", c, c))

	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(h(&buf))
		log.Info("loaded", "cfg", c, "plain", *c, "monitor", c.Monitor, "pw", c.Admin.Password, "users", c.Users)
		assertNoSecret(t, "slog", buf.String())
	}

	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "json", string(js))
	ym, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "yaml", string(ym))

	// Reveal still returns the real value.
	if c.Admin.Password.Reveal() != "admin-pw-4" {
		t.Fatal("Reveal lost the password")
	}
}

func TestMasked(t *testing.T) {
	c := secretConfig(t)
	m := c.Masked()
	for k, v := range m {
		for _, s := range secretValues {
			if strings.Contains(v, s) {
				t.Errorf("%s = %q leaks", k, v)
			}
		}
	}
	want := map[string]string{
		"users[0].password":           "***",
		"monitor.password":            "***",
		"replication.password":        "***",
		"admin.password":              "***",
		"users[0].user":               "app",
		"nodes[1].address":            "127.0.0.1:3307",
		"nodes[0].promotion":          "neutral",
		"limits.max_packet_size":      "1GiB",
		"limits.backend_idle_timeout": "5m",
		"limits.client_idle_timeout":  "8h",
		"monitor.interval":            "250ms",
		"log.level":                   "info",
		"tls.cert":                    "",
		"backend_tls.enabled":         "false",
		"failover.hooks.timeout":      "30s",
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("Masked()[%q] = %q, %v; want %q", k, got, ok, v)
		}
	}
	// Settings and Masked agree, and keys are unique.
	ss := c.Settings()
	if len(ss) != len(m) {
		t.Errorf("Settings has %d entries, Masked %d (duplicate keys?)", len(ss), len(m))
	}
}

func TestReloadable(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(c *Config)
		restart []string // nil: reloadable
	}{
		{"identical", func(c *Config) {}, nil},
		{"users changed", func(c *Config) {
			c.Users = append(c.Users, User{User: "new", Password: "x"})
			c.Users[0].Password = "rotated"
		}, nil},
		{"node added and removed", func(c *Config) {
			c.Nodes = []Node{c.Nodes[1], DefaultNode("db9", "127.0.0.1:3399")}
		}, nil},
		{"node reordered and reweighted", func(c *Config) {
			c.Nodes[0], c.Nodes[1] = c.Nodes[1], c.Nodes[0]
			c.Nodes[0].Weight, c.Nodes[0].Promotion, c.Nodes[0].Local = 7, PromotionNever, true
		}, nil},
		{"limits routing failover log level", func(c *Config) {
			c.Limits.MaxClientConnections = 1
			c.Limits.MaxPacketSize = 1 << 20
			c.Routing.Consistency = ConsistencyEventual
			c.Failover.Automatic = false
			c.Failover.Hooks.PreFailover = "x"
			c.Log.Level = slog.LevelDebug
		}, nil},
		{"path differs", func(c *Config) { c.Path = "other.yaml" }, nil},
		{"listen", func(c *Config) { c.Listen = "127.0.0.1:7000" }, []string{"listen"}},
		{"admin and http", func(c *Config) {
			c.Admin.Listen = "127.0.0.1:7001"
			c.Admin.Password = "new"
			c.HTTP.Listen = "127.0.0.1:9000"
		}, []string{"admin.listen", "admin.password", "http.listen"}},
		{"tls added", func(c *Config) { c.TLS = &TLS{Cert: "c", Key: "k"} }, []string{"tls.cert", "tls.key"}},
		{"backend tls", func(c *Config) { c.BackendTLS = &BackendTLS{Enabled: true} }, []string{"backend_tls.enabled"}},
		{"monitor password rotated", func(c *Config) { c.Monitor.Password = "other" }, []string{"monitor.password"}},
		{"log format", func(c *Config) { c.Log.Format = LogJSON }, []string{"log.format"}},
		{"node moved", func(c *Config) { c.Nodes[1].Address = "127.0.0.1:4000" }, []string{"nodes[name=db2].address"}},
		{"node address same after normalising", func(c *Config) { c.Nodes[0].Address = "127.0.0.1:03306" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := secretConfig(t)
			next := secretConfig(t)
			tt.edit(next)
			err := cur.Reloadable(next)
			if tt.restart == nil {
				if err != nil {
					t.Fatalf("want reloadable, got %v", err)
				}
				return
			}
			var rr *RestartRequiredError
			if !errors.As(err, &rr) {
				t.Fatalf("want RestartRequiredError, got %v", err)
			}
			if !reflect.DeepEqual(rr.Keys, tt.restart) {
				t.Fatalf("keys %v, want %v", rr.Keys, tt.restart)
			}
			for _, s := range append(secretValues, "other", "new") {
				if strings.Contains(err.Error(), "="+s) || strings.Contains(err.Error(), " "+s) {
					t.Fatalf("error leaks a secret: %v", err)
				}
			}
		})
	}
	if err := secretConfig(t).Reloadable(nil); err == nil {
		t.Error("nil next accepted")
	}
}
