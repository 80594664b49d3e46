package hosts

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestDelayIsPerPacket: a delayed pair pays the round trip for the TCP handshake and
// again for each exchange, whichever side dials; a host cut off answers no handshake
// (the connection attempt times out, nothing accepts it on its behalf).
func TestDelayIsPerPacket(t *testing.T) {
	if err := Supported(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	n, err := New("mrdq")
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	a, err := n.AddHost("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.AddHost("b")
	if err != nil {
		t.Fatal(err)
	}
	const rtt = 80 * time.Millisecond
	if err := a.Delay(b, rtt); err != nil {
		t.Fatal(err)
	}
	echo := func(h *Host) string {
		ln, err := inNamespace(h.ns, func() (net.Listener, error) { return net.Listen("tcp", h.IP.String()+":0") })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { defer c.Close(); io.Copy(c, c) }()
			}
		}()
		return ln.Addr().String()
	}
	// exchange dials addr from h and sends one byte back and forth: the handshake's
	// time and the exchange's.
	exchange := func(h *Host, addr string) (time.Duration, time.Duration) {
		start := time.Now()
		c, err := h.DialContext(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		connected := time.Now()
		if _, err := c.Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		return connected.Sub(start), time.Since(connected)
	}
	for _, dir := range []struct {
		name     string
		from, to *Host
	}{{"a dials b", a, b}, {"b dials a", b, a}} {
		hs, rt := exchange(dir.from, echo(dir.to))
		t.Logf("%s: handshake %s, exchange %s", dir.name, hs, rt)
		if hs < rtt || rt < rtt {
			t.Errorf("%s: handshake %s, exchange %s; want both at least %s", dir.name, hs, rt, rtt)
		}
	}

	addr := echo(b)
	if err := b.Cut(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	c, err := a.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
		t.Fatal("a connection to a host cut off was accepted")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("dialing a host cut off: %v, want a timeout", err)
		}
	}
}
