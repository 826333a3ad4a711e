package main

import "testing"

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
