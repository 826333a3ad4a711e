package failover

import (
	"testing"
	"time"
)

func TestFlap(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type op struct {
		do    string // record | ack | check
		at    time.Duration
		auto  bool
		allow bool
		until time.Duration // expected until offset when refused
	}
	tests := []struct {
		name  string
		block time.Duration
		ops   []op
	}{
		{"nothing recorded", time.Hour, []op{{do: "check", auto: true, allow: true}}},
		{"blocked within period", time.Hour, []op{
			{do: "record"},
			{do: "check", at: time.Minute, auto: true, allow: false, until: time.Hour},
			{do: "check", at: time.Hour - time.Nanosecond, auto: true, allow: false, until: time.Hour},
			{do: "check", at: time.Hour, auto: true, allow: true},
			{do: "check", at: 2 * time.Hour, auto: true, allow: true},
		}},
		{"manual ignores the block", time.Hour, []op{
			{do: "record"},
			{do: "check", at: time.Minute, auto: false, allow: true},
		}},
		{"acknowledge lifts the block", time.Hour, []op{
			{do: "record"},
			{do: "ack"},
			{do: "check", at: time.Minute, auto: true, allow: true},
		}},
		{"a new failover after ack blocks again", time.Hour, []op{
			{do: "record"},
			{do: "ack"},
			{do: "record", at: 10 * time.Minute},
			{do: "check", at: 11 * time.Minute, auto: true, allow: false, until: 70 * time.Minute},
		}},
		{"later failover extends the block", time.Hour, []op{
			{do: "record"},
			{do: "record", at: 30 * time.Minute},
			{do: "check", at: 61 * time.Minute, auto: true, allow: false, until: 90 * time.Minute},
		}},
		{"ack before any failover does not pre-approve", time.Hour, []op{
			{do: "ack"},
			{do: "record"},
			{do: "check", at: time.Second, auto: true, allow: false, until: time.Hour},
		}},
		{"clock went backwards: still blocked", time.Hour, []op{
			{do: "record", at: time.Hour},
			{do: "check", at: 0, auto: true, allow: false, until: 2 * time.Hour},
		}},
		{"zero block never blocks", 0, []op{
			{do: "record"},
			{do: "check", at: 0, auto: true, allow: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Flap{Block: tt.block}
			for i, o := range tt.ops {
				switch o.do {
				case "record":
					f.RecordFailover(at(o.at))
					if last, ok := f.Last(); !ok || !last.Equal(at(o.at)) {
						t.Errorf("op %d: Last = %v, %v", i, last, ok)
					}
				case "ack":
					f.Acknowledge()
				case "check":
					ok, until := f.Allow(at(o.at), o.auto)
					if ok != o.allow {
						t.Fatalf("op %d: Allow = %v, want %v", i, ok, o.allow)
					}
					if !ok && !until.Equal(at(o.until)) {
						t.Errorf("op %d: until %v, want %v", i, until, at(o.until))
					}
					if ok && !until.IsZero() {
						t.Errorf("op %d: allowed with until %v", i, until)
					}
					if o.auto {
						b, _ := f.Blocked(at(o.at))
						if b == ok {
							t.Errorf("op %d: Blocked disagrees with Allow", i)
						}
					}
				}
			}
		})
	}
}
