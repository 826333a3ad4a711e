package gtid

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// MariaGTID is one MariaDB GTID triple domain-server-seq. Server is the
// server_id that wrote the last event of the domain; ordering within a domain
// is by Seq alone.
type MariaGTID struct {
	Domain uint32
	Server uint32
	Seq    uint64
}

func (g MariaGTID) String() string {
	return strconv.FormatUint(uint64(g.Domain), 10) + "-" +
		strconv.FormatUint(uint64(g.Server), 10) + "-" +
		strconv.FormatUint(g.Seq, 10)
}

// MariaPos is a MariaDB GTID position (gtid_current_pos, gtid_slave_pos,
// gtid_binlog_pos, Gtid_IO_Pos): at most one triple per domain, kept sorted by
// domain. Treat it as immutable.
type MariaPos []MariaGTID

// ParseMariaDB parses a comma-separated list of domain-server-seq triples.
// Spaces and newlines around items are ignored; the empty string is the empty
// position. A domain listed twice is an error, as it is for the server.
func ParseMariaDB(s string) (MariaPos, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make(MariaPos, 0, len(parts))
	seen := make(map[uint32]bool, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		g, err := parseMariaGTID(p)
		if err != nil {
			return nil, err
		}
		if seen[g.Domain] {
			return nil, fmt.Errorf("gtid: MariaDB position %q lists domain %d twice", s, g.Domain)
		}
		seen[g.Domain] = true
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Domain < out[j].Domain })
	return out, nil
}

func parseMariaGTID(p string) (MariaGTID, error) {
	f := strings.Split(p, "-")
	if len(f) != 3 {
		return MariaGTID{}, fmt.Errorf("gtid: %q is not a MariaDB GTID domain-server-seq", p)
	}
	d, err := parseDecimal(f[0], 32)
	if err != nil {
		return MariaGTID{}, fmt.Errorf("gtid: domain of %q: %w", p, err)
	}
	sv, err := parseDecimal(f[1], 32)
	if err != nil {
		return MariaGTID{}, fmt.Errorf("gtid: server_id of %q: %w", p, err)
	}
	seq, err := parseDecimal(f[2], 64)
	if err != nil {
		return MariaGTID{}, fmt.Errorf("gtid: sequence of %q: %w", p, err)
	}
	return MariaGTID{Domain: uint32(d), Server: uint32(sv), Seq: seq}, nil
}

// parseDecimal accepts only plain digits: strconv alone would take "+1" or
// "0x1" in some modes, which the server never prints.
func parseDecimal(s string, bits int) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%q out of range", s)
	}
	return v, nil
}

// String is the canonical form: triples sorted by domain, comma-separated,
// no spaces (the same form the server prints).
func (p MariaPos) String() string {
	var b strings.Builder
	for i, g := range p {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(g.String())
	}
	return b.String()
}

// Domain returns the triple of domain d.
func (p MariaPos) Domain(d uint32) (MariaGTID, bool) {
	i := sort.Search(len(p), func(i int) bool { return p[i].Domain >= d })
	if i < len(p) && p[i].Domain == d {
		return p[i], true
	}
	return MariaGTID{}, false
}

// seq returns the sequence of domain d, 0 when the domain is absent (nothing
// of that domain applied).
func (p MariaPos) seq(d uint32) uint64 {
	g, _ := p.Domain(d)
	return g.Seq
}

// Contains reports whether p has applied everything q has: every domain of q
// is in p with a sequence at least as high.
func (p MariaPos) Contains(q MariaPos) bool {
	for _, g := range q {
		if p.seq(g.Domain) < g.Seq {
			return false
		}
	}
	return true
}

// Ahead returns, per domain, the triples of p whose sequence is beyond q's:
// what p has that q lacks.
func (p MariaPos) Ahead(q MariaPos) MariaPos {
	var out MariaPos
	for _, g := range p {
		if g.Seq > q.seq(g.Domain) {
			out = append(out, g)
		}
	}
	return out
}

// Union returns, per domain, the triple with the higher sequence (p's on a
// tie).
func (p MariaPos) Union(q MariaPos) MariaPos {
	out := make(MariaPos, 0, len(p)+len(q))
	i, j := 0, 0
	for i < len(p) || j < len(q) {
		switch {
		case j == len(q) || (i < len(p) && p[i].Domain < q[j].Domain):
			out = append(out, p[i])
			i++
		case i == len(p) || q[j].Domain < p[i].Domain:
			out = append(out, q[j])
			j++
		default:
			if q[j].Seq > p[i].Seq {
				out = append(out, q[j])
			} else {
				out = append(out, p[i])
			}
			i++
			j++
		}
	}
	return out
}

// Compare orders two positions domain by domain: -1 if p is behind q in some
// domain and ahead in none, 1 for the reverse, 0 when every domain has the same
// sequence. comparable is false when p is ahead in one domain and behind in
// another: neither may be promoted over the other without losing transactions.
func (p MariaPos) Compare(q MariaPos) (cmp int, comparable bool) {
	ahead, behind := false, false
	for _, g := range p {
		if s := q.seq(g.Domain); g.Seq > s {
			ahead = true
		} else if g.Seq < s {
			behind = true
		}
	}
	for _, g := range q {
		if g.Seq > p.seq(g.Domain) {
			behind = true
		}
	}
	switch {
	case ahead && behind:
		return 0, false
	case ahead:
		return 1, true
	case behind:
		return -1, true
	}
	return 0, true
}

// Distance counts the transactions p has beyond q, assuming sequences are
// dense within a domain (they are under gtid_strict_mode).
func (p MariaPos) Distance(q MariaPos) uint64 {
	var n uint64
	for _, g := range p {
		if s := q.seq(g.Domain); g.Seq > s {
			n += g.Seq - s
		}
	}
	return n
}
