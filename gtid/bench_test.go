package gtid

import (
	"fmt"
	"strings"
	"testing"
)

// bigMySQL returns a gtid_executed of n UUIDs with holes, as a long-lived
// topology with many past masters and errant fixes would have.
func bigMySQL(n int) string {
	var parts []string
	for i := 0; i < n; i++ {
		parts = append(parts, fmt.Sprintf("%08x-71ca-11e1-9e33-c80aa9429562:1-1000000:1000002-2000000:2000005", i))
	}
	return strings.Join(parts, ",\n")
}

func BenchmarkParseMySQL(b *testing.B) {
	s := bigMySQL(20)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := Parse(MySQL, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkContainsMySQL(b *testing.B) {
	x := MustParse(MySQL, bigMySQL(20))
	y := MustParse(MySQL, bigMySQL(19))
	for b.Loop() {
		if !x.Contains(y) {
			b.Fatal("not contained")
		}
	}
}

func BenchmarkParseMariaDB(b *testing.B) {
	s := "0-1-123456789,1-2-5,2-3-99999,3-4-1"
	for b.Loop() {
		if _, err := Parse(MariaDB, s); err != nil {
			b.Fatal(err)
		}
	}
}
