package admin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/google/shlex"

	"github.com/switchyard/switchyard/cluster"
)

// ClusterInjector injects faults into a cluster started by the sandbox (or
// a test): SIGKILL, clean shutdown, restart of the real server processes.
type ClusterInjector struct{ C *cluster.Cluster }

func (ci ClusterInjector) node(name string) (*cluster.Node, error) {
	n := ci.C.Node(name)
	if n == nil {
		return nil, fmt.Errorf("node %q is not part of the sandbox cluster", name)
	}
	return n, nil
}

// Kill sends SIGKILL to the node's server.
func (ci ClusterInjector) Kill(_ context.Context, name string) error {
	n, err := ci.node(name)
	if err != nil {
		return err
	}
	return ci.C.Kill(n)
}

// Stop shuts the node's server down cleanly.
func (ci ClusterInjector) Stop(ctx context.Context, name string) error {
	n, err := ci.node(name)
	if err != nil {
		return err
	}
	return ci.C.StopNode(ctx, n)
}

// Start starts the node's server again and waits until it accepts connections.
func (ci ClusterInjector) Start(ctx context.Context, name string) error {
	n, err := ci.node(name)
	if err != nil {
		return err
	}
	return ci.C.StartNode(ctx, n)
}

// CommandInjector runs configured command lines for a cluster Switchyard did
// not start (ssh ... systemctl kill, a cloud CLI, ...). {node} and
// {address} in a command are replaced by the node's name and address; the
// line is split like a shell would (no shell runs). An empty command refuses
// that fault.
type CommandInjector struct {
	KillCmd, StopCmd, StartCmd string
	// Address maps a node name to its address for {address}.
	Address func(node string) string
	// Timeout bounds one command; default 60s.
	Timeout time.Duration
}

func (ci CommandInjector) Kill(ctx context.Context, node string) error {
	return ci.run(ctx, "kill", ci.KillCmd, node)
}

func (ci CommandInjector) Stop(ctx context.Context, node string) error {
	return ci.run(ctx, "stop", ci.StopCmd, node)
}

func (ci CommandInjector) Start(ctx context.Context, node string) error {
	return ci.run(ctx, "start", ci.StartCmd, node)
}

func (ci CommandInjector) run(ctx context.Context, what, line, node string) error {
	if strings.TrimSpace(line) == "" {
		return fmt.Errorf("no %s command configured for drills", what)
	}
	addr := ""
	if ci.Address != nil {
		addr = ci.Address(node)
	}
	args, err := shlex.Split(line)
	if err != nil || len(args) == 0 {
		return fmt.Errorf("%s command %q: cannot split: %v", what, line, err)
	}
	for i, a := range args {
		args[i] = strings.NewReplacer("{node}", node, "{address}", addr).Replace(a)
	}
	timeout := ci.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "SWITCHYARD_NODE="+node, "SWITCHYARD_ADDRESS="+addr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		o := strings.TrimSpace(string(out))
		if len(o) > 300 {
			o = o[len(o)-300:]
		}
		return fmt.Errorf("%s command for %s: %w: %s", what, node, err, o)
	}
	return nil
}
