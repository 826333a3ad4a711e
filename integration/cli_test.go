package integration

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const cliScript = `DROP TABLE IF EXISTS cli_t;
CREATE TABLE cli_t (id INT PRIMARY KEY, name VARCHAR(20), price DECIMAL(8,2), created DATE, note TEXT NULL, f DOUBLE);
INSERT INTO cli_t VALUES (1,'apple',1.25,'2024-01-01',NULL,9e15),(2,'bänana €',0.5,'2024-02-29','ripe',-0.0),(3,'cherry',10,'2023-12-31','tab	and\nnewline',1e-300);
SELECT * FROM cli_t ORDER BY id;
SELECT COUNT(*), SUM(price), MAX(created) FROM cli_t;
UPDATE cli_t SET price = price * 2 WHERE id > 1;
SELECT id, price FROM cli_t WHERE id >= 2 ORDER BY id;
SELECT seq, REPEAT('ab', seq % 37), seq * 1.5 FROM seq_1_to_300;
SELECT 1/0, CAST('x' AS INT);
SHOW WARNINGS;
SELECT * FROM cli_t WHERE id = 42;
SHOW CREATE TABLE cli_t;
SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'test' AND TABLE_NAME = 'cli_t' ORDER BY ORDINAL_POSITION;
DROP TABLE cli_t;
`

// runCLI runs the mariadb client against addr and returns stdout, stderr and
// the exit code.
func runCLI(t *testing.T, addr string, args ...string) (string, string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	// --no-defaults: no /etc/mysql option files; --skip-ssl: the Debian
	// 10.11 client does not verify by default, but be explicit about plain TCP.
	base := []string{"--no-defaults", "--protocol=TCP", "-h" + host, "-P" + port, "-uapp", "-papp-secret", "--skip-ssl", "--connect-timeout=10"}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/mariadb", append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("mariadb %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("mariadb %v: did not finish: %v", args, ctx.Err())
	}
	return out.String(), errb.String(), code
}

func TestCLISameAsDirect(t *testing.T) {
	if _, err := exec.LookPath("/usr/bin/mariadb"); err != nil {
		t.Skip("no mariadb client")
	}
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	dir := t.TempDir()
	script := filepath.Join(dir, "script.sql")
	if err := writeFile(script, cliScript); err != nil {
		t.Fatal(err)
	}
	// An error in the middle: with --force the client goes on and reports it.
	bad := filepath.Join(dir, "bad.sql")
	if err := writeFile(bad, "CREATE TABLE IF NOT EXISTS cli_b (id INT);\nSELECT 1;\nSELECT * FROM no_such_table;\nINSERT INTO cli_b VALUES (1),(2);\nSELECT COUNT(*) FROM cli_b;\nDROP TABLE cli_b;\n"); err != nil {
		t.Fatal(err)
	}
	vertical := "CREATE TABLE cli_v (id INT, s VARCHAR(10), n DECIMAL(5,2) NULL); INSERT INTO cli_v VALUES (1,'x',NULL),(2,'yy',3.5); SELECT * FROM cli_v ORDER BY id\\G SELECT @@sql_mode, 'multi\nline' AS m\\G DROP TABLE cli_v"
	runs := []struct {
		name string
		args []string
	}{
		{"source", []string{"test", "-e", "source " + script}},
		{"table", []string{"--table", "test", "-e", "source " + script}},
		{"batch", []string{"-B", "test", "-e", "source " + script}},
		{"batch-raw-noheaders", []string{"-B", "-r", "-N", "test", "-e", "source " + script}},
		{"verbose", []string{"-v", "-v", "--table", "test", "-e", "source " + script}},
		{"xml", []string{"--xml", "test", "-e", "source " + script}},
		{"html", []string{"--html", "test", "-e", "source " + script}},
		{"vertical", []string{"test", "-e", vertical}},
		{"vertical-flag", []string{"-E", "test", "-e", "SELECT seq, seq*seq AS sq FROM seq_1_to_5"}},
		{"show-warnings", []string{"--show-warnings", "test", "-e", "SELECT 1/0; SELECT CAST('1x' AS INT)"}},
		{"force-error", []string{"--force", "test", "-e", "source " + bad}},
		{"error-stops", []string{"test", "-e", "source " + bad}},
		{"no-db-then-use", []string{"-e", "SELECT DATABASE(); USE test; SELECT DATABASE(); SHOW TABLES LIKE 'nothing%'"}},
		{"bad-db", []string{"no_such_db", "-e", "SELECT 1"}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			dOut, dErr, dCode := runCLI(t, e.c.Master().Addr(), r.args...)
			pOut, pErr, pCode := runCLI(t, e.addr, r.args...)
			if dCode != pCode {
				t.Errorf("exit code: direct %d, proxy %d (proxy stderr %q)", dCode, pCode, pErr)
			}
			if dOut != pOut {
				t.Errorf("stdout differs:\n--- direct\n%s\n--- proxy\n%s", dOut, pOut)
			}
			if dErr != pErr {
				t.Errorf("stderr differs:\n--- direct\n%s\n--- proxy\n%s", dErr, pErr)
			}
			if dOut == "" && dErr == "" {
				t.Errorf("no output at all: the comparison proves nothing")
			}
		})
	}
}

func TestCLIStatus(t *testing.T) {
	if _, err := exec.LookPath("/usr/bin/mariadb"); err != nil {
		t.Skip("no mariadb client")
	}
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	out, errs, code := runCLI(t, e.addr, "test", "-e", "status")
	if code != 0 {
		t.Fatalf("status through the proxy: exit %d, stderr %q, stdout %q", code, errs, out)
	}
	for _, want := range []string{e.c.Version, "Current database:\ttest", "Current user:\t\tapp@", "Uptime:", "TCP port:"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
}
