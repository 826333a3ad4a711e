package main

import (
	"slices"
	"testing"
)

func TestParseSysbench(t *testing.T) {
	out := `SQL statistics:
    queries performed:
        read:                            1213450
        other:                           0
        total:                           1213450
    transactions:                        1213450 (121330.45 per sec.)
    queries:                             1213450 (121330.45 per sec.)
    ignored errors:                      3      (0.30 per sec.)
    reconnects:                          0      (0.00 per sec.)

Latency (ms):
         min:                                    0.05
         avg:                                    0.13
         max:                                   12.45
         95th percentile:                        0.22
         sum:                               157463.43
`
	r, err := parseSysbench(out)
	if err != nil {
		t.Fatal(err)
	}
	want := sbResult{QPS: 121330.45, TPS: 121330.45, AvgMS: 0.13, P95MS: 0.22, Errors: 0.30}
	if r != want {
		t.Fatalf("got %+v, want %+v", r, want)
	}
	for _, bad := range []string{"", "queries: 1 (2 per sec.)", "FATAL: error"} {
		if _, err := parseSysbench(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestSpread(t *testing.T) {
	for _, c := range []struct {
		in          []float64
		lo, med, hi float64
	}{
		{nil, 0, 0, 0},
		{[]float64{0.9}, 0.9, 0.9, 0.9},
		{[]float64{1.1, 0.9}, 0.9, 1.0, 1.1},
		{[]float64{1.05, 0.91, 0.98}, 0.91, 0.98, 1.05},
		{[]float64{3, 1, 4, 1, 5}, 1, 3, 5},
	} {
		in := slices.Clone(c.in)
		lo, med, hi := spread(c.in)
		if lo != c.lo || med != c.med || hi != c.hi {
			t.Errorf("spread(%v) = %v %v %v, want %v %v %v", c.in, lo, med, hi, c.lo, c.med, c.hi)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("spread reordered its input: %v", c.in)
		}
	}
}

func TestMedianCPU(t *testing.T) {
	rs := []RateCPU{{TotalUS: 70}, {TotalUS: 58}, {TotalUS: 64}, {TotalUS: 90}, {TotalUS: 61}}
	if got := medianCPU(rs); got.TotalUS != 64 {
		t.Errorf("median of %v = %v, want 64", rs, got.TotalUS)
	}
	if rs[0].TotalUS != 70 {
		t.Errorf("medianCPU reordered its input: %v", rs)
	}
	if got := medianCPU(rs[:1]); got.TotalUS != 70 {
		t.Errorf("median of one = %v", got.TotalUS)
	}
}
