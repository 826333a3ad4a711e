package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

var sizeUnits = []struct {
	names []string
	shift uint
}{
	{[]string{"b", ""}, 0},
	{[]string{"k", "kb", "kib"}, 10},
	{[]string{"m", "mb", "mib"}, 20},
	{[]string{"g", "gb", "gib"}, 30},
	{[]string{"t", "tb", "tib"}, 40},
}

// ParseSize parses a byte size: a whole number of bytes, or a whole number
// followed by a unit K/KB/KiB, M/MB/MiB, G/GB/GiB or T/TB/TiB (any case,
// optional space). Every unit is a power of 1024, as in MySQL's my.cnf.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf(`must be a size such as 16777216 or "16MB" (a whole number, units are powers of 1024), got %q`, s)
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	for _, u := range sizeUnits {
		for _, name := range u.names {
			if unit != name {
				continue
			}
			if n > math.MaxInt64>>u.shift {
				return 0, fmt.Errorf("size %q is too large", s)
			}
			return n << u.shift, nil
		}
	}
	return 0, fmt.Errorf(`must be a size such as 16777216 or "16MB" (a whole number, units are powers of 1024), got %q`, s)
}

// FormatSize prints n with the largest binary unit that divides it exactly,
// so that ParseSize(FormatSize(n)) == n.
func FormatSize(n int64) string {
	if n == 0 {
		return "0"
	}
	units := []string{"TiB", "GiB", "MiB", "KiB"}
	for i, u := range units {
		shift := uint(40 - 10*i)
		if n%(1<<shift) == 0 {
			return strconv.FormatInt(n>>shift, 10) + u
		}
	}
	return strconv.FormatInt(n, 10)
}

// formatDuration is time.Duration.String without the trailing zero units
// ("5m" rather than "5m0s"); the result still parses with time.ParseDuration.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
