package edge

import (
	"net"

	"golang.org/x/sys/unix"
)

// connRTT reads the kernel's smoothed round-trip time estimate of a TCP connection, in
// milliseconds, for the {client_rtt_msec} header variable.
func connRTT(c net.Conn) (int, bool) {
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return 0, false
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info *unix.TCPInfo
	var gerr error
	if err := raw.Control(func(fd uintptr) { info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || gerr != nil {
		return 0, false
	}
	return int(info.Rtt / 1000), true
}
