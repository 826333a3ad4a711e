// Package config loads and validates Switchyard's YAML configuration.
//
// One YAML file configures the proxy. Parsing is strict: an unknown key, a
// value of the wrong type or out of range, a missing required key, or a secret
// that cannot be resolved is an error naming the dotted key path and the line,
// for example
//
//	switchyard.yaml:12: limits.max_client_connections: must be a positive integer, got -5
//
// All problems in a file are reported together (as Errors), and no partial
// Config is ever returned.
//
// Value rules:
//   - Durations are Go duration strings: "500ms", "10s", "1h30m". A bare 0 is
//     accepted; other bare numbers are not (the unit would be a guess).
//   - Sizes are a whole number of bytes (16777216) or a whole number with a
//     unit: K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB, case-insensitive, optional
//     space before the unit. Every unit is a power of 1024, as in MySQL's
//     my.cnf (max_allowed_packet=1G): "16MB" and "16MiB" are both 16777216.
//   - Wherever a password is accepted, exactly one of password (literal),
//     password_env (name of an environment variable) or password_file (path of
//     a file whose trailing newlines are trimmed) must be given. Relative
//     paths (password_file, TLS files) are relative to the config file's
//     directory when loaded with Load, and to the working directory with Parse.
//   - Listen addresses are host:port with a numeric port 0..65535 (0 picks a
//     free port; handy in tests); an empty host listens on all interfaces.
//     Node addresses need a host and a port 1..65535.
package config

import (
	"log/slog"
	"time"
)

// Config is a validated Switchyard configuration. Secrets are resolved:
// Secret.Reveal returns the password whatever its source was.
type Config struct {
	Listen      string // client port, host:port
	Users       []User // accounts clients log in with; at least one
	Nodes       []Node // backend servers; at least one
	Monitor     Monitor
	Replication Credentials // account replicas use to connect to a promoted master; defaults to Monitor's
	Admin       Admin
	HTTP        HTTP
	TLS         *TLS        // client-facing TLS; nil when not configured
	BackendTLS  *BackendTLS // TLS to backends; nil when not configured
	Limits      Limits
	Routing     Routing
	Failover    Failover
	Drill       Drill
	Log         Log
	Runtime     Runtime

	// Path is the file the config was loaded from (Load), or the name given
	// to Parse. It is not a YAML key.
	Path string
}

// Credentials is a MySQL account.
type Credentials struct {
	User     string
	Password Secret
}

// User is an account a client may log in to the proxy with; the proxy uses
// the same account on the backends.
type User struct {
	User     string
	Password Secret
	// Auth is the authentication method asked of clients logging in as this
	// user: mysql_native_password (default) or caching_sha2_password.
	Auth AuthPlugin
}

// AuthPlugin names a client authentication method.
type AuthPlugin string

// The authentication methods Switchyard offers clients.
const (
	AuthNative      AuthPlugin = "mysql_native_password"
	AuthCachingSHA2 AuthPlugin = "caching_sha2_password"
)

// Promotion says how a node is treated when choosing a failover candidate.
type Promotion string

const (
	PromotionPrefer  Promotion = "prefer"
	PromotionNeutral Promotion = "neutral"
	PromotionNever   Promotion = "never"
)

// Node is one backend MySQL/MariaDB server.
type Node struct {
	Name      string
	Address   string // host:port
	Weight    int    // read weight, >= 0; 0 takes no reads unless nothing else is usable
	Promotion Promotion
	Local     bool // the replica local to this proxy, preferred for reads
}

// Monitor configures health probes of the backends.
type Monitor struct {
	User      string
	Password  Secret
	Interval  time.Duration // between probes, >= 10ms
	Timeout   time.Duration // per probe
	FailCount int           // consecutive failed probes before a node counts as down
}

// Credentials returns the monitor account.
func (m Monitor) Credentials() Credentials {
	return Credentials{User: m.User, Password: m.Password}
}

// Admin configures the admin SQL port. An empty Listen disables it.
type Admin struct {
	Listen   string
	User     string
	Password Secret
}

// HTTP configures the /metrics and status HTTP port. Empty Listen disables it.
type HTTP struct {
	Listen string
}

// TLS configures client-facing TLS.
type TLS struct {
	Cert    string // PEM certificate file
	Key     string // PEM key file
	CA      string // optional; when set, client certificates that are presented are verified against it
	Require bool   // refuse clients that do not switch to TLS
}

// BackendTLS configures TLS from the proxy to the backends.
type BackendTLS struct {
	Enabled            bool
	CA                 string // optional; system roots when empty
	Cert               string // optional client certificate (with Key)
	Key                string
	ServerName         string // empty: the caller uses each node's host
	InsecureSkipVerify bool
}

// Limits bounds resources and waits.
type Limits struct {
	MaxClientConnections             int
	MaxBackendConnectionsPerNode     int // per node, all users together
	MaxIdleBackendConnectionsPerNode int // <= MaxBackendConnectionsPerNode
	BackendIdleTimeout               time.Duration
	ClientIdleTimeout                time.Duration
	HandshakeTimeout                 time.Duration
	ConnectTimeout                   time.Duration // backend dial + auth
	ShutdownTimeout                  time.Duration // grace for running statements on SIGTERM
	MaxPacketSize                    int64         // bytes; largest client command accepted
}

// Consistency is the read-your-writes level of the read/write split.
type Consistency string

const (
	ConsistencyEventual Consistency = "eventual"
	ConsistencySession  Consistency = "session"
	ConsistencyStrong   Consistency = "strong"
)

// NoReplica says what reads do when no replica is usable.
type NoReplica string

const (
	NoReplicaMaster NoReplica = "master"
	NoReplicaError  NoReplica = "error"
)

// Routing configures the read/write split.
type Routing struct {
	// Rules force a route for statements matching a pattern or digest.
	Rules           []Rule
	Consistency     Consistency
	MaxReplicaLag   time.Duration
	NoReplica       NoReplica
	ReadWaitTimeout time.Duration
	// PipelineReads: small prepared reads share replica connections, several
	// in flight on one (event loops only; see the README).
	PipelineReads bool
}

// Rule routes the statements that match it. A replica rule never sends a
// write or a locking read to a replica: it acts like a routing hint.
type Rule struct {
	Match  string // regular expression over the statement text
	Digest string // or: hexadecimal digest of the normalised statement
	Route  RouteTo
}

// RouteTo is a rule's destination.
type RouteTo string

// Rule destinations.
const (
	RouteMaster  RouteTo = "master"
	RouteReplica RouteTo = "replica"
)

// Drill configures how drills inject faults on a cluster the sandbox did
// not start: command lines run with {node} and {address} replaced (and
// SWITCHYARD_NODE / SWITCHYARD_ADDRESS in the environment). Without them,
// only switchover-and-back and isolate-master drills can run.
type Drill struct {
	KillCommand  string // e.g. ssh {node} sudo pkill -9 mariadbd
	StopCommand  string
	StartCommand string
}

// Failover configures automatic failover.
type Failover struct {
	Automatic      bool
	WriteHold      time.Duration // new writes wait this long during a failover
	BlockPeriod    time.Duration // no second automatic failover within this
	GracePeriod    time.Duration // replicas must also lose the master for this long
	SemiSync       bool
	Hooks          Hooks
	PromoteCommand string // replaces the built-in promotion steps when set
}

// Hooks are command lines run around a failover.
type Hooks struct {
	PreFailover              string
	PostFailover             string
	PostUnsuccessfulFailover string
	Timeout                  time.Duration
}

// LogFormat is the slog handler used.
type LogFormat string

const (
	LogText LogFormat = "text"
	LogJSON LogFormat = "json"
)

// Log configures logging.
// Runtime tunes how the proxy runs its sessions.
type Runtime struct {
	// EventLoops, when above zero, runs sessions on that many event loops
	// (a locked thread and epoll set each) instead of a goroutine each; 0
	// keeps goroutines; EventLoopsAuto (the default, "auto") is one loop
	// per CPU the process may use, on Linux. Needs a restart.
	EventLoops int
}

// EventLoopsAuto is runtime.event_loops: auto.
const EventLoopsAuto = -1

type Log struct {
	Level  slog.Level // one of slog.LevelDebug, LevelInfo, LevelWarn, LevelError
	Format LogFormat
}

// Defaults of the documented schema.
const (
	DefaultListen      = "127.0.0.1:6033"
	DefaultAdminListen = "127.0.0.1:6032"
	DefaultAdminUser   = "admin"
)

// Default returns a Config holding every default. It has no users, nodes or
// monitor account, so it is not a complete configuration by itself.
func Default() *Config {
	return &Config{
		Listen: DefaultListen,
		Monitor: Monitor{
			Interval:  250 * time.Millisecond,
			Timeout:   time.Second,
			FailCount: 3,
		},
		Admin: Admin{Listen: DefaultAdminListen, User: DefaultAdminUser},
		Limits: Limits{
			MaxClientConnections:             4096,
			MaxBackendConnectionsPerNode:     256,
			MaxIdleBackendConnectionsPerNode: 64,
			BackendIdleTimeout:               5 * time.Minute,
			ClientIdleTimeout:                8 * time.Hour,
			HandshakeTimeout:                 10 * time.Second,
			ConnectTimeout:                   3 * time.Second,
			ShutdownTimeout:                  10 * time.Second,
			MaxPacketSize:                    1 << 30,
		},
		Routing: Routing{
			Consistency:     ConsistencySession,
			MaxReplicaLag:   10 * time.Second,
			NoReplica:       NoReplicaMaster,
			ReadWaitTimeout: time.Second,
		},
		Failover: Failover{
			Automatic:   true,
			WriteHold:   10 * time.Second,
			BlockPeriod: time.Hour,
			GracePeriod: 2 * time.Second,
			Hooks:       Hooks{Timeout: 30 * time.Second},
		},
		Log:     Log{Level: slog.LevelInfo, Format: LogText},
		Runtime: Runtime{EventLoops: EventLoopsAuto},
	}
}

// DefaultNode returns a node with the default weight and promotion rule.
func DefaultNode(name, address string) Node {
	return Node{Name: name, Address: address, Weight: 1, Promotion: PromotionNeutral}
}
