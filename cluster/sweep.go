package cluster

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ownerFile marks a temp base directory with the launcher that made it (pid and process
// start time, so a reused pid is not mistaken for the owner).
const ownerFile = "launcher.pid"

func writeOwner(dir string) error {
	return os.WriteFile(filepath.Join(dir, ownerFile), []byte(selfIdentity()), 0o644)
}

func selfIdentity() string { return identity(os.Getpid()) }

// identity is "pid starttime" from /proc, or just "pid" where /proc is unavailable.
func identity(pid int) string {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return strconv.Itoa(pid)
	}
	// Fields after "(comm)": state is field 3, starttime field 22.
	s := string(st)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return strconv.Itoa(pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return strconv.Itoa(pid)
	}
	return strconv.Itoa(pid) + " " + f[19]
}

// ownerAlive reports whether the launcher recorded in id still runs. Unknown means alive.
func ownerAlive(id string) bool {
	f := strings.Fields(id)
	if len(f) == 0 {
		return true
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		return true
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return !os.IsNotExist(err) || !procAvailable()
	}
	return identity(pid) == id || len(f) == 1
}

func procAvailable() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// sweepOrphanDirs removes temp base directories whose launcher died without Stop (a test
// binary killed by its timeout, say); its servers died with it (parent-death signal), but
// the data would stay in the temp dir forever. Only directories carrying an owner file are
// touched, so one being created right now, or any other sy-* directory, is left alone.
func sweepOrphanDirs(log *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "sy-*"))
	for _, d := range dirs {
		id, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil || ownerAlive(string(id)) {
			continue
		}
		if err := os.RemoveAll(d); err == nil {
			log.Debug("removed directory of a dead launcher", "dir", d)
		}
	}
}
