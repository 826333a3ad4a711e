package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// noBinaryError is the one error a missing server binary gives.
type noBinaryError struct{ looked string }

func (e *noBinaryError) Error() string {
	return "no MariaDB/MySQL server binary found (looked for " + e.looked +
		"); install it: apt-get install mariadb-server"
}

func (e *noBinaryError) Is(target error) bool { return target == ErrNoBackend }

// findServer returns the server binary to run.
func findServer(o Options) (string, error) {
	if o.ServerBinary != "" {
		p, err := exec.LookPath(o.ServerBinary)
		if err != nil {
			return "", &noBinaryError{looked: o.ServerBinary}
		}
		return p, nil
	}
	dirs := o.BinDirs
	where := strings.Join(dirs, ", ")
	if dirs == nil {
		dirs = append(filepath.SplitList(os.Getenv("PATH")), "/usr/sbin")
		where = "PATH and /usr/sbin"
	}
	for _, name := range []string{"mariadbd", "mysqld"} {
		for _, d := range dirs {
			if d == "" {
				continue
			}
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", &noBinaryError{looked: "mariadbd, mysqld in " + where}
}

var versionRE = regexp.MustCompile(`Ver\s+(\d+\.\d+\.\d+)`)

// serverVersion runs `bin --version`: flavor, version and the raw line (for the template key).
func serverVersion(ctx context.Context, bin string) (flavor, version, raw string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return "", "", "", fmt.Errorf("running %s --version: %w: %s", bin, err, bytes.TrimSpace(out))
	}
	raw = strings.TrimSpace(string(out))
	flavor = FlavorMySQL
	if strings.Contains(raw, "MariaDB") {
		flavor = FlavorMariaDB
	}
	version = raw
	if m := versionRE.FindStringSubmatch(raw); m != nil {
		version = m[1]
	}
	return flavor, version, raw, nil
}

// local runs servers as child processes of this process.
type local struct {
	c        *Cluster
	bin      string
	template string // data directory to copy for each node
	asRoot   bool
	mu       sync.Mutex // guards Node.proc and closed
	closed   bool       // set by close; a start racing with it must not leave a server behind
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been reaped
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func newLocal(ctx context.Context, c *Cluster, bin string) (*local, error) {
	flavor, version, raw, err := serverVersion(ctx, bin)
	if err != nil {
		return nil, err
	}
	c.Flavor, c.Version = flavor, version
	c.newNodes()
	if err := c.prepareDir(); err != nil {
		return nil, err
	}
	if err := c.assignPorts(); err != nil {
		return nil, err
	}
	b := &local{c: c, bin: bin, asRoot: os.Geteuid() == 0}
	for _, n := range c.Nodes {
		n.Dir = filepath.Join(c.Dir, n.Name)
		n.socket = filepath.Join(n.Dir, "my.sock")
		n.errorLog = filepath.Join(n.Dir, "error.log")
		n.ReplHost, n.ReplPort = n.Host, n.Port
		// sun_path is 108 bytes including the terminating NUL.
		if len(n.socket) > 107 {
			return nil, fmt.Errorf("directory %s is too deep for a unix socket path (%s is %d bytes, max 107); choose a shorter --dir",
				c.Dir, n.socket, len(n.socket))
		}
	}
	b.template, err = ensureTemplate(ctx, c, bin, flavor, raw, b.asRoot)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (b *local) name() string { return BackendLocal }

func (b *local) bootstrapDSN(n *Node) string {
	// Fresh nodes have a passwordless root@localhost reachable only through the socket.
	return "root@unix(" + n.socket + ")/"
}

func (b *local) args(n *Node) []string {
	a := []string{"--no-defaults"} // must be first: ignore /etc/mysql
	if b.asRoot {
		a = append(a, "--user=root") // mariadbd refuses to run as root otherwise
	}
	a = append(a,
		"--datadir="+filepath.Join(n.Dir, "data"),
		"--tmpdir="+filepath.Join(n.Dir, "tmp"),
		"--socket="+n.socket,
		"--pid-file="+filepath.Join(n.Dir, "mysqld.pid"),
		"--log-error="+n.errorLog,
		"--port="+strconv.Itoa(n.Port),
		"--bind-address=127.0.0.1",
	)
	return append(a, serverArgs(b.c.Flavor, n, b.c.opts)...)
}

var errAddrInUse = errors.New("address already in use")

func (b *local) startNode(ctx context.Context, n *Node) error {
	b.mu.Lock()
	first := n.proc == nil
	b.mu.Unlock()
	if first {
		began := time.Now()
		if err := b.initNode(n); err != nil {
			return err
		}
		b.c.log.Debug("copied template", "node", n.Name, "took", time.Since(began).Round(time.Millisecond))
	}
	for attempt := 1; ; attempt++ {
		err := b.spawn(ctx, n)
		// A free port picked earlier can be taken by a parallel test before the server
		// binds it; only then, and only on a node's first start, pick another.
		if err != nil && first && b.c.opts.BasePort == 0 && errors.Is(err, errAddrInUse) && attempt < 4 {
			ps, perr := freePorts(1)
			if perr != nil {
				return perr
			}
			b.c.log.Info("port taken meanwhile, retrying with another", "node", n.Name, "old", n.Port, "new", ps[0])
			n.Port, n.ReplPort = ps[0], ps[0]
			continue
		}
		return err
	}
}

// initNode copies the template into the node's directory.
func (b *local) initNode(n *Node) error {
	data := filepath.Join(n.Dir, "data")
	if err := os.MkdirAll(filepath.Join(n.Dir, "tmp"), 0o750); err != nil {
		return fmt.Errorf("cannot write data directory %s: %w; choose another --dir", n.Dir, err)
	}
	if err := copyTree(b.template, data); err != nil {
		return fmt.Errorf("copying template data directory for %s: %w", n.Name, err)
	}
	if b.c.Flavor == FlavorMySQL {
		// auto.cnf holds server_uuid; each copy must get its own or GTIDs collide.
		if err := os.Remove(filepath.Join(data, "auto.cnf")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing auto.cnf for %s: %w", n.Name, err)
		}
	}
	return nil
}

func (b *local) spawn(ctx context.Context, n *Node) error {
	var logStart int64
	if st, err := os.Stat(n.errorLog); err == nil {
		logStart = st.Size()
	}
	out, err := os.OpenFile(filepath.Join(n.Dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("cannot write data directory %s: %w; choose another --dir", n.Dir, err)
	}
	cmd := exec.Command(b.bin, b.args(n)...)
	cmd.Dir = n.Dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("starting %s for %s: %w", b.bin, n.Name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	// Ends when the server exits; every path that gives up on a server kills it.
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	b.mu.Lock()
	n.proc = p
	closed := b.closed
	b.mu.Unlock()
	if closed {
		killGroup(p)
		<-p.done
		return errors.New("cluster is stopped")
	}

	if err := waitReady(ctx, n.Addr(), p.done); err != nil {
		killGroup(p)
		<-p.done
		tail := tailFile(n.errorLog, logStart, 15)
		if strings.Contains(tail, "Address already in use") || strings.Contains(tail, "Can't start server: Bind on TCP/IP port") {
			return fmt.Errorf("%s: port %d: %w", n.Name, n.Port, errAddrInUse)
		}
		return fmt.Errorf("server %s (port %d) did not start: %v; %s ends with:\n%s", n.Name, n.Port, err, n.errorLog, tail)
	}
	return nil
}

func killGroup(p *process) {
	// The server leads its own process group (Setpgid); kill the group.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

func (b *local) kill(n *Node) error {
	b.mu.Lock()
	p := n.proc
	b.mu.Unlock()
	if p == nil {
		return errors.New("never started")
	}
	if p.exited() {
		return nil // a reaped pid may already belong to someone else
	}
	killGroup(p)
	<-p.done
	return nil
}

func (b *local) stop(ctx context.Context, n *Node) error {
	b.mu.Lock()
	p := n.proc
	b.mu.Unlock()
	if p == nil || p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		killGroup(p)
		<-p.done
		return fmt.Errorf("no clean shutdown before %w; killed", ctx.Err())
	}
}

func (b *local) running(n *Node) bool {
	b.mu.Lock()
	p := n.proc
	b.mu.Unlock()
	return p != nil && !p.exited()
}

func (b *local) close(clean bool) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(b.c.Nodes))
	for i, n := range b.c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !clean {
				b.mu.Lock()
				p := n.proc
				b.mu.Unlock()
				if p != nil && !p.exited() {
					killGroup(p) // also takes down anything the server forked
					<-p.done
				}
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := b.stop(ctx, n); err != nil {
				errs[i] = fmt.Errorf("%s: %w", n.Name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (b *local) pid(n *Node) int {
	b.mu.Lock()
	p := n.proc
	b.mu.Unlock()
	if p == nil || p.exited() {
		return 0
	}
	return p.cmd.Process.Pid
}

// waitReady polls until addr sends a MySQL greeting, the process exits or ctx ends.
// Reading the greeting (not just connecting) needs no account and works the same behind
// Docker's port proxy, which accepts connections before the server listens.
func waitReady(ctx context.Context, addr string, exited <-chan struct{}) error {
	var last error
	for {
		if last = greet(ctx, addr); last == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("server process exited")
		case <-ctx.Done():
			return fmt.Errorf("%w (last attempt: %v)", ctx.Err(), last)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func greet(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var hdr [5]byte // 3-byte length, sequence, first payload byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return fmt.Errorf("reading greeting: %w", err)
	}
	// 10 = protocol v10 handshake; 0xff = an error packet, which a running server also sends
	// (e.g. too many connections).
	if hdr[4] != 10 && hdr[4] != 0xff {
		return fmt.Errorf("unexpected greeting byte %#x", hdr[4])
	}
	return nil
}

// tailFile returns the last max lines of path from offset on.
func tailFile(path string, offset int64, max int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no error log: " + err.Error() + ")"
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "(reading error log: " + err.Error() + ")"
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return "(reading error log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > max {
		lines = lines[len(lines)-max:]
	}
	return strings.Join(lines, "\n")
}

// ensureTemplate returns an initialized data directory for this server build, creating it
// once per machine. Parallel test processes race safely: each builds in a temp dir and
// renames it into place; a loser discards its copy and uses the winner's.
func ensureTemplate(ctx context.Context, c *Cluster, bin, flavor, versionRaw string, asRoot bool) (string, error) {
	sum := sha256.Sum256([]byte(bin + "\n" + versionRaw + "\n" + templateTag))
	root, err := cacheRoot()
	if err != nil {
		return "", err
	}
	final := filepath.Join(root, "template-"+hex.EncodeToString(sum[:8]))
	data := filepath.Join(final, "data")
	if _, err := os.Stat(data); err == nil {
		return data, nil
	}
	began := time.Now()
	tmp, err := os.MkdirTemp(root, ".tmp-template-")
	if err != nil {
		return "", fmt.Errorf("creating template directory: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after a successful rename
	if err := buildTemplate(ctx, bin, flavor, tmp, asRoot); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(data); serr != nil {
			return "", fmt.Errorf("installing template %s: %w", final, err)
		}
	}
	c.log.Info("created template data directory", "dir", final, "took", time.Since(began).Round(time.Millisecond))
	return data, nil
}

func cacheRoot() (string, error) {
	var tried []string
	if d, err := os.UserCacheDir(); err == nil {
		tried = append(tried, filepath.Join(d, "switchyard"))
	}
	tried = append(tried, filepath.Join(os.TempDir(), "switchyard-cache"))
	var errs []error
	for _, d := range tried {
		if err := os.MkdirAll(d, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		return d, nil
	}
	return "", fmt.Errorf("no writable cache directory for the template: %w", errors.Join(errs...))
}

// templateCleanupSQL leaves only root@localhost (socket; passwordless until the launcher
// sets it) and the system account: the installer's passwordless root@127.0.0.1 / root@::1
// would both be a hole and shadow an admin named root@'%' over TCP.
const templateCleanupSQL = `DELETE FROM mysql.global_priv WHERE NOT (Host='localhost' AND User IN ('root','mariadb.sys'));
DELETE FROM mysql.proxies_priv WHERE Host<>'localhost';
`

func buildTemplate(ctx context.Context, bin, flavor, tmp string, asRoot bool) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	data := filepath.Join(tmp, "data")
	var cmd *exec.Cmd
	if flavor == FlavorMySQL {
		args := []string{"--no-defaults", "--initialize-insecure", "--datadir=" + data}
		if asRoot {
			args = append(args, "--user=root")
		}
		cmd = exec.CommandContext(ctx, bin, args...)
	} else {
		installer, err := findInstaller(bin)
		if err != nil {
			return err
		}
		extra := filepath.Join(tmp, "cleanup.sql")
		if err := os.WriteFile(extra, []byte(templateCleanupSQL), 0o600); err != nil {
			return fmt.Errorf("writing template SQL: %w", err)
		}
		args := []string{"--no-defaults", "--datadir=" + data,
			"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
			"--innodb-log-file-size=" + innodbLogFileSize, "--innodb-data-file-path=" + innodbDataFilePath,
			"--innodb-autoextend-increment=1", // keeps ibdata1 (and every copy) small
			"--extra-file=" + extra}
		if asRoot {
			args = append(args, "--user=root")
		}
		cmd = exec.CommandContext(ctx, installer, args...)
		defer os.Remove(extra)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		tail := strings.TrimSpace(string(out))
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return fmt.Errorf("initializing template data directory with %s: %w:\n%s", cmd.Path, err, tail)
	}
	return nil
}

func findInstaller(bin string) (string, error) {
	d := filepath.Dir(bin)
	var cands []string
	for _, name := range []string{"mariadb-install-db", "mysql_install_db"} {
		cands = append(cands, filepath.Join(d, name), filepath.Join(d, "..", "bin", name),
			filepath.Join(d, "..", "scripts", name))
		if p, err := exec.LookPath(name); err == nil {
			cands = append(cands, p)
		}
		cands = append(cands, filepath.Join("/usr/bin", name))
	}
	for _, p := range cands {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("mariadb-install-db not found next to the server or in PATH; install it: apt-get install mariadb-server")
}

// copyTree copies a data directory (regular files and directories only).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode().IsRegular():
			return copyFile(p, target, info.Mode().Perm())
		}
		return nil
	})
}

// copyFile copies src to dst leaving all-zero blocks as holes: three quarters of a fresh
// data directory is zeros (preallocated InnoDB files), and writing them dominates the copy.
func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode|0o600)
	if err != nil {
		return err
	}
	var size int64
	buf := make([]byte, 64<<10)
	for {
		k, rerr := io.ReadFull(in, buf)
		if k > 0 {
			chunk := buf[:k]
			if isZero(chunk) {
				_, err = out.Seek(int64(k), io.SeekCurrent)
			} else {
				_, err = out.Write(chunk)
			}
			if err != nil {
				out.Close()
				return err
			}
			size += int64(k)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			out.Close()
			return rerr
		}
	}
	if err := out.Truncate(size); err != nil { // a trailing hole needs the size set
		out.Close()
		return err
	}
	return out.Close()
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
