package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/quic-go/quic-go/http3"

	"meridian/internal/snapshot"
)

// HTTP/3: an HTTPS listener whose target proxy allows QUIC also serves HTTP/3 on the
// same address and port over UDP, with the same routing, cache, logging and headers,
// and its TCP responses advertise it (Alt-Svc). quicOverride ENABLE turns it on,
// DISABLE off; NONE leaves it to the load balancer, and GCP's front ends advertise
// HTTP/3 by default, so Meridian's do too.

// altSvcMaxAge is how long clients may remember the advertisement (GCP's: 30 days).
const altSvcMaxAge = 2592000

// quicWanted says whether a listener's proxy lets it serve HTTP/3.
func quicWanted(l *snapshot.Listener) bool { return l != nil && l.HTTPS && l.QuicOverride != "DISABLE" }

// quicServer is a listener's HTTP/3 side.
type quicServer struct {
	srv  *http3.Server
	conn net.PacketConn
	done chan struct{}
}

// syncQUIC starts or stops the listener's HTTP/3 server to match its proxy. A UDP port
// that cannot be had leaves HTTP/3 off (and unadvertised), not the listener.
func (e *Edge) syncQUIC(l *listener, want bool) {
	switch {
	case want && l.quic == nil:
		q, err := e.startQUIC(l)
		if err != nil {
			fmt.Fprintf(e.cfg.Log, "edge: HTTP/3 on %s: %v\n", l.ln.Addr(), err)
			return
		}
		l.quic = q
		v := fmt.Sprintf(`h3=":%d"; ma=%d`, l.port(), altSvcMaxAge)
		l.altSvc.Store(&v)
		fmt.Fprintf(e.cfg.Log, "edge: serving HTTP/3 on %s\n", q.conn.LocalAddr())
	case !want && l.quic != nil:
		// Unadvertised at once; requests in flight finish in the background, without
		// holding up the configuration (closeAll waits for them).
		l.altSvc.Store(nil)
		q := l.quic
		l.quic = nil
		e.draining.Add(1)
		go func() {
			defer e.draining.Done()
			q.stop()
		}()
	}
}

func (e *Edge) startQUIC(l *listener) (*quicServer, error) {
	// SO_REUSEPORT, as for TCP: a listener that replaces this one binds beside it.
	conn, err := (&net.ListenConfig{Control: reusePort}).ListenPacket(context.Background(), "udp", l.ln.Addr().String())
	if err != nil {
		return nil, err
	}
	q := &quicServer{conn: conn, done: make(chan struct{}), srv: &http3.Server{
		Handler: l.srv.Handler,
		// TLS 1.3 only (QUIC's), the same certificates; SSL policies concern TLS 1.0–1.2.
		TLSConfig:      http3.ConfigureTLSConfig(&tls.Config{GetCertificate: e.certificateFor(l.addr)}),
		MaxHeaderBytes: l.srv.MaxHeaderBytes,
		IdleTimeout:    l.keepAlive,
		Logger:         slog.New(slog.DiscardHandler),
	}}
	go func() {
		defer close(q.done)
		if err := q.srv.Serve(conn); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			fmt.Fprintf(e.cfg.Log, "edge: HTTP/3 on %s: %v\n", conn.LocalAddr(), err)
		}
	}()
	return q, nil
}

// stop lets requests in flight finish (bounded by shutdownGrace), then closes.
func (q *quicServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if q.srv.Shutdown(ctx) != nil {
		q.srv.Close()
	}
	q.conn.Close()
	<-q.done
}

// advertiseQUIC adds the listener's Alt-Svc to responses over TCP while it serves
// HTTP/3.
func advertiseQUIC(alt *atomic.Pointer[string], next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := alt.Load(); v != nil && r.ProtoMajor < 3 {
			w.Header().Set("Alt-Svc", *v)
		}
		next.ServeHTTP(w, r)
	})
}
