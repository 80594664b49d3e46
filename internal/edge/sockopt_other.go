//go:build !linux

package edge

import "syscall"

// reusePort is Linux-only here; elsewhere a replaced listener frees its port first.
func reusePort(_, _ string, _ syscall.RawConn) error { return nil }
