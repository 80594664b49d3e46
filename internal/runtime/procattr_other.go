//go:build unix && !linux

package runtime

import "syscall"

// containerProcAttr puts a container in its own process group.
func containerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
