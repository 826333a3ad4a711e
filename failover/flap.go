package failover

import "time"

// Flap blocks automatic failovers for a period after the last one, unless an
// operator acknowledged it, so a flapping cluster does not bounce the master
// around. Manual failovers and switchovers ignore the block (use Allow).
// The zero value never blocks until a failover is recorded with a positive
// Block. Not safe for concurrent use: the monitor goroutine owns it.
type Flap struct {
	// Block is how long after a failover automatic ones are refused.
	Block time.Duration

	last     time.Time
	recorded bool
	acked    bool
}

// RecordFailover notes a failover (automatic or manual) that happened at now;
// it starts a new block period and clears any acknowledgement.
func (f *Flap) RecordFailover(now time.Time) {
	f.last, f.recorded, f.acked = now, true, false
}

// Acknowledge lifts the current block (an operator looked at the last
// failover). A later failover blocks again.
func (f *Flap) Acknowledge() { f.acked = true }

// Blocked reports whether an automatic failover at now is refused, and until
// when. A clock that went backwards keeps the block (until last+Block).
func (f *Flap) Blocked(now time.Time) (bool, time.Time) {
	if !f.recorded || f.acked || f.Block <= 0 {
		return false, time.Time{}
	}
	until := f.last.Add(f.Block)
	if now.Before(until) {
		return true, until
	}
	return false, time.Time{}
}

// Allow reports whether a failover may start now: manual ones always, automatic
// ones when not Blocked. until is set when refused.
func (f *Flap) Allow(now time.Time, auto bool) (ok bool, until time.Time) {
	if !auto {
		return true, time.Time{}
	}
	blocked, until := f.Blocked(now)
	return !blocked, until
}

// Last returns the time of the last recorded failover, if any.
func (f *Flap) Last() (time.Time, bool) { return f.last, f.recorded }
