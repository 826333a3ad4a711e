package failover

import (
	"fmt"
	"net"
	"strings"

	"github.com/google/shlex"
)

// HookFacts are what a hook learns about a failover or switchover, as
// environment variables (Env) and command-line placeholders (Expand):
//
//	SWITCHYARD_CLUSTER          {cluster}         cluster name
//	SWITCHYARD_KIND             {kind}            failover | switchover
//	SWITCHYARD_AUTO             {auto}            1 automatic, 0 operator command
//	SWITCHYARD_REASON           {reason}          analysis code, e.g. DeadMaster
//	SWITCHYARD_FAILED_NAME      {failedName}      node name of the old master
//	SWITCHYARD_FAILED_HOST      {failedHost}
//	SWITCHYARD_FAILED_PORT      {failedPort}
//	SWITCHYARD_FAILED_GTID      {failedGTID}      old master's last known position
//	SWITCHYARD_SUCCESSOR_NAME   {successorName}   empty before a choice / if none
//	SWITCHYARD_SUCCESSOR_HOST   {successorHost}
//	SWITCHYARD_SUCCESSOR_PORT   {successorPort}
//	SWITCHYARD_SUCCESSOR_GTID   {successorGTID}
//	SWITCHYARD_LOST_GTIDS       {lostGTIDs}       acknowledged by the old master, missing on the successor
//	SWITCHYARD_ERROR            {error}           why it failed (post-unsuccessful hooks)
type HookFacts struct {
	Cluster          string
	Kind             string // "failover" | "switchover"
	Auto             bool
	Reason           Code
	FailedNode       string
	FailedAddress    string // host:port
	FailedGTID       string
	Successor        string
	SuccessorAddress string // host:port
	SuccessorGTID    string
	LostGTIDs        string // gtid.Errant(old master's last known position, successor's position)
	Error            string
}

// EnvPrefix starts every variable Env sets.
const EnvPrefix = "SWITCHYARD_"

// splitAddr splits host:port; an address without a port is all host.
func splitAddr(a string) (host, port string) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return a, ""
	}
	return h, p
}

// pairs lists placeholder name, environment suffix and value, in the order
// documented above.
func (h HookFacts) pairs() [][3]string {
	fh, fp := splitAddr(h.FailedAddress)
	sh, sp := splitAddr(h.SuccessorAddress)
	auto := "0"
	if h.Auto {
		auto = "1"
	}
	return [][3]string{
		{"cluster", "CLUSTER", h.Cluster},
		{"kind", "KIND", h.Kind},
		{"auto", "AUTO", auto},
		{"reason", "REASON", string(h.Reason)},
		{"failedName", "FAILED_NAME", h.FailedNode},
		{"failedHost", "FAILED_HOST", fh},
		{"failedPort", "FAILED_PORT", fp},
		{"failedGTID", "FAILED_GTID", h.FailedGTID},
		{"successorName", "SUCCESSOR_NAME", h.Successor},
		{"successorHost", "SUCCESSOR_HOST", sh},
		{"successorPort", "SUCCESSOR_PORT", sp},
		{"successorGTID", "SUCCESSOR_GTID", h.SuccessorGTID},
		{"lostGTIDs", "LOST_GTIDS", h.LostGTIDs},
		{"error", "ERROR", h.Error},
	}
}

// Env returns the facts as NAME=value entries to append to a hook's
// environment. Every variable is present, empty when unknown, so hooks can
// rely on them being set.
func (h HookFacts) Env() []string {
	ps := h.pairs()
	out := make([]string, len(ps))
	for i, p := range ps {
		// A newline cannot break anything in an env entry, but a NUL would
		// truncate it; facts never legitimately contain one.
		out[i] = EnvPrefix + p[1] + "=" + strings.ReplaceAll(p[2], "\x00", "")
	}
	return out
}

// Expand replaces {placeholders} in s with the facts, verbatim. Unknown
// placeholders stay as they are. The values are not shell-quoted: never hand
// the result to sh -c (a server error message could carry shell syntax);
// use ExpandArgs, or read the environment from Env.
func (h HookFacts) Expand(s string) string {
	ps := h.pairs()
	old := make([]string, 0, 2*len(ps))
	for _, p := range ps {
		old = append(old, "{"+p[0]+"}", p[2])
	}
	return strings.NewReplacer(old...).Replace(s)
}

// ExpandArgs splits a hook command line into argv with shell-like quoting
// rules and expands placeholders inside each argument, so a value never
// becomes more than one argument or shell syntax. Run argv[0] directly.
func (h HookFacts) ExpandArgs(cmdline string) ([]string, error) {
	args, err := shlex.Split(cmdline)
	if err != nil {
		return nil, fmt.Errorf("hook command %q: %w", cmdline, err)
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("hook command is empty")
	}
	for i, a := range args {
		args[i] = h.Expand(a)
	}
	return args, nil
}
