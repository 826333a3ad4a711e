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
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/admin"
	"github.com/switchyard/switchyard/asynclog"
	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/failover"
	"github.com/switchyard/switchyard/gtid"
	"github.com/switchyard/switchyard/httpapi"
	"github.com/switchyard/switchyard/proxy"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/topology"
)

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "switchyard.yaml", "configuration file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until exit (for performance work)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "switchyard: --cpuprofile: %v\n", err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "switchyard: --cpuprofile: %v\n", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "switchyard: %v\n", err)
		return 1
	}
	level := new(slog.LevelVar)
	// Logging never blocks a session (see package asynclog); up to 1 MiB
	// waits for a slow output, and what is queued is written out on exit.
	logw := asynclog.New(stderr, 1<<20)
	defer logw.Close(2 * time.Second)
	log := newLogger(logw, cfg, level)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := func() (*config.Config, error) { return config.Load(*path) }
	var inj admin.Injector
	if cfg.Drill.KillCommand != "" || cfg.Drill.StopCommand != "" {
		inj = admin.CommandInjector{KillCmd: cfg.Drill.KillCommand, StopCmd: cfg.Drill.StopCommand, StartCmd: cfg.Drill.StartCommand,
			Address: func(node string) string {
				for _, n := range cfg.Nodes {
					if n.Name == node {
						return n.Address
					}
				}
				return ""
			}}
	}
	if err := serve(ctx, cfg, serveOptions{log: log, level: level, hup: hup, reload: reload, injector: inj}); err != nil {
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

func proxyLoops(cfg *config.Config) int {
	if cfg.Runtime.EventLoops == config.EventLoopsAuto {
		return proxy.LoopsAuto
	}
	return cfg.Runtime.EventLoops
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
		PipelineReads:   r.PipelineReads,
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

// serveOptions are what serve needs besides the configuration.
type serveOptions struct {
	log   *slog.Logger
	level *slog.LevelVar
	hup   <-chan os.Signal
	// reload reads the configuration again (SIGHUP, RELOAD CONFIG); nil
	// refuses reloads.
	reload func() (*config.Config, error)
	// ready is called once the client port (and the admin port, when
	// enabled) accept connections.
	ready func(addr, adminAddr string)
	// injector serves drills that kill or stop servers; sandbox says it is
	// the sandbox's own cluster (no confirmation needed).
	injector admin.Injector
	sandbox  bool
}

// serve runs the proxy, the failover manager and the admin port until ctx
// ends, reloading the configuration on each value from hup.
func serve(ctx context.Context, cfg *config.Config, o serveOptions) error {
	log := o.log
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
	digests := proxy.NewDigests(1000)
	srv, err = proxy.New(proxy.Options{
		Users: proxyUsers(cfg), Limits: proxyLimits(cfg), TLS: ctls, RequireTLS: cfg.TLS != nil && cfg.TLS.Require,
		BackendTLS: btls, ServerVersion: version, Topology: store, Logger: log.With("component", "proxy"),
		Routing: &routing, Digests: digests, Loops: proxyLoops(cfg),
	})
	if err != nil {
		return err
	}
	// A drill isolating a node cuts the proxy's path to it too.
	srv.SetRefuse(mgr.Isolated)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (listen): %w", cfg.Listen, err)
	}

	// The live configuration, replaced by reloads (SIGHUP or RELOAD CONFIG).
	var cfgMu sync.Mutex
	current := func() *config.Config {
		cfgMu.Lock()
		defer cfgMu.Unlock()
		return cfg
	}
	applyReload := func() error {
		if o.reload == nil {
			return errors.New("this configuration was not read from a file; nothing to reload")
		}
		next, err := o.reload()
		if err != nil {
			return fmt.Errorf("reload failed; keeping the running configuration: %w", err)
		}
		cfgMu.Lock()
		defer cfgMu.Unlock()
		if err := cfg.Reloadable(next); err != nil {
			return fmt.Errorf("reload refused; restart to apply: %w", err)
		}
		srv.SetUsers(proxyUsers(next))
		srv.SetLimits(proxyLimits(next))
		srv.SetRouting(proxyRouting(next))
		o.level.Set(next.Log.Level)
		cfg = next
		log.Info("configuration reloaded")
		return nil
	}

	var adm *admin.Server
	var admLn net.Listener
	if cfg.Admin.Listen != "" {
		admLn, err = net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("listen on %s (admin.listen): %w", cfg.Admin.Listen, err)
		}
		app := cfg.Users[0]
		adm, err = admin.New(admin.Options{
			User: cfg.Admin.User, Password: cfg.Admin.Password.Reveal(),
			Proxy: srv, Manager: mgr, Digests: digests, Config: current,
			Reload: func(context.Context) error { return applyReload() },
			Drill: admin.DrillOptions{ProxyAddr: ln.Addr().String(), User: app.User, Password: app.Password.Reveal(),
				NodeUser: cfg.Monitor.User, NodePassword: cfg.Monitor.Password.Reveal(),
				Injector: o.injector, Sandbox: o.sandbox},
			ServerVersion: version, Logger: log.With("component", "admin"),
		})
		if err != nil {
			_ = ln.Close()
			_ = admLn.Close()
			return err
		}
	}
	log.Info("switchyard listening", "listen", ln.Addr().String(), "admin", cfg.Admin.Listen, "version", version, "event_loops", srv.EventLoops())

	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	monDone := make(chan struct{})
	go func() {
		defer close(monDone)
		mgr.Run(runCtx)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(runCtx, ln) }()
	admDone := make(chan struct{})
	adminAddr := ""
	if adm != nil {
		adminAddr = admLn.Addr().String()
		go func() {
			defer close(admDone)
			if err := adm.Serve(runCtx, admLn); err != nil {
				log.Error("admin port stopped", "err", err)
			}
		}()
	} else {
		close(admDone)
	}
	httpDone := make(chan struct{})
	if cfg.HTTP.Listen != "" {
		api, err := httpapi.New(httpapi.Options{Proxy: srv, Store: store, Failover: mgr, Version: version, Logger: log.With("component", "http")})
		if err == nil {
			var hln net.Listener
			hln, err = net.Listen("tcp", cfg.HTTP.Listen)
			if err == nil {
				go func() {
					defer close(httpDone)
					if err := api.Serve(runCtx, hln); err != nil {
						log.Error("http port stopped", "err", err)
					}
				}()
			} else {
				err = fmt.Errorf("listen on %s (http.listen): %w", cfg.HTTP.Listen, err)
			}
		}
		if err != nil {
			close(httpDone)
			log.Error("http port not started", "err", err)
		}
	} else {
		close(httpDone)
	}
	if o.ready != nil {
		o.ready(ln.Addr().String(), adminAddr)
	}
	stopAll := func() {
		cancel()
		<-monDone
		<-admDone
		<-httpDone
		if adm != nil {
			_ = adm.Close()
		}
	}

	for {
		select {
		case <-o.hup:
			if err := applyReload(); err != nil {
				log.Error(err.Error())
			}
		case err := <-serveErr:
			stopAll()
			return err
		case <-ctx.Done():
			grace := current().Limits.ShutdownTimeout
			log.Info("shutting down", "grace", grace)
			sctx, scancel := context.WithTimeout(context.Background(), grace)
			err := srv.Shutdown(sctx)
			scancel()
			cancel()
			<-serveErr
			srv.Wait()
			stopAll()
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
