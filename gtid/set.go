// Package gtid parses and compares GTID positions of both flavours: MariaDB
// positions (one domain-server-seq triple per replication domain) and MySQL
// GTID sets (UUID plus transaction intervals). Everything here is pure and
// values are immutable, so they may be shared across goroutines.
package gtid

import (
	"fmt"
	"strings"
)

// Flavor is the server family; the strings match topology.Node.Flavor.
type Flavor string

const (
	MariaDB Flavor = "mariadb"
	MySQL   Flavor = "mysql"
)

// ParseFlavor accepts "mariadb" or "mysql" in any case.
func ParseFlavor(s string) (Flavor, error) {
	switch Flavor(strings.ToLower(strings.TrimSpace(s))) {
	case MariaDB:
		return MariaDB, nil
	case MySQL:
		return MySQL, nil
	}
	return "", fmt.Errorf("gtid: unknown flavour %q (want mariadb or mysql)", s)
}

// Set is a GTID position of either flavour. The zero Set is empty and
// compatible with both flavours (a node that has executed nothing, or whose
// position is unknown to the caller: callers must not confuse the two).
type Set struct {
	flavor Flavor
	maria  MariaPos
	mysql  MySQLSet
}

// Parse parses s as a position of the given flavour.
func Parse(f Flavor, s string) (Set, error) {
	switch f {
	case MariaDB:
		p, err := ParseMariaDB(s)
		if err != nil {
			return Set{}, err
		}
		return Set{flavor: MariaDB, maria: p}, nil
	case MySQL:
		p, err := ParseMySQL(s)
		if err != nil {
			return Set{}, err
		}
		return Set{flavor: MySQL, mysql: p}, nil
	}
	return Set{}, fmt.Errorf("gtid: unknown flavour %q", f)
}

// MustParse is Parse for constants in tests and examples; it panics on error.
func MustParse(f Flavor, s string) Set {
	x, err := Parse(f, s)
	if err != nil {
		panic(err)
	}
	return x
}

// FromMariaDB wraps a MariaDB position.
func FromMariaDB(p MariaPos) Set { return Set{flavor: MariaDB, maria: p} }

// FromMySQL wraps a MySQL GTID set.
func FromMySQL(s MySQLSet) Set { return Set{flavor: MySQL, mysql: s} }

// Flavor returns the flavour, "" for the zero Set.
func (s Set) Flavor() Flavor { return s.flavor }

// MariaDB returns the MariaDB position (nil for other flavours).
func (s Set) MariaDB() MariaPos { return s.maria }

// MySQL returns the MySQL GTID set (nil for other flavours).
func (s Set) MySQL() MySQLSet { return s.mysql }

// IsEmpty reports whether s holds no transaction.
func (s Set) IsEmpty() bool { return len(s.maria) == 0 && len(s.mysql) == 0 }

// String is the canonical text form, which Parse reads back.
func (s Set) String() string {
	if s.flavor == MariaDB {
		return s.maria.String()
	}
	return s.mysql.String()
}

// compatible reports whether a and b can be compared: same flavour, or one
// of them is empty.
func compatible(a, b Set) bool {
	return a.flavor == b.flavor || a.IsEmpty() || b.IsEmpty()
}

// Contains reports whether s has everything o has (MariaDB: per domain, a
// sequence at least as high; MySQL: superset). Positions of different
// flavours contain each other only when the contained one is empty.
func (s Set) Contains(o Set) bool {
	switch {
	case o.IsEmpty():
		return true
	case s.flavor != o.flavor:
		return false
	case s.flavor == MariaDB:
		return s.maria.Contains(o.maria)
	default:
		return s.mysql.Contains(o.mysql)
	}
}

// Equal reports whether both hold the same transactions. For MariaDB it is
// exact equality of the triples, server_id included: 0-1-100 and 0-2-100 are
// not Equal (two servers wrote different 100th transactions, a divergence),
// although Compare ranks them level.
func (s Set) Equal(o Set) bool {
	if s.IsEmpty() || o.IsEmpty() {
		return s.IsEmpty() && o.IsEmpty()
	}
	if s.flavor != o.flavor {
		return false
	}
	if s.flavor == MariaDB {
		if len(s.maria) != len(o.maria) {
			return false
		}
		for i := range s.maria {
			if s.maria[i] != o.maria[i] {
				return false
			}
		}
		return true
	}
	return s.mysql.Equal(o.mysql)
}

// Union returns everything s or o has (MariaDB: per domain the higher
// sequence). Use it to combine an executed position with a received one.
// Different flavours cannot be combined: the result is then an error.
func (s Set) Union(o Set) (Set, error) {
	switch {
	case o.IsEmpty():
		return s, nil
	case s.IsEmpty():
		return o, nil
	case s.flavor != o.flavor:
		return Set{}, fmt.Errorf("gtid: cannot combine %s and %s positions", s.flavor, o.flavor)
	case s.flavor == MariaDB:
		return FromMariaDB(s.maria.Union(o.maria)), nil
	default:
		return FromMySQL(s.mysql.Union(o.mysql)), nil
	}
}

// Errant returns what replica has that master lacks: for MySQL the set
// difference, for MariaDB the replica's triples of every domain where it is
// ahead of the master. Positions of different flavours: all of replica.
func Errant(replica, master Set) Set {
	switch {
	case replica.IsEmpty():
		return Set{}
	case !compatible(replica, master):
		return replica
	case replica.flavor == MariaDB:
		return FromMariaDB(replica.maria.Ahead(master.maria))
	default:
		return FromMySQL(replica.mysql.Subtract(master.mysql))
	}
}

// Distance counts the transactions a has that b lacks (MySQL: exact count of
// a − b; MariaDB: sum of per-domain sequence gaps).
func Distance(a, b Set) uint64 {
	if a.IsEmpty() {
		return 0
	}
	if a.flavor == MariaDB {
		if !compatible(a, b) {
			return a.maria.Distance(nil)
		}
		return a.maria.Distance(b.maria)
	}
	if !compatible(a, b) {
		return a.mysql.Count()
	}
	return a.mysql.Subtract(b.mysql).Count()
}

// Compare orders two positions to rank failover candidates: 1 if a has
// everything b has and more, -1 for the reverse, 0 if they hold the same
// transactions (MariaDB: same sequence in every domain). comparable is false
// when each has something the other lacks (MariaDB: ahead in one domain and
// behind in another), or the flavours differ.
func Compare(a, b Set) (cmp int, comparable bool) {
	if !compatible(a, b) {
		return 0, false
	}
	if a.flavor == MariaDB || b.flavor == MariaDB {
		return a.maria.Compare(b.maria)
	}
	ab, ba := a.mysql.Contains(b.mysql), b.mysql.Contains(a.mysql)
	switch {
	case ab && ba:
		return 0, true
	case ab:
		return 1, true
	case ba:
		return -1, true
	}
	return 0, false
}
