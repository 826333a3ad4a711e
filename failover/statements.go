package failover

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/gtid"
)

// SessionSetup makes sure backslash escapes in string literals mean what
// Quote assumes. Run it once on every connection that executes Steps: with
// NO_BACKSLASH_ESCAPES in sql_mode a password ending in a backslash would
// otherwise break out of its literal.
const SessionSetup = "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')"

const redactedSecret = "'<redacted>'"

// Step is one action on one server: statements to run in order, so the
// executor can report which one failed. Its text forms (String, GoString,
// Format, LogValue) are always redacted; only SQL returns the secrets.
type Step struct {
	Name     string
	sql      []string
	redacted []string
}

// build renders statements twice: with secrets quoted, and with secrets
// replaced by a marker for logs.
func build(name string, render func(secret func(string) string) []string) Step {
	return Step{
		Name:     name,
		sql:      render(Quote),
		redacted: render(func(string) string { return redactedSecret }),
	}
}

// SQL returns the statements to execute. Never log them.
func (s Step) SQL() []string { return append([]string(nil), s.sql...) }

// Redacted returns the statements with passwords replaced, for logs.
func (s Step) Redacted() []string { return append([]string(nil), s.redacted...) }

// String is the redacted form.
func (s Step) String() string { return s.Name + ": " + strings.Join(s.redacted, "; ") }

// GoString keeps %#v redacted too.
func (s Step) GoString() string { return "failover.Step{" + strconv.Quote(s.String()) + "}" }

// Format makes every fmt verb print the redacted form (without it %d or %+v
// on a struct holding a Step would print the raw fields).
func (s Step) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue keeps slog output redacted.
func (s Step) LogValue() slog.Value {
	return slog.GroupValue(slog.String("step", s.Name), slog.Any("sql", s.redacted))
}

// Quote returns s as a single-quoted SQL string literal, escaped as
// mysql_real_escape_string does (backslash escapes; see SessionSetup).
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '"':
			b.WriteString(`\"`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// Version is a server version; the zero Version means "newest syntax".
type Version struct{ Major, Minor, Patch int }

// ParseVersion reads the leading x.y.z of a version string such as
// "8.0.36", "8.4.0-log" or "10.11.6-MariaDB-0+deb12u1"; missing or
// unparsable parts are 0.
func ParseVersion(s string) Version {
	var v [3]int
	for i, part := range strings.SplitN(s, ".", 3) {
		end := 0
		for end < len(part) && part[end] >= '0' && part[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(part[:end])
		if err != nil {
			break
		}
		v[i] = n
		if end < len(part) {
			break
		}
	}
	return Version{v[0], v[1], v[2]}
}

// AtLeast reports whether v >= major.minor.patch; the zero Version is newer
// than everything.
func (v Version) AtLeast(major, minor, patch int) bool {
	if v == (Version{}) {
		return true
	}
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

// Dialect selects statement syntax by flavour and version.
type Dialect struct {
	Flavor  gtid.Flavor
	Version Version
	// LegacySemiSync: on MySQL 8.0.26+ still use rpl_semi_sync_master/slave_*
	// (the old semisync_master/semisync_slave plugins are installed).
	LegacySemiSync bool
}

// NewDialect is a convenience for Dialect{flavor, ParseVersion(version)}.
func NewDialect(flavor gtid.Flavor, version string) Dialect {
	return Dialect{Flavor: flavor, Version: ParseVersion(version)}
}

func (d Dialect) mysql() bool { return d.Flavor == gtid.MySQL }

// replicaWords: MySQL 8.0.22 renamed START/STOP/RESET SLAVE to REPLICA.
func (d Dialect) replicaWords() bool { return d.mysql() && d.Version.AtLeast(8, 0, 22) }

// sourceWords: MySQL 8.0.23 added CHANGE REPLICATION SOURCE TO.
func (d Dialect) sourceWords() bool { return d.mysql() && d.Version.AtLeast(8, 0, 23) }

func (d Dialect) stopReplication() string {
	if d.replicaWords() {
		return "STOP REPLICA"
	}
	return "STOP SLAVE"
}

func (d Dialect) startReplication() string {
	if d.replicaWords() {
		return "START REPLICA"
	}
	return "START SLAVE"
}

func (d Dialect) resetReplication() string {
	if d.replicaWords() {
		return "RESET REPLICA ALL"
	}
	return "RESET SLAVE ALL"
}

func (d Dialect) check() error {
	if d.Flavor != gtid.MariaDB && d.Flavor != gtid.MySQL {
		return fmt.Errorf("failover: unknown flavour %q", d.Flavor)
	}
	return nil
}

// Source is where a replica replicates from.
type Source struct {
	Host     string
	Port     int
	User     string
	Password string
	// HeartbeatPeriod, if positive, sets MASTER_HEARTBEAT_PERIOD so a silent
	// master is noticed (see NodeStatus.SinceReceived).
	HeartbeatPeriod time.Duration
	SSL             bool
}

func (s Source) check() error {
	switch {
	case s.Host == "":
		return fmt.Errorf("failover: source host is empty")
	case s.Port < 1 || s.Port > 65535:
		return fmt.Errorf("failover: source port %d out of range", s.Port)
	case s.User == "":
		return fmt.Errorf("failover: replication user is empty")
	}
	return nil
}

// Promote turns a replica into the master: stop and forget replication,
// then accept writes.
func Promote(d Dialect) (Step, error) {
	if err := d.check(); err != nil {
		return Step{}, err
	}
	return build("promote", func(func(string) string) []string {
		s := []string{d.stopReplication(), d.resetReplication()}
		if d.mysql() {
			// super_read_only first: read_only=0 fails while it is on.
			s = append(s, "SET GLOBAL super_read_only = 0")
		}
		return append(s, "SET GLOBAL read_only = 0")
	}), nil
}

// changeSource renders CHANGE MASTER / CHANGE REPLICATION SOURCE. useGTID is
// MariaDB's MASTER_USE_GTID mode.
func (d Dialect) changeSource(src Source, useGTID string, secret func(string) string) string {
	p := "MASTER_"
	stmt := "CHANGE MASTER TO "
	if d.sourceWords() {
		p = "SOURCE_"
		stmt = "CHANGE REPLICATION SOURCE TO "
	}
	opts := []string{
		p + "HOST=" + Quote(src.Host),
		p + "PORT=" + strconv.Itoa(src.Port),
		p + "USER=" + Quote(src.User),
		p + "PASSWORD=" + secret(src.Password),
	}
	if d.mysql() {
		opts = append(opts, p+"AUTO_POSITION=1")
		if d.Version.AtLeast(8, 0, 0) {
			// caching_sha2_password over a non-TLS link needs the RSA key.
			opts = append(opts, "GET_"+p+"PUBLIC_KEY=1")
		}
	} else {
		opts = append(opts, "MASTER_USE_GTID="+useGTID)
	}
	opts = append(opts, p+"CONNECT_RETRY=1")
	if src.HeartbeatPeriod > 0 {
		opts = append(opts, p+"HEARTBEAT_PERIOD="+strconv.FormatFloat(src.HeartbeatPeriod.Seconds(), 'f', -1, 64))
	}
	if src.SSL {
		opts = append(opts, p+"SSL=1")
	}
	return stmt + strings.Join(opts, ", ")
}

// Repoint makes a replica replicate from src by GTID.
func Repoint(d Dialect, src Source) (Step, error) {
	if err := d.check(); err != nil {
		return Step{}, err
	}
	if err := src.check(); err != nil {
		return Step{}, err
	}
	return build("repoint", func(secret func(string) string) []string {
		return []string{d.stopReplication(), d.changeSource(src, "slave_pos", secret), d.startReplication()}
	}), nil
}

// Rejoin turns an old master into a replica of src. Check first that its
// GTIDs are a subset of the new master's (gtid.Errant empty). It is fenced
// first. On MariaDB its writes as master are in gtid_binlog_pos but not in
// gtid_slave_pos, which may be stale or empty; gtid_slave_pos is set to
// gtid_current_pos so replication by slave_pos (now and at later repoints)
// starts every domain where the server really is, as MariaDB advises for a
// demoted master.
func Rejoin(d Dialect, src Source) (Step, error) {
	if err := d.check(); err != nil {
		return Step{}, err
	}
	if err := src.check(); err != nil {
		return Step{}, err
	}
	return build("rejoin", func(secret func(string) string) []string {
		s := fenceSQL(d)
		s = append(s, d.stopReplication())
		if !d.mysql() {
			s = append(s, "SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_current_pos")
		}
		return append(s, d.changeSource(src, "slave_pos", secret), d.startReplication())
	}), nil
}

func fenceSQL(d Dialect) []string {
	s := []string{"SET GLOBAL read_only = 1"}
	if d.mysql() {
		s = append(s, "SET GLOBAL super_read_only = 1")
	}
	return s
}

// Fence stops a server from taking writes from ordinary users.
func Fence(d Dialect) (Step, error) {
	if err := d.check(); err != nil {
		return Step{}, err
	}
	return build("fence", func(func(string) string) []string { return fenceSQL(d) }), nil
}

// AppConnectionsQuery lists the ids of client connections to kill after
// fencing: everything but this connection, system threads, replication
// dump threads and the given users (the proxy's own monitor user, say).
func AppConnectionsQuery(keepUsers ...string) string {
	users := []string{Quote("system user"), Quote("event_scheduler")}
	for _, u := range keepUsers {
		users = append(users, Quote(u))
	}
	return "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()" +
		" AND USER NOT IN (" + strings.Join(users, ", ") + ")" +
		" AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon')"
}

// KillConnections kills the given connection ids (from AppConnectionsQuery).
// A failed KILL usually means the connection already ended.
func KillConnections(ids []uint64) Step {
	return build("kill connections", func(func(string) string) []string {
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = "KILL CONNECTION " + strconv.FormatUint(id, 10)
		}
		return s
	})
}

// SemiSyncRole is a node's semi-synchronous replication role.
type SemiSyncRole int

const (
	SemiSyncOff     SemiSyncRole = iota // neither side
	SemiSyncMaster                      // waits for a replica's acknowledgement
	SemiSyncReplica                     // acknowledges its master
)

// SemiSync sets a node's semi-sync role. For a replica, set it before
// Repoint/Rejoin: the acknowledgement side takes effect when the IO thread
// starts. MariaDB has semi-sync built in; MySQL needs the plugins loaded.
func SemiSync(d Dialect, role SemiSyncRole) (Step, error) {
	if err := d.check(); err != nil {
		return Step{}, err
	}
	src, rep := "rpl_semi_sync_master_enabled", "rpl_semi_sync_slave_enabled"
	if d.mysql() && d.Version.AtLeast(8, 0, 26) && !d.LegacySemiSync {
		src, rep = "rpl_semi_sync_source_enabled", "rpl_semi_sync_replica_enabled"
	}
	onOff := func(b bool) string {
		if b {
			return "ON"
		}
		return "OFF"
	}
	return build("semi-sync", func(func(string) string) []string {
		return []string{
			"SET GLOBAL " + src + " = " + onOff(role == SemiSyncMaster),
			"SET GLOBAL " + rep + " = " + onOff(role == SemiSyncReplica),
		}
	}), nil
}

// WaitForPosition waits (bounded) until the server has applied pos: the
// relay log of a candidate, or a switchover target catching up with the old
// master. The single result row is 0 on success (see WaitSucceeded).
// MariaDB waits on gtid_slave_pos with fractional seconds; MySQL on
// gtid_executed, with the timeout rounded up to whole seconds.
func WaitForPosition(d Dialect, pos gtid.Set, timeout time.Duration) (Step, error) {
	if err := d.check(); err != nil {
		return Step{}, err
	}
	if !pos.IsEmpty() && pos.Flavor() != d.Flavor {
		return Step{}, fmt.Errorf("failover: %s position for a %s server", pos.Flavor(), d.Flavor)
	}
	if timeout <= 0 {
		return Step{}, fmt.Errorf("failover: wait timeout must be positive, got %s", timeout)
	}
	return build("wait for position", func(func(string) string) []string {
		if d.mysql() {
			secs := int64(math.Ceil(timeout.Seconds()))
			return []string{"SELECT WAIT_FOR_EXECUTED_GTID_SET(" + Quote(pos.String()) + ", " + strconv.FormatInt(secs, 10) + ")"}
		}
		return []string{"SELECT MASTER_GTID_WAIT(" + Quote(pos.String()) + ", " + strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64) + ")"}
	}), nil
}

// WaitSucceeded interprets the result of WaitForPosition: "0" on both
// flavours; MariaDB returns -1 and MySQL 1 on timeout, NULL on error.
func WaitSucceeded(result string) bool { return strings.TrimSpace(result) == "0" }

// StartSQLThread restarts a replica's SQL thread (stopped without error) so
// its relay log can be applied before promotion.
func StartSQLThread(d Dialect) (Step, error) {
	if err := d.check(); err != nil {
		return Step{}, err
	}
	return build("start sql thread", func(func(string) string) []string {
		return []string{d.startReplication() + " SQL_THREAD"}
	}), nil
}
