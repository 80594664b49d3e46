// Package observe writes what the data plane reports: one JSON request log line per
// request in Cloud Logging's load balancer shape, so tools written for GCP's logs read
// Meridian's, and Prometheus metrics.
package observe

import (
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// RequestLog writes request log entries as JSON lines, off the requests' path: Log
// only queues a copy of the entry, and a goroutine of the log's own encodes what has
// queued in batches and writes each batch at once. The queue is bounded: an entry
// that finds it full is dropped and counted (Dropped), never waited for. A nil
// *RequestLog discards.
type RequestLog struct {
	w        io.Writer
	interval time.Duration // how long a batch gathers before it is written
	limit    int           // entries queued at most

	mu      sync.Mutex
	queue   []Entry
	spare   []Entry
	queued  int64 // entries ever queued
	written int64 // entries ever written (or given up on when the writer failed)
	done    *sync.Cond
	stopped bool

	wake    chan struct{} // a batch began
	hurry   chan struct{} // write now: the batch reached batchHigh, or a Flush or the Close waits
	dropped atomic.Int64
	errors  atomic.Int64
	ended   chan struct{}
}

// Queue sizes: a batch is written once it reaches batchHigh entries or interval after
// it began, whichever is first; queueLimit entries wait at most.
const (
	batchHigh     = 2048
	queueLimit    = 16384
	batchInterval = 50 * time.Millisecond
)

// NewRequestLog writes entries to w from a goroutine that Close stops.
func NewRequestLog(w io.Writer) *RequestLog {
	l := &RequestLog{w: w, interval: batchInterval, limit: queueLimit,
		wake: make(chan struct{}, 1), hurry: make(chan struct{}, 1), ended: make(chan struct{})}
	l.done = sync.NewCond(&l.mu)
	go l.run()
	return l
}

// Log queues one entry.
func (l *RequestLog) Log(e *Entry) {
	if l == nil {
		return
	}
	l.mu.Lock()
	if l.stopped || len(l.queue) >= l.limit {
		l.mu.Unlock()
		l.dropped.Add(1)
		return
	}
	l.queue = append(l.queue, *e)
	n := len(l.queue)
	l.queued++
	l.mu.Unlock()
	switch n {
	case 1:
		signal(l.wake)
	case batchHigh:
		signal(l.hurry)
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Flush waits until every entry queued before it is written.
func (l *RequestLog) Flush() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	target := l.queued
	for l.written < target && !l.finished() {
		signal(l.wake)
		signal(l.hurry)
		l.done.Wait()
	}
}

// finished reports whether the writer has ended; mu is held.
func (l *RequestLog) finished() bool {
	select {
	case <-l.ended:
		return true
	default:
		return false
	}
}

// Close writes what is queued and stops the writer; entries logged after it are
// dropped.
func (l *RequestLog) Close() {
	if l == nil {
		return
	}
	l.mu.Lock()
	already := l.stopped
	l.stopped = true
	l.mu.Unlock()
	if !already {
		signal(l.wake)
		signal(l.hurry)
	}
	<-l.ended
}

// Dropped is how many entries found the queue full (or the log closed).
func (l *RequestLog) Dropped() int64 { return l.dropped.Load() }

// WriteErrors is how many batches the writer failed to write.
func (l *RequestLog) WriteErrors() int64 { return l.errors.Load() }

func (l *RequestLog) run() {
	defer func() {
		l.mu.Lock()
		close(l.ended)
		l.done.Broadcast()
		l.mu.Unlock()
	}()
	var buf []byte
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		<-l.wake
		// A batch has begun: let it gather, unless it is large or someone waits.
		timer.Reset(l.interval)
		select {
		case <-timer.C:
		case <-l.hurry:
			timer.Stop()
		}
		for {
			l.mu.Lock()
			batch := l.queue
			l.queue, l.spare = l.spare[:0], nil
			stopped := l.stopped
			l.mu.Unlock()
			if len(batch) == 0 {
				if stopped {
					return
				}
				break
			}
			buf = buf[:0]
			for i := range batch {
				buf = AppendEntry(buf, &batch[i])
				batch[i] = Entry{} // let go of the request's strings
			}
			if _, err := l.w.Write(buf); err != nil {
				l.errors.Add(1)
			}
			if cap(buf) > 4<<20 {
				buf = nil // one burst does not keep a large buffer for good
			}
			l.mu.Lock()
			l.written += int64(len(batch))
			l.spare = batch[:0]
			l.done.Broadcast()
			l.mu.Unlock()
		}
	}
}

// Entry is one request, as the load balancer saw it.
type Entry struct {
	Time           time.Time
	Project        string
	ForwardingRule string // names, not paths, as GCP's resource labels hold them
	TargetProxy    string
	URLMap         string
	BackendService string
	Method, URL    string
	Protocol       string
	Status         int
	RequestSize    int64
	ResponseSize   int64
	UserAgent      string
	Referer        string
	RemoteIP       string
	ServerIP       string
	// Or, for the encoder to compose off the request's path, the URL's parts (when URL
	// is empty), the client's address as ip:port (when RemoteIP is) and the
	// listener's (when ServerIP is).
	Scheme, Host, Target string
	RemoteAddr           string
	LocalAddr            net.Addr
	Latency              time.Duration
	StatusDetails        string
	// Optional fields (logConfig.optionalMode): set only when the backend service's
	// log configuration includes them.
	TLSVersion string
	TLSCipher  string
	// The CDN's outcome, on CDN-enabled routes.
	CacheLookup, CacheHit, CacheValidated bool
	CacheFillBytes                        int64
	CacheFillFromPeer                     bool // the fill came from another cache (cache-to-cache)
	CacheID, CacheDecision                string
	CacheStatus                           string // {cdn_cache_status}, for metrics
	// The backend service's security policy: the rule that decided, and the first
	// preview rule that matched before it (Name empty: none).
	EnforcedPolicy, PreviewPolicy PolicyMatch
}

// PolicyMatch is a security policy rule's part in a request, as the load balancer's
// request log names it (enforcedSecurityPolicy, previewSecurityPolicy).
type PolicyMatch struct {
	Name                           string
	Priority                       int32
	ConfiguredAction, Outcome      string
	RateLimitKey, RateLimitOutcome string // for throttle and rate_based_ban rules
}

// AppendEntry appends e as one line of JSON in Cloud Logging's shape for load balancer
// requests ([LOG]): int64 sizes as decimal strings, latency as seconds with an "s",
// false and empty fields omitted, as Cloud Logging does.
func AppendEntry(b []byte, e *Entry) []byte {
	b = append(b, `{"logName":"projects/`...)
	b = appendEscaped(b, e.Project)
	b = append(b, `/logs/requests","timestamp":"`...)
	b = appendTimestamp(b, e.Time)
	b = append(b, `","severity":"`...)
	b = append(b, severity(e.Status)...)
	b = append(b, `","resource":{"type":"http_load_balancer","labels":{"backend_service_name":`...)
	b = appendString(b, e.BackendService)
	b = append(b, `,"forwarding_rule_name":`...)
	b = appendString(b, e.ForwardingRule)
	b = append(b, `,"project_id":`...)
	b = appendString(b, e.Project)
	b = append(b, `,"target_proxy_name":`...)
	b = appendString(b, e.TargetProxy)
	b = append(b, `,"url_map_name":`...)
	b = appendString(b, e.URLMap)
	b = append(b, `,"zone":"global"}},"httpRequest":{"requestMethod":`...)
	b = appendString(b, e.Method)
	b = append(b, `,"requestUrl":"`...)
	if e.URL != "" {
		b = appendEscaped(b, e.URL)
	} else {
		b = appendEscaped(append(appendEscaped(b, e.Scheme), "://"...), e.Host)
		b = appendEscaped(b, e.Target)
	}
	b = append(b, '"')
	b = appendSize(b, `,"requestSize":"`, e.RequestSize)
	if e.Status != 0 { // none when the client left before any response
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(e.Status), 10)
	}
	b = appendSize(b, `,"responseSize":"`, e.ResponseSize)
	b = appendField(b, `,"userAgent":`, e.UserAgent)
	remote := e.RemoteIP
	if remote == "" && e.RemoteAddr != "" {
		remote = e.RemoteAddr
		if host, _, err := net.SplitHostPort(remote); err == nil {
			remote = host
		}
	}
	b = appendField(b, `,"remoteIp":`, remote)
	b = appendServerIP(b, e)
	b = appendField(b, `,"referer":`, e.Referer)
	b = append(b, `,"latency":"`...)
	b = appendSeconds(b, e.Latency)
	b = append(b, `s"`...)
	b = appendField(b, `,"protocol":`, e.Protocol)
	if e.CacheLookup {
		b = append(b, `,"cacheLookup":true`...)
	}
	if e.CacheHit {
		b = append(b, `,"cacheHit":true`...)
	}
	if e.CacheValidated {
		b = append(b, `,"cacheValidatedWithOriginServer":true`...)
	}
	b = appendSize(b, `,"cacheFillBytes":"`, e.CacheFillBytes)
	b = append(b, `},"jsonPayload":{"@type":"type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry"`...)
	b = appendField(b, `,"statusDetails":`, e.StatusDetails)
	b = appendField(b, `,"cacheId":`, e.CacheID)
	b = appendField(b, `,"cacheDecision":`, e.CacheDecision)
	b = appendPolicy(b, `,"enforcedSecurityPolicy":`, &e.EnforcedPolicy)
	b = appendPolicy(b, `,"previewSecurityPolicy":`, &e.PreviewPolicy)
	if e.TLSVersion != "" || e.TLSCipher != "" {
		b = append(b, `,"tls":{`...)
		sep := ""
		if e.TLSVersion != "" {
			b = append(b, `"protocol":`...)
			b = appendString(b, e.TLSVersion)
			sep = ","
		}
		if e.TLSCipher != "" {
			b = append(b, sep+`"cipher":`...)
			b = appendString(b, e.TLSCipher)
		}
		b = append(b, '}')
	}
	return append(b, "}}\n"...)
}

// appendPolicy appends a security policy's match after its key, if there was one.
func appendPolicy(b []byte, key string, p *PolicyMatch) []byte {
	if p.Name == "" {
		return b
	}
	b = append(b, key...)
	b = append(b, `{"name":`...)
	b = appendString(b, p.Name)
	b = append(b, `,"priority":`...)
	b = strconv.AppendInt(b, int64(p.Priority), 10)
	b = append(b, `,"configuredAction":`...)
	b = appendString(b, p.ConfiguredAction)
	b = append(b, `,"outcome":`...)
	b = appendString(b, p.Outcome)
	if p.RateLimitOutcome != "" {
		b = append(b, `,"rateLimitAction":{`...)
		if p.RateLimitKey != "" {
			b = append(b, `"key":`...)
			b = appendString(b, p.RateLimitKey)
			b = append(b, ',')
		}
		b = append(b, `"outcome":`...)
		b = appendString(b, p.RateLimitOutcome)
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendTimestamp appends t in UTC as time.RFC3339Nano formats it (the fraction
// without trailing zeros, none when whole), by hand: the log's writer formats one
// per request.
func appendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10))
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}

// appendSeconds appends d in seconds with six decimals (rounded to the microsecond),
// as strconv.AppendFloat(b, d.Seconds(), 'f', 6, 64) would, without floating point.
func appendSeconds(b []byte, d time.Duration) []byte {
	if d < 0 {
		b = append(b, '-')
		d = -d
	}
	us := (d + 500*time.Nanosecond) / time.Microsecond
	b = strconv.AppendInt(b, int64(us/1e6), 10)
	frac := int64(us % 1e6)
	return append(b, '.', byte('0'+frac/100000), byte('0'+frac/10000%10), byte('0'+frac/1000%10),
		byte('0'+frac/100%10), byte('0'+frac/10%10), byte('0'+frac%10))
}

// appendServerIP appends the serverIp field: ServerIP, or LocalAddr's IP.
func appendServerIP(b []byte, e *Entry) []byte {
	if e.ServerIP != "" || e.LocalAddr == nil {
		return appendField(b, `,"serverIp":`, e.ServerIP)
	}
	if a, ok := e.LocalAddr.(*net.TCPAddr); ok {
		b = append(b, `,"serverIp":"`...)
		return append(a.AddrPort().Addr().Unmap().AppendTo(b), '"')
	}
	if host, _, err := net.SplitHostPort(e.LocalAddr.String()); err == nil {
		return appendField(b, `,"serverIp":`, host)
	}
	return b
}

func severity(status int) string {
	switch {
	case status >= 500:
		return "ERROR"
	case status >= 400:
		return "WARNING"
	}
	return "INFO"
}

// appendSize appends a positive int64 as Cloud Logging does (a decimal string) after
// its key; zero is omitted.
func appendSize(b []byte, key string, n int64) []byte {
	if n <= 0 {
		return b
	}
	b = append(b, key...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, '"')
}

// appendField appends key and a JSON string, unless s is empty.
func appendField(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	return append(appendEscaped(append(b, '"'), s), '"')
}

const hexDigits = "0123456789abcdef"

// appendEscaped appends s escaped for the inside of a JSON string (RFC 8259 §7): the
// quote, the backslash and control characters escaped, invalid UTF-8 replaced by
// U+FFFD, and U+2028 and U+2029 escaped as encoding/json does. Request fields are the
// client's bytes: the line stays one valid JSON line whatever they hold.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
