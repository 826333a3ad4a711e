package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"
)

// selectBackend picks and prepares the backend named in the options. Everything checked
// here (binary, directory, ports) is checked before any server starts.
func selectBackend(ctx context.Context, c *Cluster) (backend, error) {
	o := c.opts
	switch o.Backend {
	case BackendLocal:
		bin, err := findServer(o)
		if err != nil {
			return nil, err
		}
		return newLocal(ctx, c, bin)
	case BackendDocker:
		return newDocker(ctx, c)
	case BackendAuto:
		bin, err := findServer(o)
		if err == nil {
			return newLocal(ctx, c, bin)
		}
		d, derr := newDocker(ctx, c)
		if derr == nil {
			return d, nil
		}
		if errors.Is(derr, errNoDocker) {
			// The local binary is the usual fix; the Docker detail is secondary.
			return nil, fmt.Errorf("%w (and no Docker engine answered either)", err)
		}
		return nil, derr
	default:
		return nil, fmt.Errorf("unknown backend %q; use auto, local or docker", o.Backend)
	}
}

var errNoDocker = fmt.Errorf("%w: no Docker engine answered", ErrNoBackend)

// dockerBackend runs each node as a container on a private network; replicas reach the
// master by container name, clients by a port published on 127.0.0.1.
type dockerBackend struct {
	c     *Cluster
	pool  *dockertest.Pool
	net   *dockertest.Network
	image string
	tag   string
	mu    sync.Mutex // guards Node.container
}

type container struct {
	res *dockertest.Resource
}

func newDocker(ctx context.Context, c *Cluster) (*dockerBackend, error) {
	pool, err := dockertest.NewPool("")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoDocker, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := pool.Client.PingWithContext(pctx); err != nil {
		return nil, fmt.Errorf("%w: %v", errNoDocker, err)
	}
	b := &dockerBackend{c: c, pool: pool, image: "mariadb", tag: "10.11"}
	c.Flavor, c.Version = FlavorMariaDB, "10.11"
	if c.opts.DockerFlavor == FlavorMySQL {
		b.image, b.tag = "mysql", "8"
		c.Flavor, c.Version = FlavorMySQL, "8"
	}
	c.newNodes()
	if err := c.assignPorts(); err != nil {
		return nil, err
	}
	var id [4]byte
	_, _ = rand.Read(id[:])
	prefix := "sy-" + hex.EncodeToString(id[:])
	b.net, err = pool.CreateNetwork(prefix)
	if err != nil {
		return nil, fmt.Errorf("creating docker network %s: %w", prefix, err)
	}
	for _, n := range c.Nodes {
		n.ReplHost, n.ReplPort = prefix+"-"+n.Name, 3306
	}
	return b, nil
}

func (b *dockerBackend) name() string { return BackendDocker }

func (b *dockerBackend) bootstrapDSN(n *Node) string {
	// The image creates root@'%' with MARIADB_ROOT_PASSWORD / MYSQL_ROOT_PASSWORD.
	return n.DSN(User{"root", b.c.Users.Admin.Password}, "")
}

func (b *dockerBackend) startNode(ctx context.Context, n *Node) error {
	b.mu.Lock()
	ct := n.container
	b.mu.Unlock()
	if ct != nil { // restart: same container, data and published port
		if err := b.pool.Client.StartContainerWithContext(ct.res.Container.ID, nil, ctx); err != nil {
			return fmt.Errorf("starting container for %s: %w", n.Name, err)
		}
		return b.waitReady(ctx, n, ct)
	}
	pw := b.c.Users.Admin.Password
	res, err := b.pool.RunWithOptions(&dockertest.RunOptions{
		Name:       n.ReplHost,
		Hostname:   n.ReplHost,
		Repository: b.image,
		Tag:        b.tag,
		Env:        []string{"MARIADB_ROOT_PASSWORD=" + pw, "MYSQL_ROOT_PASSWORD=" + pw},
		Cmd:        serverArgs(b.c.Flavor, n, b.c.opts),
		Networks:   []*dockertest.Network{b.net},
		Labels:     map[string]string{"switchyard.cluster": b.net.Network.Name},
		PortBindings: map[dc.Port][]dc.PortBinding{
			"3306/tcp": {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(n.Port)}},
		},
	}, func(hc *dc.HostConfig) { hc.RestartPolicy = dc.RestartPolicy{Name: "no"} })
	if err != nil {
		return fmt.Errorf("running %s:%s for %s: %w", b.image, b.tag, n.Name, err)
	}
	ct = &container{res: res}
	b.mu.Lock()
	n.container = ct
	b.mu.Unlock()
	return b.waitReady(ctx, n, ct)
}

func (b *dockerBackend) waitReady(ctx context.Context, n *Node, ct *container) error {
	// First start of an image initializes its data directory; allow for that.
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	exited := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	go func() { // reports a container that died while we wait; ends with waitReady
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
			if c, err := b.pool.Client.InspectContainer(ct.res.Container.ID); err == nil && !c.State.Running {
				close(exited)
				return
			}
		}
	}()
	if err := waitReady(ctx, n.Addr(), exited); err != nil {
		return fmt.Errorf("container %s (port %d) did not start: %w; see `docker logs %s`", n.Name, n.Port, err, n.ReplHost)
	}
	return nil
}

func (b *dockerBackend) get(n *Node) *container {
	b.mu.Lock()
	defer b.mu.Unlock()
	return n.container
}

func (b *dockerBackend) kill(n *Node) error {
	ct := b.get(n)
	if ct == nil {
		return errors.New("never started")
	}
	if !b.running(n) {
		return nil
	}
	if err := b.pool.Client.KillContainer(dc.KillContainerOptions{ID: ct.res.Container.ID, Signal: dc.SIGKILL}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := b.pool.Client.WaitContainerWithContext(ct.res.Container.ID, ctx)
	return err
}

func (b *dockerBackend) stop(ctx context.Context, n *Node) error {
	ct := b.get(n)
	if ct == nil || !b.running(n) {
		return nil
	}
	return b.pool.Client.StopContainerWithContext(ct.res.Container.ID, 60, ctx)
}

func (b *dockerBackend) running(n *Node) bool {
	ct := b.get(n)
	if ct == nil {
		return false
	}
	c, err := b.pool.Client.InspectContainer(ct.res.Container.ID)
	return err == nil && c.State.Running
}

func (b *dockerBackend) close(clean bool) error {
	var errs []error
	for _, n := range b.c.Nodes {
		ct := b.get(n)
		if ct == nil {
			continue
		}
		if clean {
			errs = append(errs, b.stop(context.Background(), n))
			continue // Keep: leave the stopped container and its data
		}
		errs = append(errs, b.pool.Purge(ct.res))
	}
	if !clean && b.net != nil {
		errs = append(errs, b.net.Close())
	}
	return errors.Join(errs...)
}
