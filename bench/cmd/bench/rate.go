package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FixedRate is what each proxy's own CPU costs per query when sysbench
// holds the rate below saturation. With the machine not saturated the
// proxies' CPU per query moves less from run to run than QPS at saturation
// does (which swings by 5–10% between rounds), and it is the proxy's own
// cost, apart from how the scheduler shares a full machine.
type FixedRate struct {
	TargetQPS int                  `json:"target_qps"`
	Threads   int                  `json:"threads"`
	Seconds   int                  `json:"seconds"`
	Rounds    int                  `json:"rounds"`
	Targets   map[string]RateCPU   `json:"targets"` // medians over the rounds by total
	Runs      map[string][]RateCPU `json:"runs"`    // every round, in order
	// SyVsHA is Switchyard's total CPU per query over HAProxy's (below 1:
	// cheaper).
	SyVsHA float64 `json:"switchyard_vs_haproxy_cpu"`
	BVsHA  float64 `json:"switchyard_b_vs_haproxy_cpu,omitempty"`
}

// RateCPU is one proxy's CPU per query at the fixed rate, in µs.
type RateCPU struct {
	QPS     float64 `json:"qps"`
	UserUS  float64 `json:"user_us_per_query"`
	SysUS   float64 `json:"system_us_per_query"`
	TotalUS float64 `json:"total_us_per_query"`
}

// rateTarget is a proxy of the fixed-rate test: its name, address and pid.
type rateTarget struct {
	name, addr string
	pid        int
}

// fixedRate runs oltp_point_select at rate queries per second against each
// target in turn, rounds times (the order rotating), and reads each proxy
// process's user and system time from /proc around its runs.
func fixedRate(ctx context.Context, sb sysbench, targets []rateTarget, rate, threads, seconds, rounds int) (*FixedRate, error) {
	res := &FixedRate{TargetQPS: rate, Threads: threads, Seconds: seconds, Rounds: rounds, Targets: map[string]RateCPU{}}
	runs := map[string][]RateCPU{}
	for round := range rounds {
		for i := range targets {
			t := targets[(i+round)%len(targets)]
			u0, s0 := procTimes(t.pid)
			out, err := sb.runRate(ctx, "oltp_point_select", t.addr, threads, seconds, rate)
			if err != nil {
				return nil, err
			}
			u1, s1 := procTimes(t.pid)
			r, err := parseSysbench(out)
			if err != nil {
				return nil, fmt.Errorf("fixed rate, %s: %w", t.name, err)
			}
			q := r.QPS * float64(seconds)
			if q <= 0 {
				return nil, fmt.Errorf("fixed rate, %s: no queries", t.name)
			}
			c := RateCPU{QPS: r.QPS, UserUS: (u1 - u0).Seconds() * 1e6 / q, SysUS: (s1 - s0).Seconds() * 1e6 / q}
			c.TotalUS = c.UserUS + c.SysUS
			runs[t.name] = append(runs[t.name], c)
		}
	}
	for name, rs := range runs {
		res.Targets[name] = medianCPU(rs)
	}
	res.Runs = runs
	h := res.Targets["haproxy"].TotalUS
	res.SyVsHA = ratio(res.Targets["switchyard"].TotalUS, h)
	if b, ok := res.Targets["switchyard-b"]; ok {
		res.BVsHA = ratio(b.TotalUS, h)
	}
	return res, nil
}

// medianCPU picks the run with the median total.
func medianCPU(rs []RateCPU) RateCPU {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b RateCPU) int { return cmp.Compare(a.TotalUS, b.TotalUS) })
	return s[len(s)/2]
}

func printFixedRate(w io.Writer, f *FixedRate) {
	fmt.Fprintf(w, "\nproxy CPU per query at a fixed %d qps (point select, %d threads, median of %d): user / system / total µs\n",
		f.TargetQPS, f.Threads, f.Rounds)
	for _, name := range []string{"haproxy", "switchyard", "switchyard-b"} {
		c, ok := f.Targets[name]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "  %-12s %6.0f qps  %5.1f / %5.1f / %5.1f\n", name, c.QPS, c.UserUS, c.SysUS, c.TotalUS)
	}
	fmt.Fprintf(w, "  switchyard/haproxy CPU %.2f", f.SyVsHA)
	if f.BVsHA != 0 {
		fmt.Fprintf(w, ", switchyard-b/haproxy %.2f", f.BVsHA)
	}
	fmt.Fprintln(w)
}

// runRate is run at a fixed rate of queries (sysbench --rate counts
// events, one query each for oltp_point_select).
func (s sysbench) runRate(ctx context.Context, workload, addr string, threads, seconds, rate int) (string, error) {
	a := s.args(workload, addr, threads, seconds, "run")
	a = append(a[:len(a)-1], "--rate="+strconv.Itoa(rate), "run")
	return s.exec(ctx, fmt.Sprintf("%s at %d qps against %s", workload, rate, addr), a)
}

// procTimes is a process's user and system time so far (all threads), from
// /proc/<pid>/stat in clock ticks (USER_HZ, 100 on Linux); zeros for pid 0
// or when unreadable.
func procTimes(pid int) (user, sys time.Duration) {
	if pid == 0 {
		return 0, 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	// The command name (field 2) may hold spaces; fields after ")" start at 3.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, 0
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64) // utime, field 14
	st, _ := strconv.ParseUint(f[12], 10, 64) // stime, field 15
	return time.Duration(ut) * (time.Second / 100), time.Duration(st) * (time.Second / 100)
}
