// Command bench measures Switchyard against a direct connection and HAProxy
// (TCP mode, the L4 baseline) on one sandbox cluster, in one run: sysbench
// oltp_point_select, oltp_read_only and oltp_read_write at several thread
// counts, alternating the targets so noise hits them alike; then the proxy's
// memory while streaming a 1 GB result, its memory and backend connections
// with thousands of idle clients, and the latency it adds per query.
//
// Run it with `make bench` (see bench/README.md for the setup it builds).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/cluster"
)

type options struct {
	switchyard string
	seconds    int
	threads    []int
	workloads  []string
	rounds     int
	tableSize  int
	tables     int
	idle       int
	streamRows int
	out        string
	skipExtras bool
	hold       bool
	gomaxprocs int
	bBinary    string // a second Switchyard ("switchyard-b") to compare, "" for none
	bPipeline  bool   // switchyard-b runs with routing.pipeline_reads (and the same binary unless bBinary)
	rate       int    // queries per second of the fixed-rate CPU test, 0 for none
}

func main() {
	var o options
	var threads, workloads string
	flag.StringVar(&o.switchyard, "switchyard", "bin/switchyard", "Switchyard binary to run (make build)")
	flag.IntVar(&o.seconds, "time", 10, "seconds per sysbench run")
	flag.StringVar(&threads, "threads", "1,16,64", "sysbench thread counts")
	flag.StringVar(&workloads, "workloads", "oltp_point_select,oltp_read_only,oltp_read_write", "sysbench workloads")
	flag.IntVar(&o.rounds, "rounds", 1, "runs per (workload, threads, target); the median is reported")
	flag.IntVar(&o.tables, "tables", 4, "sysbench tables")
	flag.IntVar(&o.tableSize, "table-size", 10000, "rows per sysbench table")
	flag.IntVar(&o.idle, "idle-clients", 5000, "idle clients for the memory/backend-connection test")
	flag.IntVar(&o.streamRows, "stream-rows", 1000000, "rows of ~1000 bytes streamed for the memory test")
	flag.StringVar(&o.out, "out", "bench/results", "directory for the JSON results")
	flag.BoolVar(&o.skipExtras, "skip-extras", false, "only the sysbench matrix")
	flag.BoolVar(&o.hold, "hold", false, "after setup, print the three targets' addresses and wait for Ctrl-C (for manual runs and profiling)")
	flag.IntVar(&o.gomaxprocs, "gomaxprocs", 0, "GOMAXPROCS for the Switchyard process (0: the Go default, one per CPU)")
	flag.StringVar(&o.bBinary, "b", "", "also run this Switchyard binary as a fourth target, switchyard-b, in the same rotation (A/B of two builds or settings)")
	flag.BoolVar(&o.bPipeline, "b-pipeline", false, "switchyard-b runs with routing.pipeline_reads: true (the --switchyard binary unless -b names another)")
	flag.IntVar(&o.rate, "rate", 5000, "queries per second of the fixed-rate CPU test (point select, 16 threads; an extra, 0 skips it)")
	flag.Parse()
	var err error
	if o.threads, err = intList(threads); err != nil {
		fatal(fmt.Errorf("--threads: %w", err))
	}
	o.workloads = strings.Split(workloads, ",")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	os.Exit(1)
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// Results is the JSON document written to bench/results.
type Results struct {
	Started      time.Time         `json:"started"`
	Host         HostInfo          `json:"host"`
	Setup        map[string]string `json:"setup"`
	Cells        []Cell            `json:"cells"`
	FixedRate    *FixedRate        `json:"fixed_rate_cpu,omitempty"`
	Stream       *StreamResult     `json:"stream_1gb,omitempty"`
	Idle         *IdleResult       `json:"idle_clients,omitempty"`
	AddedLatency *AddedLatency     `json:"added_latency_1_thread,omitempty"`
}

// HostInfo records the machine and how busy it was.
type HostInfo struct {
	CPUs       int    `json:"cpus"`
	LoadBefore string `json:"loadavg_before"`
	LoadAfter  string `json:"loadavg_after"`
	Kernel     string `json:"kernel"`
	GoVersion  string `json:"go"`
	Sysbench   string `json:"sysbench"`
	HAProxy    string `json:"haproxy"`
	MariaDB    string `json:"mariadb"`
}

// Cell is one (workload, threads) line of the table.
type Cell struct {
	Workload  string              `json:"workload"`
	Threads   int                 `json:"threads"`
	Targets   map[string]sbResult `json:"targets"` // direct, haproxy, switchyard, switchyard-b
	VsDirect  float64             `json:"switchyard_vs_direct_qps"`
	BVsA      float64             `json:"switchyard_b_vs_switchyard_qps,omitempty"`
	VsHAProxy float64             `json:"switchyard_vs_haproxy_qps"`
	P95VsHA   float64             `json:"switchyard_vs_haproxy_p95"`
	// RoundsVsHA is Switchyard/HAProxy QPS within each round (runs minutes
	// apart see different noise; within a round they are back to back).
	RoundsVsHA []float64 `json:"switchyard_vs_haproxy_qps_by_round,omitempty"`
	// RoundsBVsHA is the same for switchyard-b.
	RoundsBVsHA []float64 `json:"switchyard_b_vs_haproxy_qps_by_round,omitempty"`
	DirectNode  string    `json:"direct_node"`
}

func run(ctx context.Context, o options) error {
	started := time.Now()
	res := Results{Started: started, Setup: map[string]string{}}
	res.Host = hostInfo()
	res.Host.LoadBefore = loadavg()
	raiseFDLimit()
	if _, err := os.Stat(o.switchyard); err != nil {
		return fmt.Errorf("switchyard binary %s: %w (run make build)", o.switchyard, err)
	}
	for _, tool := range []string{"sysbench", "haproxy"} {
		if _, err := lookPath(tool); err != nil {
			return fmt.Errorf("%s not found (./scripts/ensure-deps.sh sysbench haproxy): %w", tool, err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fmt.Printf("starting a sandbox cluster (1 master + 2 replicas)...\n")
	c, err := cluster.Start(ctx, cluster.Options{Replicas: 2, Logger: log, Unsafe: true,
		ExtraServerArgs: []string{"--max-connections=2000", "--max-allowed-packet=64M", "--innodb-buffer-pool-size=256M"}})
	if err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	defer func() { _ = c.Stop() }()
	master, r1, r2 := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	res.Host.MariaDB = c.Version
	work, err := os.MkdirTemp("", "switchyard-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	sb := sysbench{user: c.Users.App.Name, password: c.Users.App.Password, db: "sbtest", tables: o.tables, tableSize: o.tableSize}
	if err := prepare(ctx, c, sb); err != nil {
		return err
	}

	ha, err := startHAProxy(ctx, work, master.Addr(), []string{r1.Addr(), r2.Addr()})
	if err != nil {
		return err
	}
	defer ha.stop()
	sy, err := startSwitchyard(ctx, o.switchyard, work, c, o.idle+1000, o.gomaxprocs, false)
	if err != nil {
		return err
	}
	defer sy.stop()
	targets := []string{"direct", "haproxy", "switchyard"}
	var syB *switchyardProc
	if o.bPipeline && o.bBinary == "" {
		o.bBinary = o.switchyard
	}
	if o.bBinary != "" {
		dirB := filepath.Join(work, "b")
		if err := os.Mkdir(dirB, 0o755); err != nil {
			return err
		}
		syB, err = startSwitchyard(ctx, o.bBinary, dirB, c, 1000, o.gomaxprocs, o.bPipeline)
		if err != nil {
			return fmt.Errorf("switchyard-b: %w", err)
		}
		defer syB.stop()
		targets = append(targets, "switchyard-b")
		res.Setup["switchyard-b"] = "as switchyard, binary " + o.bBinary + ", event loops " + syB.eventLoops(ctx)
		if o.bPipeline {
			res.Setup["switchyard-b"] += ", routing.pipeline_reads: true"
		}
	}

	res.Setup["cluster"] = fmt.Sprintf("MariaDB %s, 1 master (%s) + 2 replicas (%s, %s), GTID replication, innodb_flush_log_at_trx_commit=2",
		c.Version, master.Name, r1.Name, r2.Name)
	res.Setup["direct"] = fmt.Sprintf("read-only workloads: replica %s; oltp_read_write: master %s", r1.Name, master.Name)
	res.Setup["haproxy"] = "mode tcp; read-only workloads: leastconn over both replicas; oltp_read_write: the master only"
	res.Setup["switchyard"] = "separate process (bin/switchyard run), read/write split on, consistency " + sy.consistency +
		", log level warn, GOMAXPROCS " + gmp(o.gomaxprocs) + " (event loops raise it to loops + 1), event loops " + sy.eventLoops(ctx) +
		"; reads spread over the replicas, writes and transactions on the master"
	res.Setup["sysbench"] = fmt.Sprintf("%d tables x %d rows, %ds per run, --rand-type=uniform, prepared statements (db-ps-mode auto); oltp_read_only with --skip_trx=on",
		o.tables, o.tableSize, o.seconds)
	res.Setup["order"] = "for each (workload, threads) the targets run back to back, the order rotating from cell to cell"

	addr := func(target, workload string) (string, string) {
		rw := workload == "oltp_read_write"
		switch target {
		case "direct":
			if rw {
				return master.Addr(), master.Name
			}
			return r1.Addr(), r1.Name
		case "haproxy":
			if rw {
				return ha.rwAddr, ""
			}
			return ha.roAddr, ""
		case "switchyard-b":
			return syB.addr, ""
		default:
			return sy.addr, ""
		}
	}

	if o.hold {
		fmt.Printf("holding; sysbench --mysql-user=%s --mysql-password=%s --mysql-db=sbtest --tables=%d --table-size=%d against:\n",
			sb.user, sb.password, sb.tables, sb.tableSize)
		for _, t := range targets {
			a, _ := addr(t, "oltp_point_select")
			fmt.Printf("  %-10s %s\n", t, a)
		}
		fmt.Printf("  switchyard pid %d, haproxy pid %d; Ctrl-C to stop\n", sy.pid(), ha.pid())
		<-ctx.Done()
		return nil
	}

	// Warm every target (pools, buffer pool, prepared statements).
	fmt.Printf("warming up...\n")
	for _, t := range targets {
		a, _ := addr(t, "oltp_point_select")
		if _, err := sb.run(ctx, "oltp_point_select", a, 16, 2, "run"); err != nil {
			return fmt.Errorf("warm-up of %s: %w", t, err)
		}
	}

	fmt.Printf("load average before the matrix: %s\n\n", loadavg())
	cellNo := 0
	for _, w := range o.workloads {
		for _, th := range o.threads {
			cell := Cell{Workload: w, Threads: th, Targets: map[string]sbResult{}}
			runs := map[string][]sbResult{}
			for round := 0; round < o.rounds; round++ {
				for i := range targets {
					t := targets[(i+cellNo+round)%len(targets)]
					a, node := addr(t, w)
					if t == "direct" {
						cell.DirectNode = node
					}
					pid := 0
					switch t {
					case "haproxy":
						pid = ha.pid()
					case "switchyard":
						pid = sy.pid()
					case "switchyard-b":
						pid = syB.pid()
					}
					cpu0, busy0 := procCPU(pid), machineBusy()
					out, sbCPU, err := sb.runCPU(ctx, w, a, th, o.seconds, "run")
					if err != nil {
						return err
					}
					cpu, busy := procCPU(pid)-cpu0, machineBusy()-busy0
					r, err := parseSysbench(out)
					if err != nil {
						return fmt.Errorf("%s %d threads %s: %w", w, th, t, err)
					}
					if q := r.QPS * float64(o.seconds); q > 0 {
						if pid != 0 {
							r.ProxyCPUUS = cpu.Seconds() * 1e6 / q
						}
						r.ClientCPUUS = sbCPU.Seconds() * 1e6 / q
						r.MachineCPUUS = busy.Seconds() * 1e6 / q
					}
					runs[t] = append(runs[t], r)
				}
			}
			cellNo++
			for _, t := range targets {
				cell.Targets[t] = median(runs[t])
			}
			if o.rounds > 1 {
				for r := range o.rounds {
					cell.RoundsVsHA = append(cell.RoundsVsHA, ratio(runs["switchyard"][r].QPS, runs["haproxy"][r].QPS))
					if b := runs["switchyard-b"]; len(b) > r {
						cell.RoundsBVsHA = append(cell.RoundsBVsHA, ratio(b[r].QPS, runs["haproxy"][r].QPS))
					}
				}
			}
			d, h, s := cell.Targets["direct"], cell.Targets["haproxy"], cell.Targets["switchyard"]
			cell.VsDirect = ratio(s.QPS, d.QPS)
			cell.VsHAProxy = ratio(s.QPS, h.QPS)
			cell.P95VsHA = ratio(s.P95MS, h.P95MS)
			if b, ok := cell.Targets["switchyard-b"]; ok {
				cell.BVsA = ratio(b.QPS, s.QPS)
			}
			res.Cells = append(res.Cells, cell)
			printCell(cell)
		}
	}

	if !o.skipExtras && o.rate > 0 {
		rounds := max(o.rounds, 3)
		fmt.Printf("\nproxy CPU at a fixed %d qps, %d rounds...\n", o.rate, rounds)
		rt := []rateTarget{{"haproxy", ha.roAddr, ha.pid()}, {"switchyard", sy.addr, sy.pid()}}
		if syB != nil {
			rt = append(rt, rateTarget{"switchyard-b", syB.addr, syB.pid()})
		}
		fr, err := fixedRate(ctx, sb, rt, o.rate, 16, o.seconds, rounds)
		if err != nil {
			return fmt.Errorf("fixed-rate test: %w", err)
		}
		res.FixedRate = fr
	}
	if !o.skipExtras {
		fmt.Printf("\nstreaming %d rows (~%d MB) through Switchyard...\n", o.streamRows, o.streamRows/1000)
		st, err := streamTest(ctx, c, sy, o.streamRows)
		if err != nil {
			return fmt.Errorf("stream test: %w", err)
		}
		res.Stream = st
		fmt.Printf("opening %d idle clients through Switchyard...\n", o.idle)
		id, err := idleTest(ctx, c, sy, o.idle)
		if err != nil {
			return fmt.Errorf("idle test: %w", err)
		}
		res.Idle = id
	}
	res.AddedLatency = addedLatency(res.Cells)
	res.Host.LoadAfter = loadavg()

	fmt.Println()
	printTable(os.Stdout, res)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(o.out, started.UTC().Format("20060102T150405Z")+".json")
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nresults written to %s\n", path)
	if err := sy.err(); err != nil {
		return err
	}
	return nil
}

func gmp(n int) string {
	if n <= 0 {
		return "default (" + strconv.Itoa(runtime.NumCPU()) + ")"
	}
	return strconv.Itoa(n)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// spread returns the smallest, median and largest of xs (the mean of the
// middle two for an even count); zeros for none.
func spread(xs []float64) (lo, med, hi float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return s[0], med, s[n-1]
}

// median picks the run with the median QPS (its p95 comes along).
func median(rs []sbResult) sbResult {
	if len(rs) == 0 {
		return sbResult{}
	}
	s := append([]sbResult(nil), rs...)
	sort.Slice(s, func(i, j int) bool { return s[i].QPS < s[j].QPS })
	return s[len(s)/2]
}

// AddedLatency is what the proxies add to one query at 1 thread (mean
// latency of oltp_point_select minus the direct connection's).
type AddedLatency struct {
	SwitchyardUS float64 `json:"switchyard_us"`
	HAProxyUS    float64 `json:"haproxy_us"`
	DirectAvgUS  float64 `json:"direct_avg_us"`
}

func addedLatency(cells []Cell) *AddedLatency {
	for _, c := range cells {
		if c.Workload == "oltp_point_select" && c.Threads == 1 {
			d := c.Targets["direct"].AvgMS * 1000
			return &AddedLatency{DirectAvgUS: d, SwitchyardUS: c.Targets["switchyard"].AvgMS*1000 - d,
				HAProxyUS: c.Targets["haproxy"].AvgMS*1000 - d}
		}
	}
	return nil
}

func printCell(c Cell) {
	d, h, s := c.Targets["direct"], c.Targets["haproxy"], c.Targets["switchyard"]
	fmt.Printf("%-18s %3d thr  direct %9.0f qps p95 %6.2fms | haproxy %9.0f qps p95 %6.2fms %5.1fµs cpu/q | switchyard %9.0f qps p95 %6.2fms %5.1fµs cpu/q | sy/direct %.2f sy/haproxy %.2f\n",
		c.Workload, c.Threads, d.QPS, d.P95MS, h.QPS, h.P95MS, h.ProxyCPUUS, s.QPS, s.P95MS, s.ProxyCPUUS, c.VsDirect, c.VsHAProxy)
	printB(os.Stdout, c)
}

// printB prints switchyard-b's line of a cell, when it ran.
func printB(w io.Writer, c Cell) {
	b, ok := c.Targets["switchyard-b"]
	if !ok {
		return
	}
	h := c.Targets["haproxy"]
	fmt.Fprintf(w, "%-18s %4s   switchyard-b %9.0f qps p95 %6.2fms %5.1fµs cpu/q | b/switchyard %.2f b/haproxy %.2f p95 b/ha %.2f\n",
		"", "", b.QPS, b.P95MS, b.ProxyCPUUS, c.BVsA, ratio(b.QPS, h.QPS), ratio(b.P95MS, h.P95MS))
}

func printTable(w io.Writer, r Results) {
	fmt.Fprintf(w, "Switchyard bench — %s, %d CPUs, load %s → %s\n", r.Started.Format(time.RFC3339), r.Host.CPUs, r.Host.LoadBefore, r.Host.LoadAfter)
	fmt.Fprintf(w, "%-18s %4s | %10s %8s | %10s %8s %8s | %10s %8s %8s | %9s %10s %10s\n",
		"workload", "thr", "direct qps", "p95 ms", "haproxy", "p95 ms", "cpu µs/q", "switchyard", "p95 ms", "cpu µs/q", "sy/direct", "sy/haproxy", "p95 sy/ha")
	fmt.Fprintln(w, strings.Repeat("-", 150))
	for _, c := range r.Cells {
		d, h, s := c.Targets["direct"], c.Targets["haproxy"], c.Targets["switchyard"]
		fmt.Fprintf(w, "%-18s %4d | %10.0f %8.2f | %10.0f %8.2f %8.1f | %10.0f %8.2f %8.1f | %9.2f %10.2f %10.2f\n",
			c.Workload, c.Threads, d.QPS, d.P95MS, h.QPS, h.P95MS, h.ProxyCPUUS, s.QPS, s.P95MS, s.ProxyCPUUS, c.VsDirect, c.VsHAProxy, c.P95VsHA)
		printB(w, c)
	}
	fmt.Fprintln(w, "cpu µs/q: the proxy process's CPU time (user+system, all threads) per query")
	byRound := func(c Cell, name string, rs []float64) {
		if len(rs) < 2 {
			return
		}
		lo, med, hi := spread(rs)
		fmt.Fprintf(w, "%-18s %4d | %s by round:", c.Workload, c.Threads, name)
		for _, x := range rs {
			fmt.Fprintf(w, " %.2f", x)
		}
		fmt.Fprintf(w, " (min %.2f, median %.2f, max %.2f)\n", lo, med, hi)
	}
	for _, c := range r.Cells {
		byRound(c, "sy/haproxy", c.RoundsVsHA)
		byRound(c, "b/haproxy", c.RoundsBVsHA)
	}
	fmt.Fprintf(w, "\nCPU per query in µs (proxy / sysbench / whole machine):\n")
	for _, c := range r.Cells {
		d, h, s := c.Targets["direct"], c.Targets["haproxy"], c.Targets["switchyard"]
		fmt.Fprintf(w, "%-18s %4d | direct - / %.1f / %.1f | haproxy %.1f / %.1f / %.1f | switchyard %.1f / %.1f / %.1f\n",
			c.Workload, c.Threads, d.ClientCPUUS, d.MachineCPUUS, h.ProxyCPUUS, h.ClientCPUUS, h.MachineCPUUS, s.ProxyCPUUS, s.ClientCPUUS, s.MachineCPUUS)
		if b, ok := c.Targets["switchyard-b"]; ok {
			fmt.Fprintf(w, "%-18s %4s   switchyard-b %.1f / %.1f / %.1f\n", "", "", b.ProxyCPUUS, b.ClientCPUUS, b.MachineCPUUS)
		}
	}
	if a := r.AddedLatency; a != nil {
		fmt.Fprintf(w, "\nadded latency per query at 1 thread (point select, mean): switchyard %+.0f µs, haproxy %+.0f µs (direct mean %.0f µs)\n",
			a.SwitchyardUS, a.HAProxyUS, a.DirectAvgUS)
	}
	if f := r.FixedRate; f != nil {
		printFixedRate(w, f)
	}
	if s := r.Stream; s != nil {
		fmt.Fprintf(w, "streaming %.2f GB in %.1fs (%.0f MB/s): proxy RSS before %.1f MB, peak %.1f MB (VmHWM), max sampled %.1f MB\n",
			float64(s.Bytes)/1e9, s.Seconds, float64(s.Bytes)/1e6/s.Seconds, s.RSSBeforeMB, s.PeakHWMMB, s.MaxSampledMB)
	}
	if i := r.Idle; i != nil {
		fmt.Fprintf(w, "%d idle clients: proxy RSS %.1f MB → %.1f MB (%.1f KB per client), backend connections %d before, %d with the clients (HAProxy would hold %d)\n",
			i.Clients, i.RSSBeforeMB, i.RSSAfterMB, i.PerClientKB, i.BackendBefore, i.BackendAfter, i.Clients)
	}
	for _, k := range sortedKeys(r.Setup) {
		fmt.Fprintf(w, "  %-10s %s\n", k+":", r.Setup[k])
	}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func hostInfo() HostInfo {
	h := HostInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	h.Sysbench = firstLine(commandOutput("sysbench", "--version"))
	h.HAProxy = firstLine(commandOutput("haproxy", "-v"))
	return h
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// raiseFDLimit lifts the open-file limit for the idle-clients test; the
// proxy (a child) inherits it.
func raiseFDLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	want := uint64(65536)
	if l.Max < want {
		l.Max = want // works as root; otherwise the next call fails and we keep the hard limit
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
