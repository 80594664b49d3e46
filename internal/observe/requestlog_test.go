package observe

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRequestLogShape pins the JSON of one entry: Cloud Logging's load balancer shape,
// int64 sizes as strings, latency as seconds with an "s", false/zero fields omitted.
func TestRequestLogShape(t *testing.T) {
	var buf bytes.Buffer
	l := NewRequestLog(&buf)
	l.Log(&Entry{
		Time: time.Date(2026, 11, 22, 12, 0, 0, 500, time.UTC), Project: "p", ForwardingRule: "fr", TargetProxy: "tp", URLMap: "um", BackendService: "bs",
		Method: "GET", URL: "https://example.com/a?b=1", Protocol: "HTTP/2.0", Status: 503, ResponseSize: 42, UserAgent: "curl",
		RemoteIP: "127.0.0.1", ServerIP: "127.0.10.1", Latency: 1500 * time.Microsecond, StatusDetails: "failed_to_pick_backend",
		TLSVersion: "TLSv1.3", TLSCipher: "TLS_AES_128_GCM_SHA256",
	})
	l.Close()
	want := `{"logName":"projects/p/logs/requests","timestamp":"2026-11-22T12:00:00.0000005Z","severity":"ERROR",` +
		`"resource":{"type":"http_load_balancer","labels":{"backend_service_name":"bs","forwarding_rule_name":"fr","project_id":"p","target_proxy_name":"tp","url_map_name":"um","zone":"global"}},` +
		`"httpRequest":{"requestMethod":"GET","requestUrl":"https://example.com/a?b=1","status":503,"responseSize":"42","userAgent":"curl","remoteIp":"127.0.0.1","serverIp":"127.0.10.1","latency":"0.001500s","protocol":"HTTP/2.0"},` +
		`"jsonPayload":{"@type":"type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry","statusDetails":"failed_to_pick_backend","tls":{"protocol":"TLSv1.3","cipher":"TLS_AES_128_GCM_SHA256"}}}` + "\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	var nilLog *RequestLog
	nilLog.Log(&Entry{}) // a nil log discards
	nilLog.Flush()
	nilLog.Close()
}

// TestEntryDecodes: every field round-trips through encoding/json, including the
// cache fields and a client's hostile bytes.
func TestEntryDecodes(t *testing.T) {
	e := Entry{Project: "p", Method: "GET", URL: "http://h/\"\\\n\x00\u2028é\xff", UserAgent: "a\tb", Referer: "</script>",
		Status: 200, RequestSize: 7, CacheLookup: true, CacheHit: true, CacheValidated: true, CacheFillBytes: 9, CacheID: "edge", CacheDecision: "x", TLSCipher: "c"}
	var got struct {
		HTTPRequest struct {
			RequestURL                     string `json:"requestUrl"`
			UserAgent, Referer             string
			RequestSize, CacheFillBytes    string
			CacheLookup, CacheHit          bool
			CacheValidatedWithOriginServer bool
		} `json:"httpRequest"`
		JSONPayload struct {
			CacheID, CacheDecision string
			TLS                    map[string]string
		} `json:"jsonPayload"`
	}
	line := AppendEntry(nil, &e)
	if bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("not one line: %q", line)
	}
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	r := got.HTTPRequest
	if r.RequestURL != "http://h/\"\\\n\x00\u2028é\ufffd" || r.UserAgent != "a\tb" || r.Referer != "</script>" || r.RequestSize != "7" || r.CacheFillBytes != "9" ||
		!r.CacheLookup || !r.CacheHit || !r.CacheValidatedWithOriginServer || got.JSONPayload.CacheID != "edge" || got.JSONPayload.TLS["cipher"] != "c" || len(got.JSONPayload.TLS) != 1 {
		t.Errorf("decoded %+v from %s", got, line)
	}
}

// FuzzAppendEscaped: whatever a client sends, the string is valid JSON that decodes to
// the input (invalid UTF-8 replaced) and holds no raw line break.
func FuzzAppendEscaped(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\", "\x00\x1f\x7f", "\u2028\u2029", "\xff\xfe", "é日本", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		if bytes.ContainsAny(b, "\n\r") {
			t.Fatalf("raw line break in %q", b)
		}
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		var want strings.Builder // each invalid byte replaced, as encoding/json does
		for _, r := range s {
			want.WriteRune(r)
		}
		if got != want.String() {
			t.Fatalf("%q decoded to %q", s, got)
		}
	})
}

// blockedWriter holds every Write until released.
type blockedWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *blockedWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// TestFullQueueDrops: a log whose writer is stuck never holds up Log; what does not
// fit is dropped and counted, and what was queued is written once the writer moves.
func TestFullQueueDrops(t *testing.T) {
	w := &blockedWriter{release: make(chan struct{})}
	l := NewRequestLog(w)
	l.limit = 10
	for i := range 25 {
		l.Log(&Entry{Project: "p", Status: 200 + i})
	}
	if l.Dropped() < 15 {
		t.Errorf("dropped %d of 25 with room for 10", l.Dropped())
	}
	close(w.release)
	l.Close()
	if lines := strings.Count(w.buf.String(), "\n"); int64(lines)+l.Dropped() != 25 {
		t.Errorf("%d written and %d dropped of 25", lines, l.Dropped())
	}
	l.Log(&Entry{})
	if l.Dropped() == 0 || strings.Count(w.buf.String(), "\n") > 25 {
		t.Error("an entry logged after Close was not dropped")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestWriteErrorsCounted: a writer that fails is counted, and Flush still returns.
func TestWriteErrorsCounted(t *testing.T) {
	l := NewRequestLog(failingWriter{})
	defer l.Close()
	l.Log(&Entry{})
	l.Flush()
	if l.WriteErrors() != 1 {
		t.Errorf("write errors %d, want 1", l.WriteErrors())
	}
}

// BenchmarkLog is what a logged request costs the request's goroutine; entries the
// writer could not keep up with are dropped (reported per op).
func BenchmarkLog(b *testing.B) {
	l := NewRequestLog(discard{})
	defer func() {
		l.Close()
		b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
	}()
	e := hitEntry()
	b.ReportAllocs()
	for b.Loop() {
		l.Log(&e)
	}
}

// BenchmarkAppendEntry is what the writer spends encoding one entry.
func BenchmarkAppendEntry(b *testing.B) {
	e := hitEntry()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEntry(buf[:0], &e)
	}
}

// hitEntry is a typical logged cache hit.
func hitEntry() Entry {
	return Entry{Time: time.Now(), Project: "p", ForwardingRule: "fr", TargetProxy: "tp", URLMap: "um", BackendService: "bs",
		Method: "GET", URL: "https://example.com/static/app.js?v=12", Protocol: "HTTP/1.1", Status: 200, ResponseSize: 1024,
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", RemoteIP: "203.0.113.9", ServerIP: "127.0.10.1", StatusDetails: "response_from_cache",
		CacheLookup: true, CacheHit: true, CacheID: "us-central1"}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestComposedFields: the URL and addresses the edge leaves for the encoder to compose
// come out as if given whole.
func TestComposedFields(t *testing.T) {
	composed := Entry{Scheme: "https", Host: "h.example", Target: "/a?b=\"1\"", RemoteAddr: "[2001:db8::1]:5000",
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.10.1"), Port: 443}}
	whole := Entry{URL: "https://h.example/a?b=\"1\"", RemoteIP: "2001:db8::1", ServerIP: "127.0.10.1"}
	if got, want := string(AppendEntry(nil, &composed)), string(AppendEntry(nil, &whole)); got != want {
		t.Errorf("composed\n%s\nwhole\n%s", got, want)
	}
}

// TestTimestampAndSeconds: the hand-made formats are time's and strconv's.
func TestTimestampAndSeconds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)
	for i := range 20000 {
		ts := base.Add(time.Duration(rng.Int64N(int64(400 * 24 * time.Hour))))
		switch i % 4 {
		case 0:
			ts = ts.Truncate(time.Second)
		case 1:
			ts = ts.Truncate(time.Millisecond)
		case 2:
			ts = ts.In(time.FixedZone("x", -7*3600))
		}
		if got, want := string(appendTimestamp(nil, ts)), ts.UTC().Format(time.RFC3339Nano); got != want {
			t.Fatalf("appendTimestamp(%v) = %s, want %s", ts, got, want)
		}
		d := time.Duration(rng.Int64N(int64(100 * time.Second)))
		if i%3 == 0 {
			d = d.Truncate(time.Microsecond) + 400*time.Nanosecond // away from a rounding tie
		}
		got, want := string(appendSeconds(nil, d)), strconv.FormatFloat(d.Seconds(), 'f', 6, 64)
		if got != want && d%time.Microsecond != 500 {
			t.Fatalf("appendSeconds(%v) = %s, want %s", d, got, want)
		}
	}
	if got := string(appendSeconds(nil, 0)); got != "0.000000" {
		t.Errorf("zero: %s", got)
	}
}
