package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// sbResult is what one sysbench run measured.
type sbResult struct {
	QPS    float64 `json:"qps"`
	TPS    float64 `json:"tps"`
	AvgMS  float64 `json:"avg_ms"`
	P95MS  float64 `json:"p95_ms"`
	Errors float64 `json:"errors_per_sec"`
	// ProxyCPUUS is the proxy process's CPU time (user+system, all
	// threads) per query, in µs; 0 for the direct connection.
	ProxyCPUUS float64 `json:"proxy_cpu_us_per_query,omitempty"`
	// ClientCPUUS is sysbench's CPU time per query, in µs.
	ClientCPUUS float64 `json:"sysbench_cpu_us_per_query,omitempty"`
	// MachineCPUUS is the whole machine's busy CPU time (all processes,
	// /proc/stat) per query, in µs: on a saturated machine QPS is its
	// inverse times the CPU count.
	MachineCPUUS float64 `json:"machine_cpu_us_per_query,omitempty"`
}

var (
	reQueries = regexp.MustCompile(`queries:\s+\d+\s+\(([\d.]+) per sec\.\)`)
	reTx      = regexp.MustCompile(`transactions:\s+\d+\s+\(([\d.]+) per sec\.\)`)
	reAvg     = regexp.MustCompile(`avg:\s+([\d.]+)`)
	reP95     = regexp.MustCompile(`95th percentile:\s+([\d.]+)`)
	reErr     = regexp.MustCompile(`ignored errors:\s+\d+\s+\(([\d.]+) per sec\.\)`)
)

// parseSysbench reads the summary sysbench prints after a run.
func parseSysbench(out string) (sbResult, error) {
	var r sbResult
	for _, f := range []struct {
		re   *regexp.Regexp
		dst  *float64
		need bool
	}{{reQueries, &r.QPS, true}, {reTx, &r.TPS, false}, {reAvg, &r.AvgMS, true}, {reP95, &r.P95MS, true}, {reErr, &r.Errors, false}} {
		m := f.re.FindStringSubmatch(out)
		if m == nil {
			if f.need {
				return r, fmt.Errorf("sysbench output lacks %q", f.re.String())
			}
			continue
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return r, fmt.Errorf("sysbench output: %q: %w", m[0], err)
		}
		*f.dst = v
	}
	return r, nil
}

// sysbench runs one sysbench command (prepare or run) and returns its output.
type sysbench struct {
	user, password, db string
	tables, tableSize  int
}

func (s sysbench) args(workload, addr string, threads, seconds int, cmd string) []string {
	host, port, _ := strings.Cut(addr, ":")
	a := []string{workload, "--db-driver=mysql", "--mysql-host=" + host, "--mysql-port=" + port,
		"--mysql-user=" + s.user, "--mysql-password=" + s.password, "--mysql-db=" + s.db,
		"--tables=" + strconv.Itoa(s.tables), "--table-size=" + strconv.Itoa(s.tableSize),
		"--threads=" + strconv.Itoa(threads), "--rand-type=uniform", "--percentile=95", "--report-interval=0",
		// Errors (a lost connection) count, rather than end the run.
		"--mysql-ignore-errors=all"}
	if seconds > 0 {
		a = append(a, "--time="+strconv.Itoa(seconds), "--events=0")
	}
	if workload == "oltp_read_only" {
		// Without BEGIN/COMMIT, so a read/write-splitting proxy can spread
		// the statements over the replicas as an L4 balancer does.
		a = append(a, "--skip_trx=on")
	}
	return append(a, cmd)
}

func (s sysbench) run(ctx context.Context, workload, addr string, threads, seconds int, cmd string) (string, error) {
	out, _, err := s.runCPU(ctx, workload, addr, threads, seconds, cmd)
	return out, err
}

// runCPU is run that also returns sysbench's own CPU time.
func (s sysbench) runCPU(ctx context.Context, workload, addr string, threads, seconds int, cmd string) (string, time.Duration, error) {
	c := exec.CommandContext(ctx, "sysbench", s.args(workload, addr, threads, seconds, cmd)...)
	out, err := c.CombinedOutput()
	if err != nil {
		return string(out), 0, fmt.Errorf("sysbench %s %s against %s: %w\n%s", workload, cmd, addr, err, tail(string(out), 20))
	}
	return string(out), c.ProcessState.UserTime() + c.ProcessState.SystemTime(), nil
}

// exec runs sysbench with args (what names the run in an error; args hold
// the password) and returns its output.
func (s sysbench) exec(ctx context.Context, what string, args []string) (string, error) {
	out, err := exec.CommandContext(ctx, "sysbench", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("sysbench %s: %w\n%s", what, err, tail(string(out), 20))
	}
	return string(out), nil
}

func tail(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
