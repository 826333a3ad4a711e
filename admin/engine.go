package admin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	_ "modernc.org/sqlite" // the embedded SQL engine for the virtual tables
)

// maxResultRows bounds what one admin query may return (a runaway
// recursive CTE must not eat the proxy's memory).
const maxResultRows = 100000

// engine runs SELECTs over the virtual tables in in-memory SQLite
// databases: each query gets a pooled connection (its own private
// database), the tables it mentions are rebuilt from the live sources, and
// the query runs read-only.
type engine struct {
	db *sql.DB
}

func newEngine() (*engine, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, fmt.Errorf("open embedded sqlite: %w", err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	return &engine{db: db}, nil
}

func (e *engine) close() error { return e.db.Close() }

// mentioned returns the tables whose name appears in q as a word.
func mentioned(q string) []table {
	lq := strings.ToLower(q)
	var out []table
	for _, t := range tables {
		for i := 0; ; {
			j := strings.Index(lq[i:], t.name)
			if j < 0 {
				break
			}
			j += i
			end := j + len(t.name)
			if (j == 0 || !identByte(lq[j-1])) && (end == len(lq) || !identByte(lq[end])) {
				out = append(out, t)
				break
			}
			i = end
		}
	}
	return out
}

func identByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z'
}

// query materialises the tables q mentions and runs q.
func (e *engine) query(ctx context.Context, s *Server, q string) (*mysql.Result, error) {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("embedded sqlite: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only = OFF"); err != nil {
		return nil, err
	}
	for _, t := range mentioned(q) {
		if err := materialise(ctx, conn, t, t.rows(s)); err != nil {
			return nil, fmt.Errorf("build table %s: %w", t.name, err)
		}
	}
	// Whatever the statement is, it cannot change anything.
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only = ON"); err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, sqliteError(err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, sqliteError(err)
	}
	types, _ := rows.ColumnTypes()
	declared := make([]string, len(names))
	for i, ct := range types {
		declared[i] = strings.ToUpper(ct.DatabaseTypeName())
	}
	var values [][]any
	for rows.Next() {
		if len(values) >= maxResultRows {
			return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, fmt.Sprintf("result too large: more than %d rows", maxResultRows))
		}
		row := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, sqliteError(err)
		}
		values = append(values, row)
	}
	if err := rows.Err(); err != nil {
		return nil, sqliteError(err)
	}
	rs, err := buildResultset(names, declared, values)
	if err != nil {
		return nil, err
	}
	return mysql.NewResult(rs), nil
}

func materialise(ctx context.Context, conn *sql.Conn, t table, rows [][]any) error {
	var ddl strings.Builder
	fmt.Fprintf(&ddl, "CREATE TABLE %s (", t.name)
	for i, c := range t.cols {
		if i > 0 {
			ddl.WriteString(", ")
		}
		fmt.Fprintf(&ddl, "%q %s", c.name, c.typ)
	}
	ddl.WriteString(")")
	if _, err := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+t.name); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, ddl.String()); err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	ins, err := tx.PrepareContext(ctx, "INSERT INTO "+t.name+" VALUES ("+strings.TrimSuffix(strings.Repeat("?,", len(t.cols)), ",")+")")
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, r := range rows {
		if _, err := ins.ExecContext(ctx, r...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// sqliteError turns an SQLite error into a MySQL one with the nearest code.
func sqliteError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "no such table"):
		return mysql.NewError(mysql.ER_NO_SUCH_TABLE, msg+" (SHOW TABLES lists the admin tables)")
	case strings.Contains(msg, "no such column"):
		return mysql.NewError(mysql.ER_BAD_FIELD_ERROR, msg)
	case strings.Contains(msg, "syntax error"), strings.Contains(msg, "incomplete input"):
		return mysql.NewError(mysql.ER_PARSE_ERROR, msg)
	case strings.Contains(msg, "readonly") || strings.Contains(msg, "query_only"):
		return mysql.NewError(mysql.ER_OPTION_PREVENTS_STATEMENT, "the admin tables are read-only: "+msg)
	case errors.Is(err, context.DeadlineExceeded):
		return mysql.NewError(mysql.ER_QUERY_INTERRUPTED, "query took too long")
	}
	return mysql.NewError(mysql.ER_UNKNOWN_ERROR, msg)
}

// buildResultset encodes rows as a text-protocol result set. A column's
// type comes from its values (SQLite is dynamically typed: an expression
// has no declared type), else from the declared type, else text; integers
// in a column that also holds reals are sent as reals.
func buildResultset(names, declared []string, values [][]any) (*mysql.Resultset, error) {
	const (
		kNull = iota
		kInt
		kReal
		kText
	)
	kinds := make([]int, len(names))
	for _, row := range values {
		for i, v := range row {
			k := kNull
			switch v.(type) {
			case int64:
				k = kInt
			case float64:
				k = kReal
			case nil:
			default:
				k = kText
			}
			kinds[i] = max(kinds[i], k)
		}
	}
	rs := mysql.NewResultset(len(names))
	for i, n := range names {
		k := kinds[i]
		if k == kNull {
			switch {
			case strings.Contains(declared[i], "INT"):
				k = kInt
			case strings.Contains(declared[i], "REAL"), strings.Contains(declared[i], "FLOA"), strings.Contains(declared[i], "DOUB"):
				k = kReal
			default:
				k = kText
			}
			kinds[i] = k
		}
		f := &mysql.Field{Name: []byte(n), OrgName: []byte(n)}
		switch k {
		case kInt:
			f.Type, f.Charset, f.Flag, f.ColumnLength = mysql.MYSQL_TYPE_LONGLONG, 63, mysql.BINARY_FLAG, 20
		case kReal:
			f.Type, f.Charset, f.Flag, f.ColumnLength, f.Decimal = mysql.MYSQL_TYPE_DOUBLE, 63, mysql.BINARY_FLAG, 22, 31
		default:
			f.Type, f.Charset, f.ColumnLength = mysql.MYSQL_TYPE_VAR_STRING, 33, 1024
		}
		rs.Fields[i] = f
		rs.FieldNames[n] = i
	}
	for _, row := range values {
		var buf []byte
		for i, v := range row {
			if kinds[i] == kReal {
				if iv, ok := v.(int64); ok {
					v = float64(iv)
				}
			}
			if kinds[i] == kText {
				switch x := v.(type) {
				case int64, float64:
					v = fmt.Sprint(x)
				}
			}
			b, err := mysql.FormatTextValue(v)
			if err != nil {
				b = []byte(fmt.Sprint(v))
			}
			if v == nil {
				buf = append(buf, 0xfb)
				continue
			}
			buf = append(buf, mysql.PutLengthEncodedString(b)...)
		}
		rs.RowDatas = append(rs.RowDatas, buf)
	}
	return rs, nil
}

// textResult builds a result set of text columns (command results).
func textResult(names []string, rows [][]any) *mysql.Result {
	declared := make([]string, len(names))
	rs, _ := buildResultset(names, declared, rows)
	return mysql.NewResult(rs)
}
