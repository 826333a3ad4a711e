//go:build !linux

package cluster

import "syscall"

// sysProcAttr: no parent-death signal outside Linux; Stop and t.Cleanup still kill servers.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
