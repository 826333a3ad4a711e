package proxy

import (
	"runtime"
	"testing"

	"github.com/switchyard/switchyard/evloop"
)

func TestResolveLoops(t *testing.T) {
	auto := 0
	if evloop.Supported {
		auto = runtime.GOMAXPROCS(0)
	}
	for _, c := range []struct {
		n    int
		env  string
		want int
		bad  bool
	}{
		{0, "", 0, false},
		{3, "", 3, false},
		{LoopsAuto, "", auto, false},
		{LoopsAuto, "0", 0, false}, // the environment turns them off
		{0, "2", 2, false},
		{4, "auto", auto, false},
		{0, "256", 256, false},
		{0, "257", 0, true},
		{0, "-1", 0, true},
		{0, "two", 0, true},
		{-5, "", 0, true},
	} {
		got, err := resolveLoops(c.n, c.env)
		if (err != nil) != c.bad || (!c.bad && got != c.want) {
			t.Errorf("resolveLoops(%d, %q) = %d, %v; want %d, error %v", c.n, c.env, got, err, c.want, c.bad)
		}
	}
}
