package proxy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/router"
)

// ErrNoSession is returned by KillSession for an id no session has.
var ErrNoSession = errors.New("no such session")

// KillSession ends session id the way KILL CONNECTION does: the statement it
// runs is killed on its backend and the session closes at its next read. It
// is the admin port's KILL SESSION (no owner check: the admin is trusted).
func (s *Server) KillSession(ctx context.Context, id uint32) error {
	target := s.session(id)
	if target == nil {
		return fmt.Errorf("%w: %d", ErrNoSession, id)
	}
	return s.killSession(ctx, target, false)
}

// DigestStat is one row of the query digest table.
type DigestStat struct {
	Digest       uint64
	Normalized   string
	Count        uint64
	Total, Max   time.Duration
	Rows         uint64
	MasterCount  uint64
	ReplicaCount uint64
	OtherCount   uint64
	Last         time.Time
}

// Digests aggregates statements by normalised text for the admin port's
// query_digest table. Sessions record into StatShards tables (by their
// shard), each with its own lock, so sessions on different CPUs do not take
// one lock per statement; Snapshot merges them. Together the tables hold
// about limit digests (up to StatShards-1 more): once full, a table that
// gets a new one drops its own least recently seen, so a stream of distinct
// statements cannot grow them without bound (a digest dropped from one
// table and kept in another then shows part of its counts). The zero value
// is not usable; use NewDigests.
type Digests struct {
	limit  int
	n      atomic.Int64 // digests held, all tables (changed on insert and evict only)
	shards [StatShards]digestShard
}

type digestShard struct {
	mu sync.Mutex
	m  map[uint64]*DigestStat
	_  [cacheLine - 16]byte
}

// NewDigests returns a collector of at most limit digests (default 1000).
func NewDigests(limit int) *Digests {
	if limit <= 0 {
		limit = 1000
	}
	return &Digests{limit: limit}
}

// Record counts one statement: its text, where it ran ("master",
// "replica", anything else counts as other), how long it took and how many
// rows it returned or changed.
func (d *Digests) Record(sql string, route string, dur time.Duration, rows uint64) {
	if d == nil {
		return
	}
	d.RecordNormalized(router.Normalize(sql), route, dur, rows)
}

// RecordNormalized is Record for a text already normalised. Record and
// RecordNormalized are for callers outside a session (sessions record into
// their own shard); they use the first table.
func (d *Digests) RecordNormalized(norm string, route string, dur time.Duration, rows uint64) {
	if d == nil {
		return
	}
	d.recordKeyed(0, DigestKey(norm), norm, route, dur, rows, time.Now())
}

// DigestKey is the digest of a normalised statement text.
func DigestKey(norm string) uint64 { return fnv(norm) }

// recordKeyed is RecordNormalized with the digest already computed (a
// prepared statement's, once) and the end time known, into shard's table.
func (d *Digests) recordKeyed(shard int, key uint64, norm string, route string, dur time.Duration, rows uint64, now time.Time) {
	sh := &d.shards[shard%StatShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st, ok := sh.m[key]
	if !ok {
		if sh.m == nil {
			sh.m = make(map[uint64]*DigestStat, min(d.limit, 64))
		}
		if d.n.Load() >= int64(d.limit) && len(sh.m) > 0 {
			sh.evictLocked()
			d.n.Add(-1)
		}
		d.n.Add(1)
		if len(norm) > 1024 {
			norm = norm[:1024] // long IN lists etc.: the prefix identifies it
		}
		st = &DigestStat{Digest: key, Normalized: norm}
		sh.m[key] = st
	}
	st.Count++
	st.Total += dur
	st.Max = max(st.Max, dur)
	st.Rows += rows
	st.Last = now
	switch route {
	case "master":
		st.MasterCount++
	case "replica":
		st.ReplicaCount++
	default:
		st.OtherCount++
	}
}

// evictLocked drops the least recently seen digest (O(n), on insert into a
// full table only).
func (sh *digestShard) evictLocked() {
	var oldest uint64
	var t time.Time
	first := true
	for k, st := range sh.m {
		if first || st.Last.Before(t) {
			oldest, t, first = k, st.Last, false
		}
	}
	delete(sh.m, oldest)
}

// Snapshot returns the digests, most total time first: at most the limit,
// the shards' counts of one digest added together.
func (d *Digests) Snapshot() []DigestStat {
	if d == nil {
		return nil
	}
	merged := make(map[uint64]*DigestStat)
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		for k, st := range sh.m {
			m, ok := merged[k]
			if !ok {
				c := *st
				merged[k] = &c
				continue
			}
			m.Count += st.Count
			m.Total += st.Total
			m.Max = max(m.Max, st.Max)
			m.Rows += st.Rows
			m.MasterCount += st.MasterCount
			m.ReplicaCount += st.ReplicaCount
			m.OtherCount += st.OtherCount
			if st.Last.After(m.Last) {
				m.Last = st.Last
			}
		}
		sh.mu.Unlock()
	}
	out := make([]DigestStat, 0, len(merged))
	for _, st := range merged {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Total > out[j].Total })
	if len(out) > d.limit {
		out = out[:d.limit]
	}
	return out
}

// Reset clears the table.
func (d *Digests) Reset() {
	if d == nil {
		return
	}
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		d.n.Add(-int64(len(sh.m)))
		clear(sh.m)
		sh.mu.Unlock()
	}
}

// fnv is router.Digest's hash over an already normalised text (Digest
// would normalise a second time).
func fnv(n string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(n); i++ {
		h ^= uint64(n[i])
		h *= 1099511628211
	}
	return h
}
