package httpapi

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestLatencyBucket(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {-time.Second, 0}, {time.Nanosecond, 0}, {50 * time.Microsecond, 0},
		{50*time.Microsecond + 1, 1}, {100 * time.Microsecond, 1}, {100*time.Microsecond + 1, 2},
		{time.Millisecond, 5}, // 800µs < 1ms <= 1.6ms
		{50 * time.Microsecond << 19, 19}, {50*time.Microsecond<<19 + 1, latencyBuckets}, {time.Hour, latencyBuckets},
	} {
		if got := latencyBucket(c.d); got != c.want {
			t.Errorf("latencyBucket(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}

// Observations made on different shards come out of one scrape as one
// histogram per route and result, with Prometheus's cumulative buckets.
func TestLatencyShardsSum(t *testing.T) {
	l := newLatency()
	l.Statement(0, "replica", false, 40*time.Microsecond)
	l.Statement(3, "replica", false, 70*time.Microsecond)
	l.Statement(15, "replica", false, 2*time.Second)
	l.Statement(17, "replica", true, time.Hour) // shard past the end wraps; +Inf bucket
	l.Statement(1, "somewhere-new", false, time.Millisecond)
	reg := prometheus.NewRegistry()
	reg.MustRegister(l)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[[2]string]*dto.Histogram{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var k [2]string
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "route" {
					k[0] = lp.GetValue()
				} else {
					k[1] = lp.GetValue()
				}
			}
			got[k] = m.GetHistogram()
		}
	}
	if len(got) != len(routes)*2 {
		t.Errorf("%d series, want %d (every route and result)", len(got), len(routes)*2)
	}
	h := got[[2]string{"replica", "ok"}]
	if h.GetSampleCount() != 3 {
		t.Fatalf("replica ok count = %d, want 3", h.GetSampleCount())
	}
	if s := h.GetSampleSum(); s < 2.0001 || s > 2.0002 {
		t.Errorf("replica ok sum = %v, want 2.00011", s)
	}
	cum := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		cum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	for le, want := range map[float64]uint64{50e-6: 1, 100e-6: 2, 1.6384: 2, 3.2768: 3} {
		if cum[le] != want {
			t.Errorf("replica ok le=%v: %d, want %d", le, cum[le], want)
		}
	}
	if e := got[[2]string{"replica", "error"}]; e.GetSampleCount() != 1 || e.GetBucket()[latencyBuckets-1].GetCumulativeCount() != 0 {
		t.Errorf("an hour-long failure: count %d, largest finite bucket %d; want 1 and 0", e.GetSampleCount(), e.GetBucket()[latencyBuckets-1].GetCumulativeCount())
	}
	if o := got[[2]string{"other", "ok"}]; o.GetSampleCount() != 1 {
		t.Errorf("an unknown route is not counted as other: %d", o.GetSampleCount())
	}
}
