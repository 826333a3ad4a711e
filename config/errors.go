package config

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in a config file.
type FieldError struct {
	File string // name given to Parse, or the path given to Load
	Line int    // 1-based; 0 when the problem has no line (a missing top-level key)
	Key  string // dotted path such as limits.max_client_connections or nodes[1].address; empty for syntax errors
	Msg  string
}

func (e FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a config file, in line order. Parse and
// Load return it (as error) whenever the file is not valid; use errors.As to
// get at the individual problems.
type Errors []FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual problems to errors.Is/As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
	return es
}

// RestartRequiredError is returned by Reloadable when a change cannot be
// applied to a running proxy.
type RestartRequiredError struct {
	Keys []string // dotted keys whose change needs a restart
}

func (e *RestartRequiredError) Error() string {
	return "config change needs a restart: " + strings.Join(e.Keys, ", ")
}
