//go:build !linux

package edge

import "net"

// connRTT is not available on this platform; {client_rtt_msec} expands to nothing.
func connRTT(net.Conn) (int, bool) { return 0, false }
