package router

import "testing"

// BenchmarkClassify classifies every corpus line once per iteration; ns/op
// and allocs/op are per statement (the per-iteration figures divided by the
// corpus size are reported as ns/stmt and allocs/stmt).
func BenchmarkClassify(b *testing.B) {
	corpus := loadCorpus(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, s := range corpus {
			Classify(s)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(corpus)), "ns/stmt")
}

// BenchmarkClassifyCommon covers the hot-path statements one by one; each must
// classify without allocating.
func BenchmarkClassifyCommon(b *testing.B) {
	for _, bc := range []struct{ name, sql string }{
		{"point_select", "SELECT c FROM sbtest1 WHERE id=5034"},
		{"orm_select", "SELECT `users`.* FROM `users` WHERE `users`.`id` = 1 LIMIT 1"},
		{"insert", "INSERT INTO sbtest1 (id, k, c, pad) VALUES (5002, 4985, '22195207048-70116052123', '63188288836-92351140030')"},
		{"update", "UPDATE sbtest1 SET k=k+1 WHERE id=5019"},
		{"delete", "DELETE FROM sbtest1 WHERE id=5002"},
		{"begin", "BEGIN"},
		{"commit", "COMMIT"},
		{"set_autocommit", "SET autocommit=0"},
		{"for_update", "SELECT * FROM t WHERE id = 1 FOR UPDATE"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Classify(bc.sql)
			}
		})
	}
}

func BenchmarkNormalize(b *testing.B) {
	corpus := loadCorpus(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range corpus {
			Normalize(s)
		}
	}
}

func TestClassifyCommonNoAllocs(t *testing.T) {
	for _, sql := range []string{
		"SELECT c FROM sbtest1 WHERE id=5034",
		"SELECT `users`.* FROM `users` WHERE `users`.`id` = 1 LIMIT 1 FOR UPDATE",
		"INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')",
		"UPDATE t SET a = 1 WHERE id = 2",
		"DELETE FROM t WHERE id = 2",
		"BEGIN", "COMMIT", "ROLLBACK", "SET autocommit=0", "SET NAMES utf8mb4", "USE db",
		"/* sy:replica */ SELECT 1; SELECT 2",
	} {
		if n := testing.AllocsPerRun(50, func() { Classify(sql) }); n != 0 {
			t.Errorf("Classify(%q): %v allocs, want 0", sql, n)
		}
	}
}
