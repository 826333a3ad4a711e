package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser: it must never panic, and it
// returns either a config or Errors, never both and never neither.
func FuzzParse(f *testing.F) {
	if ex, err := os.ReadFile("../switchyard.example.yaml"); err == nil {
		f.Add(ex)
	}
	f.Add([]byte(base))
	f.Add([]byte(base + "limits:\n  max_client_connections: -5\n  max_packet_size: 16MB\n"))
	f.Add([]byte(base + "tls:\n  cert: x\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("users: &u [{user: a, password: b}]\nnodes: *u\nmonitor: *u\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("users:\n\t- x"))
	env := func(k string) (string, bool) {
		if strings.HasPrefix(k, "SWITCHYARD_") {
			return "pw", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(data, "fuzz.yaml", "", env)
		if (c == nil) == (err == nil) {
			t.Fatalf("config %v with error %v", c, err)
		}
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is not Errors: %v", err)
			}
			return
		}
		// A parsed config is printable and comparable without trouble.
		_ = c.Masked()
		if err := c.Reloadable(c); err != nil {
			t.Fatalf("config not reloadable onto itself: %v", err)
		}
	})
}
