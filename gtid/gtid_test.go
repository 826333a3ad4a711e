package gtid

import (
	"strings"
	"testing"
)

const (
	u1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	u2 = "8a94f357-aab4-11df-86ab-c80aa9429563"
)

func TestParseMariaDB(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{in: "", want: ""},
		{in: "   ", want: ""},
		{in: "0-1-100", want: "0-1-100"},
		{in: "1-2-5,0-1-100", want: "0-1-100,1-2-5"},
		{in: " 0-1-100 ,\n 1-2-5 ", want: "0-1-100,1-2-5"},
		{in: "4294967295-4294967295-18446744073709551615", want: "4294967295-4294967295-18446744073709551615"},
		{in: "0-1-0", want: "0-1-0"},
		{in: "0-1-100,0-2-101", err: true}, // duplicate domain
		{in: "4294967296-1-1", err: true},  // domain overflow
		{in: "0-4294967296-1", err: true},  // server overflow
		{in: "0-1-18446744073709551616", err: true},
		{in: "0-1", err: true},
		{in: "0-1-2-3", err: true},
		{in: "a-1-2", err: true},
		{in: "+0-1-2", err: true},
		{in: "0--1-2", err: true},
		{in: "0-1-100,", err: true},
		{in: ",0-1-100", err: true},
		{in: "0 -1-100", err: true},
	}
	for _, tt := range tests {
		got, err := Parse(MariaDB, tt.in)
		if tt.err {
			if err == nil {
				t.Errorf("Parse(%q) = %q, want error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got.String() != tt.want {
			t.Errorf("Parse(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseMySQL(t *testing.T) {
	U1 := strings.ToUpper(u1)
	tests := []struct {
		in, want string
		count    uint64
		err      bool
	}{
		{in: "", want: ""},
		{in: " \n", want: ""},
		{in: u1 + ":1-5", want: u1 + ":1-5", count: 5},
		{in: U1 + ":1-5", want: u1 + ":1-5", count: 5},
		{in: u2 + ":1-3," + u1 + ":1-5:7-9", want: u1 + ":1-5:7-9," + u2 + ":1-3", count: 11},
		{in: u1 + ":1-5,\n" + u2 + ":1-3", want: u1 + ":1-5," + u2 + ":1-3", count: 8},
		{in: u1 + ":7-9:1-5:6", want: u1 + ":1-9", count: 9},          // merge adjacent, unsorted
		{in: u1 + ":1-5:3-4:2-8", want: u1 + ":1-8", count: 8},        // overlapping
		{in: u1 + ":1-5," + u1 + ":6-7", want: u1 + ":1-7", count: 7}, // repeated uuid
		{in: u1 + ":3", want: u1 + ":3", count: 1},
		{in: u1 + ":5-5", want: u1 + ":5", count: 1},
		{in: "3e11fa4771ca11e19e33c80aa9429562:1", want: u1 + ":1", count: 1},
		{in: "{" + u1 + "}:1", want: u1 + ":1", count: 1},
		{in: u1 + ":1-2:Tag_A:1-3:tag_b:5", want: u1 + ":1-2:tag_a:1-3:tag_b:5", count: 6},
		{in: u1 + ":zz:1," + u1 + ":1", want: u1 + ":1:zz:1", count: 2},
		{in: u1 + ":1-9223372036854775807", want: u1 + ":1-9223372036854775807", count: 9223372036854775807},
		{in: u1 + ":1-5,", want: u1 + ":1-5", count: 5},
		{in: u1, err: true},
		{in: u1 + ":", err: true},
		{in: u1 + ":0", err: true},
		{in: u1 + ":5-3", err: true},
		{in: u1 + ":1-9223372036854775808", err: true},
		{in: u1 + ":1-", err: true},
		{in: u1 + ":-1", err: true},
		{in: u1 + ":tag", err: true},
		{in: u1 + ":tag:tag2:1", err: true},
		{in: u1 + ":1:9tag:1", err: true},
		{in: u1 + ":1:" + strings.Repeat("t", 33) + ":1", err: true},
		{in: "3e11fa47-71ca-11e1-9e33-c80aa942956:1", err: true},
		{in: "3e11fa47x71ca-11e1-9e33-c80aa9429562:1", err: true},
		{in: "ge11fa47-71ca-11e1-9e33-c80aa9429562:1", err: true},
		{in: "0-1-100", err: true},
	}
	for _, tt := range tests {
		got, err := Parse(MySQL, tt.in)
		if tt.err {
			if err == nil {
				t.Errorf("Parse(%q) = %q, want error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got.String() != tt.want {
			t.Errorf("Parse(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if c := got.MySQL().Count(); c != tt.count {
			t.Errorf("Count(%q) = %d, want %d", tt.in, c, tt.count)
		}
	}
}

func TestCompareAndContains(t *testing.T) {
	tests := []struct {
		name       string
		f          Flavor
		a, b       string
		cmp        int
		comparable bool
		aHasB      bool
		bHasA      bool
		equal      bool
	}{
		{"maria equal", MariaDB, "0-1-100", "0-1-100", 0, true, true, true, true},
		{"maria ahead", MariaDB, "0-1-101", "0-1-100", 1, true, true, false, false},
		{"maria behind", MariaDB, "0-1-99", "0-1-100", -1, true, false, true, false},
		{"maria extra domain", MariaDB, "0-1-100,1-2-5", "0-1-100", 1, true, true, false, false},
		{"maria missing domain", MariaDB, "0-1-100", "0-1-100,1-2-5", -1, true, false, true, false},
		{"maria split domains", MariaDB, "0-1-101,1-2-4", "0-1-100,1-2-5", 0, false, false, false, false},
		{"maria disjoint domains", MariaDB, "0-1-1", "1-1-1", 0, false, false, false, false},
		{"maria server id ignored", MariaDB, "0-2-100", "0-1-100", 0, true, true, true, false},
		{"maria empty vs empty", MariaDB, "", "", 0, true, true, true, true},
		{"maria empty behind", MariaDB, "", "0-1-1", -1, true, false, true, false},
		{"maria seq 0 equals absent", MariaDB, "0-1-0", "", 0, true, true, true, false},
		{"mysql equal", MySQL, u1 + ":1-5", u1 + ":1-3:4-5", 0, true, true, true, true},
		{"mysql superset", MySQL, u1 + ":1-10", u1 + ":1-5", 1, true, true, false, false},
		{"mysql gap", MySQL, u1 + ":1-4:6-10", u1 + ":1-5", 0, false, false, false, false},
		{"mysql other uuid", MySQL, u1 + ":1-5," + u2 + ":1", u1 + ":1-5", 1, true, true, false, false},
		{"mysql errant both", MySQL, u1 + ":1-5," + u2 + ":1", u1 + ":1-6", 0, false, false, false, false},
		{"mysql tag differs", MySQL, u1 + ":t:1", u1 + ":1", 0, false, false, false, false},
		{"mysql empty", MySQL, "", u1 + ":1", -1, true, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := MustParse(tt.f, tt.a), MustParse(tt.f, tt.b)
			cmp, ok := Compare(a, b)
			if cmp != tt.cmp || ok != tt.comparable {
				t.Errorf("Compare = %d,%v want %d,%v", cmp, ok, tt.cmp, tt.comparable)
			}
			rcmp, rok := Compare(b, a)
			if rcmp != -cmp || rok != ok {
				t.Errorf("Compare reversed = %d,%v not symmetric", rcmp, rok)
			}
			if got := a.Contains(b); got != tt.aHasB {
				t.Errorf("a.Contains(b) = %v", got)
			}
			if got := b.Contains(a); got != tt.bHasA {
				t.Errorf("b.Contains(a) = %v", got)
			}
			if got := a.Equal(b); got != tt.equal {
				t.Errorf("Equal = %v", got)
			}
		})
	}
}

func TestErrantUnionDistance(t *testing.T) {
	tests := []struct {
		name            string
		f               Flavor
		replica, master string
		errant, union   string
		distance        uint64
	}{
		{"maria none", MariaDB, "0-1-100", "0-1-100,1-2-3", "", "0-1-100,1-2-3", 0},
		{"maria ahead", MariaDB, "0-1-100,1-3-7", "0-1-100,1-2-3", "1-3-7", "0-1-100,1-3-7", 4},
		{"maria new domain", MariaDB, "0-1-100,2-3-7", "0-1-101", "2-3-7", "0-1-101,2-3-7", 7},
		{"mysql none", MySQL, u1 + ":1-5", u1 + ":1-9", "", u1 + ":1-9", 0},
		{"mysql errant", MySQL, u1 + ":1-5," + u2 + ":1-2", u1 + ":1-9", u2 + ":1-2", u1 + ":1-9," + u2 + ":1-2", 2},
		{"mysql holes", MySQL, u1 + ":1-20", u1 + ":1-3:5:10-12:18-30", u1 + ":4:6-9:13-17", u1 + ":1-30", 10},
		{"mysql tagged", MySQL, u1 + ":1-5:x:1-2", u1 + ":1-5", u1 + ":x:1-2", u1 + ":1-5:x:1-2", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, m := MustParse(tt.f, tt.replica), MustParse(tt.f, tt.master)
			if got := Errant(r, m).String(); got != tt.errant {
				t.Errorf("Errant = %q, want %q", got, tt.errant)
			}
			u, err := r.Union(m)
			if err != nil {
				t.Fatal(err)
			}
			if u.String() != tt.union {
				t.Errorf("Union = %q, want %q", u, tt.union)
			}
			if !u.Contains(r) || !u.Contains(m) {
				t.Errorf("Union does not contain its parts")
			}
			if got := Distance(r, m); got != tt.distance {
				t.Errorf("Distance = %d, want %d", got, tt.distance)
			}
		})
	}
}

func TestMixedFlavours(t *testing.T) {
	m := MustParse(MariaDB, "0-1-5")
	y := MustParse(MySQL, u1+":1")
	if m.Contains(y) || y.Contains(m) {
		t.Error("different flavours must not contain each other")
	}
	if _, ok := Compare(m, y); ok {
		t.Error("different flavours must be incomparable")
	}
	if _, err := m.Union(y); err == nil {
		t.Error("Union of different flavours must fail")
	}
	if !Errant(m, y).Equal(m) {
		t.Error("Errant across flavours is the whole replica position")
	}
	var zero Set
	if !m.Contains(zero) || !y.Contains(zero) || zero.Contains(m) {
		t.Error("zero Set is empty for both flavours")
	}
	if c, ok := Compare(zero, m); !ok || c != -1 {
		t.Errorf("Compare(zero, m) = %d,%v", c, ok)
	}
	if _, err := Parse("postgres", ""); err == nil {
		t.Error("unknown flavour accepted")
	}
	if f, err := ParseFlavor(" MariaDB "); err != nil || f != MariaDB {
		t.Errorf("ParseFlavor = %q, %v", f, err)
	}
}

func TestSubtractIntervals(t *testing.T) {
	iv := func(p ...uint64) []Interval {
		var out []Interval
		for i := 0; i < len(p); i += 2 {
			out = append(out, Interval{p[i], p[i+1]})
		}
		return out
	}
	tests := []struct{ a, b, want []Interval }{
		{iv(1, 10), nil, iv(1, 10)},
		{iv(1, 10), iv(1, 10), nil},
		{iv(1, 10), iv(0, 20), nil},
		{iv(1, 10), iv(3, 4), iv(1, 2, 5, 10)},
		{iv(1, 10), iv(1, 4, 8, 12), iv(5, 7)},
		{iv(1, 3, 5, 7, 9, 11), iv(2, 10), iv(1, 1, 11, 11)},
		{iv(5, 6), iv(1, 2, 8, 9), iv(5, 6)},
	}
	for _, tt := range tests {
		got := subtractIntervals(tt.a, tt.b)
		if len(got) != len(tt.want) {
			t.Errorf("%v − %v = %v, want %v", tt.a, tt.b, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%v − %v = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		}
	}
}

func FuzzParseMariaDB(f *testing.F) {
	for _, s := range []string{"", "0-1-100", "0-1-100,1-2-5", " 1-2-3 ,\n0-0-0", "0-1-100,0-2-3", "4294967295-1-18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := Parse(MariaDB, s)
		if err != nil {
			return
		}
		y, err := Parse(MariaDB, x.String())
		if err != nil {
			t.Fatalf("reparse of %q (from %q): %v", x.String(), s, err)
		}
		if !x.Equal(y) || y.String() != x.String() {
			t.Fatalf("round trip %q -> %q -> %q", s, x, y)
		}
		if !x.Contains(x) {
			t.Fatalf("%q does not contain itself", x)
		}
		if c, ok := Compare(x, y); c != 0 || !ok {
			t.Fatalf("Compare(x, x) = %d,%v", c, ok)
		}
		if !Errant(x, x).IsEmpty() {
			t.Fatalf("Errant(x, x) = %q", Errant(x, x))
		}
	})
}

func FuzzParseMySQL(f *testing.F) {
	for _, s := range []string{"", u1 + ":1-5", u1 + ":1-5:7-9,\n" + u2 + ":1-3", u1 + ":a:1:b:2-3", strings.ToUpper(u1) + ":9:1-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := Parse(MySQL, s)
		if err != nil {
			return
		}
		y, err := Parse(MySQL, x.String())
		if err != nil {
			t.Fatalf("reparse of %q (from %q): %v", x.String(), s, err)
		}
		if !x.Equal(y) || y.String() != x.String() {
			t.Fatalf("round trip %q -> %q -> %q", s, x, y)
		}
		if !x.Contains(x) || !Errant(x, x).IsEmpty() {
			t.Fatalf("self containment fails for %q", x)
		}
		// Union and Subtract stay consistent: (x ∪ y) − y ⊆ x.
		u, err := x.Union(y)
		if err != nil || !u.Equal(x) {
			t.Fatalf("x ∪ x = %q, %v", u, err)
		}
	})
}

// FuzzMySQLAlgebra checks set identities on pairs of parsed sets.
func FuzzMySQLAlgebra(f *testing.F) {
	f.Add(u1+":1-5:9", u1+":3-12,"+u2+":1")
	f.Add("", u1+":1")
	f.Fuzz(func(t *testing.T, sa, sb string) {
		a, err := Parse(MySQL, sa)
		if err != nil {
			return
		}
		b, err := Parse(MySQL, sb)
		if err != nil {
			return
		}
		u, err := a.Union(b)
		if err != nil {
			t.Fatal(err)
		}
		d := Errant(a, b)
		if !u.Contains(a) || !u.Contains(b) || !a.Contains(d) {
			t.Fatalf("containment broken: a=%q b=%q u=%q d=%q", a, b, u, d)
		}
		// a = (a − b) ∪ (a ∩ b): counts must add up.
		inter := Errant(a, d)
		if d.MySQL().Count()+inter.MySQL().Count() != a.MySQL().Count() && a.MySQL().Count() != ^uint64(0) {
			t.Fatalf("counts: |a−b|=%d |a∩b|=%d |a|=%d", d.MySQL().Count(), inter.MySQL().Count(), a.MySQL().Count())
		}
		if !b.Contains(inter) {
			t.Fatalf("a ∩ b not in b")
		}
		cmp, ok := Compare(a, b)
		if ok && (cmp >= 0) != a.Contains(b) {
			t.Fatalf("Compare %d disagrees with Contains", cmp)
		}
	})
}
