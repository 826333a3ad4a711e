package config

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Load reads the YAML file at path, resolves secrets and validates it.
// Relative file paths in the config are taken relative to path's directory.
// A config that is not valid gives Errors (every problem) and no Config.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parse(data, path, filepath.Dir(path), os.LookupEnv)
}

// Parse parses and validates YAML config data; name (usually the file name)
// prefixes every message and becomes Config.Path. Secrets from the
// environment and from files are resolved; relative paths are relative to
// the working directory.
func Parse(data []byte, name string) (*Config, error) {
	return parse(data, name, "", os.LookupEnv)
}

var topKeys = []string{"listen", "users", "nodes", "monitor", "replication", "admin", "http",
	"tls", "backend_tls", "limits", "routing", "failover", "drill", "log", "runtime"}

func parse(data []byte, name, baseDir string, lookupEnv func(string) (string, bool)) (*Config, error) {
	if name == "" {
		name = "config"
	}
	d := &decoder{file: name, baseDir: baseDir, lookupEnv: lookupEnv, lines: map[string]int{}}
	root, err := d.document(data)
	if err != nil {
		return nil, err
	}
	c := d.config(root)
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	c.Path = name
	return c, nil
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data into its single YAML document.
func (d *decoder) document(data []byte) (root *yaml.Node, err error) {
	// The YAML library is third-party code fed untrusted input; a panic in it
	// becomes a config error instead of a crash.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, Errors{{File: d.file, Msg: fmt.Sprintf("invalid YAML (%v)", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: d.file, Msg: "the config is empty"}}
		}
		return nil, d.yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, d.yamlError(err)
		}
		return nil, Errors{{File: d.file, Line: extra.Line, Msg: "only one YAML document is allowed"}}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, Errors{{File: d.file, Msg: "the config is empty"}}
	}
	return doc.Content[0], nil
}

func (d *decoder) yamlError(err error) error {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Errors{{File: d.file, Line: line, Msg: "invalid YAML: " + m[2]}}
	}
	return Errors{{File: d.file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}}
}

func (d *decoder) config(root *yaml.Node) *Config {
	c := Default()
	top := d.object(root, "", topKeys...)
	if top.bad {
		return c
	}
	top.line = 0 // a missing top-level key is reported without a line

	if top.has("listen") {
		top.address("listen", &c.Listen, true)
	}
	d.users(top, c)
	d.nodes(top, c)

	if !top.has("monitor") {
		d.errorf(0, "monitor", "is required (user and password of the account that probes the nodes)")
	}
	m := top.sub("monitor", "user", "password", "password_env", "password_file", "interval", "timeout", "failcount")
	if top.has("monitor") {
		d.requiredUser(m, &c.Monitor.User)
		m.secret(&c.Monitor.Password, true)
	}
	m.duration("interval", &c.Monitor.Interval, atLeast(10*time.Millisecond))
	m.duration("timeout", &c.Monitor.Timeout, positiveDur)
	m.integer("failcount", &c.Monitor.FailCount, positiveInt)

	// Replication defaults to the monitor account when the section is absent.
	c.Replication = c.Monitor.Credentials()
	if top.has("replication") {
		r := top.sub("replication", "user", "password", "password_env", "password_file")
		c.Replication = Credentials{}
		d.requiredUser(r, &c.Replication.User)
		r.secret(&c.Replication.Password, true)
	}

	a := top.sub("admin", "listen", "user", "password", "password_env", "password_file")
	a.listen("listen", &c.Admin.Listen)
	if a.has("user") {
		d.requiredUser(a, &c.Admin.User)
	}
	// An admin port that accepts any password would hand out failover control.
	if c.Admin.Listen != "" && !a.has("password") && !a.has("password_env") && !a.has("password_file") && !a.bad {
		d.errorf(a.line, "admin.password", `is required while the admin port is enabled (or password_env / password_file; admin.listen: "" disables the port)`)
	}
	a.secret(&c.Admin.Password, false)

	h := top.sub("http", "listen")
	h.listen("listen", &c.HTTP.Listen)

	if v, ok := top.vals["tls"]; ok && !isNull(v) {
		c.TLS = d.clientTLS(top.sub("tls", "cert", "key", "ca", "require"))
	}
	if v, ok := top.vals["backend_tls"]; ok && !isNull(v) {
		c.BackendTLS = d.backendTLS(top.sub("backend_tls", "enabled", "ca", "cert", "key", "server_name", "insecure_skip_verify"))
	}

	d.limits(top.sub("limits", "max_client_connections", "max_backend_connections_per_node",
		"max_idle_backend_connections_per_node", "backend_idle_timeout", "client_idle_timeout",
		"handshake_timeout", "connect_timeout", "shutdown_timeout", "max_packet_size"), &c.Limits)

	r := top.sub("routing", "consistency", "max_replica_lag", "no_replica", "read_wait_timeout", "pipeline_reads", "rules")
	enum(r, "consistency", &c.Routing.Consistency, ConsistencyEventual, ConsistencySession, ConsistencyStrong)
	r.duration("max_replica_lag", &c.Routing.MaxReplicaLag, nonNegativeDur)
	enum(r, "no_replica", &c.Routing.NoReplica, NoReplicaMaster, NoReplicaError)
	r.duration("read_wait_timeout", &c.Routing.ReadWaitTimeout, nonNegativeDur)
	r.boolean("pipeline_reads", &c.Routing.PipelineReads)
	if items, ok := r.list("rules"); ok {
		for i, it := range items {
			ro := d.object(it, fmt.Sprintf("routing.rules[%d]", i), "match", "digest", "route")
			var rule Rule
			hasMatch := ro.str("match", &rule.Match)
			hasDigest := ro.str("digest", &rule.Digest)
			switch {
			case hasMatch == hasDigest:
				d.errorf(ro.line, ro.path, "give exactly one of match (a regular expression) or digest (from the admin port's query_digest table)")
			case hasMatch:
				if _, err := regexp.Compile(rule.Match); err != nil {
					d.errorf(ro.lineOf("match"), ro.key("match"), "not a valid regular expression: %v", err)
				}
			case hasDigest:
				if _, err := strconv.ParseUint(rule.Digest, 16, 64); err != nil {
					d.errorf(ro.lineOf("digest"), ro.key("digest"), "must be a hexadecimal digest, got %q", rule.Digest)
				}
			}
			if ro.missing("route", "is required (master or replica)") {
				continue
			}
			enum(ro, "route", &rule.Route, RouteMaster, RouteReplica)
			c.Routing.Rules = append(c.Routing.Rules, rule)
		}
	}

	dr := top.sub("drill", "kill_command", "stop_command", "start_command")
	dr.str("kill_command", &c.Drill.KillCommand)
	dr.str("stop_command", &c.Drill.StopCommand)
	dr.str("start_command", &c.Drill.StartCommand)

	f := top.sub("failover", "automatic", "write_hold", "block_period", "grace_period", "semi_sync", "hooks", "promote_command")
	f.boolean("automatic", &c.Failover.Automatic)
	f.duration("write_hold", &c.Failover.WriteHold, nonNegativeDur)
	f.duration("block_period", &c.Failover.BlockPeriod, nonNegativeDur)
	f.duration("grace_period", &c.Failover.GracePeriod, nonNegativeDur)
	f.boolean("semi_sync", &c.Failover.SemiSync)
	f.str("promote_command", &c.Failover.PromoteCommand)
	hk := f.sub("hooks", "pre_failover", "post_failover", "post_unsuccessful_failover", "timeout")
	hk.str("pre_failover", &c.Failover.Hooks.PreFailover)
	hk.str("post_failover", &c.Failover.Hooks.PostFailover)
	hk.str("post_unsuccessful_failover", &c.Failover.Hooks.PostUnsuccessfulFailover)
	hk.duration("timeout", &c.Failover.Hooks.Timeout, positiveDur)

	l := top.sub("log", "level", "format")
	var level string
	enum(l, "level", &level, "debug", "info", "warn", "error")
	if level != "" {
		_ = c.Log.Level.UnmarshalText([]byte(level)) // one of the four names above
	}
	enum(l, "format", &c.Log.Format, LogText, LogJSON)

	rt := top.sub("runtime", "event_loops")
	if v := rt.vals["event_loops"]; v != nil && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
		if strings.EqualFold(v.Value, "auto") {
			c.Runtime.EventLoops = EventLoopsAuto
		} else {
			d.errorf(v.Line, rt.key("event_loops"), "must be auto, or between 0 (off) and 256, got %q", v.Value)
		}
	} else {
		rt.integer("event_loops", &c.Runtime.EventLoops, func(v int64) string {
			if v < 0 || v > 256 {
				return "must be auto, or between 0 (off) and 256"
			}
			return ""
		})
	}

	d.listenConflicts(c)
	return c
}

func (d *decoder) requiredUser(o *object, dst *string) {
	if o.missing("user", "is required") {
		return
	}
	if o.str("user", dst) && *dst == "" {
		d.errorf(o.lineOf("user"), o.key("user"), "must not be empty")
	}
}

func (d *decoder) users(top *object, c *Config) {
	items, ok := top.list("users")
	if !ok {
		return
	}
	if len(items) == 0 {
		d.errorf(top.lineOf("users"), "users", "at least one user is required")
		return
	}
	seen := map[string]int{}
	for i, it := range items {
		u := d.object(it, fmt.Sprintf("users[%d]", i), "user", "password", "password_env", "password_file", "auth")
		user := User{Auth: AuthNative}
		d.requiredUser(u, &user.User)
		u.secret(&user.Password, true)
		if u.has("auth") {
			enum(u, "auth", &user.Auth, AuthNative, AuthCachingSHA2)
		}
		if user.User != "" {
			if first, dup := seen[user.User]; dup {
				d.errorf(u.lineOf("user"), u.key("user"), "duplicate user %q (also users[%d])", user.User, first)
			}
			seen[user.User] = i
		}
		c.Users = append(c.Users, user)
	}
}

var nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$`)

func (d *decoder) nodes(top *object, c *Config) {
	items, ok := top.list("nodes")
	if !ok {
		return
	}
	if len(items) == 0 {
		d.errorf(top.lineOf("nodes"), "nodes", "at least one node is required")
		return
	}
	names := map[string]int{}
	addrs := map[string]int{}
	for i, it := range items {
		o := d.object(it, fmt.Sprintf("nodes[%d]", i), "name", "address", "weight", "promotion", "local")
		n := DefaultNode("", "")
		if !o.missing("name", "is required") && o.str("name", &n.Name) {
			switch {
			case !nodeNameRE.MatchString(n.Name):
				d.errorf(o.lineOf("name"), o.key("name"), "must be 1-64 letters, digits or _ . : - (not starting with . : -), got %q", n.Name)
			default:
				if first, dup := names[n.Name]; dup {
					d.errorf(o.lineOf("name"), o.key("name"), "duplicate node name %q (also nodes[%d])", n.Name, first)
				}
				names[n.Name] = i
			}
		}
		if !o.missing("address", "is required") {
			o.address("address", &n.Address, false)
			if n.Address != "" {
				key := normalizeAddress(n.Address)
				if first, dup := addrs[key]; dup {
					d.errorf(o.lineOf("address"), o.key("address"), "duplicate address %s (also nodes[%d])", n.Address, first)
				}
				addrs[key] = i
			}
		}
		o.integer("weight", &n.Weight, nonNegativeInt)
		enum(o, "promotion", &n.Promotion, PromotionPrefer, PromotionNeutral, PromotionNever)
		o.boolean("local", &n.Local)
		c.Nodes = append(c.Nodes, n)
	}
}

func normalizeAddress(a string) string {
	host, port, err := splitHostPort(a)
	if err != nil {
		return a
	}
	return strings.ToLower(host) + ":" + strconv.Itoa(port)
}

func (d *decoder) limits(o *object, l *Limits) {
	var n int
	o.integer("max_client_connections", &l.MaxClientConnections, positiveInt)
	o.integer("max_backend_connections_per_node", &l.MaxBackendConnectionsPerNode, positiveInt)
	n = -1
	o.integer("max_idle_backend_connections_per_node", &n, nonNegativeInt)
	if n >= 0 {
		l.MaxIdleBackendConnectionsPerNode = n
	}
	o.duration("backend_idle_timeout", &l.BackendIdleTimeout, positiveDur)
	o.duration("client_idle_timeout", &l.ClientIdleTimeout, positiveDur)
	o.duration("handshake_timeout", &l.HandshakeTimeout, positiveDur)
	o.duration("connect_timeout", &l.ConnectTimeout, positiveDur)
	o.duration("shutdown_timeout", &l.ShutdownTimeout, nonNegativeDur)
	// MySQL's own bounds for max_allowed_packet.
	o.size("max_packet_size", &l.MaxPacketSize, sizeBetween(1<<10, 1<<30))

	if l.MaxIdleBackendConnectionsPerNode > l.MaxBackendConnectionsPerNode {
		k := "max_idle_backend_connections_per_node"
		if !o.has(k) {
			k = "max_backend_connections_per_node"
		}
		d.errorf(o.lineOf(k), o.key(k), "max_idle_backend_connections_per_node (%d) must not exceed max_backend_connections_per_node (%d)",
			l.MaxIdleBackendConnectionsPerNode, l.MaxBackendConnectionsPerNode)
	}
}

func (d *decoder) clientTLS(o *object) *TLS {
	t := &TLS{}
	okCert, okKey := o.filePath("cert", &t.Cert), o.filePath("key", &t.Key)
	o.missing("cert", "is required when tls is configured")
	o.missing("key", "is required when tls is configured")
	if okCert && okKey {
		if _, err := loadKeyPair(t.Cert, t.Key); err != nil {
			d.errorf(o.lineOf("cert"), o.key("cert"), "%v", err)
		}
	}
	if o.filePath("ca", &t.CA) {
		if _, err := loadCAPool(t.CA); err != nil {
			d.errorf(o.lineOf("ca"), o.key("ca"), "%v", err)
		}
	}
	o.boolean("require", &t.Require)
	return t
}

func (d *decoder) backendTLS(o *object) *BackendTLS {
	t := &BackendTLS{}
	o.boolean("enabled", &t.Enabled)
	okCert, okKey := o.filePath("cert", &t.Cert), o.filePath("key", &t.Key)
	switch {
	case o.has("cert") && !o.has("key"):
		d.errorf(o.lineOf("cert"), o.key("key"), "is required when backend_tls.cert is given")
	case o.has("key") && !o.has("cert"):
		d.errorf(o.lineOf("key"), o.key("cert"), "is required when backend_tls.key is given")
	case okCert && okKey:
		if _, err := loadKeyPair(t.Cert, t.Key); err != nil {
			d.errorf(o.lineOf("cert"), o.key("cert"), "%v", err)
		}
	}
	if o.filePath("ca", &t.CA) {
		if _, err := loadCAPool(t.CA); err != nil {
			d.errorf(o.lineOf("ca"), o.key("ca"), "%v", err)
		}
	}
	o.str("server_name", &t.ServerName)
	o.boolean("insecure_skip_verify", &t.InsecureSkipVerify)
	return t
}

// listenConflicts reports two listen keys on the same fixed address.
func (d *decoder) listenConflicts(c *Config) {
	type l struct{ key, addr string }
	all := []l{{"listen", c.Listen}, {"admin.listen", c.Admin.Listen}, {"http.listen", c.HTTP.Listen}}
	seen := map[string]string{}
	for _, x := range all {
		host, port, err := splitHostPort(x.addr)
		if x.addr == "" || err != nil || port == 0 {
			continue
		}
		norm := strings.ToLower(host) + ":" + strconv.Itoa(port)
		if other, dup := seen[norm]; dup {
			d.errorf(d.lines[x.key], x.key, "same address as %s (%s)", other, x.addr)
			continue
		}
		seen[norm] = x.key
	}
}

func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := readSmallFile(certFile, maxPEMFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cannot read certificate: %w", err)
	}
	keyPEM, err := readSmallFile(keyFile, maxPEMFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cannot read key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate %s and key %s do not load as a pair: %w", certFile, keyFile, err)
	}
	return pair, nil
}

func loadCAPool(caFile string) (*x509.CertPool, error) {
	pem, err := readSmallFile(caFile, maxPEMFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
	}
	return pool, nil
}

// levelName is the config spelling of a slog level.
func levelName(l slog.Level) string { return strings.ToLower(l.String()) }
