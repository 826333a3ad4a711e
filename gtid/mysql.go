package gtid

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// maxGNO is the largest transaction number MySQL accepts (2^63-1).
const maxGNO = math.MaxInt64

// Interval is an inclusive range of transaction numbers, Start <= End.
type Interval struct {
	Start, End uint64
}

// SID names a transaction source: the server UUID (canonical lowercase,
// hyphenated) and, from MySQL 8.3, an optional tag (lowercase).
type SID struct {
	UUID string
	Tag  string
}

func (s SID) less(o SID) bool {
	if s.UUID != o.UUID {
		return s.UUID < o.UUID
	}
	return s.Tag < o.Tag // untagged ("") sorts first, as MySQL prints it
}

// SIDIntervals is the set of transactions of one SID: sorted, merged
// intervals (no overlap, no adjacency).
type SIDIntervals struct {
	SID       SID
	Intervals []Interval
}

// MySQLSet is a MySQL GTID set (gtid_executed, Retrieved_Gtid_Set): sorted by
// SID, each with sorted, merged, non-empty intervals. Treat it as immutable.
type MySQLSet []SIDIntervals

// ParseMySQL parses a GTID set such as
// "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7-9,uuid2:1-3" or a tagged one
// "uuid:1-5:mytag:1-3". Whitespace (including the newlines the server puts
// after commas) around items is ignored; the empty string is the empty set.
// UUIDs may be upper or lower case, with or without hyphens.
func ParseMySQL(s string) (MySQLSet, error) {
	m := map[SID][]Interval{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			// MySQL tolerates an empty set and a trailing comma in the same way.
			continue
		}
		f := strings.Split(item, ":")
		uuid, err := canonicalUUID(strings.TrimSpace(f[0]))
		if err != nil {
			return nil, fmt.Errorf("gtid: %q: %w", item, err)
		}
		if len(f) < 2 {
			return nil, fmt.Errorf("gtid: %q has no transaction interval", item)
		}
		sid := SID{UUID: uuid}
		needInterval := false
		for _, tok := range f[1:] {
			tok = strings.TrimSpace(tok)
			if tok != "" && (tok[0] < '0' || tok[0] > '9') {
				if needInterval {
					return nil, fmt.Errorf("gtid: %q: tag %q has no interval", item, sid.Tag)
				}
				tag, err := canonicalTag(tok)
				if err != nil {
					return nil, fmt.Errorf("gtid: %q: %w", item, err)
				}
				sid.Tag = tag
				needInterval = true
				continue
			}
			iv, err := parseInterval(tok)
			if err != nil {
				return nil, fmt.Errorf("gtid: %q: %w", item, err)
			}
			m[sid] = append(m[sid], iv)
			needInterval = false
		}
		if needInterval {
			return nil, fmt.Errorf("gtid: %q: tag %q has no interval", item, sid.Tag)
		}
	}
	return fromMap(m), nil
}

func fromMap(m map[SID][]Interval) MySQLSet {
	out := make(MySQLSet, 0, len(m))
	for sid, ivs := range m {
		if ivs = normalize(ivs); len(ivs) > 0 {
			out = append(out, SIDIntervals{SID: sid, Intervals: ivs})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SID.less(out[j].SID) })
	if len(out) == 0 {
		return nil
	}
	return out
}

func parseInterval(tok string) (Interval, error) {
	lo, hi, ranged := strings.Cut(tok, "-")
	a, err := parseDecimal(lo, 64)
	if err != nil {
		return Interval{}, fmt.Errorf("interval %q: %w", tok, err)
	}
	b := a
	if ranged {
		if b, err = parseDecimal(hi, 64); err != nil {
			return Interval{}, fmt.Errorf("interval %q: %w", tok, err)
		}
	}
	if a == 0 || b < a || b > maxGNO {
		return Interval{}, fmt.Errorf("interval %q: want 1 <= start <= end <= %d", tok, uint64(maxGNO))
	}
	return Interval{Start: a, End: b}, nil
}

func canonicalUUID(u string) (string, error) {
	if len(u) == 38 && u[0] == '{' && u[37] == '}' {
		u = u[1:37]
	}
	var hex []byte
	switch len(u) {
	case 36:
		for i := 0; i < 36; i++ {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				if u[i] != '-' {
					return "", fmt.Errorf("malformed UUID %q", u)
				}
				continue
			}
			hex = append(hex, u[i])
		}
	case 32:
		hex = []byte(u)
	default:
		return "", fmt.Errorf("malformed UUID %q", u)
	}
	for i, c := range hex {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			hex[i] = c + 'a' - 'A'
		default:
			return "", fmt.Errorf("malformed UUID %q", u)
		}
	}
	h := string(hex)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}

// canonicalTag checks a MySQL 8.3+ GTID tag: a letter or underscore, then up
// to 31 letters, digits or underscores; tags compare case-insensitively.
func canonicalTag(t string) (string, error) {
	if len(t) == 0 || len(t) > 32 {
		return "", fmt.Errorf("malformed tag %q", t)
	}
	b := []byte(t)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c >= '0' && c <= '9' && i > 0:
		default:
			return "", fmt.Errorf("malformed tag %q", t)
		}
	}
	return string(b), nil
}

// normalize sorts and merges overlapping or adjacent intervals.
func normalize(ivs []Interval) []Interval {
	if len(ivs) == 0 {
		return nil
	}
	s := append([]Interval(nil), ivs...)
	sort.Slice(s, func(i, j int) bool { return s[i].Start < s[j].Start })
	out := s[:1]
	for _, iv := range s[1:] {
		last := &out[len(out)-1]
		if iv.Start <= last.End+1 { // End <= maxGNO, so +1 cannot overflow
			if iv.End > last.End {
				last.End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// String is the canonical form: SIDs sorted (untagged before tagged for the
// same UUID), intervals merged, "," between UUIDs and no whitespace.
func (s MySQLSet) String() string {
	var b strings.Builder
	for i, e := range s {
		if i == 0 || e.SID.UUID != s[i-1].SID.UUID {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(e.SID.UUID)
		}
		if e.SID.Tag != "" {
			b.WriteByte(':')
			b.WriteString(e.SID.Tag)
		}
		for _, iv := range e.Intervals {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(iv.Start, 10))
			if iv.End != iv.Start {
				b.WriteByte('-')
				b.WriteString(strconv.FormatUint(iv.End, 10))
			}
		}
	}
	return b.String()
}

func (s MySQLSet) find(sid SID) []Interval {
	i := sort.Search(len(s), func(i int) bool { return !s[i].SID.less(sid) })
	if i < len(s) && s[i].SID == sid {
		return s[i].Intervals
	}
	return nil
}

// Contains reports whether s is a superset of o.
func (s MySQLSet) Contains(o MySQLSet) bool {
	for _, e := range o {
		if len(subtractIntervals(e.Intervals, s.find(e.SID))) > 0 {
			return false
		}
	}
	return true
}

// Subtract returns s − o: the transactions of s that o lacks (the errant
// transactions of a replica s against its master o).
func (s MySQLSet) Subtract(o MySQLSet) MySQLSet {
	var out MySQLSet
	for _, e := range s {
		if d := subtractIntervals(e.Intervals, o.find(e.SID)); len(d) > 0 {
			out = append(out, SIDIntervals{SID: e.SID, Intervals: d})
		}
	}
	return out
}

// Union returns s ∪ o.
func (s MySQLSet) Union(o MySQLSet) MySQLSet {
	m := make(map[SID][]Interval, len(s)+len(o))
	for _, set := range []MySQLSet{s, o} {
		for _, e := range set {
			m[e.SID] = append(m[e.SID], e.Intervals...)
		}
	}
	return fromMap(m)
}

// Equal reports whether both sets hold exactly the same transactions.
func (s MySQLSet) Equal(o MySQLSet) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i].SID != o[i].SID || len(s[i].Intervals) != len(o[i].Intervals) {
			return false
		}
		for j := range s[i].Intervals {
			if s[i].Intervals[j] != o[i].Intervals[j] {
				return false
			}
		}
	}
	return true
}

// Count returns the number of transactions in s, saturating at MaxUint64.
func (s MySQLSet) Count() uint64 {
	var n uint64
	for _, e := range s {
		for _, iv := range e.Intervals {
			c := iv.End - iv.Start + 1
			if n+c < n {
				return math.MaxUint64
			}
			n += c
		}
	}
	return n
}

// subtractIntervals returns a − b for sorted, merged interval lists.
func subtractIntervals(a, b []Interval) []Interval {
	var out []Interval
	j := 0
	for _, iv := range a {
		cur := iv
		for j < len(b) && b[j].End < cur.Start {
			j++
		}
		k := j
		empty := false
		for k < len(b) && b[k].Start <= cur.End {
			if b[k].Start > cur.Start {
				out = append(out, Interval{Start: cur.Start, End: b[k].Start - 1})
			}
			if b[k].End >= cur.End {
				empty = true
				break
			}
			cur.Start = b[k].End + 1
			k++
		}
		if !empty {
			out = append(out, cur)
		}
	}
	return out
}
