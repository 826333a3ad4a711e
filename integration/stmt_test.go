package integration

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/switchyard/switchyard/wire"
)

// resultText renders a go-mysql result (field types and values) for comparison.
func resultText(r *gmysql.Result) string {
	if r.Resultset == nil {
		return fmt.Sprintf("ok affected=%d insert=%d", r.AffectedRows, r.InsertId)
	}
	var b bytes.Buffer
	for _, f := range r.Fields {
		fmt.Fprintf(&b, "%s:%d:%d:%d:%d|", f.Name, f.Type, f.Flag, f.Charset, f.ColumnLength)
	}
	for _, row := range r.Values {
		b.WriteByte('\n')
		for _, v := range row {
			fmt.Fprintf(&b, "%d:%v|", v.Type, v.Value())
		}
	}
	return b.String()
}

func TestPreparedGoMySQL(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	conns := map[string]*client.Conn{}
	for name, addr := range map[string]string{"direct": e.c.Master().Addr(), "proxy": e.addr} {
		cc, err := client.ConnectWithTimeout(addr, "app", "app-secret", "test", 5*time.Second, func(c *client.Conn) error {
			c.UnsetCapability(gmysql.CLIENT_DEPRECATE_EOF | gmysql.CLIENT_QUERY_ATTRIBUTES)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		conns[name] = cc
	}
	queries := []string{
		"SELECT ? AS v, ? IS NULL AS isnull, CONCAT('n', ?) AS c",
		"SELECT seq, ? * seq FROM seq_1_to_50 WHERE seq > ?",
		"SELECT CAST(? AS DECIMAL(20,5)), CAST(? AS DATETIME(3)), CAST(? AS DOUBLE)",
	}
	argSets := [][]any{
		{int64(7), int64(8), int64(9)},
		{"str", "ü€", "x"},
		{nil, nil, nil},
		{1.5, int64(-1), "2024-02-29 12:34:56.789"},
		{[]byte{0, 1, 2}, uint64(1 << 63), "9e15"},
	}
	const copies = 20 // many statements open at once
	results := map[string][]string{}
	for name, cc := range conns {
		var stmts []*client.Stmt
		for i := 0; i < copies; i++ {
			for _, q := range queries {
				s, err := cc.Prepare(q)
				if err != nil {
					t.Fatalf("%s: prepare %q: %v", name, q, err)
				}
				stmts = append(stmts, s)
			}
		}
		for i, s := range stmts {
			for _, args := range argSets {
				args = args[:s.ParamNum()]
				r, err := s.Execute(args...)
				var out string
				if err != nil {
					out = "error: " + err.Error()
				} else {
					out = resultText(r)
					r.Close()
				}
				// Every copy must give the same answer; record one.
				if i < len(queries) {
					results[name] = append(results[name], out)
				} else if want := results[name][(i%len(queries))*len(argSets)+indexOf(argSets, args)]; want != out {
					t.Fatalf("%s: statement %d differs from its first copy:\n%s\n%s", name, i, out, want)
				}
			}
		}
		// Close all but the last; the closed ones are unknown afterwards.
		for _, s := range stmts[:len(stmts)-1] {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
		_, err := stmts[0].Execute(int64(1), int64(2), int64(3))
		var me *gmysql.MyError
		if !asMy(err, &me) || me.Code != 1243 {
			t.Errorf("%s: executing a closed statement: %v, want 1243", name, err)
		}
		// The last one still works.
		if _, err := stmts[len(stmts)-1].Execute(int64(1), int64(2), int64(3)); err != nil {
			t.Errorf("%s: open statement after closes: %v", name, err)
		}
	}
	if !reflect.DeepEqual(results["direct"], results["proxy"]) {
		for i := range results["direct"] {
			if results["direct"][i] != results["proxy"][i] {
				t.Errorf("result %d differs:\n direct %s\n proxy  %s", i, results["direct"][i], results["proxy"][i])
			}
		}
	}
}

func indexOf(sets [][]any, args []any) int {
	for i, s := range sets {
		if fmt.Sprint(s[:len(args)]) == fmt.Sprint(args) {
			return i
		}
	}
	return -1
}

// TestPreparedLongData: go-sql-driver sends arguments bigger than
// maxAllowedPacket/(params+1) with COM_STMT_SEND_LONG_DATA.
func TestPreparedLongData(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	setup := openDB(t, e.directDSN(""))
	mustExec(t, setup, "DROP TABLE IF EXISTS longdata")
	mustExec(t, setup, "CREATE TABLE longdata (id INT PRIMARY KEY, b LONGBLOB, s LONGTEXT)")
	blob := make([]byte, 300<<10)
	_, _ = rand.Read(blob)
	text := bytes.Repeat([]byte("long text ü "), 20000)
	// A 64 KiB max packet: both arguments go as several long-data chunks.
	db := openDB(t, e.dsn("maxAllowedPacket=65536"))
	stmt, err := db.Prepare("INSERT INTO longdata VALUES (?, ?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	for id := 1; id <= 3; id++ {
		if _, err := stmt.Exec(id, blob, string(text)); err != nil {
			t.Fatalf("insert %d: %v", id, err)
		}
	}
	var got []byte
	var s string
	if err := setup.QueryRow("SELECT b, s FROM longdata WHERE id = 3").Scan(&got, &s); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, blob) || s != string(text) {
		t.Fatalf("long data arrived damaged: %d/%d bytes, %d/%d chars", len(got), len(blob), len(s), len(text))
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM longdata WHERE b = ?", blob).Scan(&n); err != nil || n != 3 {
		t.Fatalf("select by long data: %d %v", n, err)
	}
}

// execPkt builds COM_STMT_EXECUTE with the given cursor flags and BIGINT/
// VARCHAR parameters; types are sent only when withTypes is set, as real
// clients do for repeated executions.
func execPkt(id uint32, flags byte, withTypes bool, args ...any) []byte {
	b := []byte{wire.ComStmtExecute, 0, 0, 0, 0, flags, 1, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[1:], id)
	if len(args) == 0 {
		return b
	}
	null := make([]byte, (len(args)+7)/8)
	var types, vals []byte
	for i, a := range args {
		switch v := a.(type) {
		case nil:
			null[i/8] |= 1 << (i % 8)
			types = append(types, 6, 0) // MYSQL_TYPE_NULL
		case int64:
			types = append(types, 8, 0) // LONGLONG
			vals = binary.LittleEndian.AppendUint64(vals, uint64(v))
		case string:
			types = append(types, 253, 0) // VAR_STRING
			vals = wire.AppendLenEnc(vals, uint64(len(v)))
			vals = append(vals, v...)
		}
	}
	b = append(b, null...)
	if withTypes {
		b = append(b, 1)
		b = append(b, types...)
	} else {
		b = append(b, 0)
	}
	return append(b, vals...)
}

// TestPreparedRawSameAsDirect drives prepared statements packet by packet:
// cursors with COM_STMT_FETCH, COM_STMT_RESET, statement id -1, and
// executions without repeated parameter types; every answer must be byte
// for byte what MariaDB sends directly.
func TestPreparedRawSameAsDirect(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	run := func(addr string) [][]byte {
		r := rawLogin(t, addr, "app", "app-secret", "test")
		var out [][]byte
		id, _, _ := r.prepare("SELECT seq, REPEAT('c', seq % 200), seq / 7 FROM seq_1_to_1000 WHERE seq > ?")
		// Cursor: the execute answers with the columns only.
		r.send(execPkt(id, 1, true, int64(10)))
		out = append(out, r.readResponse()...)
		for {
			r.send(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32([]byte{wire.ComStmtFetch}, id), 97))
			var last []byte
			for {
				p := r.mustRead()
				out = append(out, p)
				if p[0] == wire.ErrHeader || (p[0] == wire.EOFHeader && len(p) < 9) {
					last = p
					break
				}
			}
			if last[0] == wire.ErrHeader || wire.EOFStatus(last)&0x80 != 0 { // LAST_ROW_SENT
				break
			}
		}
		// Reset, then a new cursor, a partial fetch and a reset mid-way.
		r.send(binary.LittleEndian.AppendUint32([]byte{wire.ComStmtReset}, id))
		out = append(out, r.mustRead())
		r.send(execPkt(id, 1, false, int64(990)))
		out = append(out, r.readResponse()...)
		r.send(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32([]byte{wire.ComStmtFetch}, id), 3))
		for i := 0; i < 4; i++ {
			out = append(out, r.mustRead())
		}
		r.send(binary.LittleEndian.AppendUint32([]byte{wire.ComStmtReset}, id))
		out = append(out, r.mustRead())
		// Without a cursor, types omitted on the repeat.
		r.send(execPkt(id, 0, true, int64(995)))
		out = append(out, r.readResponse()...)
		r.send(execPkt(id, 0, false, int64(998)))
		out = append(out, r.readResponse()...)
		// Statement id -1: the statement prepared last.
		id2, _, _ := r.prepare("SELECT CONCAT(?, '!'), ? IS NULL")
		r.send(execPkt(0xffffffff, 0, true, "hi", nil))
		out = append(out, r.readResponse()...)
		r.send(execPkt(id2, 0, false, "again", nil))
		out = append(out, r.readResponse()...)
		// Fetch without a cursor is an error.
		r.send(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32([]byte{wire.ComStmtFetch}, id2), 1))
		out = append(out, r.mustRead())
		return out
	}
	direct := run(e.c.Master().Addr())
	proxied := run(e.addr)
	if len(direct) < 1000 {
		t.Fatalf("only %d packets: the cursor did not run", len(direct))
	}
	if len(direct) != len(proxied) {
		t.Fatalf("direct sent %d packets, proxy %d", len(direct), len(proxied))
	}
	for i := range direct {
		d, p := direct[i], proxied[i]
		if d[0] == wire.ErrHeader && p[0] == wire.ErrHeader {
			// Messages name statement ids, which differ.
			if wire.ParseErr(d).Code != wire.ParseErr(p).Code {
				t.Fatalf("packet %d: direct %v, proxy %v", i, wire.ParseErr(d), wire.ParseErr(p))
			}
			continue
		}
		if !bytes.Equal(d, p) {
			t.Fatalf("packet %d differs:\n direct % x\n proxy  % x", i, head(d), head(p))
		}
	}
}

// TestPreparedSurvivesBackendLoss: a statement outlives the backend it was
// prepared on; the next execution, even one that does not repeat the
// parameter types, runs on a fresh backend.
func TestPreparedSurvivesBackendLoss(t *testing.T) {
	e := startEnv(t, envOptions{})
	ensureTestDB(t, e.c)
	r := rawLogin(t, e.addr, "app", "app-secret", "test")
	id, _, _ := r.prepare("SELECT CAST(? * 2 AS SIGNED), CAST(CONNECTION_ID() AS SIGNED)")
	r.send(execPkt(id, 0, true, int64(21)))
	resp := r.readResponse()
	if resp[0][0] == wire.ErrHeader {
		t.Fatal(wire.ParseErr(resp[0]))
	}
	row := resp[len(resp)-2]
	if len(row) != 18 {
		t.Fatalf("unexpected row % x", row)
	}
	// Binary row: 0x00, null bitmap (1 byte for 2 columns), then two BIGINTs.
	oldThread := binary.LittleEndian.Uint64(row[2+8:])
	if v := binary.LittleEndian.Uint64(row[2:]); v != 42 {
		t.Fatalf("first execute = %d", v)
	}
	mustExec(t, e.adminDB(t), fmt.Sprintf("KILL CONNECTION %d", oldThread))
	var got []uint64
	for i := 0; i < 3 && len(got) == 0; i++ {
		r.send(execPkt(id, 0, false, int64(50)))
		resp = r.readResponse()
		if resp[0][0] == wire.ErrHeader {
			t.Logf("execute after the kill: %v", wire.ParseErr(resp[0]))
			continue
		}
		row = resp[len(resp)-2]
		if len(row) != 18 {
			t.Fatalf("unexpected row % x", row)
		}
		got = []uint64{binary.LittleEndian.Uint64(row[2:]), binary.LittleEndian.Uint64(row[2+8:])}
	}
	if len(got) == 0 {
		t.Fatal("the statement never ran again")
	}
	if got[0] != 100 || got[1] == oldThread {
		t.Fatalf("after backend loss: value %d on thread %d (old thread %d)", got[0], got[1], oldThread)
	}
}
