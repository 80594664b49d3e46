package runtime

import "syscall"

// containerProcAttr puts a container in its own process group, killed if the runtime
// dies.
func containerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
