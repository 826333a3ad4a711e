package proxy

import "sync/atomic"

// StatShards is how many slots the proxy's per-statement counters are split
// into. A session adds to its own slot (its event loop's, or one chosen by
// its id), so sessions running on different CPUs do not write the same
// cache line on every statement; readers sum the slots.
const StatShards = 16

// cacheLine is the stride between slots: 128 bytes, so no two slots share a
// 64-byte line (nor an adjacent-line prefetch pair when the array happens to
// be 128-aligned, which Go does not promise).
const cacheLine = 128

// routeIndex maps a statement's route to its counter: master, replica, other.
func routeIndex(where string) int {
	switch where {
	case "master":
		return 0
	case "replica":
		return 1
	}
	return 2
}

// counterSlot is one shard of the statement counters.
type counterSlot struct {
	stmts, errs [3]atomic.Uint64
	pipelined   atomic.Uint64 // replica reads that ran on a shared connection (pipeline.go)
	_           [cacheLine - 56]byte
}

// nodeLoad is a node's in-flight statement count, sharded like the
// counters (every statement adds and removes one).
type nodeLoad [StatShards]struct {
	n atomic.Int64
	_ [cacheLine - 8]byte
}

func (l *nodeLoad) sum() int64 {
	var t int64
	for i := range l {
		t += l[i].n.Load()
	}
	return t
}
