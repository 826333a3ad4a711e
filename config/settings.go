package config

import (
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
)

// Setting is one effective config value, keyed by its dotted YAML path.
type Setting struct {
	Key   string // e.g. limits.max_client_connections, nodes[0].address
	Value string // secrets are "***"
}

// Settings lists every effective value, defaults included, in schema order,
// with every secret shown as "***". Durations print as Go durations ("5m"),
// sizes with a binary unit ("1GiB"), booleans as true/false. The tls keys
// appear with empty values when client TLS is not configured, so the list
// has the same shape for any config with the same users and nodes.
func (c *Config) Settings() []Setting {
	return c.settings(false)
}

// Masked returns Settings as a map, for the admin port's effective-config
// table.
func (c *Config) Masked() map[string]string {
	m := map[string]string{}
	for _, s := range c.settings(false) {
		m[s.Key] = s.Value
	}
	return m
}

// LogValue makes slog print a config as its masked settings.
func (c *Config) LogValue() slog.Value {
	ss := c.settings(false)
	attrs := make([]slog.Attr, len(ss))
	for i, s := range ss {
		attrs[i] = slog.String(s.Key, s.Value)
	}
	return slog.GroupValue(attrs...)
}

func (c *Config) settings(reveal bool) []Setting {
	var out []Setting
	add := func(k, v string) { out = append(out, Setting{k, v}) }
	sec := func(k string, s Secret) {
		if reveal {
			add(k, s.Reveal())
			return
		}
		add(k, masked)
	}
	b := strconv.FormatBool
	itoa := strconv.Itoa
	dur := formatDuration

	add("listen", c.Listen)
	for i, u := range c.Users {
		p := fmt.Sprintf("users[%d].", i)
		add(p+"user", u.User)
		sec(p+"password", u.Password)
		add(p+"auth", string(u.Auth))
	}
	for i, n := range c.Nodes {
		p := fmt.Sprintf("nodes[%d].", i)
		add(p+"name", n.Name)
		add(p+"address", n.Address)
		add(p+"weight", itoa(n.Weight))
		add(p+"promotion", string(n.Promotion))
		add(p+"local", b(n.Local))
	}
	add("monitor.user", c.Monitor.User)
	sec("monitor.password", c.Monitor.Password)
	add("monitor.interval", dur(c.Monitor.Interval))
	add("monitor.timeout", dur(c.Monitor.Timeout))
	add("monitor.failcount", itoa(c.Monitor.FailCount))
	add("replication.user", c.Replication.User)
	sec("replication.password", c.Replication.Password)
	add("admin.listen", c.Admin.Listen)
	add("admin.user", c.Admin.User)
	sec("admin.password", c.Admin.Password)
	add("http.listen", c.HTTP.Listen)

	t := c.TLS
	if t == nil {
		t = &TLS{}
	}
	add("tls.cert", t.Cert)
	add("tls.key", t.Key)
	add("tls.ca", t.CA)
	add("tls.require", b(t.Require))
	bt := c.BackendTLS
	if bt == nil {
		bt = &BackendTLS{}
	}
	add("backend_tls.enabled", b(bt.Enabled))
	add("backend_tls.ca", bt.CA)
	add("backend_tls.cert", bt.Cert)
	add("backend_tls.key", bt.Key)
	add("backend_tls.server_name", bt.ServerName)
	add("backend_tls.insecure_skip_verify", b(bt.InsecureSkipVerify))

	l := c.Limits
	add("limits.max_client_connections", itoa(l.MaxClientConnections))
	add("limits.max_backend_connections_per_node", itoa(l.MaxBackendConnectionsPerNode))
	add("limits.max_idle_backend_connections_per_node", itoa(l.MaxIdleBackendConnectionsPerNode))
	add("limits.backend_idle_timeout", dur(l.BackendIdleTimeout))
	add("limits.client_idle_timeout", dur(l.ClientIdleTimeout))
	add("limits.handshake_timeout", dur(l.HandshakeTimeout))
	add("limits.connect_timeout", dur(l.ConnectTimeout))
	add("limits.shutdown_timeout", dur(l.ShutdownTimeout))
	add("limits.max_packet_size", FormatSize(l.MaxPacketSize))

	r := c.Routing
	add("routing.consistency", string(r.Consistency))
	add("routing.max_replica_lag", dur(r.MaxReplicaLag))
	add("routing.no_replica", string(r.NoReplica))
	add("routing.read_wait_timeout", dur(r.ReadWaitTimeout))
	add("routing.pipeline_reads", b(r.PipelineReads))
	for i, rule := range r.Rules {
		p := fmt.Sprintf("routing.rules[%d].", i)
		if rule.Match != "" {
			add(p+"match", rule.Match)
		} else {
			add(p+"digest", rule.Digest)
		}
		add(p+"route", string(rule.Route))
	}

	add("drill.kill_command", c.Drill.KillCommand)
	add("drill.stop_command", c.Drill.StopCommand)
	add("drill.start_command", c.Drill.StartCommand)

	f := c.Failover
	add("failover.automatic", b(f.Automatic))
	add("failover.write_hold", dur(f.WriteHold))
	add("failover.block_period", dur(f.BlockPeriod))
	add("failover.grace_period", dur(f.GracePeriod))
	add("failover.semi_sync", b(f.SemiSync))
	add("failover.hooks.pre_failover", f.Hooks.PreFailover)
	add("failover.hooks.post_failover", f.Hooks.PostFailover)
	add("failover.hooks.post_unsuccessful_failover", f.Hooks.PostUnsuccessfulFailover)
	add("failover.hooks.timeout", dur(f.Hooks.Timeout))
	add("failover.promote_command", f.PromoteCommand)

	add("log.level", levelName(c.Log.Level))
	add("log.format", string(c.Log.Format))
	loops := strconv.Itoa(c.Runtime.EventLoops)
	if c.Runtime.EventLoops == EventLoopsAuto {
		loops = "auto"
	}
	add("runtime.event_loops", loops)
	return out
}

// reloadablePrefixes are the keys a running proxy applies without a restart.
var reloadablePrefixes = []string{"limits.", "routing.", "failover.", "log.level"}

// Reloadable reports whether every difference between c (running) and next
// can be applied at run time. These can: users (added, removed, passwords),
// nodes added or removed, a node's weight, promotion and local, limits,
// routing, failover and log.level. Anything else — listen, admin.*, http.*,
// tls.*, backend_tls.*, monitor.*, replication.*, log.format, and a node
// whose name stays but whose address changes — needs a restart, and the
// *RestartRequiredError names those keys (nodes by name:
// nodes[name=db1].address). Nodes are matched by name, so reordering the
// list is no change.
func (c *Config) Reloadable(next *Config) error {
	if next == nil {
		return fmt.Errorf("config: Reloadable: next config is nil")
	}
	flat := func(cfg *Config) ([]string, map[string]string) {
		var keys []string
		m := map[string]string{}
		for _, s := range cfg.settings(true) {
			if strings.HasPrefix(s.Key, "users[") || strings.HasPrefix(s.Key, "nodes[") {
				continue
			}
			keys = append(keys, s.Key)
			m[s.Key] = s.Value
		}
		return keys, m
	}
	keys, cur := flat(c)
	_, nxt := flat(next)

	var restart []string
	for _, k := range keys {
		if cur[k] == nxt[k] || hasAnyPrefix(k, reloadablePrefixes) {
			continue
		}
		restart = append(restart, k)
	}

	oldAddr := map[string]string{}
	for _, n := range c.Nodes {
		oldAddr[n.Name] = n.Address
	}
	var moved []string
	for _, n := range next.Nodes {
		if a, ok := oldAddr[n.Name]; ok && normalizeAddress(a) != normalizeAddress(n.Address) {
			moved = append(moved, fmt.Sprintf("nodes[name=%s].address", n.Name))
		}
	}
	sort.Strings(moved)
	restart = append(restart, moved...)

	if len(restart) > 0 {
		return &RestartRequiredError{Keys: restart}
	}
	return nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
