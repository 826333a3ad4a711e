package failover

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/gtid"
)

const nastyPassword = `pa'ss\"word\'; DROP TABLE x; --`

var (
	maria   = Dialect{Flavor: gtid.MariaDB}
	mysql84 = NewDialect(gtid.MySQL, "8.4.3")
	mysql80 = NewDialect(gtid.MySQL, "8.0.21-log")
	src     = Source{Host: "127.0.0.1", Port: 3307, User: "repl", Password: nastyPassword}
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `''`},
		{"plain", `'plain'`},
		{"it's", `'it\'s'`},
		{`back\slash`, `'back\\slash'`},
		{`\'`, `'\\\''`},
		{"nl\n\r\x00\x1a\"", `'nl\n\r\0\Z\"'`},
		{"ünïcode", "'ünïcode'"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestStatements(t *testing.T) {
	pw := Quote(nastyPassword)
	mustStep := func(s Step, err error) Step {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name string
		step Step
		want []string
	}{
		{"promote mariadb", mustStep(Promote(maria)), []string{
			"STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = 0"}},
		{"promote mysql 8.4", mustStep(Promote(mysql84)), []string{
			"STOP REPLICA", "RESET REPLICA ALL", "SET GLOBAL super_read_only = 0", "SET GLOBAL read_only = 0"}},
		{"promote mysql 8.0.21", mustStep(Promote(mysql80)), []string{
			"STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL super_read_only = 0", "SET GLOBAL read_only = 0"}},
		{"repoint mariadb", mustStep(Repoint(maria, src)), []string{
			"STOP SLAVE",
			"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=3307, MASTER_USER='repl', MASTER_PASSWORD=" + pw + ", MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
			"START SLAVE"}},
		{"repoint mysql 8.4", mustStep(Repoint(mysql84, src)), []string{
			"STOP REPLICA",
			"CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=3307, SOURCE_USER='repl', SOURCE_PASSWORD=" + pw + ", SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=1",
			"START REPLICA"}},
		{"repoint mysql 8.0.21", mustStep(Repoint(mysql80, src)), []string{
			"STOP SLAVE",
			"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=3307, MASTER_USER='repl', MASTER_PASSWORD=" + pw + ", MASTER_AUTO_POSITION=1, GET_MASTER_PUBLIC_KEY=1, MASTER_CONNECT_RETRY=1",
			"START SLAVE"}},
		{"repoint mysql 5.7 no public key option", mustStep(Repoint(NewDialect(gtid.MySQL, "5.7.44"), Source{Host: "h", Port: 1, User: "u"})), []string{
			"STOP SLAVE",
			"CHANGE MASTER TO MASTER_HOST='h', MASTER_PORT=1, MASTER_USER='u', MASTER_PASSWORD='', MASTER_AUTO_POSITION=1, MASTER_CONNECT_RETRY=1",
			"START SLAVE"}},
		{"repoint mariadb heartbeat ssl", mustStep(Repoint(maria, Source{Host: "db-1", Port: 3306, User: "r", Password: "x", HeartbeatPeriod: 500 * time.Millisecond, SSL: true})), []string{
			"STOP SLAVE",
			"CHANGE MASTER TO MASTER_HOST='db-1', MASTER_PORT=3306, MASTER_USER='r', MASTER_PASSWORD='x', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=0.5, MASTER_SSL=1",
			"START SLAVE"}},
		{"fence mariadb", mustStep(Fence(maria)), []string{"SET GLOBAL read_only = 1"}},
		{"fence mysql", mustStep(Fence(mysql84)), []string{"SET GLOBAL read_only = 1", "SET GLOBAL super_read_only = 1"}},
		{"rejoin mariadb", mustStep(Rejoin(maria, src)), []string{
			"SET GLOBAL read_only = 1",
			"STOP SLAVE",
			"SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_current_pos",
			"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=3307, MASTER_USER='repl', MASTER_PASSWORD=" + pw + ", MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
			"START SLAVE"}},
		{"rejoin mysql", mustStep(Rejoin(mysql84, src)), []string{
			"SET GLOBAL read_only = 1",
			"SET GLOBAL super_read_only = 1",
			"STOP REPLICA",
			"CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=3307, SOURCE_USER='repl', SOURCE_PASSWORD=" + pw + ", SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=1",
			"START REPLICA"}},
		{"semi-sync master mariadb", mustStep(SemiSync(maria, SemiSyncMaster)), []string{
			"SET GLOBAL rpl_semi_sync_master_enabled = ON", "SET GLOBAL rpl_semi_sync_slave_enabled = OFF"}},
		{"semi-sync replica mariadb", mustStep(SemiSync(maria, SemiSyncReplica)), []string{
			"SET GLOBAL rpl_semi_sync_master_enabled = OFF", "SET GLOBAL rpl_semi_sync_slave_enabled = ON"}},
		{"semi-sync off mariadb", mustStep(SemiSync(maria, SemiSyncOff)), []string{
			"SET GLOBAL rpl_semi_sync_master_enabled = OFF", "SET GLOBAL rpl_semi_sync_slave_enabled = OFF"}},
		{"semi-sync master mysql 8.4", mustStep(SemiSync(mysql84, SemiSyncMaster)), []string{
			"SET GLOBAL rpl_semi_sync_source_enabled = ON", "SET GLOBAL rpl_semi_sync_replica_enabled = OFF"}},
		{"semi-sync replica mysql 8.0.21", mustStep(SemiSync(mysql80, SemiSyncReplica)), []string{
			"SET GLOBAL rpl_semi_sync_master_enabled = OFF", "SET GLOBAL rpl_semi_sync_slave_enabled = ON"}},
		{"semi-sync legacy plugins on 8.4", mustStep(SemiSync(Dialect{Flavor: gtid.MySQL, LegacySemiSync: true}, SemiSyncReplica)), []string{
			"SET GLOBAL rpl_semi_sync_master_enabled = OFF", "SET GLOBAL rpl_semi_sync_slave_enabled = ON"}},
		{"wait mariadb", mustStep(WaitForPosition(maria, mpos("0-1-100,1-2-5"), 2500*time.Millisecond)), []string{
			"SELECT MASTER_GTID_WAIT('0-1-100,1-2-5', 2.5)"}},
		{"wait mysql rounds up", mustStep(WaitForPosition(mysql84, ypos(uuidA+":1-5"), 2500*time.Millisecond)), []string{
			"SELECT WAIT_FOR_EXECUTED_GTID_SET('" + uuidA + ":1-5', 3)"}},
		{"wait empty position", mustStep(WaitForPosition(maria, gtid.Set{}, time.Second)), []string{
			"SELECT MASTER_GTID_WAIT('', 1)"}},
		{"start sql thread mariadb", mustStep(StartSQLThread(maria)), []string{"START SLAVE SQL_THREAD"}},
		{"start sql thread mysql", mustStep(StartSQLThread(mysql84)), []string{"START REPLICA SQL_THREAD"}},
		{"kill", KillConnections([]uint64{12, 7}), []string{"KILL CONNECTION 12", "KILL CONNECTION 7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.step.SQL()
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			red := tt.step.Redacted()
			if len(red) != len(got) {
				t.Fatalf("redacted has %d statements, want %d", len(red), len(got))
			}
			for i := range red {
				if strings.Contains(red[i], "pa'ss") || strings.Contains(red[i], `pa\'ss`) {
					t.Errorf("redacted statement leaks the password: %s", red[i])
				}
				if !strings.Contains(got[i], "PASSWORD=") && red[i] != got[i] {
					t.Errorf("redaction changed a statement without a password: %s", red[i])
				}
			}
		})
	}
}

func TestStepNeverLeaksPassword(t *testing.T) {
	st, err := Repoint(maria, Source{Host: "h", Port: 3306, User: "u", Password: "s3cr3t-pw"})
	if err != nil {
		t.Fatal(err)
	}
	wrapper := struct {
		S    Step
		Node string
	}{st, "r1"}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("step", "step", st)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("step", "step", st)
	outs := []string{
		st.String(), fmt.Sprint(st), fmt.Sprintf("%v %+v %#v %s %q %d %x", st, st, st, st, st, st, st),
		fmt.Sprintf("%v %+v %#v", wrapper, wrapper, wrapper), fmt.Sprint([]Step{st}), logs.String(),
		strings.Join(st.Redacted(), ";"),
	}
	for _, o := range outs {
		if strings.Contains(o, "s3cr3t") || strings.Contains(o, "733363723374") {
			t.Errorf("password leaked: %s", o)
		}
		if !strings.Contains(o, "redacted") && !strings.Contains(o, "3c72656461637465643e") {
			t.Errorf("no redaction marker in %s", o)
		}
	}
	if !strings.Contains(strings.Join(st.SQL(), ";"), "'s3cr3t-pw'") {
		t.Error("SQL lost the password")
	}
	// SQL returns a copy: callers cannot alter the step.
	st.SQL()[1] = "DROP DATABASE x"
	if strings.Contains(strings.Join(st.SQL(), ";"), "DROP") {
		t.Error("SQL exposes internal slice")
	}
}

func TestStatementErrors(t *testing.T) {
	bad := []struct {
		name string
		err  error
	}{
		{"unknown flavour promote", func() error { _, err := Promote(Dialect{Flavor: "oracle"}); return err }()},
		{"empty host", func() error { _, err := Repoint(maria, Source{Port: 1, User: "u"}); return err }()},
		{"port zero", func() error { _, err := Repoint(maria, Source{Host: "h", User: "u"}); return err }()},
		{"port too big", func() error { _, err := Rejoin(maria, Source{Host: "h", Port: 70000, User: "u"}); return err }()},
		{"empty user", func() error { _, err := Repoint(mysql84, Source{Host: "h", Port: 1}); return err }()},
		{"flavour mismatch", func() error { _, err := WaitForPosition(mysql84, mpos("0-1-1"), time.Second); return err }()},
		{"zero timeout", func() error { _, err := WaitForPosition(maria, mpos("0-1-1"), 0); return err }()},
	}
	for _, b := range bad {
		if b.err == nil {
			t.Errorf("%s: no error", b.name)
		}
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want Version
	}{
		{"8.0.36", Version{8, 0, 36}},
		{"8.4.0-log", Version{8, 4, 0}},
		{"10.11.6-MariaDB-0+deb12u1", Version{10, 11, 6}},
		{"5.7", Version{5, 7, 0}},
		{"", Version{}},
		{"garbage", Version{}},
	}
	for _, tt := range tests {
		if got := ParseVersion(tt.in); got != tt.want {
			t.Errorf("ParseVersion(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if !(Version{}).AtLeast(99, 0, 0) || !(Version{8, 0, 22}).AtLeast(8, 0, 22) || (Version{8, 0, 21}).AtLeast(8, 0, 22) || !(Version{8, 1, 0}).AtLeast(8, 0, 26) {
		t.Error("AtLeast")
	}
}

func TestWaitSucceededAndQuery(t *testing.T) {
	for in, want := range map[string]bool{"0": true, " 0\n": true, "-1": false, "1": false, "": false, "NULL": false} {
		if WaitSucceeded(in) != want {
			t.Errorf("WaitSucceeded(%q) != %v", in, want)
		}
	}
	q := AppConnectionsQuery("monitor", "o'brien")
	for _, want := range []string{"ID <> CONNECTION_ID()", "'monitor'", `'o\'brien'`, "'Binlog Dump GTID'", "'system user'"} {
		if !strings.Contains(q, want) {
			t.Errorf("query %q lacks %q", q, want)
		}
	}
}

// unquote reads a literal the way the server does without NO_BACKSLASH_ESCAPES.
func unquote(t *testing.T, q string) string {
	if len(q) < 2 || q[0] != '\'' || q[len(q)-1] != '\'' {
		t.Fatalf("not a literal: %s", q)
	}
	var b strings.Builder
	in := q[1 : len(q)-1]
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c == '\'' {
			t.Fatalf("unescaped quote at %d in %s", i, q)
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(in) {
			t.Fatalf("literal ends in a lone backslash: %s", q)
		}
		switch in[i] {
		case '0':
			b.WriteByte(0)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'Z':
			b.WriteByte(0x1a)
		default:
			b.WriteByte(in[i])
		}
	}
	return b.String()
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", nastyPassword, `\`, `'`, "\x00\n\r\x1a", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := unquote(t, Quote(s)); got != s {
			t.Fatalf("Quote(%q) reads back as %q", s, got)
		}
	})
}
