package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/failover"
	"github.com/switchyard/switchyard/gtid"
	"github.com/switchyard/switchyard/proxy"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/topology"
)

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "switchyard.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "switchyard: %v\n", err)
		return 1
	}
	level := new(slog.LevelVar)
	log := newLogger(stderr, cfg, level)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := func() (*config.Config, error) { return config.Load(*path) }
	if err := serve(ctx, cfg, log, level, hup, reload, nil); err != nil {
		log.Error("switchyard stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, cfg *config.Config, level *slog.LevelVar) *slog.Logger {
	level.Set(cfg.Log.Level)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// proxyUsers maps configured users to the proxy's.
func proxyUsers(cfg *config.Config) []proxy.User {
	out := make([]proxy.User, 0, len(cfg.Users))
	for _, u := range cfg.Users {
		out = append(out, proxy.User{Name: u.User, Password: u.Password.Reveal(), Plugin: string(u.Auth)})
	}
	return out
}

func proxyLimits(cfg *config.Config) proxy.Limits {
	l := cfg.Limits
	return proxy.Limits{
		MaxClientConns:     l.MaxClientConnections,
		MaxBackendPerNode:  l.MaxBackendConnectionsPerNode,
		MaxIdlePerNode:     l.MaxIdleBackendConnectionsPerNode,
		BackendIdleTimeout: l.BackendIdleTimeout,
		ClientIdleTimeout:  l.ClientIdleTimeout,
		HandshakeTimeout:   l.HandshakeTimeout,
		ConnectTimeout:     l.ConnectTimeout,
		MaxPacket:          int(l.MaxPacketSize),
	}
}

func proxyRouting(cfg *config.Config) proxy.Routing {
	r := cfg.Routing
	var specs []router.RuleSpec
	for _, ru := range r.Rules {
		specs = append(specs, router.RuleSpec{Match: ru.Match, Digest: ru.Digest, Route: string(ru.Route)})
	}
	// The configuration validated the rules already.
	rules, _ := router.CompileRules(specs)
	return proxy.Routing{
		Consistency:     string(r.Consistency),
		MaxReplicaLag:   r.MaxReplicaLag,
		NoReplicaError:  r.NoReplica == config.NoReplicaError,
		ReadWaitTimeout: r.ReadWaitTimeout,
		WriteHold:       cfg.Failover.WriteHold,
		Rules:           rules,
	}
}

// managerOptions maps the configuration onto the failover manager.
func managerOptions(cfg *config.Config, store *topology.Store, log *slog.Logger, acked func() gtid.Set, drain func(context.Context) error) failover.Options {
	f := cfg.Failover
	return failover.Options{
		MonitorOptions: failover.MonitorOptions{
			Nodes: monitorNodes(cfg), User: cfg.Monitor.User, Password: cfg.Monitor.Password.Reveal(),
			Interval: cfg.Monitor.Interval, Timeout: cfg.Monitor.Timeout, FailCount: cfg.Monitor.FailCount,
			MaxLag: cfg.Routing.MaxReplicaLag, GracePeriod: f.GracePeriod, Store: store,
			Logger: log.With("component", "failover"),
		},
		Cluster:      "switchyard",
		ReplUser:     cfg.Replication.User,
		ReplPassword: cfg.Replication.Password.Reveal(),
		Automatic:    f.Automatic,
		BlockPeriod:  f.BlockPeriod,
		SemiSync:     f.SemiSync,
		Hooks: failover.Hooks{PreFailover: f.Hooks.PreFailover, PostFailover: f.Hooks.PostFailover,
			PostUnsuccessfulFailover: f.Hooks.PostUnsuccessfulFailover, Timeout: f.Hooks.Timeout},
		PromoteCommand: f.PromoteCommand,
		AckedGTIDs:     acked,
		Drain:          drain,
	}
}

func monitorNodes(cfg *config.Config) []failover.NodeConfig {
	out := make([]failover.NodeConfig, 0, len(cfg.Nodes))
	for _, n := range cfg.Nodes {
		out = append(out, failover.NodeConfig{Name: n.Name, Address: n.Address, Weight: n.Weight, Local: n.Local, Promotion: string(n.Promotion)})
	}
	return out
}

// serve runs the proxy and its monitor until ctx ends, reloading the
// configuration on each value from hup. ready, when non-nil, is called once
// the client port accepts connections.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, level *slog.LevelVar, hup <-chan os.Signal,
	reload func() (*config.Config, error), ready func(addr string)) error {
	store := topology.NewStore(nil)
	// The proxy is built after the first probe (it announces the master's
	// version); the manager reaches it through these two indirections.
	var srv *proxy.Server
	mgr := failover.New(managerOptions(cfg, store, log,
		func() gtid.Set {
			if srv == nil {
				return gtid.Set{}
			}
			return srv.AckedGTIDs()
		},
		func(ctx context.Context) error {
			if srv == nil {
				return nil
			}
			return srv.Drain(ctx)
		}))
	snap := mgr.Probe(ctx)
	version := "10.11.0-MariaDB-switchyard"
	if m, ok := snap.Master(); ok {
		version = m.Version
		log.Info("master found", "node", m.Name, "address", m.Address, "version", m.Version)
	} else {
		for _, n := range snap.Nodes {
			log.Warn("no master found yet", "node", n.Name, "address", n.Address, "state", n.State, "role", n.Role, "err", n.LastError)
		}
	}
	if strings.Contains(version, "MariaDB") && !strings.HasPrefix(version, "5.5.5-") {
		// What MariaDB itself announces, so old clients parse the version.
		version = "5.5.5-" + version
	}
	ctls, err := cfg.ClientTLS()
	if err != nil {
		return err
	}
	btls, err := cfg.BackendTLSConfig()
	if err != nil {
		return err
	}
	routing := proxyRouting(cfg)
	srv, err = proxy.New(proxy.Options{
		Users: proxyUsers(cfg), Limits: proxyLimits(cfg), TLS: ctls, RequireTLS: cfg.TLS != nil && cfg.TLS.Require,
		BackendTLS: btls, ServerVersion: version, Topology: store, Logger: log.With("component", "proxy"),
		Routing: &routing,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (listen): %w", cfg.Listen, err)
	}
	log.Info("switchyard listening", "listen", ln.Addr().String(), "version", version)

	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	monDone := make(chan struct{})
	go func() {
		defer close(monDone)
		mgr.Run(runCtx)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(runCtx, ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}

	for {
		select {
		case <-hup:
			next, err := reload()
			if err != nil {
				log.Error("reload failed; keeping the running configuration", "err", err)
				continue
			}
			if err := cfg.Reloadable(next); err != nil {
				log.Error("reload refused; restart to apply", "err", err)
				continue
			}
			srv.SetUsers(proxyUsers(next))
			srv.SetLimits(proxyLimits(next))
			srv.SetRouting(proxyRouting(next))
			level.Set(next.Log.Level)
			cfg = next
			log.Info("configuration reloaded")
		case err := <-serveErr:
			cancel()
			<-monDone
			return err
		case <-ctx.Done():
			log.Info("shutting down", "grace", cfg.Limits.ShutdownTimeout)
			sctx, scancel := context.WithTimeout(context.Background(), cfg.Limits.ShutdownTimeout)
			err := srv.Shutdown(sctx)
			scancel()
			cancel()
			<-serveErr
			srv.Wait()
			<-monDone
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			if err != nil {
				log.Warn("shutdown grace ran out; remaining sessions closed", "err", err)
			}
			return nil
		}
	}
}
