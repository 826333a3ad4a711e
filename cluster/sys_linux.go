package cluster

import "syscall"

// sysProcAttr puts the server in its own process group (so the launcher can kill the group
// and a terminal's ^C does not race the launcher's own shutdown) and has the kernel kill it
// if the launching thread dies, e.g. when a test binary crashes.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
