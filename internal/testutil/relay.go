package testutil

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Relay is a TCP relay that adds latency in user space, standing in for distance to a
// region (the netem qdisc is not available on these machines). Every chunk of bytes is
// held for Delay in each direction, so a request and its response take 2×Delay more.
// Stop refuses new connections and cuts the open ones, as a region that dies; Start
// listens again on the same address.
type Relay struct {
	Addr   string // 127.0.0.1:port, stable across Stop and Start
	target string
	delay  time.Duration

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup

	// refusing makes the relay accept and at once close every connection, counting
	// them: a dead region that can still be seen being tried.
	refusing    bool
	refused     int
	lastRefused time.Time

	// silent drops every byte both ways and relays no new connection: a region whose
	// host died, seen from connections already open (nothing refused, nothing answers).
	silent atomic.Bool
}

// Silence switches the relay to dropping everything (true) or back to relaying: open
// connections stay open and swallow what is written, new ones are accepted and left
// unanswered.
func (r *Relay) Silence(on bool) { r.silent.Store(on) }

// Refuse switches the relay to refusing (true: it cuts open connections and closes
// every new one at once, counting them) or back to relaying.
func (r *Relay) Refuse(on bool) {
	r.mu.Lock()
	r.refusing = on
	if on {
		for c := range r.conns {
			c.Close()
		}
	}
	r.mu.Unlock()
}

// Refused returns how many connections the relay refused and when it refused the last.
func (r *Relay) Refused() (int, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused, r.lastRefused
}

// NewRelay starts a relay to target with the given one-way delay.
func NewRelay(target string, delay time.Duration) (*Relay, error) {
	r := &Relay{target: target, delay: delay, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.Addr = ln.Addr().String()
	r.serve(ln)
	return r, nil
}

// Start listens again after Stop.
func (r *Relay) Start() error {
	ln, err := net.Listen("tcp", r.Addr)
	if err != nil {
		return err
	}
	r.serve(ln)
	return nil
}

func (r *Relay) serve(ln net.Listener) {
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				r.relay(c)
			}()
		}
	}()
}

// Stop closes the listener and every open connection, and waits for the relay's
// goroutines.
func (r *Relay) Stop() {
	r.mu.Lock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *Relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln == nil {
		return false
	}
	r.conns[c] = true
	return true
}

func (r *Relay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	c.Close()
}

func (r *Relay) relay(client net.Conn) {
	r.mu.Lock()
	refusing := r.refusing
	if refusing {
		r.refused++
		r.lastRefused = time.Now()
	}
	r.mu.Unlock()
	if refusing {
		client.Close()
		return
	}
	if !r.track(client) {
		client.Close()
		return
	}
	defer r.untrack(client)
	if r.silent.Load() {
		io.Copy(io.Discard, client)
		return
	}
	server, err := net.Dial("tcp", r.target)
	if err != nil {
		return
	}
	if !r.track(server) {
		server.Close()
		return
	}
	defer r.untrack(server)
	done := make(chan struct{}, 2)
	go func() { r.pipe(server, client); done <- struct{}{} }()
	go func() { r.pipe(client, server); done <- struct{}{} }()
	<-done // one side ended: close both, which ends the other
	client.Close()
	server.Close()
	<-done
}

// pipe copies src to dst, delivering each chunk delay after it was read.
func (r *Relay) pipe(dst io.Writer, src io.Reader) {
	delayedCopy(silenceable{dst, &r.silent}, src, r.delay)
}

// silenceable drops what is written while silent is set.
type silenceable struct {
	w      io.Writer
	silent *atomic.Bool
}

func (s silenceable) Write(p []byte) (int, error) {
	if s.silent.Load() {
		return len(p), nil
	}
	return s.w.Write(p)
}

// delayedCopy copies src to dst, writing each chunk delay after it was read, without
// holding back what follows it (a link's one-way latency, in user space).
func delayedCopy(dst io.Writer, src io.Reader, delay time.Duration) {
	type chunk struct {
		data []byte
		due  time.Time
	}
	ch := make(chan chunk, 64)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{buf[:n], time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		if d := time.Until(c.due); d > 0 {
			time.Sleep(d) // the simulated distance
		}
		if _, err := dst.Write(c.data); err != nil {
			for range ch { // let the reader finish
			}
			return
		}
	}
}
