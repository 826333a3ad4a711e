package config

import (
	"fmt"
	"log/slog"
)

// masked is what every printed form of a Secret shows.
const masked = "***"

// Secret is a password. Every way of printing or encoding it — fmt with any
// verb, slog, JSON, YAML, text — yields "***"; only Reveal returns the value.
type Secret string

// Reveal returns the password itself. Call it only where the password is used.
func (s Secret) Reveal() string { return string(s) }

// IsEmpty reports whether the password is the empty string.
func (s Secret) IsEmpty() bool { return s == "" }

// String returns "***".
func (Secret) String() string { return masked }

// GoString returns "***" quoted, so %#v of a Config stays valid-looking Go.
func (Secret) GoString() string { return `"***"` }

// Format makes every fmt verb (%v %s %q %x %d ...) print the mask; without it
// verbs that bypass String would print the underlying string.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprint(f, `"***"`)
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, masked)
	default:
		fmt.Fprint(f, masked)
	}
}

// LogValue makes slog print the mask.
func (Secret) LogValue() slog.Value { return slog.StringValue(masked) }

// MarshalText returns the mask (used by encoding/json map keys and others).
func (Secret) MarshalText() ([]byte, error) { return []byte(masked), nil }

// MarshalJSON returns the mask as a JSON string.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"***"`), nil }

// MarshalYAML returns the mask.
func (Secret) MarshalYAML() (any, error) { return masked, nil }
