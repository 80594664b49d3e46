package edge

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePort lets a replacement listener bind the port of the one it replaces while
// that one drains.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) }); err != nil {
		return err
	}
	return serr
}
