package proxy

import (
	"fmt"
	"testing"
	"time"
)

// One statement recorded by sessions on different shards is one digest in
// the snapshot, its counts added up; Reset empties every shard.
func TestDigestsShardsMerge(t *testing.T) {
	d := NewDigests(10)
	t0 := time.Unix(1000, 0)
	q := "SELECT c FROM t WHERE id = ?"
	d.recordKeyed(0, DigestKey(q), q, "replica", 2*time.Millisecond, 1, t0)
	d.recordKeyed(5, DigestKey(q), q, "master", 7*time.Millisecond, 1, t0.Add(time.Second))
	d.recordKeyed(StatShards+5, DigestKey(q), q, "last", time.Millisecond, 0, t0.Add(2*time.Second)) // wraps onto shard 5
	ins := "INSERT INTO t VALUES (?)"
	d.recordKeyed(9, DigestKey(ins), ins, "master", 3*time.Millisecond, 1, t0)
	got := d.Snapshot()
	if len(got) != 2 {
		t.Fatalf("%d digests, want 2: %+v", len(got), got)
	}
	s := got[0]
	if s.Normalized != q || s.Count != 3 || s.Total != 10*time.Millisecond || s.Max != 7*time.Millisecond ||
		s.Rows != 2 || s.MasterCount != 1 || s.ReplicaCount != 1 || s.OtherCount != 1 || !s.Last.Equal(t0.Add(2*time.Second)) {
		t.Errorf("merged digest = %+v", s)
	}
	if got[1].Normalized != ins || got[1].Total != 3*time.Millisecond {
		t.Errorf("second digest = %+v, want the INSERT's 3ms", got[1])
	}
	d.Reset()
	if n := len(d.Snapshot()); n != 0 || d.n.Load() != 0 {
		t.Errorf("%d digests (count %d) after Reset", n, d.n.Load())
	}
}

// The limit holds over all the tables together: a table that gets a new
// digest once they are full drops its own least recently seen, and one
// that is empty may add one (so at most StatShards-1 over the limit).
func TestDigestsLimitAcrossShards(t *testing.T) {
	d := NewDigests(4)
	t0 := time.Unix(1000, 0)
	for i := range 40 {
		q := fmt.Sprintf("SELECT %d", i)
		d.recordKeyed(i%2, DigestKey(q), q, "replica", time.Duration(i+1)*time.Millisecond, 1, t0.Add(time.Duration(i)*time.Second))
	}
	if n := d.n.Load(); n != 4 {
		t.Errorf("two busy tables hold %d digests, want the limit, 4", n)
	}
	got := d.Snapshot()
	if len(got) != 4 || got[0].Normalized != "SELECT 39" || got[3].Normalized != "SELECT 36" {
		t.Errorf("snapshot = %+v, want the four most recent, SELECT 39 first", got)
	}
	for sh := range StatShards {
		q := fmt.Sprintf("UPDATE %d", sh)
		d.recordKeyed(sh, DigestKey(q), q, "master", time.Millisecond, 1, t0)
	}
	if n := d.n.Load(); n > 4+StatShards-1 {
		t.Errorf("%d digests held, want at most %d", n, 4+StatShards-1)
	}
	if n := len(d.Snapshot()); n != 4 {
		t.Errorf("snapshot of %d digests, want the limit, 4", n)
	}
}

// The statement counters and in-flight loads add up over the shards.
func TestCountersSumShards(t *testing.T) {
	var s Server
	s.metrics.count(0, "replica", false)
	s.metrics.count(7, "replica", true)
	s.metrics.count(StatShards+1, "master", false)
	s.metrics.count(3, "last", false)
	m := s.Metrics()
	if m.StatementsReplica != 2 || m.ErrorsReplica != 1 || m.StatementsMaster != 1 || m.StatementsOther != 1 || m.ErrorsMaster+m.ErrorsOther != 0 {
		t.Errorf("metrics = %+v", m)
	}
	l := s.outstanding("db2")
	l[1].n.Add(2)
	l[9].n.Add(1)
	if got := s.outstandingLoad("db2"); got != 3 {
		t.Errorf("outstanding = %d, want 3", got)
	}
	if s.outstanding("db2") != l || s.outstandingLoad("db3") != 0 {
		t.Error("outstanding is not one counter set per node")
	}
}
