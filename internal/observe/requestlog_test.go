package observe

import (
	"bytes"
	"testing"
	"time"
)

// TestRequestLogShape pins the JSON of one entry: Cloud Logging's load balancer shape,
// int64 sizes as strings, latency as seconds with an "s", false/zero fields omitted.
func TestRequestLogShape(t *testing.T) {
	var buf bytes.Buffer
	NewRequestLog(&buf).Log(Entry{
		Time: time.Date(2026, 11, 22, 12, 0, 0, 500, time.UTC), Project: "p", ForwardingRule: "fr", TargetProxy: "tp", URLMap: "um", BackendService: "bs",
		Method: "GET", URL: "https://example.com/a?b=1", Protocol: "HTTP/2.0", Status: 503, ResponseSize: 42, UserAgent: "curl",
		RemoteIP: "127.0.0.1", ServerIP: "127.0.10.1", Latency: 1500 * time.Microsecond, StatusDetails: "failed_to_pick_backend",
		TLSVersion: "TLSv1.3", TLSCipher: "TLS_AES_128_GCM_SHA256",
	})
	want := `{"logName":"projects/p/logs/requests","timestamp":"2026-11-22T12:00:00.0000005Z","severity":"ERROR",` +
		`"resource":{"type":"http_load_balancer","labels":{"backend_service_name":"bs","forwarding_rule_name":"fr","project_id":"p","target_proxy_name":"tp","url_map_name":"um","zone":"global"}},` +
		`"httpRequest":{"requestMethod":"GET","requestUrl":"https://example.com/a?b=1","status":503,"responseSize":"42","userAgent":"curl","remoteIp":"127.0.0.1","serverIp":"127.0.10.1","latency":"0.001500s","protocol":"HTTP/2.0"},` +
		`"jsonPayload":{"@type":"type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry","statusDetails":"failed_to_pick_backend","tls":{"protocol":"TLSv1.3","cipher":"TLS_AES_128_GCM_SHA256"}}}` + "\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	var nilLog *RequestLog
	nilLog.Log(Entry{}) // a nil log discards
}
